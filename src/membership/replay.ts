// Replay protection for authenticated messages: a message is accepted once, and only while its
// timestamp is within ±maxSkewMs of the local clock. Every accepted (sender, epoch, seq) is
// remembered for as long as its timestamp could still pass (2 × maxSkewMs), in three rotating
// generations of maxSkewMs each.
//
// No per-sender "highest epoch" or "highest seq" is kept on purpose: with such a window one forged
// or corrupted message claiming a larger epoch or a large sequence jump moved it forward, and the
// member's real messages were rejected as stale for minutes or until it restarted. Here a message
// only ever blocks its own replays. A receiver that restarted has forgotten what it saw; the
// receiver epoch in each message (codec.ts, toEpoch) covers that case.
// Memory is bounded: at most maxPerSender entries per sender per generation and maxTotal overall.

export type ReplayVerdict = 'ok' | 'duplicate' | 'clock-skew' | 'future-epoch' | 'busy';

export interface ReplayGuardOptions {
  /** Accept timestamps within ±this of the local clock (ms); epochs at most this far ahead. */
  maxSkewMs: number;
  /** Remembered messages per sender per generation (an honest member sends far fewer). */
  maxPerSender?: number;
  /** Remembered messages overall. */
  maxTotal?: number;
}

type Generation = Map<string, Set<string>>;

export class ReplayGuard {
  private readonly maxSkewMs: number;
  private readonly maxPerSender: number;
  private readonly maxTotal: number;
  /** Newest first. */
  private gens: Generation[] = [new Map(), new Map(), new Map()];
  private genStart: number | undefined;
  private total = 0;

  constructor(opts: ReplayGuardOptions) {
    if (!(opts.maxSkewMs > 0)) throw new Error(`replay guard: maxSkewMs must be positive, got ${opts.maxSkewMs}`);
    this.maxSkewMs = opts.maxSkewMs;
    this.maxPerSender = opts.maxPerSender ?? 20_000;
    this.maxTotal = opts.maxTotal ?? 1_000_000;
  }

  /** Messages remembered. */
  get size(): number {
    return this.total;
  }

  /** Checks and, if acceptable, records (sender, epoch, seq). Call only after the MAC verified. */
  check(sender: string, epoch: number, seq: number, timestamp: number, now: number): ReplayVerdict {
    this.rotate(now);
    if (Math.abs(now - timestamp) > this.maxSkewMs) return 'clock-skew';
    // An epoch is the sender's start time: one from the future is forged or corrupt.
    if (epoch > now + this.maxSkewMs) return 'future-epoch';
    const id = `${epoch}:${seq}`;
    for (const g of this.gens) if (g.get(sender)?.has(id)) return 'duplicate';
    const cur = this.gens[0]!;
    let set = cur.get(sender);
    if ((set?.size ?? 0) >= this.maxPerSender || this.total >= this.maxTotal) return 'busy';
    if (!set) {
      set = new Set();
      cur.set(sender, set);
    }
    set.add(id);
    this.total++;
    return 'ok';
  }

  /** Drops records of senders no longer in the member list. */
  retain(names: ReadonlySet<string>): void {
    for (const g of this.gens) {
      for (const [k, set] of g) {
        if (names.has(k)) continue;
        this.total -= set.size;
        g.delete(k);
      }
    }
  }

  private rotate(now: number): void {
    if (this.genStart === undefined) this.genStart = now;
    // Bounded: after three rotations every generation is empty.
    for (let i = 0; i < 3 && now - this.genStart >= this.maxSkewMs; i++) {
      const dropped = this.gens.pop()!;
      for (const set of dropped.values()) this.total -= set.size;
      this.gens.unshift(new Map());
      this.genStart = i === 2 ? now : this.genStart + this.maxSkewMs;
    }
    if (now - this.genStart >= this.maxSkewMs) this.genStart = now;
  }
}
