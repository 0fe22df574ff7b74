// Text rendering of a StatusReport (pure): aligned tables, then the reasons of Services that are
// pending or not announced, then configuration problems and warnings.
import type { StatusReport } from './collect.ts';

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/**
 * "node0 (L2 eth0), node1 (BGP tor-a)": one entry per node and mode. A dual-stack Service has one
 * Layer 2 announcement per address, often from the same node: that node is listed once.
 */
export function announcedBy(a: StatusReport['services'][number]['announcements']): string {
  if (!a.length) return '-';
  const byNode = new Map<string, { mode: string; node: string; detail: Set<string> }>();
  for (const x of a) {
    const key = `${x.node}\0${x.mode}`;
    let e = byNode.get(key);
    if (!e) byNode.set(key, (e = { mode: x.mode, node: x.node, detail: new Set() }));
    for (const d of (x.mode === 'layer2' ? x.interfaces : x.peers) ?? []) e.detail.add(d);
  }
  return [...byNode.values()].map((e) => `${e.node} (${e.mode === 'layer2' ? 'L2' : 'BGP'}${e.detail.size ? ` ${[...e.detail].join(',')}` : ''})`).join(', ');
}

const STATE: Record<string, string> = { announced: 'Announced', 'not-announced': 'NotAnnounced', pending: 'Pending', 'other-class': 'OtherClass' };

export interface FormatOptions {
  /** Show only the Services section (a single Service asked for). */
  servicesOnly?: boolean;
}

export function formatStatus(r: StatusReport, opts: FormatOptions = {}): string {
  const out: string[] = [];
  out.push('SERVICES');
  if (!r.services.length) out.push('  (no Service of type LoadBalancer)');
  else
    out.push(
      table(
        ['NAMESPACE', 'NAME', 'STATE', 'ADDRESSES', 'POOL', 'ANNOUNCED BY'],
        r.services.map((s) => [s.namespace, s.name, STATE[s.state] ?? s.state, s.addresses.join(',') || (s.requested ? `(asks ${s.requested})` : '-'), s.pool ?? s.requestedPool ?? '-', announcedBy(s.announcements)]),
      ),
    );
  const why = r.services.filter((s) => s.reason && s.state !== 'announced');
  if (why.length) {
    out.push('', 'WHY NOT ANNOUNCED');
    for (const s of why) out.push(`  ${s.namespace}/${s.name}: ${s.reason}${s.reasonTime ? ` (${s.reasonTime})` : ''}`);
  }
  if (!opts.servicesOnly) {
    out.push('', 'POOLS');
    if (!r.pools.length) out.push('  (no IPPool)');
    else
      out.push(
        table(
          ['NAME', 'ADDRESSES', 'IPV4 USED/FREE', 'IPV6 USED/FREE', 'AUTO', 'EXHAUSTED'],
          r.pools.map((p) => [
            p.name,
            p.addresses.join(','),
            p.assignedIPv4 === undefined ? '-' : `${p.assignedIPv4}/${p.availableIPv4 ?? '?'}`,
            p.assignedIPv6 === undefined ? '-' : `${p.assignedIPv6}/${p.availableIPv6Exact ?? p.availableIPv6 ?? '?'}`,
            p.autoAssign ? 'yes' : 'no',
            p.exhausted ? 'YES' : 'no',
          ]),
        ),
      );
    out.push('', 'BGP SESSIONS');
    if (!r.sessions.length) out.push('  (no BGP session reported)');
    else
      out.push(
        table(
          ['PEER', 'ADDRESS', 'NODE', 'STATE', 'BFD', 'PREFIXES', 'SINCE', 'LAST ERROR'],
          r.sessions.map((s) => [s.peer, s.peerAddress ?? '-', s.node, s.state, s.bfdState ?? '-', s.advertisedPrefixes === undefined ? '-' : String(s.advertisedPrefixes), s.since ?? '-', s.lastError ?? '']),
        ),
      );
    out.push('', 'CONFIGURATION');
    out.push(r.leader ? `  controller leader: ${r.leader.identity}${r.leader.renewTime ? ` (renewed ${r.leader.renewTime})` : ''}` : '  controller leader: none (leader election off, or no controller running)');
    if (!r.components.length) out.push('  (no component has reported; are the controller and speakers running?)');
    else out.push(table(['COMPONENT', 'VALID', 'MESSAGE'], r.components.map((c) => [c.component, c.valid ? 'yes' : 'NO', c.valid ? (c.message ?? '') : c.errors.slice(0, 5).join('; ') || (c.message ?? '')])));
  }
  if (r.warnings.length) {
    out.push('', 'WARNINGS');
    for (const w of r.warnings) out.push(`  ${w}`);
  }
  return `${out.join('\n')}\n`;
}
