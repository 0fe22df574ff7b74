// Replay protection for authenticated messages: per sender an epoch (process start) and a sliding
// window of sequence numbers (IPsec style, 64 wide, so mild UDP reordering is tolerated), plus a
// bounded timestamp window so a receiver that lost its state (restart) still rejects old captures.
// Memory is bounded: one small record per known sender, at most `maxSenders`.

export type ReplayVerdict = 'ok' | 'stale-epoch' | 'duplicate' | 'too-old' | 'clock-skew';

const WINDOW = 64n;

interface SenderState {
  epoch: number;
  maxSeq: bigint;
  /** Bit i set = seq (maxSeq - i) was seen. */
  bitmap: bigint;
}

export interface ReplayGuardOptions {
  /** Accept timestamps within ±this of the local clock (ms). */
  maxSkewMs: number;
  maxSenders: number;
}

export class ReplayGuard {
  private readonly senders = new Map<string, SenderState>();
  private readonly opts: ReplayGuardOptions;

  constructor(opts: ReplayGuardOptions) {
    this.opts = opts;
  }

  get size(): number {
    return this.senders.size;
  }

  /** Checks and, if acceptable, records (sender, epoch, seq). Call only after the MAC verified. */
  check(sender: string, epoch: number, seq: number, timestamp: number, now: number): ReplayVerdict {
    if (Math.abs(now - timestamp) > this.opts.maxSkewMs) return 'clock-skew';
    const s = this.senders.get(sender);
    const q = BigInt(seq);
    if (!s || epoch > s.epoch) {
      if (!s && this.senders.size >= this.opts.maxSenders) {
        // Evict the oldest record (Map keeps insertion order); the timestamp window still guards it.
        const oldest = this.senders.keys().next().value;
        if (oldest !== undefined) this.senders.delete(oldest);
      }
      this.senders.set(sender, { epoch, maxSeq: q, bitmap: 1n });
      return 'ok';
    }
    if (epoch < s.epoch) return 'stale-epoch';
    if (q > s.maxSeq) {
      const shift = q - s.maxSeq;
      s.bitmap = shift >= WINDOW ? 1n : ((s.bitmap << shift) | 1n) & ((1n << WINDOW) - 1n);
      s.maxSeq = q;
      return 'ok';
    }
    const back = s.maxSeq - q;
    if (back >= WINDOW) return 'too-old';
    const bit = 1n << back;
    if (s.bitmap & bit) return 'duplicate';
    s.bitmap |= bit;
    return 'ok';
  }

  /** Drops records of senders no longer in the member list. */
  retain(names: ReadonlySet<string>): void {
    for (const k of this.senders.keys()) if (!names.has(k)) this.senders.delete(k);
  }
}
