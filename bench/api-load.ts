// What many speakers and Services cost the API server (issue 16 item 6), measured from the API
// server's own metrics (apiserver_request_total by verb and resource, apiserver_registered_watchers,
// apiserver_longrunning_requests) and its process's CPU and memory.
//
// What is simulated, and how:
//   - the cluster: K Node objects, S LoadBalancer Services holding addresses, one EndpointSlice
//     per Service (endpoints on two nodes), one ServiceAnnouncement per Service (as the speakers
//     left it, labelled with its writer), one NodeAnnouncement per node, an IPPool and an L2Advertisement. Services, EndpointSlices and ServiceAnnouncements
//     are written straight into etcd (bench/scale-support.ts), Nodes through the API;
//   - the speakers' reads: K simulated speakers, each one HTTP/2 connection with the speaker
//     ServiceAccount's token and exactly the speaker's informers (the same paths: Services,
//     EndpointSlices, Nodes, ConfigurationStates, the ServiceAnnouncements it writes, its own
//     NodeAnnouncement, the six configuration
//     kinds, and its Secret by name): a paged list (500 per page, as an informer's) then a watch
//     from the list's resourceVersion. Objects are counted, not kept. `--list-speakers` of them
//     list everything first (a cold start, timed); the others start their watches from the
//     current resourceVersion (their list cost is the same per speaker, so it scales linearly);
//   - the speakers' writes on a node loss: the real speaker code decides (speaker/decide.ts with
//     every node alive, then without the lost one), the real announcementStatus() says what each
//     Service's ServiceAnnouncement becomes and statusWriter() which live node writes it, and each
//     writer node's real StatusWriter and EventRecorder write the changes (one client connection
//     for all writers). Then the same for BGP mode (every node announces every Service): the
//     cluster's announcements are switched to BGP through etcd, and a node is lost.
// Membership is UDP between speakers and costs the API server nothing.
//
// Usage: node bench/api-load.ts [--speakers 1000] [--services 10000] [--list-speakers 100] [--steady-seconds 60] [--result FILE]
// (bench/api-load-scale.ts runs it at several sizes and plots the figures against them.)
import { appendFileSync } from 'node:fs';
import http2 from 'node:http2';
import { parseArgs } from 'node:util';
import { DiscoveryV1Api, PatchStrategy, setHeaderOptions, type V1EndpointSlice } from '@kubernetes/client-node';
import { componentClients, startTestApiServer } from '../test/support/apiserver.ts';
import { makeClients, EventRecorder } from '../src/k8s/index.ts';
import { API_VERSION, DEFAULT_NAMESPACE, GROUP, KINDS, VERSION } from '../src/api/index.ts';
import { decide, type DecideInput, type NodeFacts, type ServiceFacts } from '../src/speaker/decide.ts';
import { announcementStatus, nodeAnnouncementName, nodeAnnouncementStatus, sameStatus, statusWriter, StatusWriter, WRITER_LABEL, writerLabelValue } from '../src/speaker/status.ts';
import { apiMetrics, etcdPut, etcdUrl, k8sTime, load, procStats, randomUUID, seedServicesEtcd, serviceTemplates, sleep, strip } from './scale-support.ts';

const { values } = parseArgs({
  options: {
    speakers: { type: 'string', default: '1000' },
    services: { type: 'string', default: '10000' },
    'list-speakers': { type: 'string', default: '100' },
    'steady-seconds': { type: 'string', default: '60' },
    namespaces: { type: 'string', default: '100' },
    /** Appends this run's figures as one JSON line (bench/api-load-scale.ts reads them). */
    result: { type: 'string', default: '' },
  },
});
const K = Math.max(2, Number(values.speakers));
const S = Math.max(1, Number(values.services));
const LISTERS = Math.min(K, Math.max(0, Number(values['list-speakers'])));
const STEADY_S = Math.max(5, Number(values['steady-seconds']));
const NAMESPACES = Math.max(1, Number(values.namespaces));
const POOL = 'lb';
const ipOf = (i: number) => `10.80.${(i + 1) >> 8}.${(i + 1) & 255}`;
const nsOf = (i: number) => `load-${i % NAMESPACES}`;
const nameOf = (i: number) => `s-${i}`;
const nodeOf = (k: number) => `node-${k}`;
const NS = DEFAULT_NAMESPACE;
const say = (line: string) => process.stdout.write(`${line}\n`);
/** This run's figures, for --result. */
const result: Record<string, unknown> = { speakers: K, services: S };

