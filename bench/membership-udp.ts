// Membership on real UDP with many members per process: as many members as fit on this machine,
// each with its own socket on its own loopback address (127.1.x.y) inside one network namespace
// created here (prefix ilbs), spread over a few processes.
//   node bench/membership-udp.ts [--members 200] [--procs 2] [--kills 10] [--quiet 10000]
// Reports cold-start convergence, steady-state messages/s per member, CPU per member, detection
// time (every observer and the last one per kill) and false failovers. A "kill" closes a member's
// socket without a goodbye (as SIGKILL would); its process keeps hosting the others.
// Many members share one event loop here, so a busy process delays all of them at once: harsher
// than one member per node.
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Membership } from '../src/membership/membership.ts';
import { Netns } from '../test/support/netns.ts';
import { waitFor } from '../test/support/wait.ts';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '200' },
    procs: { type: 'string', default: '2' },
    kills: { type: 'string', default: '10' },
    quiet: { type: 'string', default: '10000' },
    inner: { type: 'string' },
  },
});
const N = Number(values.members);
const P = Number(values.procs);
const name = (i: number): string => `node-${String(i).padStart(4, '0')}`;
const addr = (i: number): string => `127.1.${(i + 1) >> 8}.${(i + 1) & 255}`;
const peers = Array.from({ length: N }, (_, i) => ({ name: name(i), address: addr(i), port: 7947 }));
const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

async function inner(k: number): Promise<void> {
  const secret = Buffer.from(process.env.ILBS_SECRET ?? '', 'base64');
  // How late this process's timers ran: a stall longer than the suspicion timeout (1.5 s) makes all
  // of its members look dead at once, which no protocol can tell from a death.
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  const log = pino({ level: 'silent' });
  const mine = new Map<string, { m: Membership; registry: Registry }>();
  let upPairs = 0;
  for (let i = k; i < N; i += P) {
    const registry = new Registry();
    const m = new Membership({ name: name(i), address: addr(i), port: 7947, secret, logger: log, registry });
    m.on('memberUp', () => upPairs++);
    m.on('memberDown', (member, reason) => {
      upPairs--;
      out({ event: 'down', observer: m.name, member, reason, t: Date.now() });
    });
    await m.start();
    mine.set(m.name, { m, registry });
  }
  for (const { m } of mine.values()) m.setPeers(peers);
  const want = mine.size * (N - 1);
  const started = Date.now();
  const conv = setInterval(() => {
    if (upPairs >= want) {
      clearInterval(conv);
      out({ event: 'converged', ms: Date.now() - started, t: Date.now() });
    }
  }, 20);
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [cmd, arg] = line.trim().split(/\s+/);
    void (async () => {
      if (cmd === 'stats') {
        let sent = 0;
        let received = 0;
        for (const { registry } of mine.values()) {
          for (const mt of await registry.getMetricsAsJSON()) {
            if (mt.name === 'ironlb_membership_messages_sent_total') sent += mt.values[0]?.value ?? 0;
            if (mt.name === 'ironlb_membership_messages_received_total') received += mt.values[0]?.value ?? 0;
          }
        }
        const cpu = process.cpuUsage();
        out({ event: 'stats', members: mine.size, sent, received, cpuMs: (cpu.user + cpu.system) / 1000, maxLagMs: Math.round(lag.max / 1e6), t: Date.now() });
      } else if (cmd === 'kill' && arg) {
        const e = mine.get(arg);
        if (!e) return;
        const t = Date.now();
        await e.m.close();
        mine.delete(arg);
        out({ event: 'killed', member: arg, t });
      }
    })();
  });
}

interface Msg { event: string; [k: string]: unknown }

