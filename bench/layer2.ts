// Layer 2 benchmark: ARP reply latency (p50/p99, one request at a time) and the sustained rate of
// answered requests (a window of outstanding requests), for the announcer answering a VIP versus
// the kernel answering for an address configured on the same veth interface, measured by the same
// raw-socket client in another namespace. Prints a table and the ratios. The same for Neighbor
// Solicitations (bench/ndp-probe.ts, one at a time 2 ms apart: VIP6 on lo vs the node's address).
// Then an open-loop flood
// (issue 13 item 20): requests for the address sent at a fixed rate whatever the answers, the share
// answered, and the frames the announcer's kernel dropped for a full receive buffer
// (PACKET_STATISTICS), for the kernel, ironlb with the former default buffer (212,992 bytes as
// the kernel reports it: net.core.rmem_default) and ironlb with its default now (4 MiB asked).
//   node bench/layer2.ts [pingpongCount=2000] [rateSeconds=3] [runs=3] [floodRate=67000] [floodSeconds=2]
// pingpongCount=0 skips the latency/rate part; floodRate=0 skips the flood.
// Plots: DIR/layer2-arp-latency.svg and DIR/layer2-flood.svg (--plots DIR, default docs/img/perf;
// --plots '' for none). IRONLB_NETNS_PREFIX=ilbX names the namespaces (default ilbl).
import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { withNamespaces, veth, type Netns } from '../test/support/netns.ts';
import { waitFor } from '../test/support/wait.ts';
import { AgentProcess } from '../testbed/tools/layer2-agent-process.ts';
import { drawFigure, type Layer2Flood, type Layer2Latency } from './support/figures.ts';
import { endRun, plotsOption, startRun, writePlots } from './support/plot-files.ts';

const { values: args, positionals } = parseArgs({ allowPositionals: true, options: plotsOption });
const count = Number(positionals[0] ?? 2000);
const seconds = Number(positionals[1] ?? 3);
const runs = Number(positionals[2] ?? 3);
const floodRate = Number(positionals[3] ?? 67_000);
const floodSeconds = Number(positionals[4] ?? 2);
const info = startRun();
let latencyPlot: Layer2Latency | undefined;
const floodPlot: Layer2Flood[] = [];
const nativeIndex = fileURLToPath(new URL('../src/native/index.ts', import.meta.url));
const arpTs = fileURLToPath(new URL('../src/layer2/arp.ts', import.meta.url));
const ethTs = fileURLToPath(new URL('../src/layer2/ethernet.ts', import.meta.url));

const KERNEL_IP = '10.79.0.2';
const VIP = '10.79.0.100';
const KERNEL_IP6 = 'fd00:79::2';
const VIP6 = 'fd00:79::100';
const CLIENT_IP6 = 'fd00:79::1';
const ndpProbe = fileURLToPath(new URL('./ndp-probe.ts', import.meta.url));

// Runs in the client namespace: ping-pong latency, then a windowed sustained rate, for one target.
const clientCode = (target: string): string => `
  import * as n from ${JSON.stringify(nativeIndex)};
  import * as arp from ${JSON.stringify(arpTs)};
  import { parseMac } from ${JSON.stringify(ethTs)};
  const l = n.listInterfaces().find((i) => i.name === 'eth0');
  const mac = parseMac(l.mac);
  const req = arp.encodeArp({ ethDst: Buffer.alloc(6, 0xff), ethSrc: mac, op: 1, senderMac: mac, senderIp: '10.79.0.1', targetMac: Buffer.alloc(6), targetIp: ${JSON.stringify(target)} });
  let onReply = () => {};
  const s = new n.PacketSocket(l.index, n.ETH_P_ARP, (f) => { const m = arp.decodeArp(f); if (m && m.op === 2 && m.senderIp === ${JSON.stringify(target)}) onReply(); });
  const lat = []; let lost = 0;
  for (let i = 0; i < ${count}; i++) {
    const t0 = process.hrtime.bigint();
    const ok = await new Promise((resolve) => { const t = setTimeout(() => resolve(false), 200); onReply = () => { clearTimeout(t); resolve(true); }; s.send(req); });
    if (ok) lat.push(Number(process.hrtime.bigint() - t0) / 1000); else lost++;
  }
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  // Sustained: keep 32 requests outstanding; count replies for ${seconds} s.
  let replies = 0, sent = 0; const window = 32; const end = Date.now() + ${seconds * 1000};
  const rate = await new Promise((resolve) => {
    const t0 = Date.now();
    onReply = () => { replies++; if (Date.now() < end) { s.send(req); sent++; } };
    for (let i = 0; i < window; i++) { s.send(req); sent++; }
    // Top the window up if replies were lost, so the run cannot stall.
    const top = setInterval(() => { if (Date.now() >= end) { clearInterval(top); resolve(replies / ((Date.now() - t0) / 1000)); return; } const missing = window - (sent - replies); for (let i = 0; i < missing; i++) { s.send(req); sent++; } }, 50);
  });
  s.close();
  console.log(JSON.stringify({ p50: q(0.5), p99: q(0.99), lost, rate }));
`;

