// Layer 2 failover with the owner watch (issue 16, item 1). Three `ironlb speaker` processes in
// namespaces on one bridge (test/support/speaker-cluster.ts), a client namespace opening a new TCP
// connection to the VIP every 20 ms (150 ms connect timeout) against a server bound on every node.
//
//   failover: each round finds the owner X, fails it (--failure kill: SIGKILL of its speaker, its
//     server keeps answering what still reaches it; link: its port on the switch goes down, a
//     power-off as the others see it), and measures from the failure to the first answer by
//     another node. Then X comes back and ownership settles before the next round.
//   soak: no failure; every node drops --loss % of the packets it receives (nftables, both
//     families, every protocol above Ethernet) for --soak-minutes; counts fast suspicions and
//     takeovers (there should be none: every speaker stays up).
//
// Usage: node bench/l2-fast-failover.ts [--rounds 20] [--failure kill|link] [--no-watch] [--client open|sequential]
//        node bench/l2-fast-failover.ts --soak-minutes 10 [--loss 5]      (root)
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { SpeakerCluster, type SpeakerNode } from '../test/support/speaker-cluster.ts';
import { waitFor } from '../test/support/wait.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    failure: { type: 'string', default: 'kill' },
    'no-watch': { type: 'boolean', default: false },
    'soak-minutes': { type: 'string', default: '0' },
    loss: { type: 'string', default: '5' },
    client: { type: 'string', default: 'open' },
    // Namespace prefix (test/support/netns.ts): a distinct one lets two runs share a host.
    prefix: { type: 'string', default: 'ilbl' },
  },
});
const rounds = Number(values.rounds);
const failure = values.failure === 'link' ? 'link' : 'kill';
const watch = !values['no-watch'];
const soakMin = Number(values['soak-minutes']);
const loss = Number(values.loss);
const openLoop = values.client !== 'sequential';
const VIP = '10.86.0.100';
const speakerArgs = watch ? [] : ['--no-owner-watch'];

const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? NaN;
  return `n=${s.length} min ${s[0]} p50 ${q(0.5)} p99 ${q(0.99)} max ${s[s.length - 1]} ms`;
}

async function owner(c: SpeakerCluster): Promise<SpeakerNode> {
  // Settled for 2 s: after X comes back ownership moves back to it, and a round started while it
  // moves measures a client still sent to the old owner (every node serves the VIP here).
  return c.settledL2Owner('s0', VIP, 60_000, 2000);
}

/**
 * A client starting a new TCP connection every intervalMs whatever happened to the earlier ones
 * (open loop; each gives up after timeoutMs, below the 1 s SYN retransmission, so an answer always
 * comes from where the first SYN went). The sequential client of test/support waits for each
 * connection to end first: during an outage it tries only every 150 + 20 ms, which quantises the
 * figure; the open-loop one resolves it to intervalMs.
 */
function openLoopClient(c: SpeakerCluster, ip: string, intervalMs: number, maxMs: number, timeoutMs = 150): { results: Array<{ t: number; node?: string; err?: string }>; stop: () => void } {
  if (!c.client) throw new Error('cluster has no client namespace');
  const code = `
const net=require('net');const end=Date.now()+${maxMs};
setInterval(()=>{if(Date.now()>end)process.exit(0);const t=Date.now();let done=false;let buf='';const s=net.connect({host:${JSON.stringify(ip)},port:8080});
const fin=(r)=>{if(done)return;done=true;s.destroy();process.stdout.write(JSON.stringify({t,...r})+'\\n');};
s.setTimeout(${timeoutMs},()=>fin({err:'timeout'}));s.on('data',(d)=>{buf+=d;if(buf.includes('\\n'))fin({node:buf.trim()});});s.on('error',(e)=>fin({err:e.code||e.message}));s.on('end',()=>fin(buf?{node:buf.trim()}:{err:'eof'}));},${intervalMs});`;
  const proc = c.client.spawn(process.execPath, ['-e', code]);
  const results: Array<{ t: number; node?: string; err?: string }> = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    try {
      const r = JSON.parse(l) as { t: number; node?: string; err?: string };
      // Kept in start order, so "the last 15" and "the first after t" mean what they say.
      let i = results.length;
      while (i > 0 && (results[i - 1] as { t: number }).t > r.t) i--;
      results.splice(i, 0, r);
    } catch { /* partial line at exit */ }
  });
  return { results, stop: () => proc.kill('SIGKILL') };
}

