// Layer 2 hardening (issue 13 items 17-20, issue 17's Hop-by-Hop NS) against real Linux: an
// announcer namespace and a client namespace (arping, ndisc6, tcpdump and its own kernel) joined
// by a veth pair, all created here (prefix "hl-") and removed also on failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withNamespaces, veth, arpingMac as arpingAnswer, ndiscMac as ndiscAnswer, type Netns } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';
import { AgentProcess, type AgentEvent } from '../../testbed/tools/layer2-agent-process.ts';

const VIP4 = '10.88.0.100';
const VIP6 = 'fd00:88::100';
const NODE6 = 'fd00:88::10';
const layer2Dir = fileURLToPath(new URL('../../src/layer2/', import.meta.url));
const nativeIndex = fileURLToPath(new URL('../../src/native/index.ts', import.meta.url));
const ANNOUNCE = fileURLToPath(new URL('../../testbed/tools/layer2-announce.ts', import.meta.url));

interface Pair {
  node: Netns;
  client: Netns;
  mac: string;
}

/** The node (eth0, VIPs on lo, kernel never answering for them) and the client (eth0), on one veth. */
async function pair(fn: (p: Pair) => Promise<void>): Promise<void> {
  await withNamespaces('ilbl', 2, async ([node, client]) => {
    await veth(node!, 'eth0', client!, 'eth0');
    await node!.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
    await node!.ip('addr', 'add', '10.88.0.10/24', 'dev', 'eth0');
    await node!.ip('-6', 'addr', 'add', `${NODE6}/64`, 'dev', 'eth0', 'nodad');
    await node!.ip('addr', 'add', `${VIP4}/32`, 'dev', 'lo');
    await node!.ip('-6', 'addr', 'add', `${VIP6}/128`, 'dev', 'lo', 'nodad');
    await client!.ip('addr', 'add', '10.88.0.1/24', 'dev', 'eth0');
    await client!.ip('-6', 'addr', 'add', 'fd00:88::1/64', 'dev', 'eth0', 'nodad');
    const mac = JSON.parse(await node!.ip('-j', 'link', 'show', 'eth0'))[0].address as string;
    await fn({ node: node!, client: client!, mac });
  });
}

function agent(ns: Netns, opts: Record<string, unknown> = {}): AgentProcess {
  return new AgentProcess((c, args) => ns.spawn(c, args, { stdio: ['pipe', 'pipe', 'pipe'] }), { interfaces: ['eth0'], ...opts });
}

async function ready(a: AgentProcess): Promise<void> {
  await waitFor(() => a.find((e) => e.event === 'ready'), { what: `agent ready (stderr: ${a.stderr})`, timeoutMs: 60_000 });
}

async function set(a: AgentProcess, addrs: Record<string, object>): Promise<void> {
  const from = a.events.length;
  a.send({ set: addrs });
  const e = await waitFor(() => a.find((x) => x.event === 'set' || x.event === 'error', from), { what: 'set applied', timeoutMs: 10_000 });
  assert.equal(e.event, 'set', JSON.stringify(e));
}

async function metrics(a: AgentProcess): Promise<string> {
  const from = a.events.length;
  a.send({ metrics: true });
  return (await waitFor(() => a.find((e) => e.event === 'metrics', from), { what: 'metrics' })).text as string;
}

function metric(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (want.every((w) => line.includes(w))) return Number(line.split(' ').pop());
  }
  return 0;
}

const arpingMac = (c: Netns, ip: string): Promise<string | null> => arpingAnswer(c, ip, 1);
const ndiscMac = (c: Netns, ip: string): Promise<string | null> => ndiscAnswer(c, ip, 1);

/** tcpdump in the client: frames from `mac` (ARP and ICMPv6), with kernel receive timestamps. */
function capture(client: Netns, mac: string): { child: ChildProcess; frames: Array<{ at: number; text: string }>; err: () => string } {
  const child = client.spawn('tcpdump', ['-i', 'eth0', '-n', '-e', '-tt', '-l', '--immediate-mode', 'ether', 'src', mac, 'and', '(arp or icmp6)']);
  const frames: Array<{ at: number; text: string }> = [];
  let buf = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const m = /^(\d+\.\d+)\s+(.*)$/.exec(line);
      if (m) frames.push({ at: Number(m[1]) * 1000, text: m[2]! });
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { child, frames, err: () => err };
}

