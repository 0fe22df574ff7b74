// The e2e suite's lab: `Lab` from testbed/lab with the tests' namespace prefix (ilbx), a temporary state
// folder, and one net number per test file (labs are independent: every address lives inside the
// lab's own namespaces). The lab is always torn down, also on failure.
import { chmodSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, urlFor, type LabOptions, type ProbeResult } from '../../testbed/lab/index.ts';
import { waitFor } from '../support/wait.ts';
import { settledOwner as settledOwnerOnWire } from '../../testbed/cluster/owners.ts';

export async function withLab<T>(net: number, fn: (lab: Lab) => Promise<T>, o: LabOptions = {}): Promise<T> {
  const parent = mkdtempSync(join(tmpdir(), 'ilbx-'));
  // mkdtemp makes it 0700; FRR's daemons run as the frr user and must reach their folder inside.
  chmodSync(parent, 0o755);
  const dir = join(parent, 'lab');
  let lab: Lab;
  try {
    lab = await Lab.up({ prefix: `ilbx${net}p${process.pid % 10000}`, dir, net, startTimeoutS: 150, ...o });
  } catch (err) {
    rmSync(parent, { recursive: true, force: true });
    throw err;
  }
  // The lab's daemons are detached (a lab outlives `ironlb lab up`): a test process ended by a
  // signal (a runner's timeout, Ctrl-C) takes them down first, bounded, instead of leaving them.
  const onSignal = (sig: NodeJS.Signals): void => {
    const bound = setTimeout(() => process.exit(128 + (sig === 'SIGINT' ? 2 : 15)), 60_000);
    void lab.destroy().finally(() => {
      clearTimeout(bound);
      rmSync(parent, { recursive: true, force: true });
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    });
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    return await fn(lab);
  } catch (err) {
    // IRONLB_KEEP_LAB_LOGS=DIR keeps a failed lab's logs there (the lab's own folder goes with it).
    const keep = process.env.IRONLB_KEEP_LAB_LOGS;
    const kept = keep ? join(keep, `lab-${net}-${Date.now()}`) : undefined;
    if (kept) cpSync(join(dir, 'logs'), kept, { recursive: true });
    throw new Error(`${(err as Error).message}\n(lab logs were in ${dir}/logs${kept ? `, kept in ${kept}` : ''})`, { cause: err });
  } finally {
    // Subtests report failures without throwing: with IRONLB_KEEP_LAB_LOGS the logs are kept anyway.
    if (process.env.IRONLB_KEEP_LAB_LOGS) cpSync(join(dir, 'logs'), join(process.env.IRONLB_KEEP_LAB_LOGS, `lab-${net}-${Date.now()}-end`), { recursive: true });
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await lab.destroy();
    rmSync(parent, { recursive: true, force: true });
  }
}

/** The Service's Layer 2 owner per its ServiceAnnouncement (optionally: not `notOn`). */
export async function l2Owner(lab: Lab, svc: string, o: { notOn?: string; timeoutMs?: number } = {}): Promise<string> {
  return waitFor(async () => {
    const a = (await lab.announcements(svc)).find((x) => x.mode === 'layer2');
    return a && a.node !== o.notOn ? a.node : undefined;
  }, { what: `a Layer 2 owner of ${svc}${o.notOn ? ` other than ${o.notOn}` : ''}`, timeoutMs: o.timeoutMs ?? 20_000, intervalMs: 200 });
}

/**
 * Waits until status and the wire (ARP/NDP from the LAN client) agree on one owner of `ip`, and
 * keep agreeing for a second (ownership moves back when a node rejoins: a first agreement may pass).
 */
export async function settledOwner(lab: Lab, svc: string, ip: string, timeoutMs = 20_000): Promise<string> {
  const status = (): Promise<string> => l2Owner(lab, svc, { timeoutMs: 2000 }).catch(() => '');
  return settledOwnerOnWire(ip, status, () => lab.neighOwners(ip), { timeoutMs, stableMs: 1000 });
}

/**
 * Waits until `owner` is the settled owner of `ip` again (status and the wire agree on it); on
 * timeout the error says what status and the wire showed last.
 */
export async function waitOwnerAgain(lab: Lab, svc: string, ip: string, owner: string, what: string, timeoutMs = 45_000): Promise<void> {
  await waitFor(async () => {
    const got = await settledOwner(lab, svc, ip, 5000);
    if (got !== owner) throw new Error(`settled on ${got}, not ${owner}`);
    return true;
  }, { what, timeoutMs, intervalMs: 200 });
}

/** Waits until the router's next hops for `prefix` are exactly `nodes` (names). */
export async function waitRoute(lab: Lab, prefix: string, nodes: string[], timeoutMs = 20_000): Promise<void> {
  let last: string[] = [];
  await waitFor(async () => {
    last = await lab.routeNodes(prefix);
    return JSON.stringify(last) === JSON.stringify([...nodes].sort());
  }, { what: `router next hops for ${prefix} to be [${nodes.join(', ')}]`, timeoutMs, intervalMs: 200 }).catch((err: Error) => {
    throw new Error(`${err.message}; last [${last.join(', ')}]`);
  });
}

export const hostPrefix = (ip: string): string => `${ip}/${ip.includes(':') ? 128 : 32}`;

/** Answers per node for `count` requests (each a new connection) to ip from a client. */
export async function spread(lab: Lab, from: 'lan' | 'ext', ip: string, count: number, port?: number): Promise<Record<string, number>> {
  const rs = await lab.requests(from, [urlFor(ip, port ?? lab.plan.appPort)], count, { timeoutMs: 2000 });
  const out: Record<string, number> = {};
  for (const r of rs) out[r.node ?? `error:${r.err}`] = (out[r.node ?? `error:${r.err}`] ?? 0) + 1;
  return out;
}

/** Time from `t0` to the first answer after t0 from a node other than `old`, from a running probe. */
export async function firstAnswerElsewhere(results: ProbeResult[], t0: number, old: string, timeoutMs = 30_000): Promise<{ ms: number; node: string; failed: number }> {
  const r = await waitFor(() => results.find((x) => x.t >= t0 && x.node !== undefined && x.node !== old), { what: `an answer from a node other than ${old}`, timeoutMs, intervalMs: 20 });
  return { ms: r.t - t0, node: r.node!, failed: results.filter((x) => x.t >= t0 && x.t < r.t && x.err).length };
}

/** Reasons of the Events about a Service (oldest first). */
export async function eventReasons(lab: Lab, svc: string, namespace = 'default'): Promise<string[]> {
  const list = await lab.core.listNamespacedEvent({ namespace });
  return list.items.filter((e) => e.involvedObject?.name === svc && e.involvedObject?.kind === 'Service').map((e) => e.reason ?? '');
}

/** Waits until the Service got an Event with this reason (e.g. AllocationFailed). */
export async function waitEvent(lab: Lab, svc: string, reason: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => (await eventReasons(lab, svc)).includes(reason), { what: `a ${reason} Event on Service ${svc}`, timeoutMs, intervalMs: 250 });
}