async function outer(): Promise<void> {
  const ns = await Netns.create('ilbs');
  const procs: { p: ChildProcess; msgs: Msg[] }[] = [];
  try {
    // 127.0.0.0/8 is local on lo: each member binds its own address.
    const secret = randomBytes(32).toString('base64');
    const t0 = Date.now();
    for (let k = 0; k < P; k++) {
      const p = ns.spawn(process.execPath, [new URL(import.meta.url).pathname, '--inner', String(k), '--members', String(N), '--procs', String(P)], {
        stdio: ['pipe', 'pipe', 'inherit'],
        env: { ...process.env, ILBS_SECRET: secret },
      });
      const msgs: Msg[] = [];
      createInterface({ input: p.stdout! }).on('line', (l) => {
        if (l.startsWith('{')) msgs.push(JSON.parse(l) as Msg);
      });
      procs.push({ p, msgs });
    }
    const all = (): Msg[] => procs.flatMap((x) => x.msgs);
    await waitFor(() => procs.every((x) => x.msgs.some((m) => m.event === 'converged')) || undefined, { what: 'cold start convergence', timeoutMs: 180_000, intervalMs: 100 });
    const coldMs = Math.max(...procs.map((x) => x.msgs.find((m) => m.event === 'converged')!.ms as number));
    const stats = async (): Promise<Msg[]> => {
      const from = procs.map((x) => x.msgs.length);
      for (const x of procs) x.p.stdin!.write('stats\n');
      return waitFor(() => {
        const got = procs.map((x, i) => x.msgs.slice(from[i]).find((m) => m.event === 'stats'));
        return got.every(Boolean) ? (got as Msg[]) : undefined;
      }, { what: 'stats', timeoutMs: 30_000, intervalMs: 20 });
    };
    await new Promise((r) => setTimeout(r, 3000));
    const s0 = await stats();
    const quietMs = Number(values.quiet);
    await new Promise((r) => setTimeout(r, quietMs));
    const s1 = await stats();
    const secs = ((s1[0]!.t as number) - (s0[0]!.t as number)) / 1000;
    const sum = (s: Msg[], f: string): number => s.reduce((a, x) => a + (x[f] as number), 0);
    const sentPerMember = (sum(s1, 'sent') - sum(s0, 'sent')) / secs / N;
    const recvPerMember = (sum(s1, 'received') - sum(s0, 'received')) / secs / N;
    const cpuPerMemberPct = ((sum(s1, 'cpuMs') - sum(s0, 'cpuMs')) / (secs * 1000) / N) * 100;
    const killStart = Date.now();
    const last: number[] = [];
    const every: number[] = [];
    const killed: string[] = [];
    const kills = Number(values.kills);
    for (let j = 0; j < kills; j++) {
      const i = (j * 7919 + 3) % N;
      const victim = name(i);
      if (killed.includes(victim)) continue;
      procs[i % P]!.p.stdin!.write(`kill ${victim}\n`);
      const k = await waitFor(() => all().find((m) => m.event === 'killed' && m.member === victim), { what: `kill ${victim}`, timeoutMs: 10_000, intervalMs: 10 });
      killed.push(victim);
      const observers = N - killed.length;
      const downs = await waitFor(() => {
        const d = all().filter((m) => m.event === 'down' && m.member === victim && (m.t as number) >= (k.t as number));
        return d.length >= observers ? d : undefined;
      }, { what: `${victim} declared dead by ${observers} members`, timeoutMs: 20_000, intervalMs: 20 });
      const times = downs.map((d) => (d.t as number) - (k.t as number));
      every.push(...times);
      last.push(Math.max(...times));
      process.stderr.write(`kill ${j + 1}/${kills}: ${victim}: every member knew after ${Math.max(...times)} ms (median observer ${q(times, 0.5)} ms)\n`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    // After every process reported convergence: before it, a process busy starting its members
    // cannot answer, which is this harness's artifact (a node starts one member), counted apart.
    const convergedAt = Math.max(...procs.map((x) => x.msgs.find((m) => m.event === 'converged')!.t as number));
    const startDowns = all().filter((m) => m.event === 'down' && (m.t as number) < convergedAt).length;
    const falseDowns = all().filter((m) => m.event === 'down' && (m.t as number) >= convergedAt && !killed.includes(m.member as string));
    const falseFailovers = falseDowns.length;
    if (falseDowns.length) process.stderr.write(`false downs: ${JSON.stringify(falseDowns.slice(0, 5))} (first of ${falseDowns.length}; kills started at ${killStart})\n`);
    const result = {
      members: N, processes: P, coldStartMs: coldMs,
      messagesPerMemberPerSec: { sent: Number(sentPerMember.toFixed(1)), received: Number(recvPerMember.toFixed(1)) },
      cpuPerMemberPercentOfCore: Number(cpuPerMemberPct.toFixed(3)),
      kills: killed.length,
      lastObserverMs: { p50: q(last, 0.5), p99: q(last, 0.99), max: Math.max(...last) },
      everyObserverMs: { p50: q(every, 0.5), p99: q(every, 0.99), max: Math.max(...every) },
      falseFailovers,
      downsBeforeConvergence: startDowns,
      maxEventLoopLagMs: Math.max(...(await stats()).map((x) => x.maxLagMs as number)),
      killPhaseSeconds: Math.round((Date.now() - killStart) / 1000),
    };
    console.log(`members ${N} in ${P} processes: cold start ${coldMs} ms; ${result.messagesPerMemberPerSec.sent} messages/s sent per member, ${result.messagesPerMemberPerSec.received} received; CPU ${result.cpuPerMemberPercentOfCore}% of a core per member`);
    console.log(`${killed.length} kills: every member knew within p50 ${result.lastObserverMs.p50} p99 ${result.lastObserverMs.p99} max ${result.lastObserverMs.max} ms; each observer p50 ${result.everyObserverMs.p50} p99 ${result.everyObserverMs.p99} ms; false failovers ${falseFailovers}`);
    console.log(JSON.stringify(result));
  } finally {
    for (const x of procs) x.p.kill('SIGKILL');
    await ns.destroy();
  }
}

function q(a: readonly number[], p: number): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

if (values.inner !== undefined) await inner(Number(values.inner));
else await outer();
