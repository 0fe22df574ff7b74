// The lab's control plane process (root namespace, loopback): etcd, kube-apiserver and
// kube-controller-manager (testbed/controlplane.ts) with ironlb installed by helm, plus a Unix
// socket in the lab folder that forwards to the API server, which is how processes in the node
// namespaces reach it (the filesystem is shared between namespaces, loopback is not). The control
// plane's processes die with this one.
// Writes DIR/kubeconfig (admin), DIR/controller.kubeconfig and DIR/speaker.kubeconfig (the chart's
// ServiceAccounts, bound tokens) and, once serving, DIR/apiserver.json.
// Usage: node testbed/lab/controlplane-agent.ts --lab-dir DIR
import net from 'node:net';
import { copyFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startControlPlane } from '../controlplane.ts';
import { helm, CHART_DIR } from '../helm.ts';
import { DEFAULT_NAMESPACE } from '../../src/api/index.ts';
import { logger } from '../../src/util/log.ts';

const { values } = parseArgs({ options: { 'lab-dir': { type: 'string' } } });
const dir = values['lab-dir'];
if (!dir) throw new Error('controlplane-agent: --lab-dir is required');
const log = logger('lab-controlplane');

const cp = await startControlPlane({ dir: join(dir, 'controlplane'), controllerManager: true });
const stop = (): void => {
  relay?.close();
  void cp.close().then(() => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
let relay: net.Server | undefined;
try {
  log.info({ url: cp.url }, 'control plane serving; installing ironlb with helm');
  await helm(['install', 'ironlb', CHART_DIR, '--namespace', DEFAULT_NAMESPACE, '--create-namespace'], { env: cp.env, timeoutMs: 180_000 });
  copyFileSync(cp.kubeconfigPath, join(dir, 'kubeconfig'));
  for (const c of ['controller', 'speaker']) {
    const { path } = await cp.serviceAccountKubeconfig(DEFAULT_NAMESPACE, `ironlb-${c}`, 7 * 86_400);
    copyFileSync(path, join(dir, `${c}.kubeconfig`));
  }
  const port = Number(new URL(cp.url).port);
  const socket = join(dir, 'api.sock');
  rmSync(socket, { force: true });
  relay = net.createServer((c) => {
    const u = net.connect(port, '127.0.0.1');
    c.pipe(u).pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => relay?.listen(socket, r));
  const info = join(dir, 'apiserver.json');
  writeFileSync(`${info}.tmp`, JSON.stringify({ url: cp.url, port, socket, pid: process.pid, dir: cp.dir }));
  renameSync(`${info}.tmp`, info);
  log.info({ url: cp.url, socket }, 'lab control plane ready');
} catch (err) {
  log.error({ err }, 'lab control plane failed');
  await cp.close();
  process.exit(1);
}
