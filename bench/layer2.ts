// Layer 2 benchmark: ARP reply latency (p50/p99, one request at a time) and the sustained rate of
// answered requests (a window of outstanding requests), for the announcer answering a VIP versus
// the kernel answering for an address configured on the same veth interface, measured by the same
// raw-socket client in another namespace. Prints a table and the ratios.
//   node bench/layer2.ts [pingpongCount=2000] [rateSeconds=3] [runs=3]
import { fileURLToPath } from 'node:url';
import { withNamespaces, veth } from '../test/support/netns.ts';
import { waitFor } from '../test/support/wait.ts';
import { AgentProcess } from '../src/layer2/agent-process.ts';

const count = Number(process.argv[2] ?? 2000);
const seconds = Number(process.argv[3] ?? 3);
const runs = Number(process.argv[4] ?? 3);
const nativeIndex = fileURLToPath(new URL('../src/native/index.ts', import.meta.url));
const arpTs = fileURLToPath(new URL('../src/layer2/arp.ts', import.meta.url));
const ethTs = fileURLToPath(new URL('../src/layer2/ethernet.ts', import.meta.url));

const KERNEL_IP = '10.79.0.2';
const VIP = '10.79.0.100';

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

interface Result { p50: number; p99: number; lost: number; rate: number }

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

await withNamespaces('ilbl', 2, async ([node, client]) => {
  await veth(node!, 'eth0', client!, 'eth0');
  await node!.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.all.arp_ignore=1']);
  await node!.ip('addr', 'add', `${KERNEL_IP}/24`, 'dev', 'eth0');
  await node!.ip('addr', 'add', `${VIP}/32`, 'dev', 'lo');
  await client!.ip('addr', 'add', '10.79.0.1/24', 'dev', 'eth0');
  const agent = new AgentProcess((c, a) => node!.spawn(c, a, { stdio: ['pipe', 'pipe', 'pipe'] }), { excludePatterns: [], gratuitousCount: 1 });
  try {
    await waitFor(() => agent.find((e) => e.event === 'ready'), { what: 'agent ready', timeoutMs: 15_000 });
    agent.send({ set: { [VIP]: {} } });
    await waitFor(() => agent.find((e) => e.event === 'set'), { what: 'VIP announced' });
    const results: Record<'kernel' | 'ironlb', Result[]> = { kernel: [], ironlb: [] };
    for (let r = 0; r < runs; r++) {
      // Alternate the order so machine load drifts hit both alike.
      for (const who of (r % 2 ? ['ironlb', 'kernel'] : ['kernel', 'ironlb']) as Array<'kernel' | 'ironlb'>) {
        const out = await client!.exec(process.execPath, ['--input-type=module', '-e', clientCode(who === 'kernel' ? KERNEL_IP : VIP)], 120_000);
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
    const fmt = (x: number): string => x.toFixed(0).padStart(8);
    console.log(`ARP over veth, ${count} ping-pong requests and ${seconds} s at window 32, median of ${runs} runs (ranges: kernel p50 ${results.kernel.map((x) => x.p50.toFixed(0)).join('/')} µs, ironlb p50 ${results.ironlb.map((x) => x.p50.toFixed(0)).join('/')} µs)`);
    console.log('responder   p50 µs   p99 µs   replies/s   lost');
    console.log(`kernel    ${fmt(k.p50)} ${fmt(k.p99)} ${fmt(k.rate)}    ${k.lost}`);
    console.log(`ironlb    ${fmt(i.p50)} ${fmt(i.p99)} ${fmt(i.rate)}    ${i.lost}`);
    console.log(`ratio ironlb/kernel: p50 ${(i.p50 / k.p50).toFixed(2)}x, p99 ${(i.p99 / k.p99).toFixed(2)}x, rate ${(i.rate / k.rate).toFixed(2)}x`);
  } finally {
    agent.kill();
  }
});
