// The BFD worker: its own event loop, so timers are not delayed by GC or busy work on the main
// thread. Holds a BfdEngine and answers the requests of messages.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { logger } from '../util/log.ts';
import { BfdEngine } from './engine.ts';
import type { Reply, Request, WorkerConfig } from './messages.ts';
import { selectTransport } from './native-transport.ts';

const port = parentPort;
if (!port) throw new Error('src/bfd/worker.ts must run as a worker thread (started by BfdManager)');
const cfg = (workerData ?? {}) as WorkerConfig;
const post = (m: Reply): void => port.postMessage(m);
const transport = await selectTransport();
const engine = new BfdEngine({
  transport,
  singleHopPort: cfg.singleHopPort,
  multiHopPort: cfg.multiHopPort,
  log: logger('bfd'),
  onState: (change) => post({ type: 'state', change }),
  onTimers: (change) => post({ type: 'timers', change }),
});

port.on('message', async (req: Request) => {
  try {
    let result: Awaited<ReturnType<typeof engine.snapshot>> | number | undefined;
    switch (req.op) {
      case 'add': await engine.add(req.spec); break;
      case 'update': await engine.update(req.spec); break;
      case 'remove': await engine.remove(req.key); break;
      case 'snapshot': result = engine.snapshot(); break;
      case 'listenPort': result = await engine.listenPort(req.family, req.multihop); break;
      case 'close': await engine.close(); break;
    }
    post(result === undefined ? { type: 'reply', id: req.id, ok: true } : { type: 'reply', id: req.id, ok: true, result });
    if (req.op === 'close') port.close();
  } catch (err) {
    post({ type: 'reply', id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) });
  }
});
post({ type: 'ready', transport: transport.name, receivesTtl: transport.receivesTtl });