const isGarp = (text: string): boolean => text.includes('ARP') && text.includes(`Request who-has ${VIP4} tell ${VIP4}`);
const isUnsolicitedNa = (text: string): boolean => text.includes('neighbor advertisement') && text.includes(`tgt is ${VIP6}`) && text.includes('ff02::1');

/**
 * Takes eth0 down and up again `outageMs` later through one `ip -batch` reading its commands
 * from a pipe (0: both commands in one write, processed back to back).
 */
async function flap(ns: Netns, dev: string, outageMs: number, whileDown?: () => Promise<void>): Promise<void> {
  const ip = ns.spawn('ip', ['-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  ip.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => ip.once('exit', (c) => resolve(c)));
  if (outageMs === 0) {
    ip.stdin!.end(`link set ${dev} down\nlink set ${dev} up\n`);
  } else {
    ip.stdin!.write(`link set ${dev} down\n`);
    // The outage itself is the stimulus here: its length is what is tested, not a wait for a condition.
    await new Promise((resolve) => setTimeout(resolve, outageMs));
    if (whileDown) await whileDown();
    ip.stdin!.end(`link set ${dev} up\n`);
  }
  const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000).unref())]);
  if (code === 'timeout') ip.kill('SIGKILL');
  assert.equal(code, 0, `ip -batch failed: ${err}`);
}

test('link flaps of every speed (0, 1, 5, 300 ms, 3 s): the announcer answers again and announces again after each', { timeout: 300_000 }, async () => {
  await pair(async ({ node, client, mac }) => {
    const a = agent(node, { gratuitousCount: 1 });
    const cap = capture(client, mac);
    try {
      await ready(a);
      await waitFor(() => cap.err().includes('listening'), { what: 'tcpdump listening', timeoutMs: 10_000 });
      await set(a, { [VIP4]: {}, [VIP6]: {} });
      assert.equal(await waitFor(() => arpingMac(client, VIP4), { what: 'first ARP answer', timeoutMs: 10_000, intervalMs: 100 }), mac);
      assert.equal(await ndiscMac(client, VIP6), mac);
      // Last: a quick flap the process sleeps through (stopped until the link is back with its
      // carrier), so no re-read can see the link down; only the netlink down edge and the socket
      // error tell. On a loaded machine any quick flap can look like this.
      const speeds: Array<{ outageMs: number; frozen?: boolean }> = [{ outageMs: 0 }, { outageMs: 1 }, { outageMs: 5 }, { outageMs: 300 }, { outageMs: 3000 }, { outageMs: 0, frozen: true }];
      for (const { outageMs, frozen } of speeds) {
        const what = `${frozen ? 'an unseen ' : 'a '}${outageMs} ms flap`;
        const garps = cap.frames.filter((f) => isGarp(f.text)).length;
        const nas = cap.frames.filter((f) => isUnsolicitedNa(f.text)).length;
        const from = a.events.length;
        const t0 = Date.now();
        if (frozen) process.kill(a.child.pid!, 'SIGSTOP');
        try {
          await flap(node, 'eth0', outageMs, outageMs >= 3000
            ? async () => { await waitFor(() => a.find((e) => e.event === 'released', from), { what: 'release while eth0 is down', timeoutMs: 2500 }); }
            : undefined);
          if (frozen) {
            await waitFor(async () => {
              const l = JSON.parse(await node.ip('-j', 'link', 'show', 'eth0'))[0] as { flags: string[]; operstate: string };
              return l.flags.includes('LOWER_UP') && l.operstate === 'UP';
            }, { what: 'eth0 up with carrier again', timeoutMs: 5000, intervalMs: 20 });
          }
        } finally {
          if (frozen) process.kill(a.child.pid!, 'SIGCONT');
        }
        const upAt = Date.now();
        // Told again: a new gratuitous ARP and unsolicited NA reach the client after the link returned.
        await waitFor(() => cap.frames.filter((f) => isGarp(f.text)).length > garps, { what: `a gratuitous ARP after ${what} (frames: ${cap.frames.slice(-4).map((f) => f.text).join(' | ')})`, timeoutMs: 5000 });
        await waitFor(() => cap.frames.filter((f) => isUnsolicitedNa(f.text)).length > nas, { what: `an unsolicited NA after ${what}`, timeoutMs: 5000 });
        // Answering again.
        assert.equal(await waitFor(() => arpingMac(client, VIP4), { what: `ARP answered after ${what}`, timeoutMs: 8000, intervalMs: 100 }), mac);
        assert.equal(await waitFor(() => ndiscMac(client, VIP6), { what: `NS answered after ${what}`, timeoutMs: 8000, intervalMs: 100 }), mac);
        const events = a.events.slice(from).map((e: AgentEvent) => e.event === 'interfaces' ? `interfaces(${JSON.stringify({ removed: e.removed, added: e.added, flapped: e.flapped })})` : e.event);
        console.log(`${what} (measured ${upAt - t0} ms): ${events.join(', ')}`);
      }
      const m = await metrics(a);
      assert.ok(metric(m, 'ironlb_layer2_socket_errors_total', { interface: 'eth0', protocol: 'arp' }) >= 1, 'socket errors counted');
    } finally {
      cap.child.kill('SIGKILL');
      a.kill();
    }
  });
});

