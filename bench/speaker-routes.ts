// The speaker's route path at scale against a real BIRD (issue 16 item 5): S Services announced
// over BGP by one speaker process (bench/speaker-routes-child.ts: the facts path, the incremental
// decider, the BGP reconciler and engine) to BIRD in another namespace. Prints, per phase (the
// first decision, loading, 20 Service changes a second, withdrawing), the speaker's longest
// event-loop delay (monitorEventLoopDelay; on a loaded machine it also counts waiting for a core),
// its longest CPU stretch between two ticks of a 2 ms timer (the process's, GC threads included,
// and the main thread's alone), GC pauses, its RSS at the phase's end and the phase's own peak
// (VmHWM reset per phase) with the heap at the highest sampled RSS, and how long BIRD took.
// The child runs as the image does: compiled (bench/support/compiled.ts) and started with the
// chart's speaker Node options (--node-args="..." instead; --ts runs the TypeScript sources).
// Usage (root): node bench/speaker-routes.ts [--services 100000] [--nodes 100] [--node-args="..."] [--ts]
//        [--heap-snapshot FILE] (written by the speaker child once the peer holds every route)
// IRONLB_NETNS_PREFIX=ilbX names the network namespaces (default ilbi; must start with ilb).
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { withNamespaces } from '../test/support/netns.ts';
import { waitFor } from '../test/support/wait.ts';
import { Bird, link } from '../test/support/peers/index.ts';
import { chartNodeOptions } from '../testbed/lab/image.ts';
import { compileBench } from './support/compiled.ts';

const { values: args } = parseArgs({
  options: { services: { type: 'string', default: '100000' }, nodes: { type: 'string', default: '100' }, 'node-args': { type: 'string' }, 'heap-snapshot': { type: 'string' }, ts: { type: 'boolean', default: false } },
});
const S = Number(args.services);
const source = fileURLToPath(new URL('./speaker-routes-child.ts', import.meta.url));
const built = args.ts ? undefined : await compileBench(source);
const child = built?.entry ?? source;
const nodeArgs = args['node-args'] !== undefined ? args['node-args'].split(' ').filter(Boolean) : chartNodeOptions('speaker');
console.log(`${built ? 'compiled' : 'TypeScript sources'}, node ${nodeArgs.join(' ')}`);

await withNamespaces(process.env.IRONLB_NETNS_PREFIX ?? 'ilbi', 2, async ([r, s]) => {
  const l = await link(r!, s!, 62);
  const bird = await Bird.start(r!, { asn: 65000, routerId: l.a4, localAddress: l.a4, neighbors: [{ address: l.b4, asn: 65001, gracefulRestart: false }] }, { receiveOnly: true });
  const p = s!.spawn(process.execPath, [...nodeArgs, child, JSON.stringify({ services: S, nodes: Number(args.nodes), peer: l.a4, local: l.b4, heapSnapshot: args['heap-snapshot'] })], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const lines = createInterface({ input: p.stdout! })[Symbol.asyncIterator]();
    // The child's own lines carry a "phase"; its log lines are skipped, and lines that are not
    // JSON (V8's --trace-gc in --node-args) go to stderr.
    const read = async (): Promise<Record<string, unknown>> => {
      for (let i = 0; i < 100_000; i++) {
        const line = String((await lines.next()).value);
        if (!line.startsWith('{')) {
          process.stderr.write(`${line}\n`);
          continue;
        }
        const x = JSON.parse(line) as Record<string, unknown>;
        if (x.phase) return x;
      }
      throw new Error('no report from the speaker child');
    };
    const go = (): void => void p.stdin!.write('go\n');
    const t0 = Date.now();
    const initial = await read();
    console.log('initial', JSON.stringify(initial));
    await waitFor(async () => (await bird.importedCount(l.b4)) === S, { what: `BIRD importing ${S} routes`, timeoutMs: 300_000, intervalMs: 200 });
    console.log(`BIRD holds ${S} routes ${Date.now() - t0} ms after the speaker started deciding`);
    go();
    console.log('loaded', JSON.stringify(await read()));
    console.log('changes', JSON.stringify(await read()));
    const have = await bird.importedCount(l.b4);
    console.log(`BIRD holds ${have} routes after the changes (want ${S})`);
    go();
    const t1 = Date.now();
    await waitFor(async () => (await bird.importedCount(l.b4)) === 0, { what: 'BIRD empty', timeoutMs: 300_000, intervalMs: 200 });
    console.log(`BIRD empty after ${Date.now() - t1} ms`);
    go();
    console.log('withdrawn', JSON.stringify(await read()));
  } finally {
    p.kill('SIGKILL');
    await bird.stop();
  }
});
await built?.remove();
