// RBAC has exactly the verbs the code uses: the Kubernetes API calls each component makes are
// found in its sources, each call's permissions are listed below (one place to review), and the
// union must equal the chart's ClusterRole + Role rules. A new API call fails this test until its
// permission is added to the chart and here; a permission no call needs fails it too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { renderChart } from '../../testbed/helm.ts';
import { ROOT } from '../../testbed/tools.ts';

const CONFIG = ['l2advertisements', 'bgppeers', 'bgpadvertisements', 'bfdprofiles', 'communities'];
const ns = (res: string[], verbs: string[]) => res.flatMap((r) => verbs.map((v) => `ns ${r}:${v}`));
const cl = (res: string[], verbs: string[]) => res.flatMap((r) => verbs.map((v) => `cluster ${r}:${v}`));
// Every list call feeds an informer, which also watches.
const LW = ['list', 'watch'];
// Secrets are granted by name only (resourceNames), for the names rendered with these values.
const VALUES = { bgpPasswordSecrets: ['bgp-pw'] };
const named = (keys: string[], names: string[]) => keys.flatMap((k) => names.map((n) => `${k}@${n}`));
// Scrapes of /metrics checked through the API server (metrics.auth: kubernetes, the default).
const REVIEWS = {
  createTokenReview: cl(['authentication.k8s.io/tokenreviews'], ['create']),
  createSubjectAccessReview: cl(['authorization.k8s.io/subjectaccessreviews'], ['create']),
};

const COMPONENTS: Record<string, { files: string[]; calls: Record<string, string[]> }> = {
  controller: {
    files: ['src/controller', 'src/cli/controller.ts', 'src/cli/http-servers.ts', 'src/util/metrics-auth.ts', 'src/k8s/events.ts', 'src/k8s/leader.ts', 'src/k8s/informer.ts', 'src/k8s/secrets.ts', 'src/k8s/config-watch.ts'],
    calls: {
      listServiceForAllNamespaces: cl(['services'], LW),
      listNamespace: cl(['namespaces'], LW),
      // NamedSecrets: the BGP password Secrets, each by name.
      listNamespacedSecret: named(ns(['secrets'], LW), ['bgp-pw']),
      listClusterCustomObject: cl(['ironlb.io/ippools'], LW),
      listNamespacedCustomObject: ns(CONFIG.map((p) => `ironlb.io/${p}`), LW),
      // One status patch per Service: no get, no update of the Service itself (item 12 of issue 13).
      patchNamespacedServiceStatus: cl(['services/status'], ['patch']),
      getNamespacedCustomObject: ns(['ironlb.io/configurationstates'], ['get']),
      replaceNamespacedCustomObject: ns(['ironlb.io/configurationstates'], ['update']),
      createNamespacedCustomObject: ns(['ironlb.io/configurationstates'], ['create']),
      getClusterCustomObject: cl(['ironlb.io/ippools'], ['get']),
      replaceClusterCustomObjectStatus: cl(['ironlb.io/ippools/status'], ['update']),
      // EventRecorder: Events beside Services (any namespace) and in "default" for IPPools.
      // Repeats: one merge patch of count and lastTimestamp, no read first.
      patchNamespacedEvent: cl(['events'], ['patch']),
      createNamespacedEvent: cl(['events'], ['create']),
      // AdmissionWebhook: its certificate Secret and the caBundle of its configuration (by name).
      readNamespacedSecret: named(ns(['secrets'], ['get']), ['ironlb-webhook-cert']),
      replaceNamespacedSecret: named(ns(['secrets'], ['update']), ['ironlb-webhook-cert']),
      readValidatingWebhookConfiguration: named(cl(['admissionregistration.k8s.io/validatingwebhookconfigurations'], ['get']), ['ironlb-validating']),
      replaceValidatingWebhookConfiguration: named(cl(['admissionregistration.k8s.io/validatingwebhookconfigurations'], ['update']), ['ironlb-validating']),
      // LeaderElector.
      readNamespacedLease: ns(['coordination.k8s.io/leases'], ['get']),
      createNamespacedLease: ns(['coordination.k8s.io/leases'], ['create']),
      replaceNamespacedLease: ns(['coordination.k8s.io/leases'], ['update']),
      ...REVIEWS,
    },
  },
  speaker: {
    files: ['src/speaker', 'src/cli/speaker.ts', 'src/cli/http-servers.ts', 'src/util/metrics-auth.ts', 'src/k8s/events.ts', 'src/k8s/informer.ts', 'src/k8s/secrets.ts', 'src/k8s/config-watch.ts'],
    calls: {
      listServiceForAllNamespaces: cl(['services'], LW),
      listEndpointSliceForAllNamespaces: cl(['discovery.k8s.io/endpointslices'], LW),
      // Read only: Layer 2 subnets are published in ConfigurationStates, not on Nodes.
      listNode: cl(['nodes'], LW),
      // NamedSecrets: the membership Secret and the BGP password Secrets, each by name.
      listNamespacedSecret: named(ns(['secrets'], LW), ['ironlb-membership', 'bgp-pw']),
      listClusterCustomObject: cl(['ironlb.io/ippools', 'ironlb.io/serviceannouncements'], LW),
      listNamespacedCustomObject: ns([...CONFIG, 'configurationstates', 'nodeannouncements'].map((p) => `ironlb.io/${p}`), LW),
      // StatusWriter: ServiceAnnouncements beside their Service; session and configuration states in ironlb's namespace.
      getNamespacedCustomObject: [...cl(['ironlb.io/serviceannouncements'], ['get']), ...ns(['ironlb.io/bgpsessionstates', 'ironlb.io/configurationstates', 'ironlb.io/nodeannouncements'], ['get'])],
      replaceNamespacedCustomObject: [...cl(['ironlb.io/serviceannouncements'], ['update']), ...ns(['ironlb.io/bgpsessionstates', 'ironlb.io/configurationstates', 'ironlb.io/nodeannouncements'], ['update'])],
      createNamespacedCustomObject: [...cl(['ironlb.io/serviceannouncements'], ['create']), ...ns(['ironlb.io/bgpsessionstates', 'ironlb.io/configurationstates', 'ironlb.io/nodeannouncements'], ['create'])],
      // Deleted when a Service is no longer announced / a peer is gone (ConfigurationState never is).
      deleteNamespacedCustomObject: [...cl(['ironlb.io/serviceannouncements'], ['delete']), ...ns(['ironlb.io/bgpsessionstates', 'ironlb.io/nodeannouncements'], ['delete'])],
      // Repeats: one merge patch of count and lastTimestamp, no read first.
      patchNamespacedEvent: cl(['events'], ['patch']),
      createNamespacedEvent: cl(['events'], ['create']),
      ...REVIEWS,
    },
  },
};

