// Fuzz target for the BGP codec and state machine: random and mutated messages through the
// framer and decoders, random event sequences through the FSM. The properties: no exception
// other than BgpError (which becomes a NOTIFICATION), no unbounded buffering, FSM invariants.
// Bounded runs are a unit test (test/unit/bgp-fuzz.test.ts); longer on demand:
//   node test/fuzz/bgp-fuzz.ts [iterations=200000] [seed]
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as c from '../../src/bgp/codec/index.ts';
import { initialState, step, type FsmConfig, type FsmEvent, type FsmState, type State } from '../../src/bgp/fsm.ts';

/** xorshift32: deterministic, so a failing seed reproduces. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.next() % Math.max(1, n);
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 255;
    return b;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)] as T;
  }
}

/** Valid messages to mutate: ours and, when present, bytes captured from real peers. */
export function corpus(): Buffer[] {
  const out: Buffer[] = [];
  const caps: c.Capabilities = {
    multiprotocol: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }], routeRefresh: true, enhancedRouteRefresh: true, extendedMessage: true, fourOctetAs: 65001,
    gracefulRestart: { restarting: true, notification: true, time: 120, families: [{ afi: 1, safi: 1, forwarding: true }] }, addPath: [{ afi: 1, safi: 1, mode: 3 }], unknown: [],
  };
  out.push(c.encodeOpen({ asn: 65001, holdTime: 90, bgpId: '10.0.0.1', capabilities: caps }));
  out.push(c.encodeKeepalive(), c.encodeNotification(6, 2, Buffer.from('bye')), c.encodeRouteRefresh(2, 1), c.encodeEndOfRib(1), c.encodeEndOfRib(2));
  const attrs = c.encodeAttributes({ origin: 0, asPath: [65001, 4200000000], nextHop: c.parseAddress('10.0.0.1'), med: 5, localPref: 100, communities: [1, 2], largeCommunities: [[1, 2, 3]] }, true);
  const nlri = Buffer.concat(['10.0.0.1/32', '10.1.0.0/16', '0.0.0.0/0'].map((p) => {
    const pp = c.parsePrefix(p);
    const b = Buffer.alloc(c.nlriSize(pp));
    c.writeNlri(b, 0, pp);
    return b;
  }));
  out.push(c.encodeUpdate(nlri.subarray(0, 5), attrs, nlri));
  const mp = c.encodeDecodedAttributes({ unknown: [], origin: 0, asPath: [{ type: 2, asns: [65001] }], mpReach: { afi: 2, safi: 1, nextHops: ['fd00::1', 'fe80::1'], nlri: [{ prefix: 'fd00::/64' }, { prefix: 'fd00::1/128' }] } }, true);
  out.push(c.encodeUpdate(Buffer.alloc(0), mp, Buffer.alloc(0)));
  const dir = fileURLToPath(new URL('../fixtures/bgp/', import.meta.url));
  try {
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
      for (const fx of JSON.parse(readFileSync(dir + f, 'utf8')) as Array<{ hex: string }>) out.push(Buffer.from(fx.hex, 'hex'));
    }
  } catch {
    // No fixtures yet: our own corpus is enough to run.
  }
  return out;
}

/** One mutation of a message: flips, random bytes, truncation, growth, length-field edits, splices. */
export function mutate(r: Rng, src: Buffer, pool: readonly Buffer[]): Buffer {
  let b: Buffer = Buffer.from(src);
  const rounds = 1 + r.int(4);
  for (let k = 0; k < rounds; k++) {
    switch (r.int(8)) {
      case 0:
        if (b.length) {
          const at = r.int(b.length);
          b[at] = (b[at] ?? 0) ^ (1 << r.int(8));
        }
        break;
      case 1:
        if (b.length) b[r.int(b.length)] = r.next() & 255;
        break;
      case 2:
        b = b.subarray(0, r.int(b.length + 1));
        break;
      case 3:
        b = Buffer.concat([b, r.bytes(r.int(64))]);
        break;
      case 4: {
        // Edit a 16-bit or 8-bit field somewhere past the header: the lengths that matter.
        if (b.length > 21) {
          const at = 19 + r.int(b.length - 20);
          const v = r.pick([0, 1, 2, 3, 4, 255, 256, 4095, 4096, 65535, r.next() & 0xffff]);
          if (r.int(2) && at + 1 < b.length) b.writeUInt16BE(v & 0xffff, at);
          else b[at] = v & 255;
        }
        break;
      }
      case 5: {
        const other = r.pick(pool);
        const cut = r.int(b.length + 1);
        b = Buffer.concat([b.subarray(0, cut), other.subarray(r.int(other.length + 1))]);
        break;
      }
      case 6:
        // Keep the header's length consistent, so the body's own fields get exercised.
        if (b.length >= 19 && b.length <= 65535) b.writeUInt16BE(b.length, 16);
        break;
      default:
        b = r.bytes(r.int(80));
    }
  }
  return b;
}

export interface FuzzStats {
  inputs: number;
  decoded: number;
  bgpErrors: number;
  fsmSteps: number;
  maxBuffered: number;
}

