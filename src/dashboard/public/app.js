// The dashboard page: renders the state the server pushes over server-sent events (/events).
// Preact (3 kB) diffs each new state into the page, so tables update in place without losing
// scroll or focus; htm gives JSX-like templates without a build step.
import { h, render } from 'preact';
import htm from 'htm';

const html = htm.bind(h);
const root = document.getElementById('app');
let connected = false;
let busy = '';
let lastError = '';
let current;

const fmtTime = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false }) + '.' + String(ms % 1000).padStart(3, '0');
const secs = (ms) => (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';

function announcedBy(list) {
  if (!list || !list.length) return '-';
  const seen = new Map();
  for (const a of list) {
    const k = a.node + ' ' + a.mode;
    if (!seen.has(k)) seen.set(k, { node: a.node, mode: a.mode, d: new Set() });
    for (const x of (a.mode === 'layer2' ? a.interfaces : a.peers) || []) seen.get(k).d.add(x);
  }
  return [...seen.values()].map((e) => `${e.node} (${e.mode === 'layer2' ? 'L2' : 'BGP'}${e.d.size ? ' ' + [...e.d].join(',') : ''})`).join(', ');
}

async function labAction(action, node) {
  busy = `${action} ${node}`;
  lastError = '';
  draw();
  try {
    const r = await fetch(`/api/lab/${action}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-ironlb-dashboard': '1' }, body: JSON.stringify({ node }) });
    if (!r.ok) lastError = await r.text();
  } catch (e) {
    lastError = String(e);
  }
  busy = '';
  draw();
}

function Services({ r }) {
  return html`<section data-testid="services"><h2>Services</h2>
    <table><thead><tr><th>Service</th><th>State</th><th>Addresses</th><th>Pool</th><th>Announced by</th></tr></thead><tbody>
    ${r.services.map((s) => html`<tr key=${s.namespace + '/' + s.name} data-service=${s.namespace + '/' + s.name}>
      <td>${s.namespace}/${s.name}</td>
      <td class=${s.state === 'announced' ? 'ok' : s.state === 'other-class' ? 'muted' : 'bad'}>${s.state}</td>
      <td>${s.addresses.join(', ') || '-'}</td><td>${s.pool || s.requestedPool || '-'}</td>
      <td class="announcers">${announcedBy(s.announcements)}${s.reason && s.state !== 'announced' ? html`<div class="muted">${s.reason}</div>` : ''}</td></tr>`)}
    </tbody></table></section>`;
}

function Pools({ r }) {
  const fam = (used, free) => {
    if (used === undefined) return '-';
    const total = used + (free || 0);
    const pct = total ? Math.round((100 * used) / total) : 0;
    return html`<span class=${'bar' + (total && !free ? ' full' : '')}><span style=${'width:' + pct + '%'}></span></span> ${used}/${total}`;
  };
  return html`<section data-testid="pools"><h2>Address pools</h2>
    <table><thead><tr><th>Pool</th><th>Addresses</th><th>IPv4 used</th><th>IPv6 used</th><th></th></tr></thead><tbody>
    ${r.pools.map((p) => html`<tr key=${p.name}><td>${p.name}</td><td>${p.addresses.join(', ')}</td><td>${fam(p.assignedIPv4, p.availableIPv4)}</td><td>${fam(p.assignedIPv6, p.availableIPv6)}</td><td class=${p.exhausted ? 'bad' : 'muted'}>${p.exhausted ? 'exhausted' : p.autoAssign ? '' : 'manual'}</td></tr>`)}
    </tbody></table></section>`;
}

function Sessions({ r }) {
  return html`<section data-testid="sessions"><h2>BGP sessions and BFD</h2>
    ${r.sessions.length ? '' : html`<p class="muted">no BGP session reported</p>`}
    <table><thead><tr><th>Node</th><th>Peer</th><th>State</th><th>BFD</th><th>Prefixes</th><th>Since</th><th>Last error</th></tr></thead><tbody>
    ${r.sessions.map((s) => html`<tr key=${s.node + s.peer}><td>${s.node}</td><td>${s.peer} <span class="muted">${s.peerAddress || ''}</span></td>
      <td class=${s.state === 'Established' ? 'ok' : 'bad'}>${s.state}</td><td class=${!s.bfdState ? 'muted' : s.bfdState === 'Up' ? 'ok' : 'bad'}>${s.bfdState || '-'}</td>
      <td>${s.advertisedPrefixes ?? '-'}</td><td class="muted">${s.since ? new Date(s.since).toLocaleTimeString([], { hour12: false }) : '-'}</td><td class="muted">${s.lastError || ''}</td></tr>`)}
    </tbody></table></section>`;
}

function Nodes({ st }) {
  const lab = st.lab;
  return html`<section data-testid="nodes"><h2>Nodes: membership and quorum as each speaker sees it</h2>
    <table><thead><tr><th>Node</th><th>Ready</th><th>Members (its view)</th><th>L2 quorum</th><th>Announces</th><th>BFD</th>${lab ? html`<th>Lab</th>` : ''}</tr></thead><tbody>
    ${st.nodes.map((n) => {
      const v = n.speaker;
      const members = v && !v.error ? Object.entries(v.members || {}).filter(([, c]) => c).map(([s, c]) => `${c} ${s}`).join(', ') || (v.membersAlive !== undefined ? `${v.membersAlive} alive` : '-') : v && v.error ? html`<span class="muted" title=${v.error}>unreachable</span>` : '-';
      const ann = v && v.announced ? Object.entries(v.announced).map(([m, c]) => `${c} ${m}`).join(', ') : '-';
      const bfd = v && v.bfd && Object.keys(v.bfd).length ? Object.entries(v.bfd).map(([s, c]) => `${c} ${s}`).join(', ') : '-';
      const down = n.lab && (n.lab.stopped || n.lab.cut);
      return html`<tr key=${n.name} data-node=${n.name}><td>${n.name} <span class="muted">${n.addresses.join(', ')}</span></td>
        <td class=${n.ready ? 'ok' : 'bad'}>${n.ready ? 'Ready' : 'NotReady'}</td><td>${members}</td>
        <td class=${!v || v.l2Quorum === undefined ? 'muted' : v.l2Quorum ? 'ok' : 'bad'}>${!v || v.l2Quorum === undefined ? '-' : v.l2Quorum ? 'yes' : 'NO'}</td>
        <td>${ann}</td><td>${bfd}</td>
        ${lab ? html`<td>${n.lab && n.lab.stopped ? html`<span class="bad">stopped</span> ` : n.lab && n.lab.cut ? html`<span class="warn">cut</span> ` : ''}${lab.actions.filter((a) => (a.effect === 'down') !== Boolean(down)).map((a) => html`<button data-action=${a.id} data-node=${n.name} disabled=${Boolean(busy)} onClick=${() => labAction(a.id, n.name)}>${a.label}</button>`)}</td>` : ''}</tr>`;
    })}
    </tbody></table>
    ${busy ? html`<p class="warn">running: ${busy}…</p>` : ''}${lastError ? html`<p class="bad">${lastError}</p>` : ''}</section>`;
}

function Timeline({ st }) {
  return html`<section data-testid="timeline"><h2>Timeline: ownership changes and failovers</h2>
    ${st.timeline.length ? '' : html`<p class="muted">nothing has changed since the page's server started</p>`}
    <div class="tl"><table><thead><tr><th>Time</th><th>What</th><th>Duration</th></tr></thead><tbody>
    ${st.timeline.map((e, i) => html`<tr key=${e.time + ':' + i} class="entry" data-kind=${e.kind}><td class="muted">${fmtTime(e.time)}</td><td class=${'kind-' + e.kind}>${e.text}</td><td>${e.durationMs !== undefined ? secs(e.durationMs) : ''}</td></tr>`)}
    </tbody></table></div></section>`;
}

function App({ st }) {
  const r = st.report;
  if (!r) return html`<p>waiting for the first lists from the API server…</p>`;
  const invalid = r.components.filter((c) => !c.valid);
  return html`<header><h1>ironlb${st.lab ? ' · ' + st.lab.name : ''}</h1>
      <span class=${connected ? 'live' : 'stale'}>${connected ? 'live' : 'reconnecting…'}</span>
      <span class="meta">controller leader: ${r.leader ? r.leader.identity : 'none (leader election off, or no controller)'}</span>
      <span class="meta">configuration: ${invalid.length ? html`<span class="stale">rejected by ${invalid.map((c) => c.component).join(', ')}</span>` : r.components.length ? 'valid' : 'not reported'}</span>
      <span class="meta">updated ${fmtTime(st.time)}</span></header>
    ${r.warnings.length ? html`<section class="warnings" style="margin:14px 14px 0">${r.warnings.map((w) => html`<div>${w}</div>`)}</section>` : ''}
    <div class="grid"><${Services} r=${r} /><${Nodes} st=${st} /><${Timeline} st=${st} /><${Pools} r=${r} /><${Sessions} r=${r} /></div>`;
}

let first = true;
function draw() {
  if (!current) return;
  // The static "connecting…" placeholder is not Preact's: clear it once, then Preact diffs.
  if (first) root.textContent = '';
  first = false;
  render(html`<${App} st=${current} />`, root);
}

const es = new EventSource('/events');
es.addEventListener('state', (ev) => {
  connected = true;
  current = JSON.parse(ev.data);
  draw();
});
es.onerror = () => {
  connected = false;
  draw();
};
