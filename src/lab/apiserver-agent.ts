// The lab's API server process (root namespace, loopback): the in-repo API server with ironlb's
// CRDs, plus a Unix socket in the lab folder that forwards to it, which is how processes in the
// node namespaces reach it (the filesystem is shared between namespaces, loopback is not).
// Writes DIR/kubeconfig and, once serving, DIR/apiserver.json.
// Usage: node src/lab/apiserver-agent.ts --lab-dir DIR
import net from 'node:net';
import { readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startApiServer } from '../apiserver/index.ts';
import { logger } from '../util/log.ts';

const CRD_DIR = fileURLToPath(new URL('../../deploy/crds/', import.meta.url));

const { values } = parseArgs({ options: { 'lab-dir': { type: 'string' } } });
const dir = values['lab-dir'];
if (!dir) throw new Error('apiserver-agent: --lab-dir is required');
const log = logger('lab-apiserver');

const crds = readdirSync(CRD_DIR).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(CRD_DIR, f));
const server = await startApiServer({ host: '127.0.0.1', port: 0, crds });
server.writeKubeconfig(join(dir, 'kubeconfig'));
const socket = join(dir, 'api.sock');
rmSync(socket, { force: true });
const relay = net.createServer((c) => {
  const u = net.connect(server.port, '127.0.0.1');
  c.pipe(u).pipe(c);
  c.on('error', () => u.destroy());
  u.on('error', () => c.destroy());
});
await new Promise<void>((r) => relay.listen(socket, r));
const info = join(dir, 'apiserver.json');
writeFileSync(`${info}.tmp`, JSON.stringify({ url: server.url, port: server.port, socket, pid: process.pid }));
renameSync(`${info}.tmp`, info);
log.info({ url: server.url, socket }, 'lab API server ready');
const stop = (): void => {
  relay.close();
  void server.close().then(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
