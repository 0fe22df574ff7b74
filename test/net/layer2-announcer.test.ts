// The announcer against real Linux neighbours: a client namespace (arping, ndisc6 and its own
// kernel) and announcer namespaces on a bridge, all created and removed here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withNamespaces, bridge, veth, arpingMac, ndiscMac, type Netns } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';
import { AgentProcess } from '../../testbed/tools/layer2-agent-process.ts';

const VIP4 = '10.77.0.100';
const VIP6 = 'fd00:77::100';
const OTHER4 = '10.77.0.101';
const OTHER6 = 'fd00:77::101';
const layer2Dir = fileURLToPath(new URL('../../src/layer2/', import.meta.url));
const nativeIndex = fileURLToPath(new URL('../../src/native/index.ts', import.meta.url));

interface Node {
  ns: Netns;
  mac: string;
  agent?: AgentProcess;
}

/** An announcer host: VIPs accepted locally on lo, but the kernel never answers ARP/NS for them. */
async function node(ns: Netns, plug: (h: Netns, hostIf: string, portIf: string) => Promise<void>, port: string, n: number): Promise<Node> {
  await plug(ns, 'eth0', port);
  await ns.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
  await ns.ip('addr', 'add', `10.77.0.${n}/24`, 'dev', 'eth0');
  await ns.ip('-6', 'addr', 'add', `fd00:77::${n}/64`, 'dev', 'eth0', 'nodad');
  await ns.ip('addr', 'add', `${VIP4}/32`, 'dev', 'lo');
  await ns.ip('-6', 'addr', 'add', `${VIP6}/128`, 'dev', 'lo', 'nodad');
  const mac = JSON.parse(await ns.ip('-j', 'link', 'show', 'eth0'))[0].address as string;
  return { ns, mac };
}

function startAgent(n: Node, opts: Record<string, unknown> = {}): AgentProcess {
  const a = new AgentProcess((c, args) => n.ns.spawn(c, args, { stdio: ['pipe', 'pipe', 'pipe'] }), { excludePatterns: [], gratuitousIntervalMs: 500, gratuitousCount: 3, ...opts });
  n.agent = a;
  return a;
}

async function ready(a: AgentProcess): Promise<void> {
  await waitFor(() => a.find((e) => e.event === 'ready'), { what: `agent ready (stderr: ${a.stderr})`, timeoutMs: 60_000 });
}

async function setAndWait(a: AgentProcess, set: Record<string, object>): Promise<void> {
  const from = a.events.length;
  a.send({ set });
  const e = await waitFor(() => a.find((x) => x.event === 'set' || x.event === 'error', from), { what: 'set applied', timeoutMs: 10_000 });
  assert.equal(e.event, 'set', JSON.stringify(e));
}

async function setup(count: number, fn: (sw: Netns, client: Netns, nodes: Node[]) => Promise<void>): Promise<void> {
  await withNamespaces('ilbl', count + 2, async ([sw, client, ...hosts]) => {
    const plug = await bridge(sw!);
    await plug(client!, 'eth0', 'pc');
    await client!.ip('addr', 'add', '10.77.0.1/24', 'dev', 'eth0');
    await client!.ip('-6', 'addr', 'add', 'fd00:77::1/64', 'dev', 'eth0', 'nodad');
    const nodes: Node[] = [];
    for (let i = 0; i < hosts.length; i++) nodes.push(await node(hosts[i]!, plug, `p${i}`, 10 + i));
    try {
      await fn(sw!, client!, nodes);
    } finally {
      for (const n of nodes) n.agent?.kill();
    }
  });
}