// Runs in the client namespace: sends requests at a fixed rate (open loop, paced against the
// clock in batches) for floodSeconds, then waits 500 ms for late replies.
const floodCode = (target: string): string => `
  import * as n from ${JSON.stringify(nativeIndex)};
  import * as arp from ${JSON.stringify(arpTs)};
  import { parseMac } from ${JSON.stringify(ethTs)};
  const l = n.listInterfaces().find((i) => i.name === 'eth0');
  const mac = parseMac(l.mac);
  const req = arp.encodeArp({ ethDst: Buffer.alloc(6, 0xff), ethSrc: mac, op: 1, senderMac: mac, senderIp: '10.79.0.1', targetMac: Buffer.alloc(6), targetIp: ${JSON.stringify(target)} });
  let replies = 0, sent = 0, failed = 0;
  const s = new n.PacketSocket(l.index, n.ETH_P_ARP, (f) => { const m = arp.decodeArp(f); if (m && m.op === 2 && m.senderIp === ${JSON.stringify(target)}) replies++; });
  s.setReceiveBuffer(64 * 1024 * 1024);
  const rate = ${floodRate}, dur = ${floodSeconds * 1000};
  const t0 = performance.now();
  await new Promise((resolve) => {
    const tick = () => {
      const el = performance.now() - t0;
      const due = Math.min(Math.floor((Math.min(el, dur) * rate) / 1000), Math.ceil((dur * rate) / 1000));
      for (let k = 0; sent < due && k < 20000; k++) { try { s.send(req); } catch { failed++; } sent++; }
      if (el >= dur) resolve(); else setImmediate(tick);
    };
    tick();
  });
  const elapsed = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 500));
  const st = s.stats();
  s.close();
  console.log(JSON.stringify({ sent, failed, replies, offered: sent / (elapsed / 1000), clientDrops: st.drops }));
`;

interface Flood { sent: number; failed: number; replies: number; offered: number; clientDrops: number }

interface Result { p50: number; p99: number; lost: number; rate: number }

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function metricValue(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && line.includes('protocol="arp"')) sum += Number(line.split(' ').pop());
  return sum;
}

async function agentMetrics(agent: AgentProcess): Promise<string> {
  const from = agent.events.length;
  agent.send({ metrics: true });
  return (await waitFor(() => agent.find((e) => e.event === 'metrics', from), { what: 'metrics' })).text as string;
}

await withNamespaces(process.env.IRONLB_NETNS_PREFIX ?? 'ilbl', 2, async ([node, client]) => {
  await veth(node!, 'eth0', client!, 'eth0');
  await node!.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.all.arp_ignore=1']);
  await node!.ip('addr', 'add', `${KERNEL_IP}/24`, 'dev', 'eth0');
  await node!.ip('addr', 'add', `${VIP}/32`, 'dev', 'lo');
  await client!.ip('addr', 'add', '10.79.0.1/24', 'dev', 'eth0');
  await node!.ip('-6', 'addr', 'add', `${KERNEL_IP6}/64`, 'dev', 'eth0', 'nodad');
  await node!.ip('-6', 'addr', 'add', `${VIP6}/128`, 'dev', 'lo', 'nodad');
  await client!.ip('-6', 'addr', 'add', `${CLIENT_IP6}/64`, 'dev', 'eth0', 'nodad');
  const startAgent = async (opts: Record<string, unknown>): Promise<AgentProcess> => {
    const agent = new AgentProcess((c, a) => node!.spawn(c, a, { stdio: ['pipe', 'pipe', 'pipe'] }), { excludePatterns: [], gratuitousCount: 1, ...opts });
    await waitFor(() => agent.find((e) => e.event === 'ready'), { what: 'agent ready', timeoutMs: 15_000 });
    agent.send({ set: { [VIP]: {}, [VIP6]: {} } });
    await waitFor(() => agent.find((e) => e.event === 'set'), { what: 'VIP announced' });
    return agent;
  };
  if (count > 0) {
    const agent = await startAgent({});
    try {
      await latencyAndRate(client!);
      await ndpLatency(client!);
    } finally {
      agent.kill();
    }
  }
  if (floodRate > 0) await flood(client!, startAgent);
});
writePlots(args.plots, drawFigure('layer2Plots', latencyPlot, floodPlot, `${floodRate.toLocaleString('en')}/s for ${floodSeconds} s`, endRun(info)));

