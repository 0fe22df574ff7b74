// The owner-watch worker: its own event loop, so silences are checked on time while the main thread
// decides, writes status or collects garbage (as BFD's worker, src/bfd/worker.ts). The heartbeats
// themselves are sent and received by a native thread (src/native/ironlb_watch.c, at real-time
// priority when allowed): a JavaScript thread, even at SCHED_FIFO, went unscheduled for ~1 s under
// load (it waits on V8 threads it does not own), and a sender that does not send looks dead. This
// worker tells that thread whom to send to and reads what it received, with its receipt times.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { isIPv6 } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { WatchWire, isNativeError, setThreadRealtime } from '../native/index.ts';
import { deriveWatchKey } from './codec.ts';
import { WatchEngine } from './engine.ts';
import type { Reply, Request, WatchPriority, WorkerConfig } from './messages.ts';

const port = parentPort;
if (!port) throw new Error('src/watch/worker.ts must run as a worker thread (started by OwnerWatch)');
const cfg = workerData as WorkerConfig;
const post = (m: Reply): void => port.postMessage(m);
const keysOf = (s: Uint8Array[]): Buffer[] => s.map((k) => deriveWatchKey(k));

let wire: WatchWire;
try {
  wire = WatchWire.open({
    family: isIPv6(cfg.address) ? 6 : 4,
    address: cfg.address,
    port: cfg.port,
    self: cfg.self,
    intervalMs: cfg.intervalMs,
    realtimePriority: cfg.realtimePriority ?? 0,
    ...(cfg.nice !== undefined ? { nice: cfg.nice } : {}),
  });
} catch (err) {
  const why = isNativeError(err) ? err.code : err instanceof Error ? err.message : String(err);
  post({ type: 'failed', error: `cannot bind UDP ${cfg.address}:${cfg.port} for owner-watch heartbeats: ${why}; free the port or choose another with --owner-watch-port` });
  port.close();
  process.exit(0);
}
const keys = keysOf(cfg.secrets);
wire.setKeys(keys);
const engine = new WatchEngine({
  self: cfg.self,
  keys,
  intervalMs: cfg.intervalMs,
  multiplier: cfg.multiplier,
  onState: (change) => post({ type: 'state', change }),
  onReannounce: (from) => post({ type: 'reannounce', from }),
});
const info = wire.info();
// This thread only decides; raising it shortens detection on a loaded node but is not what keeps
// heartbeats flowing. Refusals are reported with the sender thread's.
const priority: WatchPriority = { scheduling: info.scheduling, ...(cfg.realtimePriority && info.scheduling === 'realtime' ? { realtimePriority: cfg.realtimePriority } : {}), ...(info.scheduling === 'nice' ? { nice: cfg.nice } : {}), errors: [...info.errors, ...raiseThisThread()] };

/** Real-time first, else nice, for this (deciding) thread; returns what was refused. */
function raiseThisThread(): string[] {
  const errors: string[] = [];
  const why = (err: unknown): string => (err instanceof Error ? err.message : String(err));
  if (cfg.realtimePriority) {
    try {
      // One below the sender: the thread that keeps others from thinking us dead comes first.
      setThreadRealtime(Math.max(1, cfg.realtimePriority - 1));
      return errors;
    } catch (err) {
      errors.push(`decider SCHED_FIFO: ${why(err)}`);
    }
  }
  if (cfg.nice !== undefined) {
    try {
      // /proc/thread-self -> "<pid>/task/<tid>"; setpriority(PRIO_PROCESS, tid) sets this thread only.
      const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
      if (!Number.isInteger(tid) || tid <= 0) throw new Error('no thread id in /proc/thread-self');
      setPriority(tid, cfg.nice);
    } catch (err) {
      errors.push(`decider nice ${cfg.nice}: ${why(err)}`);
    }
  }
  return errors;
}

let targetsKey = '';
function pushTargets(): void {
  const t = engine.targets();
  const key = JSON.stringify(t);
  if (key === targetsKey) return;
  targetsKey = key;
  wire.setTargets(t);
}

// Every interval: what arrived (with the sender thread's receipt times), then whom to send to, then
// the silence check, in that order, so a late run of this thread sees no silence that was not there.
const timer = setInterval(() => {
  for (const r of wire.drain()) engine.receive(r.packet, { address: r.address }, r.receivedAt);
  pushTargets();
  engine.check();
}, cfg.intervalMs);

port.on('message', (req: Request) => {
  switch (req.op) {
    case 'peers':
      engine.setPeers(req.peers);
      pushTargets();
      break;
    case 'keys': {
      const k = keysOf(req.secrets);
      engine.setKeys(k);
      wire.setKeys(k);
      break;
    }
    case 'stats': {
      const w = wire.stats();
      post({ type: 'stats', id: req.id, stats: { ...engine.stats, sent: w.sent, senderLateTicks: w.lateTicks, senderMaxLateMs: w.maxLateMs } });
      break;
    }
    case 'close':
      clearInterval(timer);
      wire.close();
      port.close();
      break;
  }
});
post({ type: 'ready', port: info.port, priority });
