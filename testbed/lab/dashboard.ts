// The lab's part of `ironlb dashboard`: fault buttons (stop a node, cut its link, bring it back)
// and the speakers' /metrics read inside the nodes' network namespaces (a lab has no Pods to proxy).
// `ironlb lab dashboard` starts the product's dashboard with these injected.
import { execFile } from 'node:child_process';
import type { DashboardLab } from '../../src/dashboard/server.ts';
import { speakerView, type SpeakerMetricsSource, type SpeakerView } from '../../src/dashboard/metrics.ts';
import type { Lab } from './lab.ts';

const METRICS_PORT = 7473;

function curl(ns: string, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns, 'curl', '-s', '--max-time', '1', url], { timeout: 3000 }, (err, stdout) => (err ? reject(new Error(`no answer from ${url} in ${ns}`)) : resolve(stdout)));
  });
}

export function labMetricsSource(lab: Lab): SpeakerMetricsSource {
  return {
    async scrape(): Promise<SpeakerView[]> {
      return Promise.all(
        lab.plan.nodes.map(async (n) => {
          if (!lab.speakerRunning(n.index)) return { node: n.name, time: Date.now(), error: 'speaker not running' };
          try {
            return speakerView(n.name, await curl(n.ns, `http://127.0.0.1:${METRICS_PORT}/metrics`));
          } catch (err) {
            return { node: n.name, time: Date.now(), error: err instanceof Error ? err.message : String(err) };
          }
        }),
      );
    },
  };
}

export function labActions(lab: Lab): DashboardLab {
  return {
    name: `lab ${lab.plan.prefix}`,
    actions: [
      { id: 'kill-node', label: 'Stop node', effect: 'down' },
      { id: 'cut-link', label: 'Cut link', effect: 'down' },
      { id: 'revive-node', label: 'Bring back', effect: 'up' },
    ],
    async run(action, node) {
      const i = lab.node(node).index;
      if (action === 'kill-node') return lab.killNode(i);
      if (action === 'cut-link') return lab.cutLink(i);
      if (action === 'revive-node') {
        const t = Date.now();
        await lab.reviveNode(i);
        return t;
      }
      throw new Error(`unknown lab action ${action}`);
    },
    nodeState() {
      const out: Record<string, { stopped?: boolean; cut?: boolean }> = {};
      for (const n of lab.plan.nodes) {
        if (!lab.state.cut.includes(n.name)) continue;
        out[n.name] = lab.speakerRunning(n.index) ? { cut: true } : { stopped: true };
      }
      return out;
    },
  };
}
