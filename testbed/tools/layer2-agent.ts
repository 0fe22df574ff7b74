// A stand-alone announcer process driven over stdin/stdout (JSON lines), for tests, the benchmark
// and manual experiments inside a network namespace:
//   node testbed/tools/layer2-agent.ts '{"excludePatterns":[]}'
//   stdin:  {"set":{"10.0.0.100":{}}}   {"metrics":true}   {"refresh":true}   {"exit":true}
//   stdout: {"event":"ready",...} {"event":"acquired","address":...,"at":ms} {"event":"metrics","text":...}
import { createInterface } from 'node:readline';
import { Registry } from 'prom-client';
import { Announcer, type AddressOptions, type AnnouncerOptions } from '../../src/layer2/announcer.ts';

const opts = JSON.parse(process.argv[2] ?? '{}') as AnnouncerOptions;
const registry = new Registry();
const a = new Announcer({ ...opts, registry });
const out = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ t: performance.timeOrigin + performance.now(), ...o })}\n`);
};
a.on('acquired', (e) => out({ event: 'acquired', ...e }));
a.on('released', (e) => out({ event: 'released', ...e }));
a.on('announced', (e) => out({ event: 'announced', ...e }));
a.on('interfaces', (e) => out({ event: 'interfaces', ...e, eligible: a.interfaces() }));
a.on('error', (e) => out({ event: 'error', message: e.message }));

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let cmd: { set?: Record<string, AddressOptions>; metrics?: boolean; refresh?: boolean; exit?: boolean };
  try {
    cmd = JSON.parse(line) as typeof cmd;
  } catch {
    out({ event: 'error', message: `not JSON: ${line}` });
    return;
  }
  try {
    if (cmd.set) {
      const t = performance.timeOrigin + performance.now();
      a.setAddresses(new Map(Object.entries(cmd.set)));
      out({ event: 'set', started: t, announced: Object.fromEntries(a.announced()) });
    }
    if (cmd.refresh) {
      a.refreshInterfaces();
      out({ event: 'refreshed', eligible: a.interfaces() });
    }
    if (cmd.metrics) void registry.metrics().then((text) => out({ event: 'metrics', text }));
    if (cmd.exit) {
      a.close();
      rl.close();
      // readline leaves stdin open (and the process alive) until the writer closes it.
      process.stdin.destroy();
    }
  } catch (err) {
    out({ event: 'error', message: (err as Error).message });
  }
});
rl.on('close', () => a.close());
out({ event: 'ready', eligible: a.interfaces() });