/** Time of a log line (pino's "time"), ms. */
const logTime = (l: string): number => Number(/"time":(\d+)/.exec(l)?.[1]);

/**
 * Where a round's time went, from the takers' logs since the marks: the failure (t) to the
 * watcher's suspicion, the suspicion to the takeover of VIP, the takeover to the client's first
 * answer through another node (`answeredAt`).
 */
function takeover(c: SpeakerCluster, o: SpeakerNode, marks: Map<string, number>, t: number, answeredAt: number): string {
  for (const n of c.nodes) {
    if (n === o) continue;
    const l = n.log.slice(marks.get(n.name)).find((x) => x.includes('took over address') && x.includes(`"${VIP}"`));
    if (!l) continue;
    // The watch's detection (silentMs) and the wait for the main thread (queuedMs).
    const s = n.log.slice(marks.get(n.name)).find((x) => x.includes('owner silent on the owner watch'));
    const took = logTime(l) - t;
    const detail = s
      ? `suspected at ${logTime(s) - t} ms (silentMs ${/"silentMs":(\d+)/.exec(s)?.[1]}, queuedMs ${/"queuedMs":(-?\d+)/.exec(s)?.[1]}), took over at ${took} ms`
      : `took over at ${took} ms`;
    return `${detail} by ${n.name} (${l.includes('"fast":true') ? 'owner watch' : 'membership'}), client answered ${answeredAt - t - took} ms after the takeover`;
  }
  return 'no takeover logged';
}

async function round(c: SpeakerCluster): Promise<number> {
  const o = await owner(c);
  const marks = new Map(c.nodes.map((n) => [n.name, n.log.length]));
  const client = openLoop ? openLoopClient(c, VIP, 20, 120_000) : c.tcpClient(VIP, 20, 120_000);
  // The link is cut by an `ip` already running in X's namespace (one write to its stdin): the
  // failure time is not a process start later, which on a loaded machine can be tens of ms.
  const cutter = failure === 'link' ? o.ns.spawn('ip', ['-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] }) : undefined;
  try {
    // Settled: the last 15 answers all from X (after a revive ownership moves back).
    await waitFor(() => {
      const answered = client.results.filter((r) => r.node);
      return answered.length >= 15 && answered.slice(-15).every((r) => r.node === o.name);
    }, { what: 'answers from the owner', timeoutMs: 60_000 }).catch(async (err: Error) => {
      // Who answered instead, and where the client's neighbour entry points (a taker's MAC kept
      // fresh by the taker's own answers is the suspect).
      const last = client.results.slice(-30).map((r) => r.node ?? r.err).join(' ');
      const neigh = await c.client!.ip('neigh', 'show', VIP).catch((e: Error) => e.message);
      const macs = c.nodes.map((n) => `${n.name} ${n.mac}`).join(', ');
      throw new Error(`${err.message}; owner ${o.name}; last 30: ${last}; client's entry: ${neigh.trim()}; MACs: ${macs}`);
    });
    const t = Date.now();
    if (failure === 'kill') o.proc?.kill('SIGKILL');
    else cutter?.stdin?.write('link set eth0 down\n');
    // The first connection started after the failure and answered by another node (an open-loop
    // connection started earlier may still be pending: wait until all started before it ended).
    const r = await waitFor(() => {
      const x = client.results.find((y) => y.t >= t && y.node && y.node !== o.name);
      return x && Date.now() > x.t + 200 ? client.results.find((y) => y.t >= t && y.node && y.node !== o.name) : undefined;
    }, { what: 'answers after', timeoutMs: 20_000 });
    await new Promise((res) => setTimeout(res, 300));
    console.log(`    ${takeover(c, o, marks, t, r.t)}`);
    return r.t - t;
  } finally {
    client.stop();
    cutter?.stdin?.end();
    if (failure === 'kill') {
      await waitFor(() => !o.running, { what: 'exit', timeoutMs: 15_000 });
      const from = o.log.length;
      c.startSpeaker(c.nodes.indexOf(o), speakerArgs);
      await o.waitLog(/membership running/, 90_000, from);
    } else {
      await o.ns.ip('link', 'set', 'eth0', 'up');
    }
    // Let membership see X again before the next round's owner check.
    await new Promise((r) => setTimeout(r, 3000));
  }
}

async function counters(c: SpeakerCluster): Promise<{ suspected: number; failovers: number }> {
  let suspected = 0;
  let failovers = 0;
  for (const n of c.nodes) {
    suspected += (await n.metric('ironlb_speaker_fast_takeovers_total', 'result="suspected"')) ?? 0;
    failovers += (await n.metric('ironlb_speaker_failovers_total', 'mode="layer2"')) ?? 0;
  }
  return { suspected, failovers };
}

async function soak(c: SpeakerCluster): Promise<void> {
  await owner(c);
  const before = await counters(c);
  const exits = c.nodes.map((n) => n.exits);
  for (const n of c.nodes) {
    await n.ns.exec('nft', [`add table inet ilblloss; add chain inet ilblloss in { type filter hook input priority 0; }; add rule inet ilblloss in iifname "eth0" numgen random mod 100 < ${loss} drop`]);
  }
  const loads: number[] = [];
  const seen = new Set<string>();
  const end = Date.now() + soakMin * 60_000;
  console.log(`soak: ${soakMin} min at ${loss}% loss on every node's input, load average at start ${load()}`);
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(30_000, Math.max(0, end - Date.now()))));
    loads.push(loadavg()[0] as number);
    for (const n of c.nodes) {
      for (const l of n.log) {
        if (/owner silent|did not confirm|took over|heard again/.test(l) && !seen.has(l)) {
          seen.add(l);
          console.log(`  ${n.name}: ${l}`);
        }
      }
    }
    const now = await counters(c);
    console.log(`  ${new Date().toISOString()} load ${load()} fast suspicions ${now.suspected - before.suspected}, takeovers ${now.failovers - before.failovers}`);
  }
  for (const n of c.nodes) await n.ns.exec('nft', ['delete table inet ilblloss']);
  const after = await counters(c);
  const restarts = c.nodes.reduce((s, n, i) => s + n.exits - (exits[i] ?? 0), 0);
  const sorted = [...loads].sort((a, b) => a - b);
  console.log(
    `soak result: ${soakMin} min, ${loss}% loss, 1-min load average min ${sorted[0]?.toFixed(1)} median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} max ${sorted.at(-1)?.toFixed(1)}: ` +
      `fast suspicions ${after.suspected - before.suspected}, Layer 2 takeovers ${after.failovers - before.failovers}, speaker exits ${restarts}`,
  );
}