/** Latency one request at a time, then replies/s with 32 outstanding; kernel vs ironlb, alternating. */
async function latencyAndRate(client: Netns): Promise<void> {
  const results: Record<'kernel' | 'ironlb', Result[]> = { kernel: [], ironlb: [] };
  for (let r = 0; r < runs; r++) {
    // Alternate the order so machine load drifts hit both alike.
    for (const who of (r % 2 ? ['ironlb', 'kernel'] : ['kernel', 'ironlb']) as Array<'kernel' | 'ironlb'>) {
      const out = await client.exec(process.execPath, ['--input-type=module', '-e', clientCode(who === 'kernel' ? KERNEL_IP : VIP)], 120_000);
      results[who].push(JSON.parse(out.trim().split('\n').pop()!) as Result);
    }
  }
  const row = (who: 'kernel' | 'ironlb'): { p50: number; p99: number; rate: number; lost: number } => ({
    p50: median(results[who].map((x) => x.p50)),
    p99: median(results[who].map((x) => x.p99)),
    rate: median(results[who].map((x) => x.rate)),
    lost: results[who].reduce((s, x) => s + x.lost, 0),
  });
  const k = row('kernel');
  const i = row('ironlb');
  const per = (who: 'kernel' | 'ironlb') => ({ p50: results[who].map((x) => x.p50), p99: results[who].map((x) => x.p99) });
  latencyPlot = { kernel: per('kernel'), ironlb: per('ironlb') };
  const fmt = (x: number): string => x.toFixed(0).padStart(8);
  console.log(`ARP over veth, ${count} ping-pong requests and ${seconds} s at window 32, median of ${runs} runs (ranges: kernel p50 ${results.kernel.map((x) => x.p50.toFixed(0)).join('/')} µs, ironlb p50 ${results.ironlb.map((x) => x.p50.toFixed(0)).join('/')} µs)`);
  console.log('responder   p50 µs   p99 µs   replies/s   lost');
  console.log(`kernel    ${fmt(k.p50)} ${fmt(k.p99)} ${fmt(k.rate)}    ${k.lost}`);
  console.log(`ironlb    ${fmt(i.p50)} ${fmt(i.p99)} ${fmt(i.rate)}    ${i.lost}`);
  console.log(`ratio ironlb/kernel: p50 ${(i.p50 / k.p50).toFixed(2)}x, p99 ${(i.p99 / k.p99).toFixed(2)}x, rate ${(i.rate / k.rate).toFixed(2)}x`);
}

