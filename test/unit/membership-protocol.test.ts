// The SWIM protocol on a fake clock and an in-memory network: deterministic (seeded randomness).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Membership, type Timing } from '../../src/membership/membership.ts';
import { FakeClock } from '../../src/membership/clock.ts';
import { MemoryNetwork, type Datagram, type Transport } from '../../src/membership/transport.ts';
import { deriveKey, seal } from '../../src/membership/auth.ts';
import { encodeMessage, type Message } from '../../src/membership/codec.ts';
import { prng } from '../support/prng.ts';

const SECRET = Buffer.from('test-secret-0123456789abcdef');
const silent = pino({ level: 'silent' });


interface Event {
  at: number;
  node: string;
  kind: 'up' | 'down';
  member: string;
  reason?: string;
}

class Cluster {
  readonly clock = new FakeClock();
  readonly net: MemoryNetwork;
  readonly members = new Map<string, Membership>();
  readonly events: Event[] = [];
  private readonly seed: number;

  constructor(seed: number) {
    this.seed = seed;
    this.net = new MemoryNetwork(this.clock, { latencyMs: 1, random: prng(seed) });
  }

  static addr(i: number): string {
    return `10.0.0.${i + 1}`;
  }

  async add(name: string, address: string, opts: { secret?: Buffer; timing?: Partial<Timing> } = {}): Promise<Membership> {
    const m = new Membership({
      name, address, port: 7947, secret: opts.secret ?? SECRET, logger: silent, clock: this.clock,
      transport: this.net.transport(address, 7947), random: prng(this.seed + this.members.size + 1), timing: opts.timing,
    });
    m.on('memberUp', (member) => this.events.push({ at: this.clock.now(), node: name, kind: 'up', member }));
    m.on('memberDown', (member, reason) => this.events.push({ at: this.clock.now(), node: name, kind: 'down', member, reason }));
    await m.start();
    this.members.set(name, m);
    return m;
  }

  static async of(n: number, seed = 1): Promise<Cluster> {
    const c = new Cluster(seed);
    for (let i = 0; i < n; i++) await c.add(`n${i}`, Cluster.addr(i));
    c.peersAll(n);
    return c;
  }

  peersAll(n: number): void {
    const list = Array.from({ length: n }, (_, i) => ({ name: `n${i}`, address: Cluster.addr(i), port: 7947 }));
    for (const m of this.members.values()) m.setPeers(list);
  }

  get(name: string): Membership {
    const m = this.members.get(name);
    assert.ok(m, `no member ${name}`);
    return m;
  }

  /** Advances in small steps until cond holds; returns the time it took. Bounded by maxMs. */
  until(cond: () => boolean, maxMs: number, what: string): number {
    const start = this.clock.now();
    for (let t = 0; t <= maxMs; t += 5) {
      if (cond()) return this.clock.now() - start;
      this.clock.advance(5);
    }
    assert.fail(`not within ${maxMs} ms (fake time): ${what}`);
  }

  views(names: string[]): string[][] {
    return names.map((n) => this.get(n).alive());
  }

  async close(): Promise<void> {
    for (const m of this.members.values()) await m.close();
  }
}

async function counter(m: Membership, name: 'probeFailures' | 'suspicions' | 'refutations'): Promise<number> {
  return (await m.metrics[name].get()).values.reduce((s, v) => s + v.value, 0);
}