test('the layer2-announce tool (the speaker\'s Announcer) keeps running and says so while its interface is down, and answers again after', { timeout: 120_000 }, async () => {
  await pair(async ({ node, client, mac }) => {
    const cli = node.spawn(process.execPath, [ANNOUNCE, VIP4, '-i', 'eth0']);
    let out = '';
    cli.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => out.includes('"acquired"'), { what: `announce started (output: ${out})`, timeoutMs: 60_000 });
      assert.equal(await waitFor(() => arpingMac(client, VIP4), { what: 'ARP answered', timeoutMs: 10_000, intervalMs: 100 }), mac);
      // A long outage: the only interface is gone for a while.
      await flap(node, 'eth0', 1500, async () => {
        await waitFor(() => out.includes('"waiting"'), { what: `a message that nothing is eligible (output: ${out})`, timeoutMs: 1400 });
      });
      assert.equal(cli.exitCode, null, `the command exited while its interface was down (output: ${out})`);
      assert.equal(await waitFor(() => arpingMac(client, VIP4), { what: 'ARP answered after the outage', timeoutMs: 10_000, intervalMs: 100 }), mac);
      // A quick flap.
      await flap(node, 'eth0', 0);
      assert.equal(await waitFor(() => arpingMac(client, VIP4), { what: 'ARP answered after a quick flap', timeoutMs: 10_000, intervalMs: 100 }), mac);
      assert.equal(cli.exitCode, null);
      const exit = new Promise<number | null>((resolve) => cli.once('exit', (c) => resolve(c)));
      cli.kill('SIGTERM');
      assert.equal(await exit, 0);
    } finally {
      if (cli.exitCode === null) cli.kill('SIGKILL');
    }
  });
});