/** NS → NA latency, one at a time 2 ms apart, kernel vs ironlb alternating; medians and ranges over `runs`. */
async function ndpLatency(client: Netns): Promise<void> {
  const n = Math.max(100, Math.floor(count / 2));
  const results: Record<'kernel' | 'ironlb', Array<{ p50: number; p99: number; lost: number; load: string }>> = { kernel: [], ironlb: [] };
  const q = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  for (let r = 0; r < runs; r++) {
    for (const who of (r % 2 ? ['ironlb', 'kernel'] : ['kernel', 'ironlb']) as Array<'kernel' | 'ironlb'>) {
      const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
      const out = await client.exec(process.execPath, [ndpProbe, 'eth0', CLIENT_IP6, who === 'kernel' ? KERNEL_IP6 : VIP6, String(n), '2', '200'], 120_000);
      const x = JSON.parse(out.trim().split('\n').pop()!) as { us: number[]; lost: number };
      results[who].push({ p50: q(x.us, 0.5), p99: q(x.us, 0.99), lost: x.lost, load });
    }
  }
  console.log(`\nNDP over veth, ${n} solicitations one at a time, median of ${runs} runs (p50 of each run, load average at its start)`);
  console.log('responder   p50 µs   p99 µs   lost   runs');
  for (const who of ['kernel', 'ironlb'] as const) {
    const xs = results[who];
    console.log(`${who.padEnd(9)} ${median(xs.map((x) => x.p50)).toFixed(0).padStart(8)} ${median(xs.map((x) => x.p99)).toFixed(0).padStart(8)} ${String(xs.reduce((s, x) => s + x.lost, 0)).padStart(6)}   ${xs.map((x) => `${x.p50.toFixed(0)} [${x.load}]`).join('; ')}`);
  }
  const ratio = median(results.ironlb.map((x) => x.p50)) / median(results.kernel.map((x) => x.p50));
  console.log(`ratio ironlb/kernel: p50 ${ratio.toFixed(2)}x`);
}

/** Open-loop flood at floodRate, alternating responders; medians and ranges over `runs`. */
async function flood(client: Netns, startAgent: (opts: Record<string, unknown>) => Promise<AgentProcess>): Promise<void> {
  // 106,496 asked = 212,992 in effect, the kernel default ironlb had before it sized its buffers.
  const setups: Array<{ name: string; opts?: Record<string, unknown> }> = [
    { name: 'kernel' },
    { name: 'ironlb, 212 KB buffer (before)', opts: { receiveBufferBytes: 106_496 } },
    { name: 'ironlb, default buffer (4 MiB asked)', opts: {} },
  ];
  const rows = new Map<string, Array<{ answered: number; offered: number; drops: number; rcvbuf: number; load: string }>>();
  for (let r = 0; r < runs; r++) {
    for (const setup of r % 2 ? [...setups].reverse() : setups) {
      const agent = setup.opts ? await startAgent(setup.opts) : null;
      try {
        const before = agent ? await agentMetrics(agent) : '';
        const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
        const out = await client.exec(process.execPath, ['--input-type=module', '-e', floodCode(setup.opts ? VIP : KERNEL_IP)], 120_000);
        const f = JSON.parse(out.trim().split('\n').pop()!) as Flood;
        const after = agent ? await agentMetrics(agent) : '';
        const drops = agent ? metricValue(after, 'ironlb_layer2_receive_drops_total') - metricValue(before, 'ironlb_layer2_receive_drops_total') : NaN;
        const rcvbuf = agent ? metricValue(after, 'ironlb_layer2_receive_buffer_bytes') : NaN;
        const list = rows.get(setup.name) ?? [];
        list.push({ answered: f.replies / f.sent, offered: f.offered, drops, rcvbuf, load });
        rows.set(setup.name, list);
        if (f.failed || f.clientDrops) console.log(`  (${setup.name}: ${f.failed} sends failed, ${f.clientDrops} replies dropped at the client)`);
      } finally {
        agent?.kill();
      }
    }
  }
  console.log(`\nARP flood, open loop at ${floodRate}/s for ${floodSeconds} s, median of ${runs} runs (load average at each run's start in brackets)`);
  console.log('responder                                answered   offered/s   dropped by kernel (buffer full)   SO_RCVBUF');
  for (const [name, list] of rows) {
    const ans = list.map((x) => x.answered);
    floodPlot.push({ setup: name, answered: ans });
    console.log(`${name.padEnd(40)} ${(median(ans) * 100).toFixed(1).padStart(6)} %  ${median(list.map((x) => x.offered)).toFixed(0).padStart(9)}   ${Number.isNaN(list[0]!.drops) ? '-'.padStart(10) : median(list.map((x) => x.drops)).toFixed(0).padStart(10)}   ${Number.isNaN(list[0]!.rcvbuf) ? '-' : list[0]!.rcvbuf}`);
    console.log(`  runs: ${list.map((x) => `${(x.answered * 100).toFixed(1)} % at ${x.offered.toFixed(0)}/s [${x.load}]`).join('; ')}`);
  }
}
