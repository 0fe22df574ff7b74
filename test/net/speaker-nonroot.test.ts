// The speaker's privileged operations as an unprivileged user (uid 65534) in a network namespace:
// ARP answers from AF_PACKET raw sockets (the addon) and a BGP listener on port 179, with exactly
// NET_RAW and NET_BIND_SERVICE and nothing else (bounding set too), under no_new_privs as
// allowPrivilegeEscalation: false sets it. Without the capabilities both are refused, so the
// capabilities, not the uid, are what makes them work. Then the same through ironlb-caps, the
// launcher the image gives file capabilities (Kubernetes never fills the ambient set itself).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Netns, sh, veth } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';
import { ROOT } from '../../testbed/tools.ts';

const NODE = process.execPath;
// The speaker's Announcer, run by hand (the test bench's tool): what it may do depends only on
// the capabilities it gets, which is what these tests are about.
const ANNOUNCE = join(ROOT, 'testbed/tools/layer2-announce.ts');
const CAPS = 'net_raw,net_bind_service';
// The image's launcher (Dockerfile): also SYS_NICE, for the owner watch's real-time heartbeat thread.
const FILE_CAPS = 'cap_net_raw,cap_net_bind_service,cap_sys_nice=+p';
const BOUNDING = ['--bounding-set=-all,+net_raw,+net_bind_service'];
const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups', '--no-new-privs'];
const withAmbient = [...asNobody, ...BOUNDING, `--inh-caps=-all,+${CAPS.replace(',', ',+')}`, `--ambient-caps=-all,+${CAPS.replace(',', ',+')}`];
const withoutCaps = [...asNobody, ...BOUNDING, '--inh-caps=-all'];

// Listens for BGP with the project's engine (the addon's sockets) and prints what happened.
const BGP_PROBE = `
import { BgpEngine } from ${JSON.stringify(join(ROOT, 'src/bgp/index.ts'))};
const e = new BgpEngine({ listen: { address: '0.0.0.0', port: 179 } });
e.ready().then(() => console.log(JSON.stringify({ listening: e.port })), (err) => { console.log(JSON.stringify({ error: err.message })); process.exit(1); });
`;

async function lines(child: ChildProcess, want: RegExp, what: string): Promise<string> {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitFor(() => want.test(out) || undefined, { what, timeoutMs: 20_000 });
  } catch (err) {
    throw new Error(`${(err as Error).message}; output: ${out.slice(-800)}`);
  }
  return out;
}

async function pair(): Promise<{ a: Netns; b: Netns }> {
  const a = await Netns.create('ilbp');
  const b = await Netns.create('ilbp');
  await veth(a, 'eth0', b, 'eth0');
  await a.ip('addr', 'add', '10.99.0.1/24', 'dev', 'eth0');
  await b.ip('addr', 'add', '10.99.0.2/24', 'dev', 'eth0');
  return { a, b };
}

async function arpAnswered(b: Netns, ip: string): Promise<boolean> {
  try {
    await b.exec('arping', ['-c', '1', '-w', '2', '-I', 'eth0', ip], 5000);
    return true;
  } catch {
    return false;
  }
}

test('non-root with ambient NET_RAW + NET_BIND_SERVICE only: ARP answered from raw sockets, BGP listens on 179; without them both refused', async () => {
  const { a, b } = await pair();
  try {
    // Refused without the capabilities (same uid, same no_new_privs).
    const bare = a.spawn('setpriv', [...withoutCaps, NODE, ANNOUNCE, '10.99.0.10', '-i', 'eth0']);
    const bareOut = await lines(bare, /EPERM|not permitted|error/i, 'announce without NET_RAW fails');
    assert.match(bareOut, /EPERM|Operation not permitted/, bareOut.slice(-400));
    assert.equal(await arpAnswered(b, '10.99.0.10'), false, 'nobody answers without NET_RAW');
    bare.kill('SIGKILL');
    const bareBgp = a.spawn('setpriv', [...withoutCaps, NODE, '--input-type=module', '-e', BGP_PROBE]);
    assert.match(await lines(bareBgp, /"error"/, 'BGP listen without NET_BIND_SERVICE fails'), /EACCES|permission denied/i);

    // With exactly the two capabilities in the ambient set.
    const l2 = a.spawn('setpriv', [...withAmbient, NODE, ANNOUNCE, '10.99.0.11', '-i', 'eth0']);
    await lines(l2, /"event":"acquired"/, 'announce as uid 65534 acquires 10.99.0.11');
    await waitFor(() => arpAnswered(b, '10.99.0.11').then((ok) => ok || undefined), { what: 'ARP reply for 10.99.0.11 from the non-root announcer', timeoutMs: 15_000 });
    const bgp = a.spawn('setpriv', [...withAmbient, NODE, '--input-type=module', '-e', BGP_PROBE]);
    assert.match(await lines(bgp, /"listening"|"error"/, 'BGP listener as uid 65534'), /"listening":179/);
    // The port is really open to the peer.
    await b.exec('bash', ['-c', 'exec 3<>/dev/tcp/10.99.0.1/179'], 5000);
  } finally {
    await a.destroy();
    await b.destroy();
  }
});

