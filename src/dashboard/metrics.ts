// Each speaker's own view, read from its /metrics (membership and quorum are not in any API
// object): a source scrapes every speaker; the dashboard calls it at a bounded interval.
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { errorText } from '../k8s/index.ts';

export interface SpeakerView {
  node: string;
  /** When it was read (ms since the epoch). */
  time: number;
  error?: string;
  /** Members by state as this speaker sees them (alive, suspect, dead, left...). */
  members?: Record<string, number>;
  membersAlive?: number;
  l2Quorum?: boolean;
  announced?: Record<string, number>;
  bfd?: Record<string, number>;
  bgpSessionsUp?: Record<string, boolean>;
  failovers?: number;
}

export interface SpeakerMetricsSource {
  /** One scrape of every speaker it knows; never throws (a failed scrape is a view with `error`). */
  scrape(): Promise<SpeakerView[]>;
}

/** Samples of the Prometheus text format: name, labels, value (comments and unparsable lines skipped). */
export function parseSamples(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, '$1');
    out.push({ name: m[1] as string, labels, value: Number(m[4]) });
  }
  return out;
}

/** The dashboard's part of a speaker's /metrics. */
export function speakerView(node: string, text: string, time = Date.now()): SpeakerView {
  const v: SpeakerView = { node, time, members: {}, announced: {}, bfd: {}, bgpSessionsUp: {} };
  for (const s of parseSamples(text)) {
    switch (s.name) {
      case 'ironlb_membership_members':
        if (s.labels.state) v.members![s.labels.state] = s.value;
        break;
      case 'ironlb_speaker_members_alive':
        v.membersAlive = s.value;
        break;
      case 'ironlb_speaker_l2_quorum':
        v.l2Quorum = s.value === 1;
        break;
      case 'ironlb_speaker_announced_addresses':
        if (s.labels.mode) v.announced![s.labels.mode] = s.value;
        break;
      case 'ironlb_bfd_sessions':
        if (s.labels.state && s.value) v.bfd![s.labels.state] = s.value;
        break;
      case 'ironlb_speaker_bgp_session_up':
        if (s.labels.peer) v.bgpSessionsUp![s.labels.peer] = s.value === 1;
        break;
      case 'ironlb_speaker_failovers_total':
        v.failovers = (v.failovers ?? 0) + s.value;
        break;
    }
  }
  return v;
}

/**
 * Speakers in a cluster: their Pods (label app.kubernetes.io/component=speaker in ironlb's
 * namespace), scraped through the API server's Pod proxy with the operator's credentials (GET only;
 * needs get on pods/proxy). One request per speaker per scrape, at most `concurrency` at once.
 */
export function podProxySource(o: { core: CoreV1Api; namespace: string; port?: number; concurrency?: number; timeoutMs?: number }): SpeakerMetricsSource {
  return {
    async scrape() {
      let pods: V1Pod[];
      try {
        pods = (await o.core.listNamespacedPod({ namespace: o.namespace, labelSelector: 'app.kubernetes.io/component=speaker' })).items;
      } catch (err) {
        return [{ node: '(speakers)', time: Date.now(), error: `cannot list speaker Pods in ${o.namespace}: ${errorText(err)}` }];
      }
      const out: SpeakerView[] = [];
      const queue = pods.filter((p) => p.status?.phase === 'Running');
      const worker = async (): Promise<void> => {
        for (let p = queue.shift(); p; p = queue.shift()) {
          const node = p.spec?.nodeName ?? p.metadata?.name ?? '?';
          const port = o.port ?? p.spec?.containers.flatMap((c) => c.ports ?? []).find((x) => x.name === 'metrics')?.containerPort ?? 7473;
          try {
            const text = await withTimeout(o.core.connectGetNamespacedPodProxyWithPath({ name: `${p.metadata?.name}:${port}`, namespace: o.namespace, path: 'metrics' }), o.timeoutMs ?? 3000);
            out.push(speakerView(node, String(text)));
          } catch (err) {
            out.push({ node, time: Date.now(), error: `cannot scrape ${p.metadata?.name}: ${errorText(err)}` });
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 4, queue.length) }, worker));
      return out.sort((a, b) => (a.node < b.node ? -1 : 1));
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}
