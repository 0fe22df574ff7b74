// Network namespaces as test hosts. Every name starts with "ilb" so that scripts/cleanup-netns.ts
// can remove leftovers of a crashed run; each test area uses its own prefix (see docs/dev.md).
// Nothing here touches the root namespace's interfaces: veths and bridges live inside test namespaces.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { sh } from './shell.ts';

let counter = 0;

// One way to run a command and say what failed.
export { sh };

export class Netns {
  readonly name: string;
  private readonly children = new Set<ChildProcess>();

  private constructor(name: string) {
    this.name = name;
  }

  /**
   * Creates a namespace named `${prefix}${pid%1000}x${n}` with loopback up. Prefix must start with
   * "ilb" (removed by scripts/cleanup-netns.ts after a crash).
   */
  static async create(prefix: string): Promise<Netns> {
    if (!prefix.startsWith('ilb')) throw new Error(`namespace prefix must start with "ilb" (scripts/cleanup-netns.ts removes those after a crash), got "${prefix}"`);
    return Netns.named(`${prefix}${process.pid % 10000}x${counter++}`);
  }

  /**
   * Creates a namespace with exactly this name, loopback up (the lab: names that another process,
   * `lab down`, finds again). The name must start with "ilb" or "ilab".
   */
  static async named(name: string): Promise<Netns> {
    if (!/^il(b|ab)/.test(name)) throw new Error(`namespace names must start with "ilb" (tests; scripts/cleanup-netns.ts removes those after a crash) or "ilab" (ironlb lab up), got "${name}"`);
    await sh('ip', ['netns', 'add', name]);
    const ns = new Netns(name);
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** A namespace that exists already (made by `named`, maybe by another process). */
  static existing(name: string): Netns {
    return new Netns(name);
  }

  exec(cmd: string, args: string[], timeoutMs?: number): Promise<string> {
    return sh('ip', ['netns', 'exec', this.name, cmd, ...args], timeoutMs);
  }

  /** Runs `ip ARGS` inside the namespace. */
  ip(...args: string[]): Promise<string> {
    return this.exec('ip', args);
  }

  /** Starts a long-running process in the namespace; destroy() kills it. */
  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Kills every process in the namespace (including ones not started through spawn) and deletes it. */
  async destroy(): Promise<void> {
    for (const c of this.children) c.kill('SIGKILL');
    try {
      const pids = (await sh('ip', ['netns', 'pids', this.name])).split('\n').filter(Boolean);
      for (const p of pids) {
        try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ }
      }
    } catch { /* namespace may already be gone */ }
    try { await sh('ip', ['netns', 'del', this.name]); } catch { /* gone */ }
  }
}

/** A veth pair with one end in each namespace; both ends up. Interface names must be <= 15 chars. */
export async function veth(a: Netns, aIf: string, b: Netns, bIf: string): Promise<void> {
  await a.ip('link', 'add', aIf, 'type', 'veth', 'peer', 'name', bIf, 'netns', b.name);
  await a.ip('link', 'set', aIf, 'up');
  await b.ip('link', 'set', bIf, 'up');
}

/** A Linux bridge inside `sw`; returns a function that plugs a host into it with a new veth. */
export async function bridge(sw: Netns, brName = 'br0'): Promise<(host: Netns, hostIf: string, portIf: string) => Promise<void>> {
  await sw.ip('link', 'add', brName, 'type', 'bridge');
  // Forward at once (no STP listening/learning delay) and do not snoop multicast so NDP floods.
  await sw.ip('link', 'set', brName, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0', 'mcast_snooping', '0');
  await sw.ip('link', 'set', brName, 'up');
  return async (host, hostIf, portIf) => {
    await veth(sw, portIf, host, hostIf);
    await sw.ip('link', 'set', portIf, 'master', brName);
  };
}

/** Runs `fn` with namespaces that are always destroyed afterwards, also on failure. */
export async function withNamespaces<T>(prefix: string, count: number, fn: (ns: Netns[]) => Promise<T>): Promise<T> {
  const list: Netns[] = [];
  try {
    for (let i = 0; i < count; i++) list.push(await Netns.create(prefix));
    return await fn(list);
  } finally {
    await Promise.all(list.map((n) => n.destroy()));
  }
}

/**
 * The MAC that answers an ARP request (arping) or a Neighbor Solicitation (ndisc6) for `ip` from
 * `client`'s eth0 within `waitS` seconds, or null when nobody answers.
 */
export async function arpingMac(client: Netns, ip: string, waitS = 2): Promise<string | null> {
  return firstLine(client, 'arping', ['-c', '1', '-w', String(waitS), '-r', '-i', 'eth0', ip]);
}

export async function ndiscMac(client: Netns, ip: string, waitS = 2): Promise<string | null> {
  return firstLine(client, 'ndisc6', ['-q', '-1', '-r', String(waitS), '-w', '700', ip, 'eth0']);
}

async function firstLine(client: Netns, cmd: string, args: string[]): Promise<string | null> {
  try {
    const out = await client.exec(cmd, args, 10_000);
    return out.trim().split('\n')[0]?.trim().toLowerCase() || null;
  } catch {
    return null;
  }
}
