// BFD peers for tests, each inside a network namespace the test created: FRR bfdd, BIRD (BFD and
// BGP with `bfd on`), ExaBGP as a route sender, the test bench's BFD tool (testbed/tools/bfd.ts) as a child process, and a
// tcpdump capture decoded with ironlb's own codec (to time the peer's Down on the wire).
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type ControlPacket, decodeControl } from '../../src/bfd/packet.ts';
import { type Netns, sh } from './netns.ts';
import { waitFor } from './wait.ts';

const CLI = new URL('../../testbed/tools/bfd.ts', import.meta.url).pathname;

async function tempDir(tag: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `ilbf-${tag}-`));
  // FRR drops to user frr: its sockets and pid file go here.
  await chmod(d, 0o777);
  return d;
}

function collect(child: ChildProcess): () => string {
  let text = '';
  child.stdout?.on('data', (d: Buffer) => { if (text.length < 200_000) text += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { if (text.length < 200_000) text += d.toString(); });
  return () => text;
}

// ------------------------------------------------------------------------------------ FRR bfdd

export interface FrrPeerConfig {
  peer: string;
  local: string;
  receiveInterval?: number;
  transmitInterval?: number;
  detectMultiplier?: number;
  multihop?: boolean;
  passive?: boolean;
  minimumTtl?: number;
}

/** One row of `show bfd peers json` (the fields tests use). */
export interface FrrBfdPeer {
  peer: string;
  multihop: boolean;
  status: string;
  diagnostic: string;
  'remote-diagnostic': string;
  'remote-transmit-interval': number;
  'remote-receive-interval': number;
  'remote-detect-multiplier': number;
  'transmit-interval': number;
  'receive-interval': number;
  uptime?: number;
  downtime?: number;
  id: number;
  'remote-id': number;
}

export interface FrrBfdd {
  dir: string;
  peers(): Promise<FrrBfdPeer[]>;
  peer(address: string): Promise<FrrBfdPeer | undefined>;
  vtysh(...cmds: string[]): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

export async function startFrrBfdd(ns: Netns, peers: FrrPeerConfig[]): Promise<FrrBfdd> {
  const dir = await tempDir('frr');
  const lines = ['bfd'];
  for (const p of peers) {
    lines.push(` peer ${p.peer}${p.multihop ? ' multihop' : ''} local-address ${p.local}`);
    if (p.receiveInterval) lines.push(`  receive-interval ${p.receiveInterval}`);
    if (p.transmitInterval) lines.push(`  transmit-interval ${p.transmitInterval}`);
    if (p.detectMultiplier) lines.push(`  detect-multiplier ${p.detectMultiplier}`);
    if (p.passive) lines.push('  passive-mode');
    if (p.minimumTtl) lines.push(`  minimum-ttl ${p.minimumTtl}`);
    lines.push(' !');
  }
  lines.push('!');
  await writeFile(join(dir, 'bfdd.conf'), `${lines.join('\n')}\n`);
  const child = ns.spawn('/usr/lib/frr/bfdd', ['-f', join(dir, 'bfdd.conf'), '-i', join(dir, 'bfdd.pid'), '--vty_socket', dir,
    '--bfdctl', join(dir, 'bfdd.sock'), '-z', join(dir, 'zserv'), '-P', '0', '--log', 'stdout']);
  const log = collect(child);
  const vtysh = (...cmds: string[]): Promise<string> => sh('vtysh', ['--vty_socket', dir, '-d', 'bfdd', ...cmds.flatMap((c) => ['-c', c])], 10_000);
  const peersFn = async (): Promise<FrrBfdPeer[]> => JSON.parse(await vtysh('show bfd peers json')) as FrrBfdPeer[];
  try {
    await waitFor(() => peersFn().then((l) => l.length === peers.length), { what: 'FRR bfdd up', timeoutMs: 30_000, intervalMs: 100 });
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}; bfdd log: ${log()}`);
  }
  return {
    dir,
    peers: peersFn,
    peer: async (a) => (await peersFn()).find((p) => p.peer === a),
    vtysh,
    log,
    async stop() {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ----------------------------------------------------------------------------------------- BIRD

export interface BirdBfdSession {
  address: string;
  iface: string;
  state: string;
  interval: number;
  timeout: number;
}

export interface Bird {
  dir: string;
  cmd(c: string): Promise<string>;
  bfdSessions(): Promise<BirdBfdSession[]>;
  /** Prefixes in the master4 table. */
  routes(): Promise<string[]>;
  log(): Promise<string>;
  stop(): Promise<void>;
}

export async function startBird(ns: Netns, config: string): Promise<Bird> {
  const dir = await tempDir('bird');
  const conf = join(dir, 'bird.conf');
  const ctl = join(dir, 'bird.ctl');
  await writeFile(conf, `log "${join(dir, 'bird.log')}" all;\ntimeformat log "%T.%3f";\n${config}`);
  const child = ns.spawn('bird', ['-f', '-c', conf, '-s', ctl, '-P', join(dir, 'bird.pid')]);
  const out = collect(child);
  const cmd = (c: string): Promise<string> => sh('birdc', ['-s', ctl, ...c.split(' ')], 10_000);
  try {
    await waitFor(() => cmd('show status').then((s) => s.includes('Daemon is up')), { what: 'BIRD up', timeoutMs: 30_000, intervalMs: 100 });
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}; bird output: ${out()}`);
  }
  return {
    dir,
    cmd,
    async bfdSessions() {
      const text = await cmd('show bfd sessions');
      const rows: BirdBfdSession[] = [];
      for (const line of text.split('\n')) {
        const m = /^(\S+)\s+(\S+)\s+(AdminDown|Down|Init|Up)\s+\S+\s+([\d.]+)\s+([\d.]+)/.exec(line.trim());
        if (m) rows.push({ address: m[1]!, iface: m[2]!, state: m[3]!, interval: Number(m[4]), timeout: Number(m[5]) });
      }
      return rows;
    },
    async routes() {
      const text = await cmd('show route');
      return [...text.matchAll(/^(\d+\.\d+\.\d+\.\d+\/\d+)/gm)].map((m) => m[1]!);
    },
    log: () => readFile(join(dir, 'bird.log'), 'utf8').catch(() => ''),
    async stop() {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// --------------------------------------------------------------------------------------- ExaBGP

export interface ExabgpOptions {
  local: string;
  peer: string;
  localAs: number;
  peerAs: number;
  routes: string[];
}

/** An ExaBGP speaker announcing static routes (next hop = `local`). */
export async function startExabgp(ns: Netns, o: ExabgpOptions): Promise<{ stop(): Promise<void>; log(): string }> {
  const dir = await tempDir('exabgp');
  const conf = join(dir, 'exabgp.conf');
  await writeFile(conf, `neighbor ${o.peer} {\n  router-id ${o.local};\n  local-address ${o.local};\n  local-as ${o.localAs};\n  peer-as ${o.peerAs};\n` +
    `  static {\n${o.routes.map((r) => `    route ${r} next-hop ${o.local};\n`).join('')}  }\n}\n`);
  const child = ns.spawn('env', ['exabgp.daemon.user=root', `exabgp.tcp.bind=${o.local}`, 'exabgp.tcp.port=179', 'exabgp.api.cli=false',
    'exabgp.log.destination=stdout', 'exabgp', '--root', dir, conf], { cwd: dir });
  const log = collect(child);
  return {
    log,
    async stop() {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------------------- BFD tool (testbed/tools/bfd.ts)

export interface IronlbStateEvent {
  event: 'state';
  t: number;
  key: string;
  state: string;
  previous: string;
  diagnostic: string;
  detectedAfterMs?: number;
}

export interface IronlbBfd {
  events: IronlbStateEvent[];
  state(): string | undefined;
  send(cmd: object): void;
  snapshot(): Promise<Record<string, unknown>>;
  output(): string;
  kill(): void;
  child: ChildProcess;
}

/** Runs `node testbed/tools/bfd.ts run ARGS` in the namespace (a child process: it can be killed like a dead host). */
export async function startIronlbBfd(ns: Netns, args: string[]): Promise<IronlbBfd> {
  const child = ns.spawn(process.execPath, [CLI, 'run', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, IRONLB_LOG_LEVEL: 'warn' } });
  const events: IronlbStateEvent[] = [];
  const snapshots: Record<string, unknown>[] = [];
  let text = '';
  let ready = false;
  child.stderr?.on('data', (d: Buffer) => { if (text.length < 100_000) text += d.toString(); });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (text.length < 100_000) text += `${line}\n`;
    try {
      const m = JSON.parse(line) as { event?: string; sessions?: Record<string, unknown>[] };
      if (m.event === 'state') events.push(m as IronlbStateEvent);
      if (m.event === 'ready') ready = true;
      if (m.event === 'snapshot' && m.sessions?.[0]) snapshots.push(m.sessions[0]);
    } catch { /* a log line */ }
  });
  await waitFor(() => ready || child.exitCode !== null && Promise.reject(new Error(text)), { what: 'ironlb bfd ready', timeoutMs: 30_000 });
  const send = (cmd: object): void => { child.stdin?.write(`${JSON.stringify(cmd)}\n`); };
  return {
    events,
    child,
    state: () => events.at(-1)?.state,
    send,
    async snapshot() {
      const n = snapshots.length;
      send({ op: 'snapshot' });
      return waitFor(() => snapshots.length > n && snapshots[snapshots.length - 1], { what: 'ironlb bfd snapshot', timeoutMs: 5000, intervalMs: 20 });
    },
    output: () => text,
    kill: () => { child.kill('SIGKILL'); },
  };
}

// ------------------------------------------------------------------------------------ capture

export interface CapturedBfd {
  /** Capture time, epoch seconds (tcpdump's own timestamp). */
  t: number;
  src: string;
  dst: string;
  pkt: ControlPacket;
}

/**
 * tcpdump on `iface` inside `ns` for BFD control packets (UDP 3784/4784), decoded with ironlb's
 * codec. Kernel timestamps, so timing on the wire is not skewed by polling a daemon.
 */
export async function captureBfd(ns: Netns, iface: string): Promise<{ packets: CapturedBfd[]; stop(): Promise<void> }> {
  const child = ns.spawn('tcpdump', ['-i', iface, '-n', '-tt', '-l', '-x', '-U', 'udp port 3784 or udp port 4784']);
  const packets: CapturedBfd[] = [];
  let started = false;
  let cur: { t: number; hex: string } | undefined;
  const flush = (): void => {
    if (!cur) return;
    const c = cur;
    const ip = Buffer.from(c.hex, 'hex');
    cur = undefined;
    if (ip.length < 28 || ip[0]! >> 4 !== 4) return;
    const ihl = (ip[0]! & 0xf) * 4;
    try {
      packets.push({ t: c.t, src: [...ip.subarray(12, 16)].join('.'), dst: [...ip.subarray(16, 20)].join('.'), pkt: decodeControl(ip.subarray(ihl + 8)) });
    } catch { /* not a valid control packet */ }
  };
  child.stderr?.on('data', (d: Buffer) => { if (d.toString().includes('listening on')) started = true; });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const h = /^\s+0x[0-9a-f]+:\s+((?:[0-9a-f]{2,4}\s?)+)/.exec(line);
    if (h && cur) { cur.hex += h[1]!.replace(/\s+/g, ''); return; }
    flush();
    const m = /^(\d+\.\d+) IP /.exec(line);
    if (m) cur = { t: Number(m[1]), hex: '' };
  });
  await waitFor(() => started, { what: 'tcpdump listening', timeoutMs: 10_000 });
  return {
    packets,
    async stop() {
      child.kill('SIGTERM');
      flush();
    },
  };
}

// ----------------------------------------------------------------------------------- topology

export interface BfdLab {
  node: Netns;
  sw: Netns;
  rtr: Netns;
  nodeIp: string;
  rtrIp: string;
  nodeIp6: string;
  rtrIp6: string;
  /** The switch port facing the node: setting it down is the dead-host emulation. */
  nodePort: string;
  /** The switch port facing the router: capture here to see both directions. */
  rtrPort: string;
  /** Cuts the node off the switch; the router keeps carrier (as with a dead host behind a switch). */
  cutNode(): Promise<void>;
}

/** node — sw (bridge) — rtr, with 10.0.0.1/24 + fd00::1/64 on node and .2 / ::2 on rtr. */
export async function bfdLab([node, sw, rtr]: Netns[]): Promise<BfdLab> {
  if (!node || !sw || !rtr) throw new Error('bfdLab needs three namespaces');
  const { bridge } = await import('./netns.ts');
  const plug = await bridge(sw);
  await plug(node, 'eth0', 'pnode');
  await plug(rtr, 'eth0', 'prtr');
  await node.ip('addr', 'add', '10.0.0.1/24', 'dev', 'eth0');
  await rtr.ip('addr', 'add', '10.0.0.2/24', 'dev', 'eth0');
  await node.ip('addr', 'add', 'fd00::1/64', 'dev', 'eth0', 'nodad');
  await rtr.ip('addr', 'add', 'fd00::2/64', 'dev', 'eth0', 'nodad');
  return {
    node, sw, rtr, nodeIp: '10.0.0.1', rtrIp: '10.0.0.2', nodeIp6: 'fd00::1', rtrIp6: 'fd00::2', nodePort: 'pnode', rtrPort: 'prtr',
    cutNode: async () => { await sw.ip('link', 'set', 'pnode', 'down'); },
  };
}

/**
 * Time from the last packet `from` sent to the first packet of `to` saying Down with a diagnostic
 * of detection-time expiry: the peer's detection latency as seen on the wire, ms.
 */
export function wireDetectionMs(packets: CapturedBfd[], from: string, to: string): number | undefined {
  const down = packets.find((p) => p.src === to && p.pkt.state === 'Down' && p.pkt.diagnostic === 1);
  if (!down) return undefined;
  const last = packets.filter((p) => p.src === from && p.t <= down.t).at(-1);
  return last ? (down.t - last.t) * 1000 : undefined;
}

// ------------------------------------------------------------- ironlb node: BGP engine + BFD

export interface BgpNodeConfig {
  listen: { address: string; port: number };
  routerId: string;
  peer: import('../../src/bgp/index.ts').PeerConfig;
  routes: string[];
  bfd: import('../../src/bfd/index.ts').BfdSessionSpec;
}

export interface BgpNodeEvent {
  event: 'bgp' | 'bfd' | 'ready';
  /** ms since the child started (one clock for both kinds of event). */
  t: number;
  state?: string;
  previous?: string;
  diagnostic?: string;
  reason?: string;
  /** bfd: ms from the worker's decision to the main thread's handler. */
  lagMs?: number;
}

/**
 * Runs, in `ns`, a child process with a BgpEngine and a BfdManager wired as the speaker wires them
 * (a BFD Down resets the BGP session at once). Events arrive as JSON lines.
 */
export async function startBgpNode(ns: Netns, cfg: BgpNodeConfig): Promise<{ events: BgpNodeEvent[]; kill(): void; output(): string }> {
  const child = ns.spawn(process.execPath, [new URL(import.meta.url).pathname, 'bgp-node', JSON.stringify(cfg)], { env: { ...process.env, IRONLB_LOG_LEVEL: 'warn' } });
  const events: BgpNodeEvent[] = [];
  let text = '';
  child.stderr?.on('data', (d: Buffer) => { if (text.length < 100_000) text += d.toString(); });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (text.length < 100_000) text += `${line}\n`;
    try { events.push(JSON.parse(line) as BgpNodeEvent); } catch { /* log line */ }
  });
  await waitFor(() => events.some((e) => e.event === 'ready') || (child.exitCode !== null && Promise.reject(new Error(text))), { what: 'ironlb node ready', timeoutMs: 30_000 });
  return { events, kill: () => { child.kill('SIGKILL'); }, output: () => text };
}

