// The ironlb side of an interop test, run inside a namespace as its own process:
// `ip netns exec NS node ironlb-child.ts '<EngineOptions JSON>'`. Commands arrive as JSON lines
// on stdin ({ id, op, args }); replies ({ id, ok, result | error }) and engine state events
// ({ event: 'state', ... }) leave as JSON lines on stdout. Being a process lets a test kill
// the speaker (SIGKILL) and start it again, as a crashed node would.
import { createInterface } from 'node:readline';
import { startLoopStats } from '../loop-stats.ts';
import { BgpEngine } from '../../../src/bgp/index.ts';
import type { EngineOptions, PeerConfig, RouteAttributes } from '../../../src/bgp/index.ts';

interface Command { id: number; op: string; args: unknown[] }

const opts = JSON.parse(process.argv[2] ?? '{}') as EngineOptions;
const engine = new BgpEngine(opts);
const out = (o: unknown): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};
engine.on('state', (ev) => out({ event: 'state', ...ev }));

const loop = startLoopStats();

/** `count` consecutive IPv4 /32s from `first` (built here: keeps 100k routes of JSON off stdin). */
function rangeRoutes(first: string, count: number, attrs: RouteAttributes): Map<string, RouteAttributes> {
  const base = first.split('.').reduce((n, x) => n * 256 + Number(x), 0);
  const routes = new Map<string, RouteAttributes>();
  for (let i = 0; i < count; i++) {
    const v = base + i;
    routes.set(`${Math.floor(v / 16777216) % 256}.${Math.floor(v / 65536) % 256}.${Math.floor(v / 256) % 256}.${v % 256}/32`, attrs);
  }
  return routes;
}

async function run(c: Command): Promise<unknown> {
  const a = c.args;
  switch (c.op) {
    case 'ready': return engine.ready();
    case 'addPeer': {
      // Routes given with the peer are set in the same tick, so they are in the Adj-RIB-Out
      // before the session can come up (a restarted speaker's table precedes its End-of-RIB).
      const cfg = a[0] as PeerConfig;
      engine.addPeer(cfg);
      if (a[1]) engine.setRoutes(cfg.name, new Map(a[1] as Array<[string, RouteAttributes]>));
      return undefined;
    }
    case 'addPeerRange': {
      // As addPeer, with `count` consecutive IPv4 /32s from `first` built here rather than sent
      // over stdin (benchmarks: keeps 100k routes of JSON out of the speaker's memory peak).
      const cfg = a[0] as PeerConfig;
      engine.addPeer(cfg);
      // Resolves when the table is the peer's desired state (it goes in over several turns).
      await engine.setRoutes(cfg.name, rangeRoutes(a[1] as string, a[2] as number, (a[3] ?? {}) as RouteAttributes));
      return undefined;
    }
    case 'updatePeer': return engine.updatePeer(a[0] as PeerConfig);
    case 'removePeer': return engine.removePeer(a[0] as string);
    case 'setRoutes': return engine.setRoutes(a[0] as string, new Map(a[1] as Array<[string, RouteAttributes]>));
    case 'announce': return engine.announce(a[0] as string, a[1] as string, a[2] as RouteAttributes);
    case 'withdraw': return engine.withdraw(a[0] as string, a[1] as string);
    case 'resetPeer': return engine.resetPeer(a[0] as string, a[1] as string);
    case 'peerStatus': return engine.peerStatus(a[0] as string);
    case 'peers': return engine.peers();
    case 'usage': return { rss: process.memoryUsage().rss, cpu: process.cpuUsage() };
    case 'setRoutesRange': {
      // Returns once setRoutes has returned (the table goes in over the next turns).
      // Building the table is not the engine's work: let the loop settle after it, then measure
      // from here (a tick must pass after reset, which forgets the last one).
      const routes = rangeRoutes(a[1] as string, a[2] as number, (a[3] ?? {}) as RouteAttributes);
      await new Promise((r) => setTimeout(r, 20));
      loop.reset();
      await new Promise((r) => setTimeout(r, 10));
      const t = performance.now();
      void engine.setRoutes(a[0] as string, routes);
      return { setMs: performance.now() - t };
    }
    case 'loopReset': {
      loop.reset();
      await new Promise((r) => setTimeout(r, 10));
      return undefined;
    }
    case 'loopStats': return { ...loop.read(), rssMb: process.memoryUsage().rss / 2 ** 20, maxRssMb: process.resourceUsage().maxRSS / 1024 };
    case 'close': {
      await engine.close(a[0] as { gracefulRestart?: boolean });
      setImmediate(() => process.exit(0));
      return undefined;
    }
    default: throw new Error(`unknown command ${c.op}`);
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  let c: Command;
  try {
    c = JSON.parse(line) as Command;
  } catch {
    out({ error: `not JSON: ${line.slice(0, 100)}` });
    return;
  }
  run(c).then(
    (result) => out({ id: c.id, ok: true, result }),
    (err: unknown) => out({ id: c.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
// The test runner closing our stdin means the test is over.
process.stdin.on('end', () => process.exit(0));
out({ event: 'started', pid: process.pid });
