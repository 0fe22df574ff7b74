// Sessions on a fake clock: two BfdSessions wired through a simulated link with 1 ms delay.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeControl, type ControlPacket } from '../../src/bfd/packet.ts';
import { DEFAULT_PROFILE, type BfdProfile } from '../../src/bfd/profile.ts';
import { BfdSession, type Clock, type StateChange } from '../../src/bfd/session.ts';

class FakeClock implements Clock {
  t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private rng = 1;
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): unknown { const id = ++this.seq; this.timers.set(id, { at: this.t + ms, fn }); return id; }
  clearTimeout(h: unknown): void { this.timers.delete(h as number); }
  random(): number { this.rng = (this.rng * 1103515245 + 12345) % 2147483648; return this.rng / 2147483648; }
  /** Runs due timers in time order up to now + ms (bounded in count). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let i = 0; i < 1_000_000; i++) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
  }
}

interface Side {
  s: BfdSession;
  sent: Array<{ t: number; p: ControlPacket }>;
  changes: StateChange[];
}

function pair(pa: Partial<BfdProfile> = {}, pb: Partial<BfdProfile> = {}) {
  const clock = new FakeClock();
  const link = { up: true };
  const mk = (key: string, discr: number, profile: Partial<BfdProfile>, deliver: () => BfdSession): Side => {
    const side: Side = { s: undefined as unknown as BfdSession, sent: [], changes: [] };
    side.s = new BfdSession({
      key, localDiscriminator: discr, profile: { ...DEFAULT_PROFILE, ...profile }, clock,
      onState: (c) => side.changes.push(c),
      send: (buf) => {
        const p = decodeControl(buf);
        side.sent.push({ t: clock.now(), p });
        if (link.up) clock.setTimeout(() => deliver().receive(p, buf), 1);
      },
    });
    return side;
  };
  const a: Side = mk('a', 1, pa, () => b.s);
  const b: Side = mk('b', 2, pb, () => a.s);
  return { clock, link, a, b };
}

const fast = { transmitInterval: 100, receiveInterval: 100, detectMultiplier: 3 };

test('two sessions come up and settle on 100 ms x 3 through a poll sequence', () => {
  const { clock, a, b } = pair(fast, fast);
  a.s.start(); b.s.start();
  clock.advance(3000);
  assert.equal(a.s.sessionState, 'Up');
  assert.equal(b.s.sessionState, 'Up');
  const sa = a.s.snapshot();
  assert.equal(sa.polling, false);
  assert.equal(sa.txIntervalMs, 100);
  assert.equal(sa.detectionTimeMs, 300);
  assert.ok(a.sent.some((x) => x.p.poll) && b.sent.some((x) => x.p.final), 'the slow-to-fast change went through poll/final');
  assert.equal(a.changes.filter((c) => c.state === 'Down').length, 0);
  // Before Up, no faster than once a second (RFC 5880 6.8.3).
  const firstUp = Math.min(...[a, b].map((s) => s.changes.find((c) => c.state === 'Up') ? clock.t : Infinity));
  assert.ok(firstUp > 0);
  const early = a.sent.filter((x) => x.p.state === 'Down');
  assert.equal(early[0]?.p.desiredMinTxInterval, 1_000_000);
});

test('periodic transmission is jittered to 75-100% of the interval', () => {
  const { clock, a, b } = pair(fast, fast);
  a.s.start(); b.s.start();
  clock.advance(3000);
  const from = a.sent.length;
  clock.advance(5000);
  const periodic = a.sent.slice(from).filter((x) => !x.p.final);
  const gaps = periodic.slice(1).map((x, i) => x.t - periodic[i]!.t);
  assert.ok(gaps.length > 40);
  for (const g of gaps) assert.ok(g >= 75 - 1e-9 && g <= 100 + 1e-9, `gap ${g}`);
  assert.ok(Math.max(...gaps) - Math.min(...gaps) > 10, 'jitter is applied');
});

test('timer change renegotiates with poll/final, no flap, old rate kept until the Final', () => {
  const { clock, a, b } = pair(fast, fast);
  a.s.start(); b.s.start();
  clock.advance(3000);
  const n = a.sent.length;
  a.s.update({ ...DEFAULT_PROFILE, ...fast, transmitInterval: 300, receiveInterval: 200 }, undefined);
  assert.equal(a.s.snapshot().polling, true);
  assert.equal(a.s.snapshot().txIntervalMs, 100, 'slower transmission waits for the Final');
  assert.equal(a.sent[n]?.p.poll, true);
  clock.advance(5);
  assert.equal(a.s.snapshot().polling, false, 'Final received');
  assert.equal(a.s.snapshot().txIntervalMs, 300);
  assert.equal(b.s.snapshot().detectionTimeMs, 900, 'peer detection follows our new transmit interval');
  assert.equal(a.s.snapshot().detectionTimeMs, 600, 'our detection follows our new receive interval');
  clock.advance(5000);
  assert.equal(a.s.sessionState, 'Up');
  assert.equal(b.s.sessionState, 'Up');
  assert.ok(!a.changes.some((c) => c.state === 'Down'), 'no flap on our side');
  assert.ok(!b.changes.some((c) => c.state === 'Down'), 'no flap on the peer');
});

test('a dead peer is declared Down exactly one detection time after its last packet (diag 1)', () => {
  const { clock, link, a, b } = pair(fast, fast);
  a.s.start(); b.s.start();
  clock.advance(3000);
  link.up = false;
  clock.advance(1000);
  const down = a.changes.at(-1)!;
  assert.equal(down.state, 'Down');
  assert.equal(down.diagnostic, 'ControlDetectionTimeExpired');
  assert.equal(down.detectedAfterMs, 300);
  const snap = a.s.snapshot();
  assert.equal(snap.remoteDiscriminator, 0, 'remote forgotten');
  assert.equal(b.s.sessionState, 'Down');
  // Once Down, back to one packet a second (jittered to at least 750 ms).
  const downs = a.sent.filter((x) => x.p.state === 'Down' && x.p.diagnostic === 1);
  const gaps = downs.slice(1).map((x, i) => x.t - downs[i]!.t);
  clock.advance(3000);
  assert.ok(gaps.every((g) => g >= 750), `gaps while Down: ${gaps.join(', ')}`);
  // The link comes back: the session recovers.
  link.up = true;
  clock.advance(4000);
  assert.equal(a.s.sessionState, 'Up');
  assert.equal(b.s.sessionState, 'Up');
});

test('passive mode: silent until the peer speaks, then comes up', () => {
  const { clock, a, b } = pair({ ...fast, passiveMode: true }, fast);
  a.s.start();
  clock.advance(3000);
  assert.equal(a.sent.length, 0);
  b.s.start();
  clock.advance(3000);
  assert.equal(a.s.sessionState, 'Up');
  assert.ok(a.sent.length > 0);
});

test('AdminDown: the peer goes Down with diag 3, not by timeout; admin up recovers', () => {
  const { clock, a, b } = pair(fast, fast);
  a.s.start(); b.s.start();
  clock.advance(3000);
  a.s.setAdminDown(true);
  clock.advance(10);
  assert.equal(a.s.sessionState, 'AdminDown');
  assert.equal(a.changes.at(-1)?.diagnostic, 'AdministrativelyDown');
  assert.equal(b.changes.at(-1)?.state, 'Down');
  assert.equal(b.changes.at(-1)?.diagnostic, 'NeighborSignaledSessionDown');
  a.s.setAdminDown(false);
  clock.advance(4000);
  assert.equal(a.s.sessionState, 'Up');
});

test('close() sends AdminDown so the peer does not wait for a timeout', () => {
  const { clock, a, b } = pair(fast, fast);
  a.s.start(); b.s.start();
  clock.advance(3000);
  a.s.close();
  clock.advance(5);
  assert.equal(a.sent.at(-1)?.p.state, 'AdminDown');
  assert.equal(b.changes.at(-1)?.diagnostic, 'NeighborSignaledSessionDown');
  const n = a.sent.length;
  clock.advance(2000);
  assert.equal(a.sent.length, n, 'closed session is silent');
});

test('a peer asking for Required Min RX 0 gets no periodic packets', () => {
  const { clock, link, a } = pair(fast, fast);
  link.up = false;
  a.s.start();
  clock.advance(10);
  const p: ControlPacket = { version: 1, diagnostic: 0, state: 'Down', poll: false, final: false, controlPlaneIndependent: false, demand: false,
    multipoint: false, detectMult: 3, myDiscriminator: 99, yourDiscriminator: 0, desiredMinTxInterval: 1_000_000, requiredMinRxInterval: 0, requiredMinEchoRxInterval: 0 };
  a.s.receive(p, Buffer.alloc(0));
  const n = a.sent.length;
  clock.advance(2500); // less than the 3 s detection time
  assert.equal(a.sent.length, n);
});