test('ironlb-caps (file capabilities +p, as in the image) gives a non-root node exactly the capabilities the bounding set allows, under no_new_privs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ilbcaps-'));
  chmodSync(dir, 0o755);
  const { a, b } = await pair();
  try {
    const launcher = join(dir, 'ironlb-caps');
    await sh('cc', ['-O2', '-Wall', '-Werror', '-o', launcher, join(ROOT, 'src/native/ironlb-caps.c')]);
    // As the Dockerfile does: permitted only, no effective bit.
    await sh('setcap', [FILE_CAPS, launcher]);
    // The container's view: uid 65534, bounding set = what the Pod adds, nothing inherited, no_new_privs.
    const caps = async (bounding: string): Promise<string> =>
      a.exec('setpriv', [...asNobody, `--bounding-set=-all${bounding}`, '--inh-caps=-all', launcher, NODE, '-e', "process.stdout.write(require('fs').readFileSync('/proc/self/status','utf8').split('\\n').filter((l)=>/^(Uid|CapEff|CapAmb|NoNewPrivs)/.test(l)).join(';'))"]);
    const both = await caps(',+net_raw,+net_bind_service');
    assert.match(both, /Uid:\s+65534/);
    assert.match(both, /CapEff:\s+0000000000002400/, `NET_RAW (13) and NET_BIND_SERVICE (10) effective: ${both}`);
    assert.match(both, /NoNewPrivs:\s+1/);
    // A Pod that adds only NET_RAW (BGP off, or a port above 1024) gets only NET_RAW, and still starts.
    assert.match(await caps(',+net_raw'), /CapEff:\s+0000000000002000/);
    assert.match(await caps(''), /CapEff:\s+0000000000000000/);

    const l2 = a.spawn('setpriv', [...asNobody, ...BOUNDING, '--inh-caps=-all', launcher, NODE, ANNOUNCE, '10.99.0.12', '-i', 'eth0']);
    await lines(l2, /"event":"acquired"/, 'announce through ironlb-caps acquires 10.99.0.12');
    await waitFor(() => arpAnswered(b, '10.99.0.12').then((ok) => ok || undefined), { what: 'ARP reply for 10.99.0.12 through ironlb-caps', timeoutMs: 15_000 });
  } finally {
    await a.destroy();
    await b.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

// The owner watch's heartbeat thread (src/native/ironlb_watch.c) as the image runs it: non-root
// through ironlb-caps. With SYS_NICE in the Pod's capabilities it runs at SCHED_FIFO; without, the
// speaker still runs, the thread keeps the process's priority, and what was refused is reported.
const WATCH_PROBE = `
import { WatchWire } from ${JSON.stringify(join(ROOT, 'src/native/index.ts'))};
const w = WatchWire.open({ family: 4, address: '127.0.0.1', port: 0, self: 'n0', intervalMs: 20, realtimePriority: 10, nice: -10 });
console.log(JSON.stringify(w.info()));
w.close();
`;

test('ironlb-caps with SYS_NICE: the owner-watch heartbeat thread of a non-root speaker runs at SCHED_FIFO; without it, at the process\'s priority with the refusal reported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ilbcaps-'));
  chmodSync(dir, 0o755);
  const a = await Netns.create('ilbp');
  try {
    const launcher = join(dir, 'ironlb-caps');
    await sh('cc', ['-O2', '-Wall', '-Werror', '-o', launcher, join(ROOT, 'src/native/ironlb-caps.c')]);
    await sh('setcap', [FILE_CAPS, launcher]);
    await a.ip('link', 'set', 'lo', 'up');
    const probe = async (bounding: string): Promise<{ scheduling: string; errors: string[] }> => {
      const out = await a.exec('setpriv', [...asNobody, `--bounding-set=-all${bounding}`, '--inh-caps=-all', launcher, NODE, '--input-type=module', '-e', WATCH_PROBE]);
      return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { scheduling: string; errors: string[] };
    };
    const granted = await probe(',+net_raw,+sys_nice');
    assert.equal(granted.scheduling, 'realtime', JSON.stringify(granted));
    assert.deepEqual(granted.errors, []);
    const refused = await probe(',+net_raw');
    assert.equal(refused.scheduling, 'inherited', JSON.stringify(refused));
    assert.match(refused.errors.join('; '), /SCHED_FIFO 10: Operation not permitted/);
    assert.match(refused.errors.join('; '), /nice -10: Permission denied/);
  } finally {
    await a.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
