// The owner-watch worker: its own event loop, so heartbeats leave and are checked on time while the
// main thread decides, writes status or collects garbage (as BFD's worker, src/bfd/worker.ts).
import { createSocket } from 'node:dgram';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { isIPv6 } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { setThreadRealtime } from '../native/index.ts';
import { deriveWatchKey } from './codec.ts';
import { WatchEngine } from './engine.ts';
import type { Reply, Request, WatchPriority, WorkerConfig } from './messages.ts';

const port = parentPort;
if (!port) throw new Error('src/watch/worker.ts must run as a worker thread (started by OwnerWatch)');
const cfg = workerData as WorkerConfig;
const post = (m: Reply): void => port.postMessage(m);
const keysOf = (s: Uint8Array[]): Buffer[] => s.map((k) => deriveWatchKey(k));

const sock = createSocket({ type: isIPv6(cfg.address) ? 'udp6' : 'udp4' });
// Send errors (no route while a link is down) must not stop the worker: the peer just goes silent.
sock.on('error', () => {});
const engine = new WatchEngine({
  self: cfg.self,
  keys: keysOf(cfg.secrets),
  intervalMs: cfg.intervalMs,
  multiplier: cfg.multiplier,
  send: (msg, address, p) => sock.send(msg, p, address),
  onState: (change) => post({ type: 'state', change }),
  onReannounce: (from) => post({ type: 'reannounce', from }),
});
sock.on('message', (msg, r) => engine.receive(msg, r));
try {
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address: cfg.address, port: cfg.port, exclusive: true }, () => {
      sock.off('error', reject);
      resolve();
    });
  });
} catch (err) {
  post({ type: 'failed', error: `cannot bind UDP ${cfg.address}:${cfg.port} for owner-watch heartbeats: ${err instanceof Error ? err.message : String(err)}; free the port or choose another with --owner-watch-port` });
  port.close();
  process.exit(0);
}
const priority = raisePriority();

/** Real-time first, else nice (each needs CAP_SYS_NICE); what applies and why the others did not. */
function raisePriority(): WatchPriority {
  const errors: string[] = [];
  const why = (err: unknown): string => (err instanceof Error ? err.message : String(err));
  if (cfg.realtimePriority) {
    try {
      setThreadRealtime(cfg.realtimePriority);
      return { scheduling: 'realtime', realtimePriority: cfg.realtimePriority, errors };
    } catch (err) {
      errors.push(`SCHED_FIFO ${cfg.realtimePriority}: ${why(err)}`);
    }
  }
  if (cfg.nice !== undefined) {
    try {
      // /proc/thread-self -> "<pid>/task/<tid>"; setpriority(PRIO_PROCESS, tid) sets this thread only.
      const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
      if (!Number.isInteger(tid) || tid <= 0) throw new Error('no thread id in /proc/thread-self');
      setPriority(tid, cfg.nice);
      return { scheduling: 'nice', nice: cfg.nice, errors };
    } catch (err) {
      errors.push(`nice ${cfg.nice}: ${why(err)}`);
    }
  }
  return { scheduling: 'inherited', errors };
}
// The check runs in the check phase (setImmediate), after the poll phase has read what arrived.
const timer = setInterval(() => {
  engine.tick();
  setImmediate(() => engine.check());
}, cfg.intervalMs);

port.on('message', (req: Request) => {
  switch (req.op) {
    case 'peers': engine.setPeers(req.peers); break;
    case 'keys': engine.setKeys(keysOf(req.secrets)); break;
    case 'stats': post({ type: 'stats', id: req.id, stats: engine.stats }); break;
    case 'close':
      clearInterval(timer);
      sock.close(() => port.close());
      break;
  }
});
post({ type: 'ready', port: sock.address().port, priority });
