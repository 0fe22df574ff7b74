// BfdManager on loopback: sessions in the worker thread, state events, metrics, errors, AdminDown
// on removal, and detection of a hand-driven peer that falls silent.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { BfdManager, type BfdStateEvent } from '../../src/bfd/index.ts';
import { encodeControl, decodeControl, type ControlPacket } from '../../src/bfd/packet.ts';
import { waitFor } from '../support/wait.ts';

const fast = { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 };

test('two managers on loopback: up, metrics, removal signals AdminDown to the peer', { timeout: 60_000 }, async () => {
  const ra = new Registry();
  const a = new BfdManager({ registry: ra, singleHopPort: 0 });
  const b = new BfdManager({ singleHopPort: 0 });
  try {
    const [pa, pb] = await Promise.all([a.listenPort(4), b.listenPort(4)]);
    const ea: BfdStateEvent[] = [];
    a.on('state', (e) => ea.push(e));
    await a.addSession({ key: 'to-b', peerAddress: '127.0.0.1', peerPort: pb, profile: fast });
    await b.addSession({ key: 'to-a', peerAddress: '127.0.0.1', peerPort: pa, profile: fast, auth: undefined });
    await waitFor(() => a.state('to-b') === 'Up' && b.state('to-a') === 'Up', { what: 'both Up', timeoutMs: 10_000 });
    await waitFor(async () => (await a.sessions())[0]?.txIntervalMs === 100, { what: 'settled on 100 ms', timeoutMs: 5000 });
    const m = await ra.getSingleMetricAsString('ironlb_bfd_sessions');
    assert.match(m, /ironlb_bfd_sessions\{state="Up"\} 1/);
    assert.match(await ra.getSingleMetricAsString('ironlb_bfd_state_changes_total'), /state="Up"/);
    assert.match(await ra.getSingleMetricAsString('ironlb_bfd_detection_time_seconds'), /session="to-b"\} 0\.3/);

    await assert.rejects(a.addSession({ key: 'to-b', peerAddress: '127.0.0.2', profile: fast }), /already exists/);
    await assert.rejects(a.addSession({ key: 'x', peerAddress: '127.0.0.1', profile: fast }), /already exists; one session per peer/);
    await assert.rejects(a.addSession({ key: 'y', peerAddress: '127.0.0.3', profile: { transmitInterval: 5 } }), /transmitInterval \(ms\) must be an integer in 10-60000, got 5/);

    await b.removeSession('to-a');
    await waitFor(() => a.state('to-b') === 'Down', { what: 'A sees Down', timeoutMs: 5000 });
    assert.equal(ea.at(-1)?.diagnostic, 'NeighborSignaledSessionDown');
    assert.equal(ea.at(-1)?.previous, 'Up');
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test('a peer that falls silent is declared Down after 3 x 100 ms; detection time is recorded', { timeout: 60_000 }, async () => {
  const reg = new Registry();
  const bfd = new BfdManager({ registry: reg, singleHopPort: 0 });
  const peer = createSocket('udp4');
  try {
    await new Promise<void>((r) => peer.bind(0, '127.0.0.1', () => r()));
    peer.setTTL(255); // a single-hop peer (RFC 5881 GTSM)
    const ours = await bfd.listenPort(4);
    const got: ControlPacket[] = [];
    peer.on('message', (m) => { try { got.push(decodeControl(m)); } catch { /* ignore */ } });
    await bfd.addSession({ key: 'p', peerAddress: '127.0.0.1', peerPort: peer.address().port, profile: fast });
    const send = (state: ControlPacket['state'], your: number): void => {
      peer.send(encodeControl({ version: 1, diagnostic: 0, state, poll: false, final: false, controlPlaneIndependent: false, demand: false,
        multipoint: false, detectMult: 3, myDiscriminator: 7, yourDiscriminator: your, desiredMinTxInterval: 100_000,
        requiredMinRxInterval: 100_000, requiredMinEchoRxInterval: 0 }), ours, '127.0.0.1');
    };
    send('Down', 0);
    const init = await waitFor(() => got.find((p) => p.state === 'Init'), { what: 'Init from ironlb', timeoutMs: 5000, intervalMs: 10 });
    send('Up', init.myDiscriminator);
    await waitFor(() => bfd.state('p') === 'Up', { what: 'Up', timeoutMs: 5000, intervalMs: 10 });
    const events: BfdStateEvent[] = [];
    bfd.on('state', (e) => events.push(e));
    // Fall silent: ironlb must time out after 3 x max(100, 100) ms.
    const down = await waitFor(() => events.find((e) => e.state === 'Down'), { what: 'Down by timeout', timeoutMs: 5000, intervalMs: 10 });
    assert.equal(down.diagnostic, 'ControlDetectionTimeExpired');
    // Node's timers round to whole milliseconds of loop time, so allow 1 ms early.
    assert.ok(down.detectedAfterMs! >= 299 && down.detectedAfterMs! < 300 + 100, `detected after ${down.detectedAfterMs} ms`);
    assert.match(await reg.getSingleMetricAsString('ironlb_bfd_detection_seconds'), /ironlb_bfd_detection_seconds_count 1/);
    assert.equal(got.every((p) => p.myDiscriminator === init.myDiscriminator && p.detectMult === 3 && p.requiredMinEchoRxInterval === 0), true);
  } finally {
    peer.close();
    await bfd.close();
  }
});

test('received TTL: with the native transport a single-hop packet below TTL 255 is dropped (RFC 5881 section 5)', { timeout: 30_000 }, async () => {
  const bfd = new BfdManager({ singleHopPort: 0 });
  const peer = createSocket('udp4');
  try {
    await new Promise<void>((r) => peer.bind(0, '127.0.0.1', () => r()));
    const info = await bfd.transportInfo();
    const ours = await bfd.listenPort(4);
    const got: ControlPacket[] = [];
    peer.on('message', (m) => { try { got.push(decodeControl(m)); } catch { /* ignore */ } });
    await bfd.addSession({ key: 'ttl', peerAddress: '127.0.0.1', peerPort: peer.address().port, profile: fast });
    const down = (discr: number): Buffer => encodeControl({ version: 1, diagnostic: 0, state: 'Down', poll: false, final: false, controlPlaneIndependent: false,
      demand: false, multipoint: false, detectMult: 3, myDiscriminator: discr, yourDiscriminator: 0, desiredMinTxInterval: 1_000_000,
      requiredMinRxInterval: 100_000, requiredMinEchoRxInterval: 0 });
    const send = (b: Buffer): Promise<void> => new Promise((r) => peer.send(b, ours, '127.0.0.1', () => r()));
    peer.setTTL(254);
    await send(down(55));
    peer.setTTL(255);
    await send(down(66));
    // Packets are handled in order: once the answer to 66 is here, 55 has been handled too.
    await waitFor(() => got.some((p) => p.yourDiscriminator === 66), { what: 'answer to the TTL 255 packet', timeoutMs: 5000, intervalMs: 10 });
    const answered55 = got.some((p) => p.yourDiscriminator === 55);
    if (info.receivesTtl) assert.equal(answered55, false, 'TTL 254 packet dropped');
    else assert.equal(info.transport, 'dgram', 'only the dgram fallback skips the TTL check');
  } finally {
    peer.close();
    await bfd.close();
  }
});

test('a crashed worker is reported as Down and restarted with its sessions', { timeout: 60_000 }, async () => {
  const a = new BfdManager({ singleHopPort: 0 });
  const b = new BfdManager({ singleHopPort: 0 });
  try {
    const [pa, pb] = await Promise.all([a.listenPort(4), b.listenPort(4)]);
    await a.addSession({ key: 'to-b', peerAddress: '127.0.0.1', peerPort: pb, profile: fast });
    await b.addSession({ key: 'to-a', peerAddress: '127.0.0.1', peerPort: pa, profile: fast });
    await waitFor(() => a.state('to-b') === 'Up' && b.state('to-a') === 'Up', { what: 'both Up', timeoutMs: 10_000 });
    const events: BfdStateEvent[] = [];
    a.on('state', (e) => events.push(e));
    // Kill the worker from outside, as a crash would.
    await (a as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    const down = await waitFor(() => events.find((e) => e.state === 'Down'), { what: 'Down reported for the lost session', timeoutMs: 5000, intervalMs: 10 });
    assert.equal(down.diagnostic, 'WorkerRestarted');
    // The restarted worker binds port 0 afresh: the peer must be told the new port.
    const pa2 = await a.listenPort(4);
    await b.updateSession({ key: 'to-a', peerAddress: '127.0.0.1', peerPort: pa2, profile: fast });
    await waitFor(() => a.state('to-b') === 'Up' && b.state('to-a') === 'Up', { what: 'Up again after the restart', timeoutMs: 15_000 });
    assert.equal((await a.sessions()).length, 1);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
