// Server-side defaults for built-in resources, the part of the real API server's behaviour that
// clients rely on: a Service gets a type, a cluster IP (from a fake range), IP families and ports
// defaults; a Namespace gets its phase and name label. Everything else is stored as sent.
import { invalid, type StatusCause } from './errors.ts';
import type { KObject } from './store.ts';

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

/** Hands out cluster IPs from 10.96.0.0/12 (IPv4) and fd00:10:96::/108 (IPv6) and node ports 30000-32767. */
export class ServiceAllocator {
  private readonly used = new Set<string>();
  private next4 = 1;
  private next6 = 1;
  private nextPort = 30000;

  reserve(ip: string): void {
    this.used.add(ip);
  }

  release(svc: KObject): void {
    const spec = obj(svc.spec);
    for (const ip of (spec.clusterIPs as string[] | undefined) ?? []) this.used.delete(ip);
    for (const p of (spec.ports as Obj[] | undefined) ?? []) if (typeof p.nodePort === 'number') this.used.delete(`port:${p.nodePort}`);
  }

  ip(family: 'IPv4' | 'IPv6'): string {
    const size = 1 << 20; // both ranges hold 2^20 addresses
    for (let i = 0; i < size; i++) {
      const n = family === 'IPv4' ? this.next4++ : this.next6++;
      const off = ((n - 1) % (size - 2)) + 1;
      const ip = family === 'IPv4' ? `10.${96 + (off >> 16)}.${(off >> 8) & 255}.${off & 255}` : `fd00:10:96::${off.toString(16)}`;
      if (!this.used.has(ip)) {
        this.used.add(ip);
        return ip;
      }
    }
    throw new Error(`service ${family} range is full`);
  }

  nodePort(): number {
    for (let i = 0; i < 2768; i++) {
      const p = this.nextPort;
      this.nextPort = p >= 32767 ? 30000 : p + 1;
      if (!this.used.has(`port:${p}`)) {
        this.used.add(`port:${p}`);
        return p;
      }
    }
    // Range exhausted (more than 2768 node-port Services, e.g. a scale test): unlike a real cluster,
    // hand out duplicates rather than refuse, since nothing listens on these ports here.
    const p = this.nextPort;
    this.nextPort = p >= 32767 ? 30000 : p + 1;
    return p;
  }
}

function familyOf(ip: string): 'IPv4' | 'IPv6' {
  return ip.includes(':') ? 'IPv6' : 'IPv4';
}

/**
 * Fills a Service's defaults. `old` is the stored Service on update: cluster IPs and node ports
 * are immutable there and are carried over when the update leaves them out.
 */
export function defaultService(svc: KObject, alloc: ServiceAllocator, old?: KObject): KObject {
  const spec: Obj = { ...obj(svc.spec) };
  const oldSpec = old ? obj(old.spec) : undefined;
  const causes: StatusCause[] = [];
  spec.type ??= 'ClusterIP';
  const type = spec.type;
  if (!['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'].includes(String(type))) {
    causes.push({ reason: 'FieldValueNotSupported', field: 'spec.type', message: `Unsupported value: "${String(type)}": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"` });
  }
  spec.sessionAffinity ??= 'None';
  if (type !== 'ExternalName') {
    spec.internalTrafficPolicy ??= 'Cluster';
    if (oldSpec && !spec.clusterIP && oldSpec.clusterIP) {
      spec.clusterIP = oldSpec.clusterIP;
      spec.clusterIPs ??= oldSpec.clusterIPs;
      spec.ipFamilies ??= oldSpec.ipFamilies;
      spec.ipFamilyPolicy ??= oldSpec.ipFamilyPolicy;
    }
    if (oldSpec && oldSpec.clusterIP && spec.clusterIP !== oldSpec.clusterIP) {
      causes.push({ reason: 'FieldValueInvalid', field: 'spec.clusterIPs[0]', message: `Invalid value: ${JSON.stringify(spec.clusterIP)}: may not change once set` });
    }
    // As the real server: two families or two cluster IPs without a policy mean RequireDualStack.
    const twoGiven = ((spec.ipFamilies as unknown[] | undefined)?.length ?? 0) === 2 || ((spec.clusterIPs as unknown[] | undefined)?.length ?? 0) === 2;
    const policy = (spec.ipFamilyPolicy as string | undefined) ?? (twoGiven ? 'RequireDualStack' : 'SingleStack');
    spec.ipFamilyPolicy = policy;
    let families = (spec.ipFamilies as string[] | undefined) ?? [];
    if (families.length === 0) {
      const fromIPs = ((spec.clusterIPs as string[] | undefined) ?? (spec.clusterIP && spec.clusterIP !== 'None' ? [spec.clusterIP as string] : [])).map(familyOf);
      families = fromIPs.length ? fromIPs : ['IPv4'];
      if (policy !== 'SingleStack' && families.length === 1) families = [families[0]!, families[0] === 'IPv4' ? 'IPv6' : 'IPv4'];
    }
    if (policy === 'SingleStack' && families.length > 1) {
      causes.push({ reason: 'FieldValueInvalid', field: 'spec.ipFamilies', message: 'Invalid value: when spec.ipFamilyPolicy is SingleStack, only one IP family may be listed' });
    }
    spec.ipFamilies = families;
    if (spec.clusterIP === 'None') {
      spec.clusterIPs = ['None'];
    } else if (!oldSpec?.clusterIP || !spec.clusterIPs) {
      const given = (spec.clusterIPs as string[] | undefined) ?? (spec.clusterIP ? [spec.clusterIP as string] : []);
      const ips = families.map((f, i) => {
        const g = given[i];
        if (g) {
          alloc.reserve(g);
          return g;
        }
        return alloc.ip(f as 'IPv4' | 'IPv6');
      });
      spec.clusterIPs = ips;
      spec.clusterIP = ips[0];
    }
    const needsNodePort = (type === 'NodePort' || type === 'LoadBalancer') && spec.allocateLoadBalancerNodePorts !== false;
    const oldPorts = ((oldSpec?.ports as Obj[] | undefined) ?? []);
    spec.ports = ((spec.ports as Obj[] | undefined) ?? []).map((p, i) => {
      const q: Obj = { ...p };
      q.protocol ??= 'TCP';
      q.targetPort ??= q.port;
      if (needsNodePort && q.nodePort === undefined) {
        const prev = oldPorts.find((o) => o.port === q.port && o.protocol === q.protocol) ?? oldPorts[i];
        q.nodePort = typeof prev?.nodePort === 'number' ? prev.nodePort : alloc.nodePort();
      }
      return q;
    });
    if (type === 'NodePort' || type === 'LoadBalancer') spec.externalTrafficPolicy ??= 'Cluster';
    if (type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
  }
  if (causes.length) throw invalid('Service', '', svc.metadata.name ?? '', causes);
  const status = svc.status ?? old?.status ?? { loadBalancer: {} };
  return { ...svc, spec, status };
}

export function defaultNamespace(ns: KObject): KObject {
  const name = ns.metadata.name ?? '';
  const labels = { ...(ns.metadata.labels ?? {}), 'kubernetes.io/metadata.name': name };
  const spec = obj(ns.spec);
  return {
    ...ns,
    metadata: { ...ns.metadata, labels },
    spec: { ...spec, finalizers: (spec.finalizers as string[] | undefined) ?? ['kubernetes'] },
    status: { phase: 'Active', ...obj(ns.status) },
  };
}