/** Sends hand-made frames from the client's eth0 and returns the NA/ARP replies from `mac` seen within `waitMs`. */
async function probe(client: Netns, frames: unknown[], waitMs: number): Promise<Array<Record<string, unknown>>> {
  const code = `
    import * as n from ${JSON.stringify(nativeIndex)};
    import * as ndp from ${JSON.stringify(`${layer2Dir}ndp.ts`)};
    import * as arp from ${JSON.stringify(`${layer2Dir}arp.ts`)};
    import { parseMac } from ${JSON.stringify(`${layer2Dir}ethernet.ts`)};
    const link = n.listInterfaces().find((i) => i.name === 'eth0');
    const mac = parseMac(link.mac);
    const seen = [];
    const rx6 = new n.PacketSocket(link.index, n.ETH_P_IPV6, (f) => { const m = ndp.decodeNdp(f); if (m && m.type === ndp.ICMPV6_NA) seen.push({ kind: 'na', target: m.target, flags: m.flags, dst: m.dst }); });
    const rx4 = new n.PacketSocket(link.index, n.ETH_P_ARP, (f) => { const m = arp.decodeArp(f); if (m && m.op === arp.ARP_REPLY) seen.push({ kind: 'arp', ip: m.senderIp, to: m.targetIp }); });
    for (const p of ${JSON.stringify(frames)}) {
      if (p.kind === 'ns') rx6.send(ndp.encodeNdp({ ethDst: parseMac(p.ethDst), ethSrc: mac, src: p.src, dst: p.dst, type: ndp.ICMPV6_NS, target: p.target, lla: p.src === '::' ? undefined : mac, extensionHeaders: p.ext ?? [] }));
      else rx4.send(arp.encodeArp({ ethDst: Buffer.alloc(6, 0xff), ethSrc: mac, op: arp.ARP_REQUEST, senderMac: p.senderMac ? parseMac(p.senderMac) : mac, senderIp: p.senderIp, targetMac: Buffer.alloc(6), targetIp: p.target }));
    }
    setTimeout(() => { rx4.close(); rx6.close(); console.log(JSON.stringify(seen)); }, ${waitMs});
  `;
  return JSON.parse(await client.exec(process.execPath, ['--input-type=module', '-e', code], 20_000)) as Array<Record<string, unknown>>;
}

const SOLICITED_VIP6 = 'ff02::1:ff00:100';
const SOLICITED_VIP6_MAC = '33:33:ff:00:01:00';

test('RFC 4861 / 5227: invalid solicitations and requests for our addresses go unanswered and are counted by reason; valid ones are answered', { timeout: 120_000 }, async () => {
  await pair(async ({ node, client, mac }) => {
    const a = agent(node, { gratuitousCount: 1 });
    try {
      await ready(a);
      await set(a, { [VIP4]: {}, [VIP6]: {} });
      await waitFor(() => arpingMac(client, VIP4), { what: 'announcer answering', timeoutMs: 10_000, intervalMs: 100 });
      const one = async (frame: Record<string, unknown>): Promise<Array<Record<string, unknown>>> => probe(client, [frame], 600);
      // Dropped.
      const dadUnicast = await one({ kind: 'ns', ethDst: mac, src: '::', dst: VIP6, target: VIP6 });
      const fromMulticast = await one({ kind: 'ns', ethDst: SOLICITED_VIP6_MAC, src: 'ff02::1', dst: SOLICITED_VIP6, target: VIP6 });
      const arpMulticast = await one({ kind: 'arp', senderIp: '224.0.0.5', target: VIP4 });
      const arpBroadcast = await one({ kind: 'arp', senderIp: '255.255.255.255', target: VIP4 });
      assert.deepEqual({ dadUnicast, fromMulticast, arpMulticast, arpBroadcast }, { dadUnicast: [], fromMulticast: [], arpMulticast: [], arpBroadcast: [] });
      // Answered: DAD to the solicited-node group (NA to all-nodes), resolution, unicast probe, ARP.
      const dad = await one({ kind: 'ns', ethDst: SOLICITED_VIP6_MAC, src: '::', dst: SOLICITED_VIP6, target: VIP6 });
      assert.deepEqual(dad.filter((x) => x.kind === 'na'), [{ kind: 'na', target: VIP6, flags: 0x20, dst: 'ff02::1' }]);
      const res = await one({ kind: 'ns', ethDst: SOLICITED_VIP6_MAC, src: 'fd00:88::1', dst: SOLICITED_VIP6, target: VIP6 });
      assert.deepEqual(res, [{ kind: 'na', target: VIP6, flags: 0x60, dst: 'fd00:88::1' }]);
      const arpOk = await one({ kind: 'arp', senderIp: '10.88.0.1', target: VIP4 });
      assert.deepEqual(arpOk, [{ kind: 'arp', ip: VIP4, to: '10.88.0.1' }]);
      const m = await metrics(a);
      const dropped = (protocol: string, reason: string): number => metric(m, 'ironlb_layer2_dropped_total', { interface: 'eth0', protocol, reason });
      assert.deepEqual(
        { dad: dropped('ndp', 'dad-not-solicited-node'), mcastSrc: dropped('ndp', 'source-multicast'), arpMcast: dropped('arp', 'sender-multicast'), arpBcast: dropped('arp', 'sender-broadcast') },
        { dad: 1, mcastSrc: 1, arpMcast: 1, arpBcast: 1 },
      );
    } finally {
      a.kill();
    }
  });
});