test('arping and ndisc6 get the announcer MAC for a VIP not configured on the interface; the kernel reaches a server on the VIP', async () => {
  await setup(1, async (_sw, client, [a]) => {
    const agent = startAgent(a!);
    await ready(agent);
    // Before announcing: nobody answers (the kernel on the node must not).
    assert.equal(await arpingMac(client, VIP4), null);
    await setAndWait(agent, { [VIP4]: {}, [VIP6]: {} });
    assert.equal(await arpingMac(client, VIP4), a!.mac);
    assert.equal(await ndiscMac(client, VIP6), a!.mac);
    // A TCP server bound to each VIP behind the announcer, reached through the client's own neighbour resolution.
    const server = a!.ns.spawn(process.execPath, ['-e', `
      const net = require('node:net'); let n = 0;
      for (const h of ['${VIP4}', '${VIP6}']) net.createServer((s) => s.end('hello from ' + h)).listen(7777, h, () => { if (++n === 2) console.log('listening'); });
    `]);
    let out = '';
    server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('listening'), { what: 'server listening', timeoutMs: 10_000 });
    for (const vip of [VIP4, VIP6]) {
      const reply = await client.exec(process.execPath, ['-e', `
        const s = require('node:net').connect(7777, '${vip}'); let d = '';
        s.setTimeout(5000, () => { console.error('timeout'); process.exit(2); });
        s.on('data', (c) => (d += c)); s.on('end', () => console.log(d));
      `], 15_000);
      assert.equal(reply.trim(), `hello from ${vip}`);
    }
    const neigh = await client.ip('neigh', 'show', 'dev', 'eth0');
    assert.match(neigh, new RegExp(`${VIP4.replace(/\./g, '\\.')} lladdr ${a!.mac}`));
    assert.match(neigh, new RegExp(`${VIP6} lladdr ${a!.mac}`));
    // Release: stops answering at once.
    await setAndWait(agent, {});
    assert.equal(await arpingMac(client, VIP4), null);
    assert.equal(await ndiscMac(client, VIP6), null);
    agent.send({ metrics: true });
    const m = await waitFor(() => agent.find((e) => e.event === 'metrics'), { what: 'metrics' });
    const text = m.text as string;
    assert.match(text, /ironlb_layer2_replies_total\{interface="eth0",protocol="arp"\} [1-9]/);
    assert.match(text, /ironlb_layer2_replies_total\{interface="eth0",protocol="ndp"\} [1-9]/);
    assert.match(text, /ironlb_layer2_gratuitous_total\{interface="eth0",protocol="arp"\} [1-9]/);
    assert.match(text, /ironlb_layer2_requests_total\{interface="eth0",protocol="arp"\} [1-9]/);
  });
});

/**
 * Sends hand-made frames from the client and prints NA/ARP replies seen within `waitMs`, as JSON.
 */
function probe(client: Netns, frames: Array<{ kind: 'ns' | 'arp'; target: string; dstMac: string; dstIp?: string; withLla?: boolean }>, waitMs: number): Promise<string> {
  const code = `
    import * as n from ${JSON.stringify(nativeIndex)};
    import * as ndp from ${JSON.stringify(layer2Dir + 'ndp.ts')};
    import * as arp from ${JSON.stringify(layer2Dir + 'arp.ts')};
    import { parseMac } from ${JSON.stringify(layer2Dir + 'ethernet.ts')};
    const link = n.listInterfaces().find((i) => i.name === 'eth0');
    const mac = parseMac(link.mac);
    const seen = [];
    const rx6 = new n.PacketSocket(link.index, n.ETH_P_IPV6, (f) => { const m = ndp.decodeNdp(f); if (m && m.type === ndp.ICMPV6_NA && m.dst === 'fd00:77::1') seen.push({ kind: 'na', target: m.target, flags: m.flags, dst: m.dst, ethDst: m.ethDst.toString('hex'), lla: m.lla?.toString('hex') }); });
    const rx4 = new n.PacketSocket(link.index, n.ETH_P_ARP, (f) => { const m = arp.decodeArp(f); if (m && m.op === arp.ARP_REPLY && m.targetIp === '10.77.0.1') seen.push({ kind: 'arp', ip: m.senderIp, mac: m.senderMac.toString('hex') }); });
    for (const p of ${JSON.stringify(frames)}) {
      if (p.kind === 'ns') rx6.send(ndp.encodeNdp({ ethDst: parseMac(p.dstMac), ethSrc: mac, src: 'fd00:77::1', dst: p.dstIp ?? p.target, type: ndp.ICMPV6_NS, target: p.target, lla: p.withLla ? mac : undefined }));
      else rx4.send(arp.encodeArp({ ethDst: parseMac(p.dstMac), ethSrc: mac, op: arp.ARP_REQUEST, senderMac: mac, senderIp: '10.77.0.1', targetMac: Buffer.alloc(6), targetIp: p.target }));
    }
    setTimeout(() => { rx4.close(); rx6.close(); console.log(JSON.stringify(seen)); }, ${waitMs});
  `;
  return client.exec(process.execPath, ['--input-type=module', '-e', code], 20_000);
}