// ---- a simulated speaker: the speaker's informers, objects counted, not kept ------------------

const CONFIG_PLURALS = (['IPPool', 'L2Advertisement', 'BGPPeer', 'BGPAdvertisement', 'BFDProfile', 'Community'] as const).map((k) => (KINDS[k].scope === 'Cluster' ? `/apis/${GROUP}/${VERSION}/${KINDS[k].plural}` : `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${KINDS[k].plural}`));
interface SpeakerPath {
  path: string;
  fieldSelector?: string;
  labelSelector?: string;
}
/** Speaker k's informers: ServiceAnnouncements only those it writes (by label), its own NodeAnnouncement. */
const speakerPaths = (k: number): SpeakerPath[] => [
  { path: '/api/v1/services' },
  { path: '/apis/discovery.k8s.io/v1/endpointslices' },
  { path: '/api/v1/nodes' },
  { path: `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${KINDS.ConfigurationState.plural}` },
  { path: `/apis/${GROUP}/${VERSION}/${KINDS.ServiceAnnouncement.plural}`, labelSelector: `${WRITER_LABEL}=${writerLabelValue(nodeOf(k))}` },
  { path: `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${KINDS.NodeAnnouncement.plural}`, fieldSelector: `metadata.name=${nodeAnnouncementName(nodeOf(k))}` },
  ...CONFIG_PLURALS.map((path) => ({ path })),
  { path: `/api/v1/namespaces/${NS}/secrets`, fieldSelector: 'metadata.name=ironlb-membership' },
];
const PATHS_PER_SPEAKER = speakerPaths(0).length;

const selectors = (p: SpeakerPath): Record<string, string> => ({ ...(p.fieldSelector ? { fieldSelector: p.fieldSelector } : {}), ...(p.labelSelector ? { labelSelector: p.labelSelector } : {}) });

const totals = { listBytes: 0, listObjects: 0, watchEvents: 0, watchBytes: 0, watchErrors: 0 };

class SimSpeaker {
  #s: http2.ClientHttp2Session;
  #token: string;
  #streams: http2.ClientHttp2Stream[] = [];
  constructor(url: string, ca: string, token: string) {
    this.#s = http2.connect(url, { ca });
    this.#s.on('error', () => totals.watchErrors++);
    this.#token = token;
  }

  #get(path: string, onData: (chunk: Buffer) => void): { done: Promise<number>; stream: http2.ClientHttp2Stream } {
    const stream = this.#s.request({ ':path': path, authorization: `Bearer ${this.#token}`, accept: 'application/json' });
    const done = new Promise<number>((resolve, reject) => {
      let status = 0;
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.on('data', onData);
      stream.on('end', () => resolve(status));
      stream.on('error', reject);
    });
    return { done, stream };
  }

  /** A paged list, as an informer's; returns the resourceVersion to watch from. */
  async list(p: SpeakerPath, limit = 500): Promise<string> {
    const { path } = p;
    let cont = '';
    for (let page = 0; page < 100_000; page++) {
      const q = new URLSearchParams({ limit: String(limit), ...(cont ? { continue: cont } : {}), ...selectors(p) });
      const chunks: Buffer[] = [];
      const { done } = this.#get(`${path}?${q}`, (c) => chunks.push(c));
      const status = await done;
      const body = Buffer.concat(chunks);
      if (status !== 200) throw new Error(`list ${path}: ${status} ${body.toString().slice(0, 300)}`);
      totals.listBytes += body.length;
      const l = JSON.parse(body.toString()) as { metadata?: { resourceVersion?: string; continue?: string }; items?: unknown[] };
      totals.listObjects += l.items?.length ?? 0;
      cont = l.metadata?.continue ?? '';
      if (!cont) return l.metadata?.resourceVersion ?? '';
    }
    throw new Error(`list ${path}: too many pages`);
  }

  watch(p: SpeakerPath, rv: string): void {
    const { path } = p;
    const q = new URLSearchParams({ watch: '1', resourceVersion: rv, allowWatchBookmarks: 'true', timeoutSeconds: '3600', ...selectors(p) });
    const { stream, done } = this.#get(`${path}?${q}`, (c) => {
      totals.watchBytes += c.length;
      for (const b of c) if (b === 10) totals.watchEvents++;
    });
    done.catch(() => totals.watchErrors++);
    this.#streams.push(stream);
  }

  close(): void {
    for (const s of this.#streams) s.close();
    this.#s.close();
  }
}