test('Neighbor Solicitations behind a Hop-by-Hop header are answered, as the kernel answers them', { timeout: 120_000 }, async () => {
  await pair(async ({ node, client, mac }) => {
    const a = agent(node, { gratuitousCount: 1 });
    try {
      await ready(a);
      await set(a, { [VIP6]: {} });
      await waitFor(() => ndiscMac(client, VIP6), { what: 'announcer answering', timeoutMs: 10_000, intervalMs: 100 });
      const seen = await probe(client, [
        // The kernel, for the node's own address: the reference behaviour.
        { kind: 'ns', ethDst: '33:33:ff:00:00:10', src: 'fd00:88::1', dst: 'ff02::1:ff00:10', target: NODE6, ext: [0] },
        // The announcer, for the VIP: behind Hop-by-Hop, and behind Hop-by-Hop + Destination Options.
        { kind: 'ns', ethDst: SOLICITED_VIP6_MAC, src: 'fd00:88::1', dst: SOLICITED_VIP6, target: VIP6, ext: [0] },
        { kind: 'ns', ethDst: mac, src: 'fd00:88::1', dst: VIP6, target: VIP6, ext: [0, 60] },
      ], 1000);
      const nas = seen.filter((s) => s.kind === 'na' && s.dst === 'fd00:88::1');
      assert.equal(nas.filter((s) => s.target === NODE6).length, 1, `the kernel answers an NS behind Hop-by-Hop (seen: ${JSON.stringify(seen)})`);
      assert.equal(nas.filter((s) => s.target === VIP6).length, 2, `the announcer answers both (seen: ${JSON.stringify(seen)})`);
      assert.ok(nas.every((s) => s.flags === 0x60));
    } finally {
      a.kill();
    }
  });
});

test('takeover sends 3 unsolicited NAs per address by default (RFC 4861 7.2.6 MAX_NEIGHBOR_ADVERTISEMENT); the count is configurable', { timeout: 120_000 }, async () => {
  await pair(async ({ node, client, mac }) => {
    const cap = capture(client, mac);
    const byDefault = agent(node, { gratuitousIntervalMs: 100 });
    try {
      await waitFor(() => cap.err().includes('listening'), { what: 'tcpdump listening', timeoutMs: 10_000 });
      await ready(byDefault);
      await set(byDefault, { [VIP6]: {}, [VIP4]: {} });
      const done = await waitFor(() => byDefault.find((e) => e.event === 'announced' && e.address === VIP6), { what: 'the NA burst finished', timeoutMs: 10_000 });
      assert.equal(done.count, 3);
      // Every NA of the finished burst reaches the capture; no further one was scheduled.
      await waitFor(() => cap.frames.filter((f) => isUnsolicitedNa(f.text)).length >= 3, { what: 'three NAs captured', timeoutMs: 5000 });
      await waitFor(() => byDefault.find((e) => e.event === 'announced' && e.address === VIP4), { what: 'the ARP burst finished', timeoutMs: 10_000 });
      const m = await metrics(byDefault);
      assert.equal(metric(m, 'ironlb_layer2_gratuitous_total', { interface: 'eth0', protocol: 'ndp' }), 3);
      assert.equal(metric(m, 'ironlb_layer2_gratuitous_total', { interface: 'eth0', protocol: 'arp' }), 6, 'request and reply form, 3 times');
      assert.equal(cap.frames.filter((f) => isUnsolicitedNa(f.text)).length, 3);
      byDefault.kill();
      const configured = agent(node, { gratuitousIntervalMs: 50, gratuitousCount: 2 });
      try {
        await ready(configured);
        await set(configured, { [VIP6]: {} });
        const d2 = await waitFor(() => configured.find((e) => e.event === 'announced' && e.address === VIP6), { what: 'the configured burst finished', timeoutMs: 10_000 });
        assert.equal(d2.count, 2);
        assert.equal(metric(await metrics(configured), 'ironlb_layer2_gratuitous_total', { interface: 'eth0', protocol: 'ndp' }), 2);
      } finally {
        configured.kill();
      }
    } finally {
      cap.child.kill('SIGKILL');
      byDefault.kill();
    }
  });
});

