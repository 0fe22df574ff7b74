// A node's relay to the lab API server, as its own process inside the node's namespace, so the
// speaker (ironlb's, run as the image runs it, or MetalLB's) is only itself: listens on
// 127.0.0.1:PORT of the namespace and forwards each connection to the API server's Unix socket in
// the lab folder (TLS passes through). It dies with the node (kill-node), not with the speaker.
// Usage: node testbed/lab/relay-agent.ts --lab-dir DIR --port PORT
import net from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { 'lab-dir': { type: 'string' }, port: { type: 'string' } } });
const dir = values['lab-dir'];
const port = Number(values.port);
if (!dir || !Number.isInteger(port) || port <= 0) throw new Error('relay-agent: --lab-dir DIR and --port PORT are required');
const socket = join(dir, 'api.sock');
const server = net.createServer((c) => {
  const u = net.connect(socket);
  c.pipe(u).pipe(c);
  c.on('error', () => u.destroy());
  u.on('error', () => c.destroy());
});
server.on('error', (err) => {
  process.stderr.write(`relay-agent: cannot listen on 127.0.0.1:${port}: ${err.message}\n`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`relay listening on 127.0.0.1:${port} -> ${socket}\n`));
