// `ironlb apiserver`: the in-memory Kubernetes API server (a test double) as a process, for the lab
// and for trying kubectl by hand. Prints its URL; optionally writes a kubeconfig.
import type { Command } from 'commander';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startApiServer } from '../apiserver/index.ts';

/** Expands folders into their .yaml/.yml/.json files, so `--crds deploy/crds` works. */
function crdFiles(paths: readonly string[]): string[] {
  return paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p).filter((f) => /\.(ya?ml|json)$/.test(f)).sort().map((f) => join(p, f))
      : [p],
  );
}

export function registerApiServer(program: Command): void {
  program
    .command('apiserver')
    .description('run an in-memory Kubernetes API server (a test double for tests and the lab; not for production)')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', '0')
    .option('--crds <paths...>', 'CRD manifests (files or folders) to serve from the start')
    .option('--kubeconfig <path>', 'write a kubeconfig for this server to this file')
    .option('--history-limit <n>', 'watch events kept per resource (older resourceVersions get 410 Gone)', '10000')
    .action(async (o: { host: string; port: string; crds?: string[]; kubeconfig?: string; historyLimit: string }) => {
      const port = Number(o.port);
      const historyLimit = Number(o.historyLimit);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got "${o.port}"`);
      if (!Number.isInteger(historyLimit) || historyLimit < 1) throw new Error(`--history-limit must be a positive integer, got "${o.historyLimit}"`);
      const server = await startApiServer({ host: o.host, port, historyLimit, crds: crdFiles(o.crds ?? []) });
      if (o.kubeconfig) server.writeKubeconfig(o.kubeconfig);
      process.stdout.write(`${server.url}\n`);
      const stop = (): void => {
        void server.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
