// `ironlb lab`: a whole cluster on this machine in network namespaces (docs/lab.md).
import type { Command } from 'commander';
import { DEFAULT_NAMESPACE } from '../../src/api/index.ts';
import { DEFAULT_DIR, DEFAULT_NET, Lab, formatSummary, summarize } from './index.ts';
import { IMPLEMENTATIONS, parseImplementation } from './peers.ts';

const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

/** Runs an action; an error prints its message (not a stack) and exits 1. */
function act<A extends unknown[]>(fn: (...a: A) => Promise<void>): (...a: A) => Promise<void> {
  return async (...a: A) => {
    try {
      await fn(...a);
    } catch (err) {
      process.stderr.write(`ironlb lab: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    }
  };
}

function nodeIndex(lab: Lab, ref: string): number {
  return lab.node(ref).index;
}

async function settle(lab: Lab, timeoutMs: number): Promise<void> {
  // Until every example Service has its addresses and announcements and the router its routes.
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    const s = await summarize(lab, { requests: 0 }).catch(() => undefined);
    const want = lab.plan.nodes.length > 0 ? 3 : 0;
    // MetalLB's native BGP and kube-vip's (one IPv4 peer) have IPv4 sessions only: the router's IPv6 sessions to them stay down.
    const sessionsUp = lab.implementation === 'metallb' || lab.implementation === 'kube-vip' ? s && s.sessions.established >= lab.plan.nodes.length : s && s.sessions.established === s.sessions.total && s.sessions.total > 0;
    if (s && s.services.length >= want && s.services.every((v) => v.addresses.length && v.announced.length) && s.routes.length >= 2 && sessionsUp) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function registerLab(program: Command): void {
  const lab = program.command('lab').description('a whole cluster on this machine in network namespaces: control plane, controller, speakers, router, clients (root)');
  const dirOpt = ['--dir <path>', 'state folder of the lab (PIDs, logs, kubeconfig)', DEFAULT_DIR] as const;

  lab
    .command('up')
    .description('build and start the lab, apply the example configuration and Services, and show what happened')
    .option(...dirOpt)
    .option('--nodes <n>', 'number of nodes', '3')
    .option('--net <n>', 'second octet of the lab\'s 10.x.0.0/16 (and fd00:x::/48)', String(DEFAULT_NET))
    .option('--router <kind>', 'routing daemon in the router namespace: bird or frr (default: bird; frr with --bgp-unnumbered)')
    .option('--bgp-unnumbered', 'BGP unnumbered: each node also gets a point-to-point link to the router (link-local addresses only) and peers over it; the configuration is a MetalLB FRR-mode BGPPeer (interface, dynamicASN) run through ironlb migrate (docs/lab.md)')
    .option('--no-bfd', 'BGP without BFD (node loss then takes the hold time to detect)')
    .option('--empty', 'no example configuration or Services')
    .option('--implementation <name>', `load balancer on the lab: ${IMPLEMENTATIONS.join(', ')} (the same topology, pools, Services and router; docs/performance.md)`, 'ironlb')
    .action(act(async (o: { dir: string; nodes: string; net: string; router?: string; bfd: boolean; empty?: boolean; implementation: string; bgpUnnumbered?: boolean }) => {
      const router = o.router ?? (o.bgpUnnumbered ? 'frr' : 'bird');
      if (router !== 'bird' && router !== 'frr') throw new Error(`--router must be "bird" or "frr", got "${router}"`);
      const implementation = parseImplementation(o.implementation);
      const t0 = Date.now();
      const l = await Lab.up({ dir: o.dir, nodes: Number(o.nodes), net: Number(o.net), router, bfd: o.bfd, implementation, unnumbered: o.bgpUnnumbered ?? false, progress: (s) => out(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`) });
      if (!o.empty) {
        const from = l.plan.unnumbered ? `, migrated by ironlb migrate from MetalLB FRR-mode objects: ${l.dir}/metallb-unnumbered.yaml -> ${l.dir}/ironlb-unnumbered.yaml` : '';
        out(`[${((Date.now() - t0) / 1000).toFixed(1)}s] applying the example configuration (pools lab-l2 and lab-bgp, peers, advertisements${from}) and Services`);
        await l.applyExample();
        await settle(l, 60_000);
      }
      out(`[${((Date.now() - t0) / 1000).toFixed(1)}s] lab up\n`);
      out(formatSummary(l, await summarize(l)));
      out(`\nkubectl:  export KUBECONFIG=${l.kubeconfig}; kubectl get svc -A; kubectl -n ${DEFAULT_NAMESPACE} get ippools,serviceannouncements -A`);
      out('try:      ironlb lab kill-node 0 | revive-node 0 | cut-link 1 | heal-link 1 | status');
      out(`logs:     ${l.dir}/logs/    remove everything:  ironlb lab down`);
    }));

  lab
    .command('status')
    .description('addresses, announcing nodes, router routes and sessions, requests from both clients, nodes')
    .option(...dirOpt)
    .option('--requests <n>', 'requests per address from each client', '6')
    .action(act(async (o: { dir: string; requests: string }) => {
      const l = Lab.open(o.dir);
      out(formatSummary(l, await summarize(l, { requests: Number(o.requests) })));
    }));

  // The node faults: one command each, all alike (open the lab, act on the node, say what to do next).
  const faults: Array<{ cmd: string; description: string; run: (l: Lab, i: number) => Promise<unknown>; done: (name: string, ref: string) => string }> = [
    { cmd: 'kill-node', description: 'stop a node (index or name): its speaker and backend die and its link goes down', run: (l, i) => l.killNode(i), done: (n, ref) => `${n} stopped; "ironlb lab status" shows who took over; "ironlb lab revive-node ${ref}" brings it back` },
    { cmd: 'kill-speaker', description: 'kill only the speaker of a node (SIGKILL); its backend keeps running', run: (l, i) => l.killSpeaker(i), done: (n, ref) => `${n}'s speaker killed; "ironlb lab revive-node ${ref}" starts it again` },
    { cmd: 'revive-node', description: 'bring a node back: link up, backend and speaker started', run: (l, i) => l.reviveNode(i), done: (n) => `${n} running again` },
    { cmd: 'cut-link', description: 'cut a node\'s cable (its switch port goes down; its processes keep running)', run: (l, i) => l.cutLink(i), done: (n, ref) => `${n}'s link cut; "ironlb lab heal-link ${ref}" restores it` },
    { cmd: 'heal-link', description: 'restore a node\'s link', run: (l, i) => l.healLink(i), done: (n) => `${n}'s link restored` },
  ];
  for (const f of faults) {
    lab
      .command(`${f.cmd} <node>`)
      .description(f.description)
      .option(...dirOpt)
      .action(act(async (ref: string, o: { dir: string }) => {
        const l = Lab.open(o.dir);
        await f.run(l, nodeIndex(l, ref));
        out(f.done(l.node(ref).name, ref));
      }));
  }

  lab
    .command('owner <service>')
    .description('print the node announcing a Service over Layer 2 (namespace default), e.g. to kill it')
    .option(...dirOpt)
    .action(act(async (svc: string, o: { dir: string }) => {
      const l = Lab.open(o.dir);
      const a = (await l.announcements(svc)).find((x) => x.mode === 'layer2');
      if (!a) throw new Error(`Service default/${svc} has no Layer 2 announcement: see "ironlb lab status"`);
      out(a.node);
    }));

  lab
    .command('dashboard')
    .description('the ironlb dashboard on this lab, with buttons to stop a node, cut its link and bring it back (127.0.0.1 only)')
    .option(...dirOpt)
    .option('--port <port>', 'loopback port of the page (0 picks a free one)', '7480')
    .action(act(async (o: { dir: string; port: string }) => {
      const l = Lab.open(o.dir);
      const { startDashboard } = await import('../../src/dashboard/server.ts');
      const { makeClients, loadKubeConfig } = await import('../../src/k8s/index.ts');
      const { labActions, labMetricsSource } = await import('./dashboard.ts');
      const d = await startDashboard({ clients: makeClients(loadKubeConfig({ kubeconfig: l.kubeconfig })), port: Number(o.port), metrics: labMetricsSource(l), metricsIntervalMs: 2000, lab: labActions(l) });
      out(`ironlb lab dashboard: ${d.url} (this machine only; Ctrl-C to stop)`);
      await new Promise<void>((resolve) => {
        const stop = (): void => void d.close().then(resolve, resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    }));

  lab
    .command('down')
    .description('remove the lab: every process, namespace and the state folder (also after a crash)')
    .option(...dirOpt)
    .option('--prefix <prefix>', 'namespace prefix of the lab', 'ilab')
    .action(act(async (o: { dir: string; prefix: string }) => {
      const removed = await Lab.down(o.dir, o.prefix);
      out(removed.length ? `removed: ${removed.join(', ')}` : 'no lab was running');
    }));
}

/** `ironlb lab ARGS...` (src/cli/main.ts loads this module only when the lab runs). */
export async function runLab(argv: string[]): Promise<void> {
  const { Command } = await import('commander');
  const program = new Command('ironlb').showHelpAfterError();
  registerLab(program);
  await program.parseAsync(['lab', ...argv], { from: 'user' });
}
