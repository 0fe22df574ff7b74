// A session's outgoing routes: its Adj-RIB-Out, and flushing the changes to the wire as UPDATEs
// while the session is established — batched per event-loop turn, paced by the socket, and
// followed by End-of-RIB once the initial table is out.
import type net from 'node:net';
import { CeaseSub, Err } from './codec/constants.ts';
import { BgpError } from './codec/errors.ts';
import { encodeEndOfRib } from './codec/messages.ts';
import { AdjRibOut, type RibBulk, type RibChanges } from './adj-rib-out.ts';
import type { AttrSet } from './attr-set.ts';
import { bgpMetrics } from './metrics.ts';
import { FAMILY_AFI } from './open-message.ts';
import type { UpdateEncoder } from './update-builder.ts';
import type { Logger } from '../util/log.ts';
import type { Family, PeerCounters } from './types.ts';

/**
 * Route changes encoded per event-loop turn. A small change goes out whole at once; a large one
 * (a 100k-route table or its withdrawal) in turns of this many, so the loop (other sessions,
 * keepalives, BFD, membership) is never blocked for long: a few ms per turn on an idle core.
 */
export const FLUSH_BATCH = 4096;
/** Bytes queued on the socket above which the next batch waits for 'drain'. */
const SEND_HIGH_WATER = 256 * 1024;
/** A peer that stops reading gets its session reset before our send buffer grows past this. */
const MAX_SEND_BUFFER = 32 * 1024 * 1024;

/** What the sender needs of its session. */
export interface SenderHost {
  readonly peer: string;
  readonly log: Logger;
  readonly counters: PeerCounters;
  /** The established connection's socket; undefined while the session is not established. */
  socket(): net.Socket | undefined;
  /** Writes one message on the established connection (counted). */
  write(msg: Buffer): void;
  /** The peer stopped reading: the session ends with this error. */
  overflow(error: BgpError): void;
}

export class RouteSender {
  readonly #rib = new AdjRibOut();
  readonly #host: SenderHost;
  #encoder: UpdateEncoder | undefined;
  #families = new Set<Family>();
  #flushScheduled = false;
  /** End-of-RIB goes out once the initial table has (it may take several turns). */
  #endOfRibDue = false;
  /** Why routes of a family were not sent on this session (reported in status while up). */
  readonly #notSent = new Map<Family, string>();
  readonly #warned = new Set<string>();

  constructor(host: SenderHost) {
    this.#host = host;
  }

  // ---- the routes the engine wants on this session ----------------------------------------