function sources(paths: string[]): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  for (const p of paths) {
    const abs = join(ROOT, p);
    const files = p.endsWith('.ts') ? [abs] : readdirSync(abs).filter((f) => f.endsWith('.ts')).map((f) => join(abs, f));
    for (const f of files) out.push({ file: f.slice(ROOT.length), text: readFileSync(f, 'utf8') });
  }
  return out;
}

/** Client-node API methods called in the text: `.listNode(`, `.replaceNamespacedServiceStatus(`, ... */
function apiCalls(text: string): string[] {
  const re = /\.((?:list|read|get|create|replace|patch|delete)(?:Namespaced|Cluster)?[A-Z][A-Za-z]*)\(/g;
  const out = new Set<string>();
  for (const m of text.matchAll(re)) {
    const name = m[1] as string;
    // Not Kubernetes calls: node's http server, Date, prom-client, client-node config helpers.
    if (/^(createServer|getTime|getMetricsAsArray|getCurrentCluster|getCurrentUser|getCurrentContext|getContexts|getClusters|getExtension)$/.test(name)) continue;
    out.add(name);
  }
  return [...out];
}

async function rules(component: string): Promise<Set<string>> {
  const objs = (await renderChart({ values: VALUES })).map((r) => r.object as unknown as { kind: string; metadata: { name: string }; rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }> });
  const out = new Set<string>();
  for (const o of objs) {
    if (o.metadata.name !== `ironlb-${component}` || (o.kind !== 'ClusterRole' && o.kind !== 'Role')) continue;
    const scope = o.kind === 'Role' ? 'ns' : 'cluster';
    for (const r of o.rules ?? []) {
      for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) for (const n of r.resourceNames ?? ['']) out.add(`${scope} ${g ? `${g}/` : ''}${res}:${v}${n ? `@${n}` : ''}`);
    }
  }
  return out;
}

for (const [component, def] of Object.entries(COMPONENTS)) {
  test(`${component}: every Kubernetes API call in the code has its permission, and the Roles grant nothing more`, async () => {
    const found = new Map<string, string>();
    for (const s of sources(def.files)) for (const c of apiCalls(s.text)) found.set(c, s.file);
    const unlisted = [...found].filter(([c]) => !(c in def.calls)).map(([c, f]) => `${c} (in ${f})`);
    assert.deepEqual(unlisted, [], 'new API calls: add their verbs to deploy/helm/ironlb/templates/rbac.yaml and to this table');
    const unused = Object.keys(def.calls).filter((c) => !found.has(c));
    assert.deepEqual(unused, [], 'calls listed here that the code no longer makes: drop them and their verbs');
    const want = new Set(Object.values(def.calls).flat());
    const have = await rules(component);
    assert.deepEqual([...have].filter((r) => !want.has(r)).sort(), [], 'rules no call needs');
    assert.deepEqual([...want].filter((r) => !have.has(r)).sort(), [], 'calls without a rule');
  });
}

test('the API calls found are real: the scanner sees calls of every verb', () => {
  const all = Object.values(COMPONENTS).flatMap((d) => sources(d.files).flatMap((s) => apiCalls(s.text)));
  // No component patches anything (the speaker's Node patch went with item 11 of issue 13).
  for (const verb of ['list', 'read', 'get', 'create', 'replace', 'delete']) assert.ok(all.some((c) => c.startsWith(verb)), verb);
});

test('no Role grants Secrets without resourceNames, with or without BGP password Secrets', async () => {
  for (const values of [{}, VALUES]) {
    for (const r of await renderChart({ values })) {
      const o = r.object as unknown as { kind: string; metadata: { name: string }; rules?: Array<{ resources?: string[]; resourceNames?: string[] }> };
      if (o.kind !== 'Role' && o.kind !== 'ClusterRole') continue;
      for (const rule of o.rules ?? []) {
        if (!(rule.resources ?? []).includes('secrets')) continue;
        // An empty resourceNames list means every name: as bad as none.
        assert.ok((rule.resourceNames ?? []).length > 0, `${o.kind} ${o.metadata.name} grants Secrets without resourceNames (values ${JSON.stringify(values)})`);
      }
    }
  }
});
