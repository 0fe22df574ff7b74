// Server-side printing (meta.k8s.io/v1 Table), which kubectl asks for: built-in columns for the
// resources people look at (services with EXTERNAL-IP, nodes, namespaces, pods) and CRD printer columns.
import type { PrinterColumn } from './crds.ts';
import { jsonPath } from './jsonpath.ts';
import type { ResourceDescriptor } from './resources.ts';
import type { KObject } from './store.ts';

interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

type Cell = string | number | boolean | null;
type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? v.map(obj) : [];
}

/** "5s", "3m", "2h", "4d" as kubectl prints ages. */
export function age(ts: string | undefined, now = Date.now()): string {
  if (!ts) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

const col = (name: string, type = 'string', priority = 0, format = ''): ColumnDefinition => ({ name, type, format, description: name, priority });
const NAME = col('Name', 'string', 0, 'name');
const AGE = col('Age', 'string');

interface Printer {
  columns: ColumnDefinition[];
  cells(o: KObject): Cell[];
}

function servicePorts(spec: Obj): string {
  const ps = arr(spec.ports).map((p) => `${String(p.port)}${p.nodePort ? `:${String(p.nodePort)}` : ''}/${String(p.protocol ?? 'TCP')}`);
  return ps.length ? ps.join(',') : '<none>';
}

function externalIPs(spec: Obj, status: Obj): string {
  const ext = Array.isArray(spec.externalIPs) ? (spec.externalIPs as string[]) : [];
  switch (spec.type) {
    case 'ExternalName':
      return String(spec.externalName ?? '<none>');
    case 'LoadBalancer': {
      const ing = arr(obj(status.loadBalancer).ingress).map((i) => String(i.ip ?? i.hostname ?? ''));
      const all = [...ing, ...ext].filter((x) => x !== '');
      return all.length ? all.join(',') : '<pending>';
    }
    default:
      return ext.length ? ext.join(',') : '<none>';
  }
}

function selector(m: unknown): string {
  const e = Object.entries(obj(m));
  return e.length ? e.map(([k, v]) => `${k}=${String(v)}`).join(',') : '<none>';
}

const builtinPrinters: Record<string, Printer> = {
  services: {
    columns: [NAME, col('Type'), col('Cluster-IP'), col('External-IP'), col('Port(s)'), AGE, col('Selector', 'string', 1)],
    cells: (o) => {
      const spec = obj(o.spec);
      return [o.metadata.name ?? '', String(spec.type ?? 'ClusterIP'), String(spec.clusterIP ?? '<none>'), externalIPs(spec, obj(o.status)), servicePorts(spec), age(o.metadata.creationTimestamp), selector(spec.selector)];
    },
  },
  nodes: {
    columns: [NAME, col('Status'), col('Roles'), AGE, col('Version'), col('Internal-IP', 'string', 1)],
    cells: (o) => {
      const st = obj(o.status);
      const ready = arr(st.conditions).find((c) => c.type === 'Ready');
      const status = ready ? (ready.status === 'True' ? 'Ready' : ready.status === 'False' ? 'NotReady' : 'Unknown') : 'Unknown';
      const roles = Object.keys(o.metadata.labels ?? {}).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice('node-role.kubernetes.io/'.length));
      const ip = arr(st.addresses).find((a) => a.type === 'InternalIP');
      return [o.metadata.name ?? '', obj(o.spec).unschedulable ? `${status},SchedulingDisabled` : status, roles.length ? roles.join(',') : '<none>', age(o.metadata.creationTimestamp), String(obj(st.nodeInfo).kubeletVersion ?? ''), String(ip?.address ?? '<none>')];
    },
  },
  namespaces: {
    columns: [NAME, col('Status'), AGE],
    cells: (o) => [o.metadata.name ?? '', String(obj(o.status).phase ?? 'Active'), age(o.metadata.creationTimestamp)],
  },
  pods: {
    columns: [NAME, col('Ready'), col('Status'), col('Restarts', 'string'), AGE, col('IP', 'string', 1), col('Node', 'string', 1)],
    cells: (o) => {
      const st = obj(o.status);
      const cs = arr(st.containerStatuses);
      const total = arr(obj(o.spec).containers).length;
      const ready = cs.filter((c) => c.ready === true).length;
      const restarts = cs.reduce((n, c) => n + (typeof c.restartCount === 'number' ? c.restartCount : 0), 0);
      const phase = o.metadata.deletionTimestamp ? 'Terminating' : String(st.phase ?? 'Pending');
      return [o.metadata.name ?? '', `${ready}/${total}`, phase, String(restarts), age(o.metadata.creationTimestamp), String(st.podIP ?? '<none>'), String(obj(o.spec).nodeName ?? '<none>')];
    },
  },
};

/** NAME then the CRD's declared columns (a CRD that wants AGE declares it, as on the real server). */
function crdPrinter(columns: readonly PrinterColumn[]): Printer {
  return {
    columns: [NAME, ...columns.map((c) => col(c.name, c.type, c.priority ?? 0, c.format ?? ''))],
    cells: (o) => [
      o.metadata.name ?? '',
      ...columns.map((c): Cell => {
        let v: unknown;
        try {
          v = jsonPath(o, c.jsonPath)[0];
        } catch {
          v = undefined;
        }
        if (v === undefined || v === null) return null;
        if (c.type === 'date') return age(String(v));
        if (typeof v === 'object') return JSON.stringify(v);
        if (c.type === 'integer' || c.type === 'number') return typeof v === 'number' ? v : Number(v);
        if (c.type === 'boolean') return typeof v === 'boolean' ? v : String(v) === 'true';
        return String(v);
      }),
    ],
  };
}

const defaultPrinter: Printer = { columns: [NAME, AGE], cells: (o) => [o.metadata.name ?? '', age(o.metadata.creationTimestamp)] };

export function printerFor(d: ResourceDescriptor, crdColumns: readonly PrinterColumn[] | undefined): Printer {
  if (d.crd !== undefined) return crdColumns && crdColumns.length ? crdPrinter(crdColumns) : defaultPrinter;
  return (d.group === '' ? builtinPrinters[d.plural] : undefined) ?? defaultPrinter;
}

/** Rows carry the whole object when asked (includeObject=Object), else its metadata only, as the real server does. */
export function toTable(p: Printer, items: readonly KObject[], meta: Record<string, unknown>, includeObject: string | null): object {
  const rows = items.map((o) => {
    const row: Record<string, unknown> = { cells: p.cells(o) };
    if (includeObject !== 'None') {
      row.object = includeObject === 'Object' ? o : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
    }
    return row;
  });
  return { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: meta, columnDefinitions: p.columns, rows };
}