const c = await SpeakerCluster.create({ prefix: values.prefix, nodes: 3, net: 86, client: true, localVips: [VIP] });
try {
  await c.apply('IPPool', 'p1', { addresses: ['10.86.0.100-10.86.0.199'] });
  await c.apply('L2Advertisement', 'l2', {});
  for (let i = 0; i < 3; i++) {
    c.startSpeaker(i, speakerArgs);
    c.nodes[i]!.startApp();
  }
  await Promise.all(c.nodes.map((n) => n.waitLog(/membership running/, 120_000)));
  for (let i = 0; i < 10; i++) await c.service(`s${i}`, [`10.86.0.${100 + i}`]);
  if (soakMin > 0) await soak(c);
  else {
    console.log(`failover: ${rounds} rounds, failure ${failure}, owner watch ${watch ? 'on' : 'off'}, ${openLoop ? 'open-loop' : 'sequential'} client, load average at start ${load()}`);
    const xs: number[] = [];
    const loads: number[] = [];
    for (let i = 0; i < rounds; i++) {
      loads.push(loadavg()[0] as number);
      const ms = await round(c);
      xs.push(ms);
      console.log(`  round ${i + 1}: ${ms} ms (load ${load()})`);
    }
    const sl = [...loads].sort((a, b) => a - b);
    console.log(`result: failure ${failure}, owner watch ${watch ? 'on' : 'off'}, ${openLoop ? 'open-loop' : 'sequential'} client: first answer by another node ${stats(xs)}; 1-min load average min ${sl[0]?.toFixed(1)} median ${sl[Math.floor(sl.length / 2)]?.toFixed(1)} max ${sl.at(-1)?.toFixed(1)}`);
  }
} finally {
  await c.destroy();
}
