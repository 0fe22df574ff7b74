// A child process for scale tests: one engine announces N /32 routes to a peer on loopback,
// then withdraws them, and prints timings and its own peak RSS as one JSON line.
// Usage: node src/bgp/testing/scale-probe.ts PORT N
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { BgpEngine } from '../engine.ts';
import { logger } from '../../util/log.ts';

const port = Number(process.argv[2]);
const n = Number(process.argv[3] ?? 100_000);
if (!port || !n) throw new Error('usage: scale-probe.ts PORT N');

const engine = new BgpEngine({ routerId: '10.0.0.1', listen: false, logger: logger('bgp-probe').child({}, { level: 'silent' }) });
engine.addPeer({ name: 'p', localAsn: 65001, peerAsn: 65010, peerAddress: '127.0.0.1', peerPort: port });
const attrs = { communities: ['65000:1'], largeCommunities: ['65001:1:1'] };
const routes = new Map<string, typeof attrs>();
for (let i = 0; i < n; i++) routes.set(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`, attrs);

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`scale probe: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const loop = monitorEventLoopDelay({ resolution: 2 });
loop.enable();
// On a loaded machine the loop delay also counts waiting for a core. This process's own CPU time
// between two ticks of a 2 ms timer tells our work apart from the scheduler's: the longest stretch
// of CPU without a tick is the longest the engine itself kept the loop.
let cpuMax = 0;
let lastCpu = process.cpuUsage();
const cpuTick = setInterval(() => {
  const now = process.cpuUsage();
  cpuMax = Math.max(cpuMax, (now.user - lastCpu.user + now.system - lastCpu.system) / 1000);
  lastCpu = now;
}, 2);
const cpuReset = (): void => {
  cpuMax = 0;
  lastCpu = process.cpuUsage();
};
await until(() => engine.peerStatus('p').state === 'Established', 'Established');
// With --expose-gc: the live heap the engine keeps for the table (the input map excluded).
const gc = (globalThis as { gc?: () => void }).gc;
const liveHeap = (): number => {
  gc?.();
  return process.memoryUsage().heapUsed;
};
const heap0 = liveHeap();
const cpu0 = process.cpuUsage();
// The longest the event loop was blocked (ms) while the table went out, and while it was withdrawn:
// other sessions, BFD and membership share this loop in the speaker.
// reset() also forgets the last tick, so a tick must pass before the measured work starts.
const loopMaxMs = (): number => loop.max / 1e6;
const loopReset = async (): Promise<void> => {
  loop.reset();
  await new Promise((r) => setTimeout(r, 10));
  cpuReset();
};
await loopReset();
let t = performance.now();
engine.setRoutes('p', routes);
const setMs = performance.now() - t;
await until(() => engine.peerStatus('p').routesAdvertised === n, 'routes encoded');
const announceMs = performance.now() - t;
const loopAnnounceMs = loopMaxMs();
const cpuAnnounceMs = cpuMax;
routes.clear();
const retainedMB = gc ? (liveHeap() - heap0) / 1e6 : undefined;
await loopReset();
t = performance.now();
engine.setRoutes('p', new Map());
await until(() => engine.peerStatus('p').routesAdvertised === 0, 'routes withdrawn');
const withdrawMs = performance.now() - t;
const loopWithdrawMs = loopMaxMs();
const cpuWithdrawMs = cpuMax;
loop.disable();
clearInterval(cpuTick);
const cpu = process.cpuUsage(cpu0);
const st = engine.peerStatus('p');
await engine.close();
process.stdout.write(`${JSON.stringify({ n, retainedMB, setMs, announceMs, withdrawMs, loopAnnounceMs, loopWithdrawMs, cpuAnnounceMs, cpuWithdrawMs, cpuMs: (cpu.user + cpu.system) / 1000, updatesOut: st.counters.updatesOut, maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