async function rejected(m: Membership, reason: string): Promise<number> {
  return (await m.metrics.rejected.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i}`);

test('members discovered through setPeers converge on the same alive set', async () => {
  const c = await Cluster.of(5);
  try {
    c.until(() => c.views(names(5)).every((v) => v.length === 5), 1000, 'all five see five');
    for (const v of c.views(names(5))) assert.deepEqual(v, names(5));
    c.clock.advance(5000);
    assert.equal(c.events.filter((e) => e.kind === 'down').length, 0, 'no failure on a clean network');
  } finally {
    await c.close();
  }
});

test('a killed member is declared dead by every other member within the target', async () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const c = await Cluster.of(5, seed);
    try {
      c.until(() => c.views(names(5)).every((v) => v.length === 5), 1000, 'converged');
      c.clock.advance(1000 + seed * 37);
      const killedAt = c.clock.now();
      await c.get('n2').close();
      const rest = names(5).filter((n) => n !== 'n2');
      const took = c.until(() => rest.every((n) => !c.get(n).alive().includes('n2')), 3000, 'n2 dead everywhere');
      assert.ok(took < 800, `seed ${seed}: detection took ${took} ms (fake clock)`);
      const downs = c.events.filter((e) => e.kind === 'down' && e.member === 'n2' && e.at >= killedAt);
      assert.deepEqual(downs.map((d) => d.node).sort(), rest);
      assert.ok(downs.every((d) => d.reason === 'dead'));
      for (const v of c.views(rest)) assert.deepEqual(v, rest);
      const hist = (await c.get('n0').metrics.detection.get()).values.find((v) => v.metricName?.endsWith('_count'));
      assert.ok((hist?.value ?? 0) >= 0);
    } finally {
      await c.close();
    }
  }
});

test('a suspected member refutes by raising its incarnation and is never declared dead', async () => {
  const c = await Cluster.of(4, 7);
  try {
    c.until(() => c.views(names(4)).every((v) => v.length === 4), 1000, 'converged');
    c.clock.advance(500);
    const before = c.get('n3').snapshot().find((s) => s.name === 'n3')!.incarnation;
    const t0 = c.clock.now();
    c.net.setCut('10.0.0.4', true);
    // Heal as soon as someone suspects n3, before others can confirm.
    c.until(() => names(3).some((n) => c.get(n).snapshot().find((s) => s.name === 'n3')?.state === 'suspect'), 1000, 'n3 suspected');
    c.clock.advance(20);
    c.net.setCut('10.0.0.4', false);
    c.clock.advance(3000);
    assert.equal(c.events.filter((e) => e.kind === 'down' && e.at >= t0).length, 0, 'no member declared down');
    assert.ok((await counter(c.get('n3'), 'refutations')) >= 1, 'n3 refuted');
    const after = c.get('n0').snapshot().find((s) => s.name === 'n3')!;
    assert.equal(after.state, 'alive');
    assert.ok(after.incarnation > before, 'refutation raised the incarnation everyone holds');
    for (const v of c.views(names(4))) assert.deepEqual(v, names(4));
  } finally {
    await c.close();
  }
});

test('an indirect probe keeps a member alive behind a broken direct path', async () => {
  const c = await Cluster.of(4, 11);
  try {
    c.until(() => c.views(names(4)).every((v) => v.length === 4), 1000, 'converged');
    c.net.setLoss('10.0.0.1', '10.0.0.2', 1);
    c.net.setLoss('10.0.0.2', '10.0.0.1', 1);
    c.clock.advance(20_000);
    assert.equal(c.events.filter((e) => e.kind === 'down').length, 0);
    assert.equal(await counter(c.get('n0'), 'suspicions'), 0, 'n0 never suspected n1');
    assert.equal(await counter(c.get('n0'), 'probeFailures'), 0);
    for (const v of c.views(names(4))) assert.deepEqual(v, names(4));
  } finally {
    await c.close();
  }
});

test('gossip converges at 10% loss: deaths reach every view, views agree, no false failover at 5%', async () => {
  const c = await Cluster.of(10, 21);
  try {
    c.net.setGlobalLoss(0.05);
    c.until(() => c.views(names(10)).every((v) => v.length === 10), 3000, 'converged');
    c.clock.advance(60_000);
    assert.equal(c.events.filter((e) => e.kind === 'down').length, 0, 'no false failover in 60 s at 5% loss');
    c.net.setGlobalLoss(0.1);
    await c.get('n4').close();
    await c.get('n7').close();
    const rest = names(10).filter((n) => n !== 'n4' && n !== 'n7');
    c.until(() => rest.every((n) => c.get(n).alive().length === 8), 3000, 'both deaths everywhere');
    for (const v of c.views(rest)) assert.deepEqual(v, rest);
  } finally {
    await c.close();
  }
});

test('a graceful leave is known to every member at once', async () => {
  const c = await Cluster.of(4, 5);
  try {
    c.until(() => c.views(names(4)).every((v) => v.length === 4), 1000, 'converged');
    await c.get('n1').leave();
    const took = c.until(() => ['n0', 'n2', 'n3'].every((n) => !c.get(n).alive().includes('n1')), 1000, 'n1 gone');
    assert.ok(took <= 5, `leave took ${took} ms`);
    assert.ok(c.events.filter((e) => e.kind === 'down' && e.member === 'n1').every((e) => e.reason === 'left'));
  } finally {
    await c.close();
  }
});

test('a node cut off is declared dead and rejoins after healing; a restarted node rejoins', async () => {
  const c = await Cluster.of(4, 9);
  try {
    c.until(() => c.views(names(4)).every((v) => v.length === 4), 1000, 'converged');
    c.net.setCut('10.0.0.4', true);
    c.until(() => names(3).every((n) => c.get(n).alive().length === 3), 3000, 'n3 dead');
    c.until(() => c.get('n3').alive().length === 1, 10_000, 'n3 alone');
    c.net.setCut('10.0.0.4', false);
    const took = c.until(() => c.views(names(4)).every((v) => v.length === 4), 3000, 'n3 rejoined everywhere');
    assert.ok(took < 1500, `rejoin took ${took} ms`);
    for (const v of c.views(names(4))) assert.deepEqual(v, names(4));
    c.clock.advance(3000);
    for (const v of c.views(names(4))) assert.deepEqual(v, names(4));
    // Restart: same name and address, new process (new epoch and incarnation).
    await c.get('n2').close();
    c.until(() => c.get('n0').alive().length === 3, 3000, 'n2 dead');
    c.clock.advance(100);
    c.members.delete('n2');
    await c.add('n2', Cluster.addr(2));
    c.peersAll(4);
    c.until(() => c.views(names(4)).every((v) => v.length === 4), 2000, 'restarted n2 rejoined');
  } finally {
    await c.close();
  }
});

test('a member with the wrong secret is never admitted, and its messages are counted', async () => {
  const c = await Cluster.of(3, 3);
  try {
    await c.add('n3', Cluster.addr(3), { secret: Buffer.from('another-secret-0123456789abcdef') });
    c.peersAll(4);
    c.clock.advance(5000);
    for (const v of c.views(names(3))) assert.deepEqual(v, names(3));
    assert.deepEqual(c.get('n3').alive(), ['n3']);
    assert.ok((await rejected(c.get('n0'), 'auth')) > 0);
    assert.ok((await rejected(c.get('n3'), 'auth')) > 0);
  } finally {
    await c.close();
  }
});

test('replayed, stale, misdirected and forged messages are rejected', async () => {
  const clock = new FakeClock();
  let deliver: (d: Datagram) => void = () => {};
  const sent: Buffer[] = [];
  const transport: Transport = {
    bind: (onMessage) => { deliver = onMessage; return Promise.resolve(7947); },
    send: (data) => { sent.push(data); },
    close: () => Promise.resolve(),
  };
  const m = new Membership({ name: 'a', address: '10.0.0.1', secret: SECRET, logger: silent, clock, transport, random: prng(1) });
  await m.start();
  m.setPeers([{ name: 'b', address: '10.0.0.2' }]);
  const key = deriveKey(SECRET);
  const msg = (over: Partial<Message>): Buffer => seal(key, encodeMessage({
    from: 'b', to: 'a', epoch: clock.now() - 10, seq: 1, timestamp: clock.now(), incarnation: 5, body: { type: 'ping', probeId: 1 }, updates: [], ...over,
  }));
  const d = (data: Buffer): Datagram => ({ data, address: '10.0.0.2', port: 7947 });
  const first = msg({ seq: 10 });
  deliver(d(first));
  assert.deepEqual(m.alive(), ['a', 'b']);
  const acks = sent.length;
  deliver(d(first));
  assert.equal(await rejected(m, 'duplicate'), 1);
  assert.equal(sent.length, acks, 'a replay gets no answer');
  deliver(d(msg({ seq: 11, epoch: clock.now() - 20 })));
  assert.equal(await rejected(m, 'stale-epoch'), 1);
  deliver(d(msg({ seq: 12, timestamp: clock.now() - 60_000 })));
  assert.equal(await rejected(m, 'clock-skew'), 1);
  deliver(d(msg({ seq: 13, to: 'c' })));
  assert.equal(await rejected(m, 'misdirected'), 1);
  deliver(d(msg({ seq: 14, from: 'mallory' })));
  assert.equal(await rejected(m, 'unknown-sender'), 1);
  const forged = Buffer.from(msg({ seq: 15 }));
  forged[10]! ^= 1;
  deliver(d(forged));
  assert.equal(await rejected(m, 'auth'), 1);
  deliver(d(Buffer.from('garbage')));
  assert.equal(await rejected(m, 'auth'), 2);
  // A forged death claim (wrong key) changes nothing.
  deliver(d(seal(deriveKey(Buffer.from('another-secret-0123456789abcdef')), encodeMessage({
    from: 'b', to: 'a', epoch: clock.now(), seq: 99, timestamp: clock.now(), incarnation: 6, body: { type: 'gossip' }, updates: [{ name: 'b', state: 'dead', incarnation: 99 }],
  }))));
  assert.deepEqual(m.alive(), ['a', 'b']);
  await m.close();
});

test('peers set before start are greeted at once', async () => {
  const c = new Cluster(13);
  const list = names(4).map((name, i) => ({ name, address: Cluster.addr(i), port: 7947 }));
  for (let i = 0; i < 4; i++) {
    const m = new Membership({ name: `n${i}`, address: Cluster.addr(i), port: 7947, secret: SECRET, logger: silent, clock: c.clock, transport: c.net.transport(Cluster.addr(i), 7947), random: prng(i) });
    m.setPeers(list);
    c.members.set(m.name, m);
  }
  try {
    for (const m of c.members.values()) await m.start();
    const took = c.until(() => c.views(names(4)).every((v) => v.length === 4), 1000, 'joined');
    assert.ok(took <= 10, `join took ${took} ms`);
  } finally {
    await c.close();
  }
});

test('a "dead" claim about a member heard from moments ago becomes a suspicion, which it refutes', async () => {
  const c = await Cluster.of(4, 17);
  try {
    // "x" stands for a node that comes back from a cut with a stale view; it is a listed peer.
    const list = [...names(4).map((name, i) => ({ name, address: Cluster.addr(i), port: 7947 })), { name: 'x', address: '10.0.0.99', port: 7947 }];
    for (const m of c.members.values()) m.setPeers(list);
    c.until(() => c.views(names(4)).every((v) => v.length === 4), 1000, 'converged');
    c.clock.advance(500);
    const x = c.net.transport('10.0.0.99', 7947);
    await x.bind(() => {});
    const t0 = c.clock.now();
    const n2inc = c.get('n0').snapshot().find((s) => s.name === 'n2')!.incarnation;
    x.send(seal(deriveKey(SECRET), encodeMessage({
      from: 'x', to: 'n0', epoch: t0, seq: 1, timestamp: t0, incarnation: t0, body: { type: 'gossip' }, updates: [{ name: 'n2', state: 'dead', incarnation: n2inc }],
    })), Cluster.addr(0), 7947);
    c.clock.advance(2);
    assert.equal(c.get('n0').snapshot().find((s) => s.name === 'n2')!.state, 'suspect');
    c.clock.advance(3000);
    assert.equal(c.events.filter((e) => e.kind === 'down' && e.member === 'n2' && e.at >= t0).length, 0, 'n2 never failed over');
    assert.ok((await counter(c.get('n2'), 'refutations')) >= 1);
    for (const v of c.views(names(4))) assert.deepEqual(v.filter((n) => n !== 'x'), names(4));
    await x.close();
  } finally {
    await c.close();
  }
});

test('timer options are accepted flat or grouped and validated', () => {
  const base = { name: 'a', address: '10.0.0.1', secret: SECRET, logger: silent, clock: new FakeClock(), transport: new MemoryNetwork(new FakeClock()).transport('10.0.0.1', 7947) };
  assert.equal(new Membership({ ...base, probeIntervalMs: 200 }).timing.probeIntervalMs, 200);
  assert.equal(new Membership({ ...base, timing: { suspicionMaxMs: 3000 } }).timing.suspicionMaxMs, 3000);
  assert.throws(() => new Membership({ ...base, probeTimeoutMs: -1 }), /probeTimeoutMs must be a non-negative number/);
  assert.throws(() => new Membership({ ...base, suspicionMinMs: 5000 }), /suspicionMinMs must not exceed/);
  assert.throws(() => new Membership({ ...base, secret: Buffer.from('short') }), /at least 16 random bytes/);
});
