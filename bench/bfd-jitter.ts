// BFD transmit jitter with a busy, GC-heavy main thread: sessions in the worker (BfdManager) versus
// the same engine on the main thread. The receiving peer is a separate process with an idle event
// loop that timestamps arrivals, so the figures are what a router would see.
//   node bench/bfd-jitter.ts [--seconds 8] [--busy-ms 50] [--plots DIR]
// Plot: DIR/bfd-jitter.svg, the gaps per case (default docs/img/perf; --plots '' for none).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { BfdEngine } from '../src/bfd/engine.ts';
import { BfdManager } from '../src/bfd/manager.ts';
import { selectTransport } from '../src/bfd/native-transport.ts';
import { dgramTransport, type BfdTransport } from '../src/bfd/transport.ts';
import { drawFigure, type BfdJitterRow } from './support/figures.ts';
import { endRun, plotsOption, startRun, writePlots } from './support/plot-files.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    'busy-ms': { type: 'string', default: '50' },
    receiver: { type: 'string' },
    ...plotsOption,
  },
});
const profile = { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 };

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

if (args.receiver !== undefined) {
  // Receiver process: a plain engine on an idle loop, recording arrival times from the sender.
  const arrivals: number[] = [];
  const recording: BfdTransport = {
    name: 'recording', receivesTtl: false,
    open: (o) => dgramTransport.open({ ...o, onMessage: (m, from) => { arrivals.push(performance.now()); o.onMessage(m, from); } }),
  };
  let downs = 0;
  const engine = new BfdEngine({ transport: recording, singleHopPort: 0, onState: (c) => { if (c.state === 'Down') downs++; } });
  const port = await engine.listenPort(4, false);
  await engine.add({ key: 'sender', peerAddress: '127.0.0.1', peerPort: Number(args.receiver), profile });
  console.log(JSON.stringify({ port }));
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'reset') { arrivals.length = 0; downs = 0; return; }
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!).sort((a, b) => a - b);
    console.log(JSON.stringify({ packets: arrivals.length, min: gaps[0] ?? NaN, p50: quantile(gaps, 0.5), p99: quantile(gaps, 0.99), max: gaps.at(-1) ?? NaN, over300: gaps.filter((g) => g > 300).length, downs }));
    void engine.close().then(() => process.exit(0));
  });
} else {
  const seconds = Number(args.seconds);
  const busyMs = Number(args['busy-ms']);
  const info = startRun();
  const plotRows: BfdJitterRow[] = [];

  /** Allocation-heavy busy work in `busyMs` slices; a retained ring keeps the old generation churning. */
  function startLoad(): () => void {
    let stop = false;
    const ring: unknown[] = new Array(20_000);
    let k = 0;
    const slice = (): void => {
      if (stop) return;
      const end = performance.now() + busyMs;
      while (performance.now() < end) {
        const o = { a: new Array(64).fill(k), s: `x${k}`, m: new Map([[k, k]]) };
        ring[k++ % ring.length] = o;
      }
      setImmediate(slice);
    };
    setImmediate(slice);
    return () => { stop = true; };
  }

  async function run(mode: 'worker' | 'main', busy: boolean): Promise<Record<string, number | string>> {
    let close: () => Promise<void>;
    let late: () => Promise<{ maxMs: number; over50ms: number } | undefined>;
    let add: (port: number) => Promise<void>;
    let ourPort: number;
    let upSeen = 0;
    if (mode === 'worker') {
      const m = new BfdManager({ singleHopPort: 0 });
      m.on('state', (e) => { if (e.state === 'Up') upSeen++; });
      ourPort = await m.listenPort(4);
      add = (p) => m.addSession({ key: 'r', peerAddress: '127.0.0.1', peerPort: p, profile });
      close = () => m.close();
      late = async () => (await m.sessions())[0]?.txLate;
    } else {
      // The same transport the worker picks, so only the thread differs.
      const e = new BfdEngine({ transport: await selectTransport(), singleHopPort: 0, onState: (c) => { if (c.state === 'Up') upSeen++; } });
      ourPort = await e.listenPort(4, false);
      add = (p) => e.add({ key: 'r', peerAddress: '127.0.0.1', peerPort: p, profile });
      close = () => e.close();
      late = async () => e.snapshot()[0]?.txLate;
    }
    const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--receiver', String(ourPort)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const { port } = JSON.parse((await lines.next()).value as string) as { port: number };
    await add(port);
    // Let the session come up and settle on 100 ms before measuring.
    for (let i = 0; i < 100 && upSeen === 0; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1500));
    child.stdin!.write('reset\n');
    const lateBefore = await late();
    const stopLoad = busy ? startLoad() : () => {};
    await new Promise((r) => setTimeout(r, seconds * 1000));
    stopLoad();
    child.stdin!.write('report\n');
    const stats = JSON.parse((await lines.next()).value as string) as Record<string, number>;
    const lateAfter = await late();
    await close();
    child.kill();
    const f = (n: number | undefined): string => (n ?? NaN).toFixed(1);
    plotRows.push({ label: `${mode === 'worker' ? 'sessions in the worker' : 'sessions on the main thread'}, ${busy ? `main thread busy (${busyMs} ms slices + GC)` : 'main thread idle'}`, gapMinMs: stats.min!, gapP50Ms: stats.p50!, gapMaxMs: stats.max!, peerDowns: stats.downs! });
    return { mode, load: busy ? `busy ${busyMs} ms slices + GC` : 'idle', packets: stats.packets!, 'gap min ms': f(stats.min), 'gap p50 ms': f(stats.p50), 'gap p99 ms': f(stats.p99), 'gap max ms': f(stats.max), 'gaps > 300 ms': stats.over300!, 'peer Downs': stats.downs!,
      // Sender-side: how late our own timer fired (max over the whole run, count during the load).
      'tx late max ms': f(lateAfter?.maxMs), 'tx late > 50 ms': (lateAfter?.over50ms ?? 0) - (lateBefore?.over50ms ?? 0) };
  }

  const rows = [];
  rows.push(await run('worker', false));
  rows.push(await run('worker', true));
  rows.push(await run('main', true));
  console.table(rows);
  writePlots(args.plots, drawFigure('bfdJitterPlots', plotRows, endRun(info)));
  process.exit(0);
}