test('packet sockets get a receive buffer sized for bursts, and kernel drops show in the metrics', { timeout: 120_000 }, async () => {
  await pair(async ({ node, client, mac }) => {
    const a = agent(node, { gratuitousCount: 1 });
    try {
      await ready(a);
      await set(a, { [VIP4]: {} });
      await waitFor(() => arpingMac(client, VIP4), { what: 'announcer answering', timeoutMs: 10_000, intervalMs: 100 });
      const before = await metrics(a);
      // 4 MiB asked; the kernel reports twice that (SO_RCVBUFFORCE passes rmem_max: we are root).
      assert.ok(metric(before, 'ironlb_layer2_receive_buffer_bytes', { interface: 'eth0', protocol: 'arp' }) >= 8 * 1024 * 1024, before);
      // Freeze the announcer, send more requests for the VIP than any buffer holds, thaw it.
      const pid = a.child.pid!;
      process.kill(pid, 'SIGSTOP');
      let sent = 0;
      try {
        sent = Number(await client.exec(process.execPath, ['--input-type=module', '-e', `
          import * as n from ${JSON.stringify(nativeIndex)};
          import * as arp from ${JSON.stringify(`${layer2Dir}arp.ts`)};
          import { parseMac } from ${JSON.stringify(`${layer2Dir}ethernet.ts`)};
          const l = n.listInterfaces().find((i) => i.name === 'eth0');
          const mac = parseMac(l.mac);
          const s = new n.PacketSocket(l.index, n.ETH_P_ARP, () => {});
          const f = arp.encodeArp({ ethDst: Buffer.alloc(6, 0xff), ethSrc: mac, op: 1, senderMac: mac, senderIp: '10.88.0.1', targetMac: Buffer.alloc(6), targetIp: ${JSON.stringify(VIP4)} });
          let sent = 0;
          for (let i = 0; i < 60000; i++) { try { s.send(f); sent++; } catch {} }
          s.close();
          console.log(sent);
        `], 60_000));
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      assert.ok(sent > 50_000, `sent ${sent}`);
      const after = await waitFor(async () => {
        const t = await metrics(a);
        return metric(t, 'ironlb_layer2_receive_drops_total', { interface: 'eth0', protocol: 'arp' }) > 0 ? t : null;
      }, { what: 'kernel drops in the metrics', timeoutMs: 15_000, intervalMs: 200 });
      const drops = metric(after, 'ironlb_layer2_receive_drops_total', { interface: 'eth0', protocol: 'arp' });
      const frames = metric(after, 'ironlb_layer2_received_frames_total', { interface: 'eth0', protocol: 'arp' });
      console.log(`burst of ${sent} requests while stopped: ${frames} frames reached the socket, ${drops} dropped by the kernel, ${frames - drops} buffered`);
      assert.ok(frames >= sent - 1000, `frames counted ${frames} of ${sent}`);
      assert.ok(frames - drops > 3000, `the buffer held ${frames - drops} requests`);
      assert.equal(await arpingMac(client, VIP4), mac, 'still answering');
    } finally {
      try { process.kill(a.child.pid!, 'SIGCONT'); } catch { /* gone */ }
      a.kill();
    }
  });
});

test('the agent process exits on {"exit":true} while its input stays open', async () => {
  const a = new AgentProcess((c, args) => spawn(c, args, { stdio: ['pipe', 'pipe', 'pipe'] }), { interfaces: ['nonexistent0'] });
  try {
    await ready(a);
    a.send({ exit: true });
    await waitFor(() => a.child.exitCode !== null, { what: `the agent to exit (stderr: ${a.stderr})`, timeoutMs: 5000 });
    assert.equal(a.child.exitCode, 0);
  } finally {
    a.kill();
  }
});