/** Feeds bytes through the framer and decoder; throws on anything but BgpError or unbounded buffering. */
export function fuzzOne(r: Rng, input: Buffer, stats: FuzzStats): void {
  const reader = new c.MessageReader();
  reader.maxSize = r.int(2) ? c.MAX_MESSAGE : c.MAX_EXTENDED_MESSAGE;
  const ctx: c.DecodeContext = { fourOctetAs: r.int(2) === 0, ibgp: r.int(2) === 0, addPathReceive: () => r.int(3) === 0 };
  stats.inputs++;
  // Delivered in random chunks, like TCP.
  let off = 0;
  for (let guard = 0; off < input.length && guard < 10_000; guard++) {
    const n = 1 + r.int(input.length - off);
    reader.push(input.subarray(off, off + n));
    off += n;
    for (let m = 0; m < 10_000; m++) {
      let raw: c.RawMessage | undefined;
      try {
        raw = reader.next();
      } catch (e) {
        if (!(e instanceof c.BgpError)) throw e;
        stats.bgpErrors++;
        return;
      }
      if (reader.buffered > reader.maxSize + input.length) throw new Error(`framer holds ${reader.buffered} bytes`);
      stats.maxBuffered = Math.max(stats.maxBuffered, reader.buffered);
      if (!raw) break;
      try {
        c.decodeMessage(raw, ctx);
        stats.decoded++;
      } catch (e) {
        if (!(e instanceof c.BgpError)) throw e;
        stats.bgpErrors++;
        return;
      }
    }
  }
}

const STATES: readonly State[] = ['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'];

function randomEvent(r: Rng, pool: readonly Buffer[]): FsmEvent {
  switch (r.int(15)) {
    case 0: return { type: 'Start' };
    case 1: return { type: 'Stop', subcode: r.int(10) };
    case 2: return { type: 'Reset', reason: 'fuzz' };
    case 3: return { type: 'ConnectRetryTimerExpires' };
    case 4: return { type: 'HoldTimerExpires' };
    case 5: return { type: 'KeepaliveTimerExpires' };
    case 6: return { type: 'TcpConnected', incoming: r.int(2) === 0 };
    case 7: return { type: 'TcpFails', reason: 'fuzz' };
    case 8: {
      // A random OPEN: decoded from a mutated message when possible, else a plausible one.
      try {
        const m = c.decodeOpen(mutate(r, pool[0] as Buffer, pool).subarray(19));
        return { type: 'OpenReceived', open: m };
      } catch {
        return { type: 'OpenReceived', open: { type: 'open', version: 4, myAs: r.pick([65002, 65001, 23456]), holdTime: r.pick([0, 1, 3, 90, 65535]), bgpId: r.pick(['10.0.0.2', '0.0.0.0', '10.0.0.1']), capabilities: c.emptyCapabilities() } };
      }
    }
    case 9: return { type: 'KeepaliveReceived' };
    case 10: return { type: 'UpdateReceived' };
    case 11: return { type: 'RouteRefreshReceived' };
    case 12: return { type: 'NotificationReceived', code: r.int(8), subcode: r.int(10) };
    case 13: return { type: 'MessageError', error: new c.BgpError(1 + r.int(7), r.int(12), 'fuzz') };
    default: return { type: 'CollisionDump' };
  }
}

/** Random event sequences; checks the FSM's invariants after every step. */
export function fuzzFsm(r: Rng, steps: number, pool: readonly Buffer[], stats: FuzzStats): void {
  const cfg: FsmConfig = { localAsn: 65001, peerAsn: r.pick([65001, 65002]), routerId: '10.0.0.1', holdTime: r.pick([0, 3, 90]), passive: r.int(2) === 0, connectRetryTime: r.pick([0.1, 5, 120]), maxRetryTime: 60 };
  let s: FsmState = initialState();
  for (let i = 0; i < steps; i++) {
    const ev = randomEvent(r, pool);
    const t = step(s, cfg, ev);
    stats.fsmSteps++;
    const n = t.next;
    if (!STATES.includes(n.state)) throw new Error(`FSM reached unknown state ${String(n.state)}`);
    if (n.state === 'Established' && !n.negotiated) throw new Error('Established without negotiated parameters');
    if (ev.type === 'NotificationReceived' && t.actions.some((a) => a.type === 'sendNotification')) throw new Error('answered a NOTIFICATION with a NOTIFICATION');
    if (n.stopped && n.state !== 'Idle') throw new Error(`stopped but in ${n.state}`);
    if (cfg.passive && t.actions.some((a) => a.type === 'connect')) throw new Error('a passive peer connected');
    for (const a of t.actions) {
      if (a.type === 'startTimer' && !(a.seconds > 0 && Number.isFinite(a.seconds))) throw new Error(`timer ${a.timer} started with ${a.seconds} s`);
    }
    if (n.connectRetryCounter > 1_000_000) throw new Error('retry counter runs away');
    s = n;
  }
}

export function runFuzz(iterations: number, seed: number, timeBudgetMs = Infinity): FuzzStats {
  const r = new Rng(seed);
  const pool = corpus();
  const stats: FuzzStats = { inputs: 0, decoded: 0, bgpErrors: 0, fsmSteps: 0, maxBuffered: 0 };
  const deadline = Date.now() + timeBudgetMs;
  for (let i = 0; i < iterations && Date.now() < deadline; i++) {
    const input = r.int(10) === 0 ? r.bytes(r.int(200)) : mutate(r, r.pick(pool), pool);
    try {
      fuzzOne(r, input, stats);
    } catch (e) {
      throw new Error(`fuzz seed ${seed} iteration ${i}: ${(e as Error).stack}\ninput ${input.toString('hex')}`);
    }
    if (i % 50 === 0) fuzzFsm(r, 200, pool, stats);
  }
  return stats;
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const iterations = Number(process.argv[2] ?? process.env.IRONLB_FUZZ_ITERATIONS ?? 200_000);
  const seed = Number(process.argv[3] ?? Date.now() & 0xffffffff);
  const t0 = Date.now();
  const stats = runFuzz(iterations, seed);
  console.log(JSON.stringify({ seed, ...stats, ms: Date.now() - t0 }));
}