// ---- the run ------------------------------------------------------------------------------------

const loadStart = load();
const t00 = Date.now();
const api = await startTestApiServer({ apiServerArgs: ['--service-cluster-ip-range=10.96.0.0/12,fd00:10:96::/108'] });
const speakers: SimSpeaker[] = [];
try {
  const admin = makeClients(api.kc, { userAgent: 'load-bench' });
  const apiPid = api.cp.apiserver.pid as number;
  const etcdPid = api.cp.etcd.pid as number;
  const etcd = etcdUrl(api.cp);
  await api.custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: 'ippools', body: { apiVersion: API_VERSION, kind: 'IPPool', metadata: { name: POOL }, spec: { addresses: ['10.80.0.0/16'] } } });
  await api.custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: 'l2advertisements', body: { apiVersion: API_VERSION, kind: 'L2Advertisement', metadata: { name: 'all', namespace: NS }, spec: {} } });
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let k = next++; k < K; k = next++) await admin.core.createNode({ body: { metadata: { name: nodeOf(k), labels: { 'kubernetes.io/hostname': nodeOf(k), zone: `z${k % 3}` } } } });
    }),
  );
  for (let n = 0; n < NAMESPACES; n++) await admin.core.createNamespace({ body: { metadata: { name: `load-${n}` } } });
  // Services (with their ClusterIPs' IPAddress objects) through etcd.
  const tpl = await serviceTemplates(api, admin, POOL, '10.80.255.254');
  let t = Date.now();
  await seedServicesEtcd(api, tpl, 0, S, (i) => ({ namespace: nsOf(i), name: nameOf(i), clusterIP: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, ip: ipOf(i), labels: { app: `a${i}` } }));
  // EndpointSlices: one per Service, endpoints on nodes i and i+1, modelled on one made through the API.
  const sliceTpl = strip(
    JSON.parse(
      JSON.stringify(
        await api.kc.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
          namespace: 'default',
          body: { metadata: { name: 'template-x', labels: { 'kubernetes.io/service-name': 'template', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.244.0.1'], conditions: { ready: true, serving: true, terminating: false }, nodeName: nodeOf(0) }], ports: [{ name: '', port: 8080, protocol: 'TCP' }] },
        }),
      ),
    ) as Record<string, unknown>,
  ) as V1EndpointSlice & Record<string, unknown>;
  const now = k8sTime();
  const slices: Array<[string, unknown]> = [];
  for (let i = 0; i < S; i++) {
    const ns = nsOf(i);
    const name = `${nameOf(i)}-abcde`;
    slices.push([
      `/registry/endpointslices/${ns}/${name}`,
      {
        ...sliceTpl,
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { ...sliceTpl.metadata, name, namespace: ns, uid: randomUUID(), creationTimestamp: now, labels: { ...sliceTpl.metadata?.labels, 'kubernetes.io/service-name': nameOf(i) } },
        endpoints: [0, 1].map((d) => ({ addresses: [`10.${244 + ((i >> 15) & 7)}.${(i >> 7) & 255}.${((i & 127) << 1) + d}`], conditions: { ready: true, serving: true, terminating: false }, nodeName: nodeOf((i + d) % K) })),
      },
    ]);
  }
  await etcdPut(etcd, slices);
  slices.length = 0;

  // The speakers' decision with every node alive, and the ServiceAnnouncements they wrote.
  const nodes: NodeFacts[] = Array.from({ length: K }, (_, k) => ({ name: nodeOf(k), labels: { 'kubernetes.io/hostname': nodeOf(k), zone: `z${k % 3}` }, networkUnavailable: false }));
  const services: ServiceFacts[] = Array.from({ length: S }, (_, i) => ({ key: `${nsOf(i)}/${nameOf(i)}`, labels: { app: `a${i}` }, ips: [ipOf(i)], pool: POOL, externalTrafficPolicy: 'Cluster', endpointNodes: new Set([nodeOf(i % K), nodeOf((i + 1) % K)]), hasServingEndpoint: true }));
  const l2Input: DecideInput = { self: nodeOf(0), nodes, alive: new Set(nodes.map((n) => n.name)), services, l2: [{ name: 'all', pools: null, nodeSelectors: [], serviceSelectors: [], interfaces: [] }], bgp: [], peers: [] };
  let td = Date.now();
  const d0 = decide(l2Input);
  const decideMs = Date.now() - td;
  const nodeMap = new Map(nodes.map((n) => [n.name, n]));
  const ctx = { self: '', selfInterfaces: () => ['eth0'], nodes: nodeMap, bgp: [], peers: [] };
  const status0 = new Map(services.map((s) => [s.key, announcementStatus(s, d0.services.get(s.key) ?? { l2Owners: {}, bgpNodes: [] }, { ...ctx, self: (d0.services.get(s.key)?.l2Owners[s.ips[0] as string] ?? '') })]));
  const allNodes = nodes.map((n) => n.name);
  const saPlural = KINDS.ServiceAnnouncement.plural;
  const naPlural = KINDS.NodeAnnouncement.plural;
  // ServiceAnnouncements (labelled with their writer) and NodeAnnouncements as the speakers left them.
  const seedAnnouncements = async (statuses: ReadonlyMap<string, object>, writerOf: (s: ServiceFacts) => string, nodeStatus: (n: NodeFacts) => object): Promise<void> => {
    const sas: Array<[string, unknown]> = [];
    for (const s of services) {
      const [ns, name] = s.key.split('/') as [string, string];
      const labels = { [WRITER_LABEL]: writerLabelValue(writerOf(s)) };
      sas.push([`/registry/${GROUP}/${saPlural}/${ns}/${name}`, { apiVersion: API_VERSION, kind: 'ServiceAnnouncement', metadata: { name, namespace: ns, uid: randomUUID(), creationTimestamp: now, generation: 1, labels }, status: { ...statuses.get(s.key), observedTime: new Date().toISOString() } }]);
    }
    for (const n of nodes) {
      const name = nodeAnnouncementName(n.name);
      sas.push([`/registry/${GROUP}/${naPlural}/${NS}/${name}`, { apiVersion: API_VERSION, kind: 'NodeAnnouncement', metadata: { name, namespace: NS, uid: randomUUID(), creationTimestamp: now, generation: 1 }, status: { ...nodeStatus(n), observedTime: new Date().toISOString() } }]);
    }
    await etcdPut(etcd, sas);
  };
  await seedAnnouncements(status0, (s) => statusWriter(d0.services.get(s.key) ?? { l2Owners: {}, bgpNodes: [] }, allNodes, s.key) as string, (n) => nodeAnnouncementStatus(n, [], []));
  const seedMs = Date.now() - t;
  say(`# API load: ${K} speakers (simulated), ${S} Services, ${S} EndpointSlices, ${S} ServiceAnnouncements, ${K} Nodes; seeded in ${seedMs} ms; decide() for ${S} Services on ${K} nodes ${decideMs} ms; load ${loadStart} → ${load()}`);
  await sleep(3000);

  // Speakers start: LISTERS list everything (a cold start), the rest watch from now.
  const { kc } = await componentClients(api, 'speaker');
  const token = kc.getCurrentUser()?.token as string;
  const cpuApi0 = procStats(apiPid).cpuMs;
  const cpuEtcd0 = procStats(etcdPid).cpuMs;
  const load0 = load();
  t = Date.now();
  let nextS = 0;
  const rvs = new Map<string, string>();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let k = nextS++; k < LISTERS; k = nextS++) {
        const sp = new SimSpeaker(api.url, api.cp.caPem, token);
        speakers.push(sp);
        for (const p of speakerPaths(k)) sp.watch(p, await sp.list(p));
      }
    }),
  );
  const coldMs = Date.now() - t;
  const coldApiCpu = procStats(apiPid).cpuMs - cpuApi0;
  const coldEtcdCpu = procStats(etcdPid).cpuMs - cpuEtcd0;
  const coldBytes = totals.listBytes;
  const coldRss = procStats(apiPid);
  result.coldMiBPerSpeaker = coldBytes / Math.max(1, LISTERS) / 2 ** 20;
  result.coldObjectsPerSpeaker = totals.listObjects / Math.max(1, LISTERS);
  result.coldApiCpuMsPerSpeaker = coldApiCpu / Math.max(1, LISTERS);
  say(
    `cold start of ${LISTERS} speakers (16 at a time): ${coldMs} ms, ${(coldBytes / 2 ** 20).toFixed(0)} MiB listed (${totals.listObjects} objects, ${(coldBytes / Math.max(1, LISTERS) / 2 ** 20).toFixed(1)} MiB per speaker); ` +
      `kube-apiserver CPU ${coldApiCpu} ms (${(coldApiCpu / Math.max(1, LISTERS)).toFixed(0)} ms per speaker), etcd CPU ${coldEtcdCpu} ms; load ${load0} → ${load()}`,
  );
  const sp0 = new SimSpeaker(api.url, api.cp.caPem, token);
  for (const p of speakerPaths(0)) rvs.set(p.path, await sp0.list(p, 1));
  sp0.close();
  t = Date.now();
  for (let k = LISTERS; k < K; k++) {
    const sp = new SimSpeaker(api.url, api.cp.caPem, token);
    speakers.push(sp);
    for (const p of speakerPaths(k)) sp.watch(p, rvs.get(p.path) as string);
    if (k % 50 === 0) await sleep(50);
  }
  const watchNames = ['apiserver_registered_watchers', 'apiserver_longrunning_requests', 'apiserver_request_total', 'process_resident_memory_bytes'];
  let m = await apiMetrics(api.cp, watchNames);
  const longrunning = () => m.filter((x) => x.name === 'apiserver_longrunning_requests' && x.labels.verb === 'WATCH').reduce((a, x) => a + x.value, 0);
  for (let i = 0; i < 60 && longrunning() < K * PATHS_PER_SPEAKER; i++) {
    await sleep(1000);
    m = await apiMetrics(api.cp, watchNames);
  }
  const watchers = m.filter((x) => x.name === 'apiserver_registered_watchers').reduce((a, x) => a + x.value, 0);
  const watchersByKind = m.filter((x) => x.name === 'apiserver_registered_watchers' && x.value > 0).map((x) => `${x.labels.kind ?? x.labels.resource}=${x.value}`).join(', ');
  say(`watches open: ${longrunning()} long-running WATCH requests (${PATHS_PER_SPEAKER} per speaker); apiserver_registered_watchers ${watchers} (${watchersByKind}); opened in ${Date.now() - t} ms; watch errors ${totals.watchErrors}`);

  // Steady state.
  const reqs = (rows: typeof m) => {
    const out = new Map<string, number>();
    for (const x of rows) if (x.name === 'apiserver_request_total') out.set(`${x.labels.verb} ${x.labels.resource}${x.labels.subresource ? `/${x.labels.subresource}` : ''}`, (out.get(`${x.labels.verb} ${x.labels.resource}${x.labels.subresource ? `/${x.labels.subresource}` : ''}`) ?? 0) + x.value);
    return out;
  };
  const diff = (a: Map<string, number>, b: Map<string, number>) => [...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)] as const).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]);
  const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY']);
  const writesOf = (d: ReadonlyArray<readonly [string, number]>) => d.filter(([k]) => WRITES.has(k.split(' ')[0] as string)).reduce((a, [, v]) => a + v, 0);
  // ironlb's own writes (the API server's ClusterIP repair re-creates IPAddress objects after the etcd seeding meanwhile).
  const OURS = new Set(['serviceannouncements', 'nodeannouncements', 'events']);
  const ourWritesOf = (d: ReadonlyArray<readonly [string, number]>) => d.filter(([k]) => WRITES.has(k.split(' ')[0] as string) && OURS.has(k.split(' ')[1] as string)).reduce((a, [, v]) => a + v, 0);
  let before = reqs(await apiMetrics(api.cp, ['apiserver_request_total']));
  const ev0 = totals.watchEvents;
  let c0 = procStats(apiPid).cpuMs;
  const sLoad0 = load();
  await sleep(STEADY_S * 1000);
  let after = reqs(await apiMetrics(api.cp, ['apiserver_request_total']));
  const steady = diff(before, after);
  const steadyCpu = procStats(apiPid).cpuMs - c0;
  result.steadyWritesPerMin = (writesOf(steady) * 60) / STEADY_S;
  const apiRss = procStats(apiPid);
  say(
    `steady state, ${STEADY_S} s: ${((writesOf(steady) * 60) / STEADY_S).toFixed(1)} writes/min (the bench's own metric reads included in: ${steady.map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}); watch events delivered ${totals.watchEvents - ev0} (bookmarks included); ` +
      `kube-apiserver CPU ${((steadyCpu / (STEADY_S * 1000)) * 100).toFixed(1)}% of a core, RSS ${apiRss.rssMiB.toFixed(0)} MiB; load ${sLoad0} → ${load()}`,
  );

  // One Service changed: fan-out to every speaker's watch.
  before = after;
  let e0 = totals.watchEvents;
  c0 = procStats(apiPid).cpuMs;
  t = Date.now();
  await admin.core.patchNamespacedService({ name: nameOf(7), namespace: nsOf(7), body: { metadata: { labels: { app: 'a7', touched: '1' } } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
  for (let i = 0; i < 300 && totals.watchEvents - e0 < K; i++) await sleep(100);
  say(`one Service label change: ${totals.watchEvents - e0} watch events delivered (one per speaker) in ${Date.now() - t} ms; kube-apiserver CPU ${procStats(apiPid).cpuMs - c0} ms`);

  // A node lost (Layer 2): the real decision, status and writers.
  const lost = nodeOf(0);
  const alive1 = new Set(nodes.map((n) => n.name).filter((n) => n !== lost));
  td = Date.now();
  const d1 = decide({ ...l2Input, self: nodeOf(1), alive: alive1 });
  const decide1Ms = Date.now() - td;
  const writers = new Map<string, StatusWriter>();
  const recorders = new Map<string, EventRecorder>();
  const speakerClients = makeClients(kc, { userAgent: 'ironlb-speaker' });
  const writerFor = (w: string): StatusWriter => {
    let sw = writers.get(w);
    if (!sw) {
      const rec = new EventRecorder({ api: speakerClients.core, component: 'ironlb-speaker', host: w });
      recorders.set(w, rec);
      sw = new StatusWriter({ custom: speakerClients.custom, events: rec });
      writers.set(w, sw);
    }
    return sw;
  };
  let changed = 0;
  let l2Bytes = 0;
  before = reqs(await apiMetrics(api.cp, ['apiserver_request_total']));
  e0 = totals.watchEvents;
  c0 = procStats(apiPid).cpuMs;
  const nLoad0 = load();
  t = Date.now();
  for (const s of services) {
    const view = d1.services.get(s.key) ?? { l2Owners: {}, bgpNodes: [] };
    const owner = view.l2Owners[s.ips[0] as string] ?? '';
    const st = announcementStatus(s, view, { ...ctx, self: owner });
    if (sameStatus(st, status0.get(s.key))) continue;
    changed++;
    const w = statusWriter(view, [...alive1], s.key) as string;
    const sw = writerFor(w);
    const [namespace, name] = s.key.split('/') as [string, string];
    const rec = recorders.get(w) as EventRecorder;
    l2Bytes += JSON.stringify(st).length;
    sw.set(
      'ServiceAnnouncement',
      namespace,
      name,
      st as unknown as Record<string, unknown>,
      async () => {
        await rec.record({ apiVersion: 'v1', kind: 'Service', name, namespace }, 'Normal', 'AnnouncingNodesChanged', `announced: ${(st.announcements ?? []).map((a) => `${a.address} from ${a.node}`).join('; ')} (was ${lost})`);
      },
      { [WRITER_LABEL]: writerLabelValue(w) },
    );
  }
  // The first live node removes the lost node's NodeAnnouncement.
  const first = writerFor([...alive1].sort()[0] as string);
  first.set('NodeAnnouncement', NS, nodeAnnouncementName(lost), undefined);
  await Promise.all([...writers.values()].map((w) => w.idle()));
  const lossMs = Date.now() - t;
  await sleep(2000);
  after = reqs(await apiMetrics(api.cp, ['apiserver_request_total']));
  const loss = diff(before, after);
  result.l2 = { changed, writes: ourWritesOf(loss), statusKiB: l2Bytes / 1024, watchEvents: totals.watchEvents - e0, ms: lossMs };
  say(
    `node lost (Layer 2): ${changed} ServiceAnnouncements change (of ${S}; ${(l2Bytes / 1024).toFixed(0)} KiB of status), written by ${writers.size} nodes in ${lossMs} ms, and the lost node's NodeAnnouncement removed: ${ourWritesOf(loss)} writes by ironlb (all requests: ${loss.map(([k, v]) => `${k} ${v}`).join(', ')}); ` +
      `${totals.watchEvents - e0} watch events delivered; kube-apiserver CPU ${procStats(apiPid).cpuMs - c0} ms; decide() without the node ${decide1Ms} ms; load ${nLoad0} → ${load()}`,
  );

  // BGP mode, written: every node announces every Service (externalTrafficPolicy Cluster). The
  // cluster is switched to BGP (seeded through etcd, not counted), then a node is lost: the real
  // decision, status, writer choice and StatusWriters, as for Layer 2.
  const bgpInput: DecideInput = { ...l2Input, l2: [], bgp: [{ name: 'all', pools: null, nodeSelectors: [], serviceSelectors: [], communities: [], largeCommunities: [], peers: [] }], peers: [{ name: 'router', nodeSelectors: [] }] };
  const bctx = { ...ctx, bgp: bgpInput.bgp, peers: bgpInput.peers };
  td = Date.now();
  const b0 = decide(bgpInput);
  const bView = (d: typeof b0, s: ServiceFacts) => d.services.get(s.key) ?? { l2Owners: {}, bgpNodes: [] };
  const bStatus0 = new Map(services.map((s) => [s.key, announcementStatus(s, bView(b0, s), bctx)]));
  const bWriter0 = new Map(services.map((s) => [s.key, statusWriter(bView(b0, s), allNodes, s.key) as string]));
  await seedAnnouncements(bStatus0, (s) => bWriter0.get(s.key) as string, (n) => nodeAnnouncementStatus(n, bgpInput.bgp, bgpInput.peers));
  const bSize = [...bStatus0.values()].reduce((a, x) => a + JSON.stringify(x).length, 0);
  say(`BGP mode seeded (${((Date.now() - td) / 1000).toFixed(1)} s): each ServiceAnnouncement ${(bSize / S).toFixed(0)} B (${(bSize / 2 ** 20).toFixed(1)} MiB in all), each NodeAnnouncement ${JSON.stringify(nodeAnnouncementStatus(nodes[0] as NodeFacts, bgpInput.bgp, bgpInput.peers)).length} B`);
  await sleep(5000);
  const bLost = nodeOf(K - 1);
  const bAlive = new Set(allNodes.filter((n) => n !== bLost));
  const b1 = decide({ ...bgpInput, self: nodeOf(0), alive: bAlive });
  for (const w of writers.values()) await w.idle();
  writers.clear();
  recorders.clear();
  let bChanged = 0;
  let bWriterMoved = 0;
  let bBytes = 0;
  before = reqs(await apiMetrics(api.cp, ['apiserver_request_total']));
  e0 = totals.watchEvents;
  c0 = procStats(apiPid).cpuMs;
  const bLoad0 = load();
  t = Date.now();
  for (const s of services) {
    const st = announcementStatus(s, bView(b1, s), bctx);
    const w = statusWriter(bView(b1, s), [...bAlive], s.key) as string;
    const same = sameStatus(st, bStatus0.get(s.key));
    if (same && w === bWriter0.get(s.key)) continue;
    if (same) bWriterMoved++;
    else bChanged++;
    bBytes += JSON.stringify(st).length;
    const [namespace, name] = s.key.split('/') as [string, string];
    writerFor(w).set('ServiceAnnouncement', namespace, name, st as unknown as Record<string, unknown>, undefined, { [WRITER_LABEL]: writerLabelValue(w) });
  }
  writerFor([...bAlive].sort()[0] as string).set('NodeAnnouncement', NS, nodeAnnouncementName(bLost), undefined);
  await Promise.all([...writers.values()].map((w) => w.idle()));
  const bLossMs = Date.now() - t;
  await sleep(2000);
  after = reqs(await apiMetrics(api.cp, ['apiserver_request_total']));
  const bLoss = diff(before, after);
  result.bgp = { changed: bChanged, writerMoved: bWriterMoved, writes: ourWritesOf(bLoss), statusKiB: bBytes / 1024, watchEvents: totals.watchEvents - e0, ms: bLossMs, announcementBytes: bSize / S };
  say(
    `node lost (BGP, written): ${bChanged} ServiceAnnouncements change content, ${bWriterMoved} change writer only (the lost node wrote them; ${(bBytes / 1024).toFixed(1)} KiB of status), and the lost node's NodeAnnouncement removed, by ${writers.size} nodes in ${bLossMs} ms: ${ourWritesOf(bLoss)} writes by ironlb (all requests: ${bLoss.map(([k, v]) => `${k} ${v}`).join(', ')}); ` +
      `${totals.watchEvents - e0} watch events delivered; kube-apiserver CPU ${procStats(apiPid).cpuMs - c0} ms; load ${bLoad0} → ${load()}`,
  );
  const reasons = new Map<string, number>();
  for (const e of (await admin.core.listEventForAllNamespaces()).items) reasons.set(`${e.source?.component ?? e.reportingComponent ?? '?'} ${e.reason}`, (reasons.get(`${e.source?.component ?? e.reportingComponent ?? '?'} ${e.reason}`) ?? 0) + (e.count ?? 1));
  say(`Events in the cluster by source and reason: ${[...reasons].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  say(`total ${((Date.now() - t00) / 1000).toFixed(0)} s; load average at the start ${loadStart}, at the end ${load()}`);
  if (values.result) appendFileSync(values.result, `${JSON.stringify({ ...result, loadStart, loadEnd: load() })}\n`);
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
} finally {
  for (const sp of speakers) sp.close();
  await api.close();
}