  /** Replaces the desired routes; sends the difference. */
  replace(routes: ReadonlyMap<string, AttrSet>): void {
    if (this.#rib.replace(routes)) this.scheduleFlush();
  }

  /** Sets (or, with null, withdraws) some routes. */
  update(changes: ReadonlyArray<readonly [string, AttrSet | null]>): void {
    let changed = false;
    for (const [p, a] of changes) changed = (a === null ? this.#rib.remove(p) : this.#rib.set(p, a)) || changed;
    if (changed) this.scheduleFlush();
  }

  /** A table replaced in steps (End-of-RIB waits for its end); flush between steps and after. */
  beginBulk(): RibBulk {
    return this.#rib.beginBulk();
  }

  desiredPrefixes(): IterableIterator<string> {
    return this.#rib.desiredPrefixes();
  }

  get desiredCount(): number {
    return this.#rib.desiredCount;
  }

  get advertisedCount(): number {
    return this.#rib.advertisedCount;
  }

  attrSetsInUse(into: Set<AttrSet>): void {
    this.#rib.attrSetsInUse(into);
  }

  // ---- session up and down ------------------------------------------------------------------

  get families(): ReadonlySet<Family> {
    return this.#families;
  }

  get notSent(): string[] {
    return [...this.#notSent.values()];
  }

  up(encoder: UpdateEncoder, families: Set<Family>): void {
    this.#notSent.clear();
    this.#encoder = encoder;
    this.#families = families;
    this.#rib.sessionUp();
    this.#endOfRibDue = true;
    this.flush();
  }

  down(): void {
    this.#rib.sessionDown();
    this.#encoder = undefined;
    this.#flushScheduled = false;
    this.#endOfRibDue = false;
    bgpMetrics.routesAdvertised.set({ peer: this.#host.peer }, 0);
  }

  /** The peer asked for a family again (ROUTE-REFRESH). */
  refresh(family: Family): void {
    if (!this.#families.has(family)) return;
    this.#rib.refresh(family);
    this.flush();
  }

  // ---- flushing -----------------------------------------------------------------------------

  /** Called after the RIB changed: sends at the end of this tick, batching same-tick changes. */
  scheduleFlush(): void {
    if (this.#flushScheduled || !this.#encoder) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      if (!this.#flushScheduled) return;
      this.#flushScheduled = false;
      this.flush();
    });
  }

  flush(): void {
    const enc = this.#encoder;
    if (!this.#host.socket() || !enc) return;
    this.#send(enc, this.#rib.take(FLUSH_BATCH));
    const sock = this.#host.socket();
    if (!sock) return;
    if (this.#rib.pending) {
      // The rest in the next turn, after whatever else waits on the loop; when the peer reads
      // slower than we encode, after the socket drained, so encoded UPDATEs do not pile up here.
      if (sock.writableLength > SEND_HIGH_WATER) {
        this.#flushScheduled = true;
        sock.once('drain', () => {
          if (!this.#flushScheduled) return;
          this.#flushScheduled = false;
          this.flush();
        });
      } else this.scheduleFlush();
      return;
    }
    if (this.#endOfRibDue && !this.#rib.settling) {
      // (Not while a large setRoutes is still filling the table: the engine flushes again after.)
      // End-of-RIB after the initial table (RFC 4724 §2 recommends it even without graceful restart).
      this.#endOfRibDue = false;
      for (const f of this.#families) this.#host.write(encodeEndOfRib(FAMILY_AFI[f]));
    }
  }

  #send(enc: UpdateEncoder, ch: RibChanges): void {
    const out: Buffer[] = [];
    let announced = 0;
    let withdrawn = 0;
    for (const fam of ['IPv4', 'IPv6'] as const) {
      const usable = this.#families.has(fam);
      if (usable && ch.withdraw[fam].length) {
        enc.withdraw(fam, ch.withdraw[fam], out);
        withdrawn += ch.withdraw[fam].length;
      }
      for (const [set, prefixes] of ch.announce[fam]) {
        const r = usable ? enc.announce(fam, set, prefixes, out) : { skipped: prefixes.length, reason: `${fam} unicast is not negotiated with this peer` };
        if (r.skipped) {
          this.#rib.unsend(prefixes);
          if (r.reason) this.#notSent.set(fam, r.reason);
          if (r.reason && !this.#warned.has(r.reason)) {
            this.#warned.add(r.reason);
            this.#host.log.warn({ routes: r.skipped }, `routes not sent: ${r.reason}`);
          }
        } else announced += prefixes.length;
      }
    }
    const s = this.#host.socket();
    if (!out.length || !s) return;
    s.cork();
    for (const m of out) s.write(m);
    s.uncork();
    const c = this.#host.counters;
    c.messagesOut += out.length;
    c.updatesOut += out.length;
    c.prefixesAnnouncedOut += announced;
    c.prefixesWithdrawnOut += withdrawn;
    bgpMetrics.updatesSent.inc({ peer: this.#host.peer }, out.length);
    bgpMetrics.routesAdvertised.set({ peer: this.#host.peer }, this.#rib.advertisedCount);
    if (s.writableLength > MAX_SEND_BUFFER) {
      this.#host.overflow(new BgpError(Err.CEASE, CeaseSub.OUT_OF_RESOURCES, `peer is not reading: ${s.writableLength} bytes wait to be sent`));
    }
  }
}