test('unicast reachability probes are answered with and without a source link-layer option; unowned targets never', async () => {
  await setup(1, async (_sw, client, [a]) => {
    const agent = startAgent(a!, { gratuitousCount: 1 });
    await ready(agent);
    // MLDv2 reports (hop-by-hop header, then ICMPv6 type 143) from the node: the real group join.
    const mld = client.spawn('tcpdump', ['-i', 'eth0', '-n', '-v', '-l', '--immediate-mode', 'ip6 and ip6[6] == 0 and ip6[40] == 58 and ip6[48] == 143']);
    let mldOut = '';
    mld.stdout!.on('data', (d: Buffer) => (mldOut += d.toString()));
    mld.stderr!.on('data', (d: Buffer) => (mldOut += d.toString()));
    await waitFor(() => mldOut.includes('listening'), { what: 'tcpdump listening', timeoutMs: 10_000 });
    await setAndWait(agent, { [VIP4]: {}, [VIP6]: {} });
    await waitFor(() => mldOut.includes('ff02::1:ff00:100'), { what: `an MLD report joining ff02::1:ff00:100 (capture: ${mldOut.slice(-500)})`, timeoutMs: 5000 });
    mld.kill('SIGKILL');
    const seen = JSON.parse(await probe(client, [
      { kind: 'ns', target: VIP6, dstMac: a!.mac, withLla: false }, // MetalLB #2920 case
      { kind: 'ns', target: OTHER6, dstMac: a!.mac, withLla: false },
      { kind: 'ns', target: OTHER6, dstMac: '33:33:ff:00:01:01', dstIp: 'ff02::1:ff00:101', withLla: true },
      { kind: 'arp', target: OTHER4, dstMac: 'ff:ff:ff:ff:ff:ff' },
      { kind: 'arp', target: VIP4, dstMac: a!.mac }, // unicast ARP refresh
    ], 1500)) as Array<Record<string, unknown>>;
    const macHex = a!.mac.replace(/:/g, '');
    const nas = seen.filter((s) => s.kind === 'na');
    assert.equal(nas.length, 1, JSON.stringify(seen));
    // Solicited + Override, Router clear; sent to the probe's Ethernet source; target LLA = our MAC.
    assert.deepEqual({ target: nas[0]!.target, flags: nas[0]!.flags, dst: nas[0]!.dst, lla: nas[0]!.lla }, { target: VIP6, flags: 0x60, dst: 'fd00:77::1', lla: macHex });
    const arps = seen.filter((s) => s.kind === 'arp');
    assert.deepEqual(arps, [{ kind: 'arp', ip: VIP4, mac: macHex }]);
  });
});

/**
 * A capture in the client: kernel receive timestamps of the frames B sends for the VIPs, so the
 * measurement does not depend on when a loaded machine schedules any process.
 */
function capture(client: Netns, srcMac: string): { child: ChildProcess; frames: Array<{ at: number; text: string }> } {
  const child = client.spawn('tcpdump', ['-i', 'eth0', '-n', '-e', '-tt', '-l', '--immediate-mode', 'ether', 'src', srcMac, 'and', '(arp or icmp6)']);
  const frames: Array<{ at: number; text: string }> = [];
  let buf = '';
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
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  Object.defineProperty(frames, 'stderr', { get: () => err });
  return { child, frames };
}