async function bgpNodeMain(cfg: BgpNodeConfig): Promise<void> {
  const { BgpEngine } = await import('../../src/bgp/index.ts');
  const { BfdManager } = await import('../../src/bfd/index.ts');
  const t0 = performance.now();
  const out = (o: Omit<BgpNodeEvent, 't'>): void => { process.stdout.write(`${JSON.stringify({ ...o, t: performance.now() - t0 })}\n`); };
  const engine = new BgpEngine({ routerId: cfg.routerId, listen: cfg.listen });
  engine.on('state', (e) => out({ event: 'bgp', state: e.state, previous: e.previous, ...(e.reason ? { reason: e.reason } : {}) }));
  await engine.ready();
  engine.addPeer(cfg.peer);
  for (const r of cfg.routes) engine.announce(cfg.peer.name, r);
  const bfd = new BfdManager();
  bfd.on('state', (e) => {
    const lagMs = e.at === undefined ? undefined : performance.timeOrigin + performance.now() - e.at;
    out({ event: 'bfd', state: e.state, previous: e.previous, diagnostic: e.diagnostic, ...(lagMs !== undefined ? { lagMs } : {}) });
    // The speaker's rule: BFD Down (from Up) takes the BGP session down at once.
    if (e.state === 'Down' && e.previous === 'Up') engine.resetPeer(cfg.peer.name, `BFD down: ${e.diagnostic}`);
  });
  await bfd.addSession(cfg.bfd);
  out({ event: 'ready' });
  process.stdin.on('end', () => process.exit(0));
}

if (process.argv[2] === 'bgp-node' && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await bgpNodeMain(JSON.parse(process.argv[3] ?? '{}') as BgpNodeConfig);
}
