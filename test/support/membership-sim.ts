// A simulated membership cluster (fake clock, in-memory network): cold start, quiet period, then
// deaths one after another; reports convergence, detection times, false failovers, message rates
// and the CPU the simulation cost. Used by bench/membership-sim.ts and the scale tests.
//
// What is real: the Membership code itself (probing, suspicion, gossip, the codec, HMAC-SHA256 on
// every message, the replay guard). What is simulated: the clock (a heap of timers, no real waits),
// the network (MemoryNetwork: 1 ms links, seeded independent loss per datagram, no queueing or
// bandwidth limit), and CPU is free (a member never runs late).
import { pino } from 'pino';
import { Membership } from '../../src/membership/membership.ts';
import { FakeClock } from '../../src/membership/clock.ts';
import { MemoryNetwork } from '../../src/membership/transport.ts';
import { prng } from './prng.ts';

const silent = pino({ level: 'silent' });

export interface SimOptions {
  loss: number;
  deaths: number;
  seed: number;
  /** Time between deaths (ms). */
  gapMs?: number;
  /** Length of the quiet window measured for message rates (ms). */
  quietMs?: number;
}

function q(a: readonly number[], p: number): number {
  if (a.length === 0) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

export interface SimResult {
  members: number;
  loss: number;
  coldStartMs: number;
  deaths: number;
  lastObserverMs: { p50: number; p99: number; max: number };
  /** Per death: ms until the first and until the last member declared it down (plots). */
  perDeathMs: { first: number[]; last: number[] };
  allObserversMs: { p50: number; p99: number; max: number };
  missed: number;
  falseFailovers: number;
  /** The first few false failovers: who declared whom down, when (ms after the start). */
  falseDetail: { observer: string; member: string; atMs: number }[];
  /** Suspicions raised and refutations made over the run (all members). */
  suspicions: number;
  refutations: number;
  messagesPerMemberPerSec: { quiet: number; deaths: number; busiestQuiet: number; busiestDeaths: number; quietByType: Record<string, number> };
  cpuSeconds: number;
  simulatedSeconds: number;
}

export async function simulate(n: number, opts: SimOptions): Promise<SimResult> {
  const gapMs = opts.gapMs ?? 2000;
  const quietMs = opts.quietMs ?? 10_000;
  const cpu0 = process.cpuUsage();
  const clock = new FakeClock();
  const t0 = clock.now();
  const net = new MemoryNetwork(clock, { latencyMs: 1, random: prng(opts.seed * 7919) });
  net.setGlobalLoss(opts.loss);
  const name = (i: number): string => `node-${String(i).padStart(4, '0')}`;
  const addr = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const peers = Array.from({ length: n }, (_, i) => ({ name: name(i), address: addr(i) }));
  const index = new Map(peers.map((p, i) => [p.address, i]));
  // Messages sent per member, counted at the network (before loss).
  const sentBy = new Float64Array(n);
  // By message type (the codec's type byte: ping, ack, nack, pingReq, gossip).
  const byType = new Float64Array(6);
  net.tap = (d) => {
    sentBy[index.get(d.address)!]!++;
    byType[d.data[3]! % 6]!++;
  };
  const ms: Membership[] = [];
  let upPairs = 0;
  const killedAt = new Map<string, number>();
  // victim → observer index → time from the kill to that observer declaring it down
  const downTimes = new Map<string, Map<number, number>>();
  let falseDowns = 0;
  const falseDetail: { observer: string; member: string; atMs: number }[] = [];
  for (let i = 0; i < n; i++) {
    const m = new Membership({ name: name(i), address: addr(i), secret: Buffer.alloc(32, 1), logger: silent, clock, transport: net.transport(addr(i), 7947), random: prng(opts.seed * 100_003 + i) });
    m.on('memberUp', () => upPairs++);
    m.on('memberDown', (who) => {
      upPairs--;
      const k = killedAt.get(who);
      if (k === undefined) {
        falseDowns++;
        if (falseDetail.length < 10) falseDetail.push({ observer: m.name, member: who, atMs: clock.now() - t0 });
      }
      else downTimes.get(who)!.set(i, clock.now() - k);
    });
    ms.push(m);
  }
  // Cold start: every member starts within the same 100 ms and knows the peer list.
  for (const m of ms) {
    await m.start();
    m.setPeers(peers);
  }
  let coldStartMs = NaN;
  for (let t = 0; t < 30_000; t += 50) {
    if (upPairs === n * (n - 1)) {
      coldStartMs = clock.now() - t0;
      break;
    }
    clock.advance(50);
  }
  // Quiet: 10 s with nothing happening.
  clock.advance(2000);
  const quiet0 = Float64Array.from(sentBy);
  const types0 = Float64Array.from(byType);
  clock.advance(quietMs);
  const quietRate = sentBy.map((v, i) => (v - quiet0[i]!) / (quietMs / 1000));
  const typeRate = (i: number): number => Number(((byType[i]! - types0[i]!) / (quietMs / 1000) / n).toFixed(1));
  const quietByType = { ping: typeRate(1), ack: typeRate(2), nack: typeRate(3), pingReq: typeRate(4), gossip: typeRate(5) };
  // Deaths: one member every gap ms, spread over the ring.
  const deaths0 = Float64Array.from(sentBy);
  const dStart = clock.now();
  const victims: number[] = [];
  for (let d = 0; d < opts.deaths && d < n - 2; d++) {
    const v = (d * 7919 + 1) % n;
    if (victims.includes(v)) continue;
    victims.push(v);
    clock.advance((d * 37) % 100); // not aligned with probe rounds
    killedAt.set(name(v), clock.now());
    downTimes.set(name(v), new Map());
    await ms[v]!.close();
    clock.advance(gapMs);
  }
  clock.advance(2000);
  const dSecs = Math.max(0.001, (clock.now() - dStart) / 1000);
  const liveIdx = [...Array(n).keys()].filter((i) => !victims.includes(i));
  const deathRate = liveIdx.map((i) => (sentBy[i]! - deaths0[i]!) / dSecs);
  const last: number[] = [];
  const first: number[] = [];
  const all: number[] = [];
  let missed = 0;
  for (const v of victims) {
    const byObserver = downTimes.get(name(v))!;
    // Every member never killed must know; one still unaware at the end counts as missed.
    for (const i of liveIdx) if (!byObserver.has(i)) missed++;
    // Members killed later count too when they learned before dying.
    const times = [...byObserver.values()];
    all.push(...times);
    last.push(Math.max(...times));
    first.push(Math.min(...times));
  }
  const simulatedSeconds = (clock.now() - t0) / 1000;
  let suspicions = 0;
  let refutations = 0;
  for (const m of ms) {
    suspicions += (await m.metrics.suspicions.get()).values[0]?.value ?? 0;
    refutations += (await m.metrics.refutations.get()).values[0]?.value ?? 0;
    await m.close();
  }
  const cpu = process.cpuUsage(cpu0);
  const mean = (a: ArrayLike<number>): number => Array.from(a).reduce((x, y) => x + y, 0) / a.length;
  return {
    members: n,
    loss: opts.loss,
    coldStartMs,
    deaths: victims.length,
    lastObserverMs: { p50: q(last, 0.5), p99: q(last, 0.99), max: Math.max(...last) },
    perDeathMs: { first, last },
    allObserversMs: { p50: q(all, 0.5), p99: q(all, 0.99), max: Math.max(...all) },
    missed,
    falseFailovers: falseDowns,
    falseDetail,
    suspicions,
    refutations,
    messagesPerMemberPerSec: {
      quiet: Number(mean(quietRate).toFixed(1)),
      deaths: Number(mean(deathRate).toFixed(1)),
      busiestQuiet: Number(Math.max(...quietRate).toFixed(1)),
      busiestDeaths: Number(Math.max(...deathRate).toFixed(1)),
      quietByType,
    },
    cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
    simulatedSeconds,
  };
}