test('takeover: the client neighbour entries point at the new announcer within 100 ms', async () => {
  await setup(2, async (_sw, client, [a, b]) => {
    const agentA = startAgent(a!);
    // A long repeat interval: an entry that moved before the second message moved on the first.
    const agentB = startAgent(b!, { gratuitousIntervalMs: 3000 });
    await Promise.all([ready(agentA), ready(agentB)]);
    await setAndWait(agentA, { [VIP4]: {}, [VIP6]: {} });
    // The client's kernel learns A for both VIPs through real traffic.
    await client.exec('ping', ['-c', '1', '-W', '3', VIP4]);
    await client.exec('ping', ['-6', '-c', '1', '-W', '3', VIP6]);
    const neighMac = async (ip: string): Promise<string | undefined> => {
      const j = JSON.parse(await client.ip('-j', 'neigh', 'show', ip)) as Array<{ lladdr?: string }>;
      return j[0]?.lladdr;
    };
    assert.equal(await neighMac(VIP4), a!.mac);
    assert.equal(await neighMac(VIP6), a!.mac);
    const cap = capture(client, b!.mac);
    await waitFor(() => (cap.frames as unknown as { stderr: string }).stderr.includes('listening'), { what: 'tcpdump listening', timeoutMs: 10_000 });
    const from = agentB.events.length;
    // Ownership moves: A releases (as a live node would), B acquires.
    agentA.send({ set: {} });
    agentB.send({ set: { [VIP4]: {}, [VIP6]: {} } });
    const started = (await waitFor(() => agentB.find((e) => e.event === 'set', from), { what: 'B applied' })).started as number;
    await waitFor(async () => (await neighMac(VIP4)) === b!.mac && (await neighMac(VIP6)) === b!.mac, { what: 'client entries pointing at B', timeoutMs: 2500, intervalMs: 10 });
    const moved = Date.now();
    const first4 = await waitFor(() => cap.frames.find((f) => f.text.includes('ARP') && f.text.includes(VIP4)), { what: 'gratuitous ARP captured' });
    const first6 = await waitFor(() => cap.frames.find((f) => f.text.includes('neighbor advertisement') && f.text.includes(VIP6)), { what: 'unsolicited NA captured' });
    cap.child.kill('SIGKILL');
    // Both entries had moved before B's second message was due: the first one moved them.
    assert.ok(moved < first4.at + 2500, `entries moved only ${moved - first4.at} ms after the first gratuitous ARP`);
    const d4 = first4.at - started;
    const d6 = first6.at - started;
    console.log(`takeover: gratuitous ARP at the client ${d4.toFixed(1)} ms, unsolicited NA ${d6.toFixed(1)} ms after B acquired; entries confirmed moved ${moved - started} ms after`);
    assert.ok(d4 < 100 && d4 > -5, `IPv4 entry moved after ${d4} ms`);
    assert.ok(d6 < 100 && d6 > -5, `IPv6 entry moved after ${d6} ms`);
    // Traffic follows: the client reaches B now.
    await client.exec('ping', ['-c', '1', '-W', '3', VIP4]);
  });
});

test('an interface removed and re-added while running is served again, with its new MAC', async () => {
  await setup(1, async (sw, client, [a]) => {
    const agent = startAgent(a!);
    await ready(agent);
    await setAndWait(agent, { [VIP4]: {}, [VIP6]: {} });
    assert.equal(await arpingMac(client, VIP4), a!.mac);
    const from = agent.events.length;
    await sw.ip('link', 'del', 'p0');
    await waitFor(() => agent.find((e) => e.event === 'released', from), { what: 'release when eth0 vanished', timeoutMs: 5000 });
    await sw.ip('link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', a!.ns.name);
    await sw.ip('link', 'set', 'p0', 'master', 'br0');
    await sw.ip('link', 'set', 'p0', 'up');
    await a!.ns.ip('link', 'set', 'eth0', 'up');
    const mac = JSON.parse(await a!.ns.ip('-j', 'link', 'show', 'eth0'))[0].address as string;
    assert.notEqual(mac, a!.mac);
    await waitFor(() => agent.find((e) => e.event === 'acquired' && (e.interfaces as string[]).includes('eth0'), from), { what: 're-acquired on the new eth0', timeoutMs: 5000 });
    assert.equal(await waitFor(() => arpingMac(client, VIP4).then((m) => m === mac && m), { what: 'arping answered with new MAC', timeoutMs: 10_000, intervalMs: 200 }), mac);
    assert.equal(await ndiscMac(client, VIP6), mac);
    // Down: not served; up again: served.
    await a!.ns.ip('link', 'set', 'eth0', 'down');
    await waitFor(() => agent.find((e) => e.event === 'released', from + 2), { what: 'release when eth0 went down', timeoutMs: 5000 });
  });
});

test('the agent process exits promptly when its input closes', async () => {
  const child = spawnProcess(process.execPath, [fileURLToPath(new URL('../../testbed/tools/layer2-agent.ts', import.meta.url)), '{"interfaces":["nonexistent0"]}'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes('"ready"'), { what: 'agent ready', timeoutMs: 60_000 });
  child.stdin.end();
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); resolve(null); }, 5000);
    child.once('exit', (c) => { clearTimeout(t); resolve(c); });
  });
  assert.equal(code, 0);
});

