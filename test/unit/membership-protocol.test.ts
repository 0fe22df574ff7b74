// The SWIM protocol on a fake clock and an in-memory network: deterministic (seeded randomness).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Membership, type Timing } from '../../src/membership/membership.ts';
import { FakeClock } from '../../src/membership/clock.ts';
import { MemoryNetwork, type Datagram, type Transport } from '../../src/membership/transport.ts';
import { deriveKey, seal } from '../../src/membership/auth.ts';
import { decodeMessage, encodeMessage, type Message } from '../../src/membership/codec.ts';
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

  async add(name: string, address: string, opts: { secret?: Buffer; timing?: Partial<Timing>; mustHear?: (member: string) => Iterable<string> } = {}): Promise<Membership> {
    const m = new Membership({
      name, address, port: 7947, secret: opts.secret ?? SECRET, logger: silent, clock: this.clock,
      transport: this.net.transport(address, 7947), random: prng(this.seed + this.members.size + 1), timing: opts.timing,
      ...(opts.mustHear ? { mustHear: opts.mustHear } : {}),
    });
    m.on('memberUp', (member) => this.events.push({ at: this.clock.now(), node: name, kind: 'up', member }));
    m.on('memberDown', (member, reason) => this.events.push({ at: this.clock.now(), node: name, kind: 'down', member, reason }));
    await m.start();
    this.members.set(name, m);
    return m;
  }

  static async of(n: number, seed = 1, mustHear?: (member: string) => Iterable<string>): Promise<Cluster> {
    const c = new Cluster(seed);
    for (let i = 0; i < n; i++) await c.add(`n${i}`, Cluster.addr(i), mustHear ? { mustHear } : {});
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

test('a death is sent directly to the members that must act (mustHear); the rest learn it by gossip', async () => {
  // n29 "takes over" from n5: it must hear as soon as a member declares n5 dead on its own, not
  // after gossip rounds. A quiet cluster sends no gossip messages at all.
  const c = await Cluster.of(30, 9, (member) => (member === 'n5' ? ['n29'] : []));
  try {
    c.until(() => c.views(names(30)).every((v) => v.length === 30), 5000, 'converged');
    c.clock.advance(3000);
    let gossips = 0;
    c.net.tap = (d) => {
      if (d.data[3] === 5) gossips++;
    };
    c.clock.advance(2000);
    assert.equal(gossips, 0, 'no gossip messages in a quiet cluster');
    const killedAt = c.clock.now();
    await c.get('n5').close();
    const rest = names(30).filter((n) => n !== 'n5');
    c.until(() => rest.every((n) => !c.get(n).alive().includes('n5')), 3000, 'n5 dead everywhere');
    const downs = c.events.filter((e) => e.kind === 'down' && e.member === 'n5' && e.at >= killedAt);
    const first = Math.min(...downs.map((d) => d.at));
    const n29 = downs.find((d) => d.node === 'n29');
    assert.ok(n29 && n29.at - first <= 3, `n29 knew ${n29 ? n29.at - first : '∞'} ms after the first member`);
    // Bounded fan-out: nobody sent more than a handful of gossip messages for one death.
    assert.ok(gossips / 29 < 30, `${gossips} gossip messages for one death in 30 members`);
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

/** One member "a" on a fake clock whose datagrams the test delivers and whose sends it reads. */
async function solo(peers: string[] = ['b']) {
  const clock = new FakeClock();
  let deliver: (d: Datagram) => void = () => {};
  const sent: Array<{ data: Buffer; to: string }> = [];
  const transport: Transport = {
    bind: (onMessage) => { deliver = onMessage; return Promise.resolve(7947); },
    send: (data, address) => { sent.push({ data, to: address }); },
    close: () => Promise.resolve(),
  };
  const m = new Membership({ name: 'a', address: '10.0.0.1', secret: SECRET, logger: silent, clock, transport, random: prng(1) });
  await m.start();
  m.setPeers(peers.map((name, i) => ({ name, address: `10.0.0.${i + 2}` })));
  const key = deriveKey(SECRET);
  const bEpoch = clock.now() - 10;
  let seq = 0;
  /** A message from b (by default) that names a's current epoch: one a trusts. */
  const msg = (over: Partial<Message>, k: Buffer = key): Buffer => seal(k, encodeMessage({
    from: 'b', to: 'a', epoch: bEpoch, toEpoch: m.epoch, seq: ++seq, timestamp: clock.now(), incarnation: bEpoch, body: { type: 'ping', probeId: 1 }, updates: [], ...over,
  }));
  const d = (data: Buffer, address = '10.0.0.2'): Datagram => ({ data, address, port: 7947 });
  const decoded = () => sent.map((x) => decodeMessage(x.data.subarray(0, x.data.length - 32)));
  /** Acks a sent to `to` for probe `probeId`. */
  const acks = (to: string, probeId: number) => decoded().filter((x) => x.to === to && x.body.type === 'ack' && x.body.probeId === probeId).length;
  const state = (name: string) => m.snapshot().find((x) => x.name === name);
  return { m, clock, deliver: (data: Buffer, address?: string) => deliver(d(data, address)), sent, msg, key, bEpoch, decoded, acks, state };
}

test('replayed, misdirected, unknown, forged and junk messages are rejected', async () => {
  const { m, clock, deliver, sent, msg } = await solo();
  const first = msg({ seq: 10 });
  deliver(first);
  assert.deepEqual(m.alive(), ['a', 'b']);
  const acks = sent.length;
  deliver(first);
  assert.equal(await rejected(m, 'duplicate'), 1);
  assert.equal(sent.length, acks, 'a replay gets no answer');
  deliver(msg({ seq: 12, timestamp: clock.now() - 60_000 }));
  assert.equal(await rejected(m, 'clock-skew'), 1);
  deliver(msg({ seq: 13, to: 'c' }));
  assert.equal(await rejected(m, 'misdirected'), 1);
  deliver(msg({ seq: 14, from: 'mallory' }));
  assert.equal(await rejected(m, 'unknown-sender'), 1);
  const forged = Buffer.from(msg({ seq: 15 }));
  forged[30]! ^= 1;
  deliver(forged);
  assert.equal(await rejected(m, 'auth'), 1);
  deliver(Buffer.from('garbage'));
  assert.equal(await rejected(m, 'size'), 1);
  // A forged death claim (wrong key) changes nothing.
  deliver(msg({ body: { type: 'gossip' }, updates: [{ name: 'b', state: 'dead', incarnation: 2e12 }] }, deriveKey(Buffer.from('another-secret-0123456789abcdef'))));
  assert.equal(await rejected(m, 'auth'), 2);
  assert.deepEqual(m.alive(), ['a', 'b']);
  await m.close();
});

test('junk is dropped before the MAC and counted by reason: size, magic, version, names', async () => {
  const { m, deliver, msg } = await solo();
  const good = msg({});
  const junk: Array<[Buffer, string]> = [
    [Buffer.alloc(0), 'size'],
    [Buffer.alloc(20, 0x49), 'size'],
    [Buffer.alloc(1401, 0x49), 'size'],
    [Buffer.from(good).fill(0x58, 0, 1), 'magic'],
    [Buffer.from(good).fill(9, 2, 3), 'version'],
    [msg({ to: 'someone-else' }), 'misdirected'],
    [msg({ from: 'stranger' }), 'unknown-sender'],
  ];
  const rnd = prng(4);
  for (let i = 0; i < 1000; i++) junk.push([Buffer.from(Array.from({ length: 40 + Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256))), 'magic-or-size']);
  for (const [buf] of junk) deliver(buf);
  for (const reason of ['size', 'magic', 'version', 'misdirected', 'unknown-sender']) assert.ok((await rejected(m, reason)) >= 1, `${reason} counted`);
  assert.equal(await rejected(m, 'auth'), 0, 'no HMAC was computed for any of it');
  assert.equal((await rejected(m, 'size')) + (await rejected(m, 'magic')) + (await rejected(m, 'version')) + (await rejected(m, 'misdirected')) + (await rejected(m, 'unknown-sender')), junk.length);
  assert.deepEqual(m.alive(), ['a']);
  await m.close();
});

test('an incarnation near 2^53 is refused, and no datagram can throw out of the handler', async () => {
  const { m, clock, deliver, msg, state } = await solo();
  deliver(msg({}));
  const before = state('a')!.incarnation;
  // Signed claims that would make a refutation overflow the encoder (2^53) are dropped.
  assert.doesNotThrow(() => deliver(msg({ body: { type: 'gossip' }, updates: [{ name: 'a', state: 'suspect', incarnation: Number.MAX_SAFE_INTEGER, from: 'b' }] })));
  assert.doesNotThrow(() => deliver(msg({ incarnation: Number.MAX_SAFE_INTEGER })));
  assert.doesNotThrow(() => deliver(msg({ body: { type: 'gossip' }, updates: [{ name: 'b', state: 'alive', incarnation: 2 ** 52 }] })));
  assert.equal(await rejected(m, 'out-of-range'), 3);
  assert.equal(state('a')!.incarnation, before, 'no refutation to an absurd incarnation');
  assert.ok(state('b')!.incarnation < 2 ** 52);
  // A claim within the ceiling (the clock plus an hour) is refuted, and the member keeps working.
  const high = clock.now() + 30_000 + 3_600_000;
  deliver(msg({ body: { type: 'gossip' }, updates: [{ name: 'a', state: 'suspect', incarnation: high, from: 'b' }] }));
  assert.equal(state('a')!.incarnation, high + 1);
  assert.doesNotThrow(() => clock.advance(2000));
  // An exception while handling a datagram (here from a listener) is caught, counted and logged.
  m.once('memberUp', () => { throw new Error('listener bug'); });
  m.setPeers([{ name: 'b', address: '10.0.0.2' }, { name: 'c', address: '10.0.0.3' }]);
  assert.doesNotThrow(() => deliver(msg({ from: 'c', epoch: clock.now(), incarnation: clock.now() }), '10.0.0.3'));
  assert.equal(await rejected(m, 'error'), 1);
  assert.doesNotThrow(() => clock.advance(1000));
  await m.close();
});

test('a claim of this node\'s death is reported, refuted or already refuted; a suspicion is not', async () => {
  const { m, deliver, msg, state } = await solo();
  deliver(msg({}));
  const by: string[] = [];
  m.on('declaredDead', (x) => by.push(x));
  const inc = state('a')!.incarnation;
  deliver(msg({ body: { type: 'gossip' }, updates: [{ name: 'a', state: 'suspect', incarnation: inc, from: 'b' }] }));
  assert.deepEqual(by, [], 'a suspicion takes nothing over');
  assert.ok(state('a')!.incarnation > inc, 'refuted');
  // The death declared before the refutation arrived, with the old incarnation: still news.
  deliver(msg({ body: { type: 'gossip' }, updates: [{ name: 'a', state: 'dead', incarnation: inc, from: 'b' }] }));
  assert.deepEqual(by, ['b']);
  await m.close();
});

test('one signed message cannot mute a member: future epochs, sequence jumps, second-hand "left"', async () => {
  const { m, clock, deliver, msg, acks, bEpoch, state } = await solo(['b', 'c']);
  deliver(msg({ seq: 100, body: { type: 'ping', probeId: 1 } }));
  assert.equal(acks('b', 1), 1);
  // An epoch beyond the allowed clock skew is refused outright.
  deliver(msg({ epoch: clock.now() + 10 * 60_000, seq: 1 }));
  assert.equal(await rejected(m, 'future-epoch'), 1);
  // A larger epoch within the skew, and a huge sequence jump, are accepted once ...
  deliver(msg({ epoch: clock.now() + 20_000, seq: 1 }));
  deliver(msg({ seq: 2 ** 50 }));
  // ... and b's next real messages (its own epoch, next sequence numbers) still count.
  deliver(msg({ epoch: bEpoch, seq: 101, body: { type: 'ping', probeId: 2 } }));
  deliver(msg({ epoch: bEpoch, seq: 102, body: { type: 'ping', probeId: 3 } }));
  assert.equal(acks('b', 2), 1, 'b answered after an epoch claim');
  assert.equal(acks('b', 3), 1, 'b answered after a sequence jump');
  // "b left", said by c, is not believed; said by b itself, it is.
  deliver(msg({ from: 'c', epoch: clock.now(), incarnation: clock.now(), body: { type: 'gossip' }, updates: [{ name: 'b', state: 'left', incarnation: bEpoch + 5 }] }), '10.0.0.3');
  assert.equal(state('b')!.state, 'alive');
  assert.deepEqual(m.alive(), ['a', 'b', 'c']);
  deliver(msg({ body: { type: 'gossip' }, updates: [{ name: 'b', state: 'left', incarnation: bEpoch }] }));
  assert.equal(state('b')!.state, 'left');
  await m.close();
});

test('in a cluster, forged epochs, sequence jumps and "left" claims about a member cause no failover', async () => {
  const c = await Cluster.of(4, 23);
  try {
    c.until(() => c.views(names(4)).every((v) => v.length === 4), 1000, 'converged');
    c.clock.advance(500);
    const t0 = c.clock.now();
    // A key holder at another address speaks for n1 and n2, to n0 only.
    const x = c.net.transport('10.0.0.99', 7947);
    await x.bind(() => {});
    const n0 = c.get('n0');
    const n1 = c.get('n1');
    const forge = (m: Partial<Message>): void => x.send(seal(deriveKey(SECRET), encodeMessage({
      from: 'n1', to: 'n0', epoch: n1.epoch, toEpoch: n0.epoch, seq: 1, timestamp: c.clock.now(), incarnation: n1.epoch, body: { type: 'gossip' }, updates: [], ...m,
    })), Cluster.addr(0), 7947);
    forge({ epoch: t0 + 25_000 });
    forge({ seq: 2 ** 45 });
    forge({ from: 'n2', epoch: c.get('n2').epoch, seq: 2 ** 45, updates: [{ name: 'n1', state: 'left', incarnation: 2 * t0 }] });
    c.clock.advance(10_000);
    assert.deepEqual(c.events.filter((e) => e.kind === 'down' && e.at >= t0), [], 'nobody went down');
    for (const v of c.views(names(4))) assert.deepEqual(v, names(4));
    await x.close();
  } finally {
    await c.close();
  }
});

test('first contact: a message naming another epoch is answered, not believed; the sender is verified in one round trip', async () => {
  const { m, deliver, msg, decoded, bEpoch, state } = await solo();
  const sentBefore = decoded().length;
  // b does not know a's epoch yet (0), or names a's previous process.
  deliver(msg({ toEpoch: 0, body: { type: 'ping', probeId: 7 }, updates: [{ name: 'a', state: 'dead', incarnation: m.epoch + 5 }] }));
  deliver(msg({ toEpoch: m.epoch - 5000, body: { type: 'gossip' } }));
  assert.deepEqual(m.alive(), ['a'], 'b not believed alive');
  assert.equal(state('a')!.incarnation, m.epoch, 'its claims were not applied (no refutation)');
  assert.equal((await m.metrics.unverified.get()).values[0]?.value, 2);
  const answers = decoded().slice(sentBefore);
  const ack = answers.find((x) => x.body.type === 'ack');
  const hello = answers.find((x) => x.body.type === 'ping');
  assert.ok(ack && ack.body.type === 'ack' && ack.body.probeId === 7 && ack.toEpoch === bEpoch, 'the ping was answered, naming b\'s epoch');
  assert.ok(hello && hello.body.type === 'ping' && hello.toEpoch === bEpoch && hello.epoch === m.epoch, 'b was pinged, telling it a\'s epoch');
  assert.equal(answers.filter((x) => x.body.type === 'ping').length, 1, 'one hello per probe timeout');
  // b's answer names a's epoch: now b counts.
  deliver(msg({ body: { type: 'ack', probeId: hello.body.type === 'ping' ? hello.body.probeId : 0, subject: 'b' } }));
  assert.deepEqual(m.alive(), ['a', 'b']);
  await m.close();
});

test('a member of the previous release (wire version 1, no receiver epoch) is understood and answered in version 1', async () => {
  const { m, deliver, msg, sent, decoded } = await solo();
  const { toEpoch: _drop, ...v1 } = decodeMessage(msg({ body: { type: 'ping', probeId: 9 } }).subarray(0, -32));
  deliver(seal(deriveKey(SECRET), encodeMessage({ ...v1, seq: 500 })));
  assert.deepEqual(m.alive(), ['a', 'b']);
  const ack = decoded().find((x) => x.body.type === 'ack' && x.body.probeId === 9);
  assert.ok(ack && ack.toEpoch === undefined, 'answered in version 1');
  assert.equal(sent.at(-1)!.data[2], 1);
  await m.close();
});

test('a restarted member does not believe a 12 s old capture of a now dead member', async () => {
  const c = await Cluster.of(2, 29);
  try {
    c.until(() => c.views(names(2)).every((v) => v.length === 2), 1000, 'converged');
    c.clock.advance(1000);
    // Capture n1's messages to n0.
    let capture: Buffer | undefined;
    c.net.tap = (d) => {
      if (d.address === Cluster.addr(1) && d.toAddress === Cluster.addr(0)) capture = d.data;
    };
    c.until(() => capture !== undefined, 1000, 'a message from n1 to n0 captured');
    c.net.tap = undefined;
    const capturedAt = c.clock.now();
    await c.get('n1').close();
    c.members.delete('n1');
    c.until(() => c.get('n0').alive().length === 1, 3000, 'n1 dead at n0');
    // n0 restarts: a new process that has seen nothing.
    await c.get('n0').close();
    c.members.delete('n0');
    c.clock.advance(1000);
    const n0 = await c.add('n0', Cluster.addr(0));
    n0.setPeers([{ name: 'n1', address: Cluster.addr(1), port: 7947 }]);
    c.clock.advance(capturedAt + 12_000 - c.clock.now());
    const x = c.net.transport(Cluster.addr(1), 7947);
    await x.bind(() => {});
    const replayedAt = c.clock.now();
    x.send(capture!, Cluster.addr(0), 7947);
    c.clock.advance(5);
    assert.deepEqual(n0.alive(), ['n0'], 'the capture did not make n1 alive');
    c.clock.advance(2000);
    assert.deepEqual(c.events.filter((e) => e.node === 'n0' && e.member === 'n1' && e.at >= replayedAt), [], 'n0 never reported n1 up (or down again)');
    assert.equal((await n0.metrics.unverified.get()).values[0]?.value, 1, 'answered as first contact, not believed');
    await x.close();
  } finally {
    await c.close();
  }
});

test('keys rotate without a restart, one member at a time: [old, new] → [new, old] → [new]; no failover', async () => {
  const OLD = Buffer.from('old-secret-0123456789abcdef');
  const NEW = Buffer.from('new-secret-0123456789abcdef');
  const c = new Cluster(31);
  for (let i = 0; i < 4; i++) await c.add(`n${i}`, Cluster.addr(i), { secret: OLD });
  c.peersAll(4);
  try {
    c.until(() => c.views(names(4)).every((v) => v.length === 4), 1000, 'converged');
    const t0 = c.clock.now();
    const other = async (n: string): Promise<number> => (await c.get(n).metrics.authenticated.get()).values.find((v) => v.labels.key === 'other')?.value ?? 0;
    // Each member picks a change up at its own time (a Secret reaches speakers seconds apart).
    for (const step of [[OLD, NEW], [NEW, OLD], [NEW]]) {
      for (const n of names(4)) {
        c.get(n).setKeys(step);
        c.clock.advance(700);
      }
      c.clock.advance(2000);
    }
    assert.deepEqual(c.events.filter((e) => e.kind === 'down' && e.at >= t0), [], 'no member went down during the rotation');
    for (const v of c.views(names(4))) assert.deepEqual(v, names(4));
    assert.ok((await other('n0')) > 0, 'messages under the other key were accepted during the rotation');
    const before = await Promise.all(names(4).map(other));
    c.clock.advance(3000);
    assert.deepEqual(await Promise.all(names(4).map(other)), before, 'after the rotation everyone signs with the new key');
    assert.deepEqual(c.get('n0').keyFingerprints, c.get('n3').keyFingerprints);
    assert.equal(c.get('n0').keyFingerprints.length, 1);
    // A member still on the old key alone is no longer admitted.
    await c.add('n4', Cluster.addr(4), { secret: OLD });
    c.peersAll(5);
    c.clock.advance(3000);
    for (const v of c.views(names(4))) assert.deepEqual(v, names(4));
    assert.throws(() => c.get('n0').setKeys([Buffer.from('short')]), /at least 16/);
    assert.equal(c.get('n0').keyFingerprints.length, 1, 'a bad key list changes nothing');
  } finally {
    await c.close();
  }
});

test('a member whose inbound path fails for 1 s but which keeps sending is not declared dead; one whose inbound stays down is, within 2.5 s', async () => {
  const c = await Cluster.of(4, 37);
  const inbound = (lossy: boolean): void => {
    for (const n of [0, 1, 2]) c.net.setLoss(Cluster.addr(n), Cluster.addr(3), lossy ? 1 : 0);
  };
  try {
    c.until(() => c.views(names(4)).every((v) => v.length === 4), 1000, 'converged');
    c.clock.advance(500);
    const t0 = c.clock.now();
    inbound(true);
    c.until(() => names(3).some((n) => c.get(n).snapshot().find((s) => s.name === 'n3')?.state === 'suspect'), 2000, 'n3 suspected');
    c.clock.advance(1000 - (c.clock.now() - t0));
    inbound(false);
    c.clock.advance(3000);
    assert.deepEqual(c.events.filter((e) => e.kind === 'down' && e.at >= t0), [], 'n3 refuted once its inbound path came back');
    for (const v of c.views(names(4))) assert.deepEqual(v, names(4));
    // Inbound down for good: the others fail over all the same, after the unconfirmed timeout.
    const t1 = c.clock.now();
    inbound(true);
    const took = c.until(() => names(3).every((n) => !c.get(n).alive().includes('n3')), 5000, 'n3 dead everywhere');
    assert.ok(took < 2500, `inbound-dead member failed over after ${took} ms`);
    // (n3 itself, hearing nothing, sees the others go; among the rest only n3 went down.)
    assert.ok(c.events.filter((e) => e.kind === 'down' && e.at >= t1 && e.node !== 'n3').every((e) => e.member === 'n3' && e.reason === 'dead'));
  } finally {
    await c.close();
  }
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
