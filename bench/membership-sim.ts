import { pino } from 'pino';
import { Membership } from '../src/membership/membership.ts';
import { FakeClock } from '../src/membership/clock.ts';
import { MemoryNetwork } from '../src/membership/transport.ts';
const silent = pino({ level: 'silent' });
function prng(seed: number) { let s = seed >>> 0; return () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; }; }
const n = Number(process.argv[2] ?? 5); const loss = Number(process.argv[3] ?? 0);
const all: number[] = []; const firsts: number[] = [];
let falseDowns = 0;
for (let seed = 1; seed <= 200; seed++) {
  const clock = new FakeClock(); const net = new MemoryNetwork(clock, { latencyMs: 1, random: prng(seed * 7) });
  net.setGlobalLoss(loss);
  const ms: Membership[] = [];
  const peers = Array.from({ length: n }, (_, i) => ({ name: `n${i}`, address: `10.0.0.${i + 1}` }));
  let killedAt = 0; const downs: number[] = [];
  for (let i = 0; i < n; i++) { const m = new Membership({ name: `n${i}`, address: `10.0.0.${i + 1}`, secret: Buffer.alloc(32, 1), logger: silent, clock, transport: net.transport(`10.0.0.${i + 1}`, 7947), random: prng(seed * 100 + i) }); await m.start(); ms.push(m);
    m.on('memberDown', (name) => { if (name === 'n0' && killedAt) downs.push(clock.now() - killedAt); else falseDowns++; }); }
  for (const m of ms) m.setPeers(peers);
  clock.advance(2000 + (seed * 13) % 100);
  killedAt = clock.now(); await ms[0]!.close();
  clock.advance(3000);
  if (downs.length !== n - 1) console.log('seed', seed, 'missing downs', downs.length);
  all.push(Math.max(...downs)); firsts.push(Math.min(...downs));
  for (const m of ms) await m.close();
}
const q = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))];
console.log(`n=${n} loss=${loss} all-detected p50=${q(all, .5)} p90=${q(all, .9)} p99=${q(all, .99)} max=${Math.max(...all)}; first p50=${q(firsts, .5)} p99=${q(firsts,.99)}; falseDowns=${falseDowns}`);