test('only selected interfaces, only matching subnets; a flood of requests does not stop answers', async () => {
  await withNamespaces('ilbl', 3, async ([n, c1, c2]) => {
    await veth(n!, 'eth0', c1!, 'eth0');
    await veth(n!, 'eth1', c2!, 'eth0');
    await n!.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.all.arp_ignore=1']);
    await n!.ip('addr', 'add', '10.77.0.10/24', 'dev', 'eth0');
    await n!.ip('addr', 'add', '10.78.0.10/24', 'dev', 'eth1');
    await c1!.ip('addr', 'add', '10.77.0.1/24', 'dev', 'eth0');
    await c2!.ip('addr', 'add', '10.78.0.1/24', 'dev', 'eth0');
    const mac0 = JSON.parse(await n!.ip('-j', 'link', 'show', 'eth0'))[0].address as string;
    const host: Node = { ns: n!, mac: mac0 };
    const agent = startAgent(host);
    try {
      await ready(agent);
      // 10.77.0.100 only where a prefix contains it (eth0); 10.99.0.1 only on eth1 by name.
      await setAndWait(agent, { [VIP4]: { requireSubnet: true }, '10.99.0.1': { interfaces: ['eth1'] } });
      const set = agent.find((e) => e.event === 'set')!;
      assert.deepEqual(set.announced, { [VIP4]: ['eth0'], '10.99.0.1': ['eth1'] });
      assert.equal(await arpingMac(c1!, VIP4), mac0);
      assert.equal(await arpingMac(c2!, VIP4), null);
      assert.equal(await arpingMac(c1!, '10.99.0.1'), null);
      // Flood eth0 with requests for addresses not owned, while asking for the VIP.
      const flood = c1!.exec(process.execPath, ['--input-type=module', '-e', `
        import * as n from ${JSON.stringify(nativeIndex)};
        import * as arp from ${JSON.stringify(layer2Dir + 'arp.ts')};
        import { parseMac } from ${JSON.stringify(layer2Dir + 'ethernet.ts')};
        const l = n.listInterfaces().find((i) => i.name === 'eth0');
        const mac = parseMac(l.mac);
        const s = new n.PacketSocket(l.index, n.ETH_P_ARP, () => {});
        const end = Date.now() + 3000; let sent = 0;
        const burst = () => { for (let i = 0; i < 500; i++) { try { s.send(arp.encodeArp({ ethDst: Buffer.alloc(6, 0xff), ethSrc: mac, op: 1, senderMac: mac, senderIp: '10.77.0.1', targetMac: Buffer.alloc(6), targetIp: '10.77.1.' + (i % 250) })); sent++; } catch {} }
          if (Date.now() < end && sent < 400000) setImmediate(burst); else { s.close(); console.log(sent); } };
        burst();
      `], 30_000);
      let answered = 0;
      for (let i = 0; i < 3; i++) if ((await arpingMac(c1!, VIP4)) === mac0) answered++;
      const sent = Number(await flood);
      console.log(`flood: ${sent} ARP requests for other addresses in 3 s; VIP answered ${answered}/3 during it`);
      assert.ok(sent > 1000, `flood sent only ${sent}`);
      assert.ok(answered >= 2, `answered ${answered}/3 under flood`);
      assert.equal(await arpingMac(c1!, VIP4), mac0);
    } finally {
      agent.kill();
    }
  });
});

test('periodic refresh re-sends gratuitous messages only when enabled', async () => {
  await withNamespaces('ilbl', 1, async ([n]) => {
    await n!.ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0');
    await n!.ip('link', 'set', 'eth0', 'up');
    await n!.ip('link', 'set', 'peer0', 'up');
    const host: Node = { ns: n!, mac: '' };
    const on = startAgent(host, { interfaces: ['eth0'], gratuitousCount: 1, refreshIntervalMs: 200 });
    const off = new AgentProcess((c, args) => n!.spawn(c, args, { stdio: ['pipe', 'pipe', 'pipe'] }), { interfaces: ['peer0'], gratuitousCount: 1 });
    try {
      await Promise.all([ready(on), ready(off)]);
      await setAndWait(on, { [VIP4]: {} });
      await setAndWait(off, { [OTHER4]: {} });
      const gratuitous = async (a: AgentProcess): Promise<number> => {
        const from = a.events.length;
        a.send({ metrics: true });
        const m = await waitFor(() => a.find((e) => e.event === 'metrics', from), { what: 'metrics' });
        return Number(/ironlb_layer2_gratuitous_total\{[^}]*protocol="arp"\} (\d+)/.exec(m.text as string)?.[1] ?? 0);
      };
      // Each refresh sends the request and the reply form.
      await waitFor(async () => (await gratuitous(on)) >= 8, { what: 'refreshes with the option on', timeoutMs: 10_000, intervalMs: 200 });
      assert.equal(await gratuitous(off), 2, 'one announcement (two frames) and no refresh with the option off');
    } finally {
      on.kill();
      off.kill();
    }
  });
});
