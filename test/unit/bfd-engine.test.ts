// The engine's receive path with an in-memory transport: GTSM TTL checks (RFC 5881 section 5,
// RFC 5883 section 2), demultiplexing, source ports (RFC 5881 section 4) and TTL 255 on send.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BfdEngine } from '../../src/bfd/engine.ts';
import { type ControlPacket, decodeControl, encodeControl } from '../../src/bfd/packet.ts';
import type { StateChange } from '../../src/bfd/session.ts';
import type { BfdTransport, UdpEndpointOptions } from '../../src/bfd/transport.ts';

function memTransport() {
  const opened: UdpEndpointOptions[] = [];
  const sent: Array<{ from: number; to: number; address: string; pkt: ControlPacket }> = [];
  const t: BfdTransport = {
    name: 'mem', receivesTtl: true,
    async open(o) {
      opened.push(o);
      const port = o.port || 40000 + opened.length;
      return { port, send: (m, to, address) => { sent.push({ from: port, to, address, pkt: decodeControl(m) }); }, async close() {} };
    },
  };
  return { t, opened, sent };
}

const pkt = (p: Partial<ControlPacket> = {}): Buffer => encodeControl({
  version: 1, diagnostic: 0, state: 'Down', poll: false, final: false, controlPlaneIndependent: false, demand: false, multipoint: false,
  detectMult: 3, myDiscriminator: 77, yourDiscriminator: 0, desiredMinTxInterval: 1_000_000, requiredMinRxInterval: 100_000, requiredMinEchoRxInterval: 0, ...p,
});

test('single hop: TTL 255 required; multihop: the profile minimum; packets on the wrong port are dropped', async () => {
  const m = memTransport();
  const changes: StateChange[] = [];
  const e = new BfdEngine({ transport: m.t, onState: (c) => changes.push(c) });
  await e.add({ key: 'sh', peerAddress: '10.0.0.2' });
  await e.add({ key: 'mh', peerAddress: '10.9.9.9', multihop: true, profile: { minimumTtl: 250 } });
  try {
    // Listeners on 3784 and 4784, sources in 49152-65535, everything sent with TTL 255.
    assert.deepEqual(m.opened.filter((o) => o.port === 3784 || o.port === 4784).map((o) => o.port).sort(), [3784, 4784]);
    const sources = m.opened.filter((o) => o.port !== 3784 && o.port !== 4784);
    assert.equal(sources.length, 2);
    for (const o of sources) assert.ok(o.port >= 49152 && o.port <= 65535, `source port ${o.port}`);
    for (const o of m.opened) assert.equal(o.ttl, 255);

    e.onPacket(pkt(), { address: '10.0.0.2', port: 50000, ttl: 254 }, false);
    e.onPacket(pkt(), { address: '10.9.9.9', port: 50000, ttl: 249 }, true);
    e.onPacket(pkt(), { address: '10.0.0.2', port: 50000, ttl: 255 }, true); // single-hop peer on the multihop port
    assert.equal(changes.length, 0);
    assert.equal(e.dropped_total, 3);
    e.onPacket(pkt(), { address: '10.0.0.2', port: 50000, ttl: 255 }, false);
    e.onPacket(pkt({ myDiscriminator: 88 }), { address: '10.9.9.9', port: 50000, ttl: 250 }, true);
    assert.deepEqual(changes.map((c) => [c.key, c.state]), [['sh', 'Init'], ['mh', 'Init']]);
    // The Init answers go to the right ports.
    const toSh = m.sent.filter((s) => s.address === '10.0.0.2').at(-1);
    const toMh = m.sent.filter((s) => s.address === '10.9.9.9').at(-1);
    assert.equal(toSh?.to, 3784);
    assert.equal(toMh?.to, 4784);
    assert.equal(toSh?.pkt.yourDiscriminator, 77);
    // Once the peer knows our discriminator, packets are matched by it, whatever their source.
    const ours = toSh!.pkt.myDiscriminator;
    e.onPacket(pkt({ state: 'Init', yourDiscriminator: ours }), { address: '10.0.0.2', port: 50001, ttl: 255 }, false);
    assert.deepEqual(changes.at(-1) && [changes.at(-1)!.key, changes.at(-1)!.state], ['sh', 'Up']);
    e.onPacket(pkt({ state: 'Init', yourDiscriminator: 12345 }), { address: '10.0.0.2', port: 50001, ttl: 255 }, false);
    assert.equal(e.dropped_total, 4, 'unknown Your Discriminator dropped');
  } finally {
    await e.close();
  }
});

test('echo mode is refused but the session runs; bad specs are rejected with the accepted range', async () => {
  const m = memTransport();
  const e = new BfdEngine({ transport: m.t, onState: () => {} });
  try {
    await e.add({ key: 'echo', peerAddress: 'fd00::2', profile: { echoMode: true } });
    assert.equal(e.snapshot()[0]?.state, 'Down');
    assert.ok(m.sent.every((s) => s.pkt.requiredMinEchoRxInterval === 0));
    await assert.rejects(e.add({ key: 'bad', peerAddress: '10.0.0.3', profile: { detectMultiplier: 1 } }), /detectMultiplier must be an integer in 2-255, got 1/);
    await assert.rejects(e.add({ key: 'fam', peerAddress: '10.0.0.3', localAddress: 'fd00::1' }), /different families/);
    await assert.rejects(e.add({ key: 'echo2', peerAddress: 'fd00:0::2' }), /already exists; one session per peer/);
  } finally {
    await e.close();
  }
});
