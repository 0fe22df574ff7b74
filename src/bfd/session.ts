// One BFD session (RFC 5880 asynchronous mode): the state variables of section 6.8.1, reception
// (6.8.6), transmission timing (6.8.2, 6.8.7), detection time and poll/final sequences (6.5, 6.8.3).
// Sockets and clocks are injected so the session is testable with a fake clock.
import { type AuthRxState, type BfdAuth, encodeAuthenticated } from './auth.ts';
import { verifyAuth } from './auth.ts';
import { transition, type FsmEvent } from './fsm.ts';
import { type BfdState, type ControlPacket, Diag, diagName, encodeControl } from './packet.ts';
import type { BfdProfile } from './profile.ts';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(h: unknown): void;
  random(): number;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  random: Math.random,
};

export interface StateChange {
  key: string;
  state: BfdState;
  previous: BfdState;
  diagnostic: string;
  diagnosticCode: number;
  /** For detection-time expiry: ms from the last valid packet to the Down decision. */
  detectedAfterMs?: number;
  /** The detection time in effect, ms. */
  detectionTimeMs: number;
  /** When the worker decided, epoch ms (sub-ms; lets the receiver measure its own delay). */
  at?: number;
}

export interface SessionSnapshot {
  key: string;
  state: BfdState;
  remoteState: BfdState;
  localDiscriminator: number;
  remoteDiscriminator: number;
  diagnostic: string;
  remoteDiagnostic: string;
  polling: boolean;
  /** Negotiated transmit interval (ms) and detection time (ms) in effect. */
  txIntervalMs: number;
  detectionTimeMs: number;
  remoteMinRxMs: number;
  remoteDesiredTxMs: number;
  remoteDetectMult: number;
  txPackets: number;
  rxPackets: number;
  rxDropped: number;
  /** How late periodic packets left versus their schedule (event-loop delay in the BFD thread). */
  txLate: { maxMs: number; over20ms: number; over50ms: number; over100ms: number };
}

export interface SessionOptions {
  key: string;
  localDiscriminator: number;
  profile: BfdProfile;
  auth?: BfdAuth;
  adminDown?: boolean;
  send: (pkt: Buffer) => void;
  onState: (c: StateChange) => void;
  onDrop?: (reason: string) => void;
  /** The negotiated detection time or transmit interval changed (e.g. a poll sequence finished). */
  onTimers?: (t: TimersChange) => void;
  clock?: Clock;
}

export interface TimersChange {
  key: string;
  detectionTimeMs: number;
  txIntervalMs: number;
}

/** RFC 5880 6.8.3: while not Up, send no faster than once a second. */
const SLOW_TX_MS = 1000;

export class BfdSession {
  readonly key: string;
  readonly localDiscr: number;
  private profile: BfdProfile;
  private auth: BfdAuth | undefined;
  private readonly send: (pkt: Buffer) => void;
  private readonly onState: (c: StateChange) => void;
  private readonly onDrop: (reason: string) => void;
  private readonly onTimers: (t: TimersChange) => void;
  private reported = { detect: -1, tx: -1 };
  private readonly clock: Clock;

  private state: BfdState;
  private remoteState: BfdState = 'Down';
  private remoteDiscr = 0;
  private localDiag: number = Diag.None;
  private remoteDiag = 0;
  /** Values we advertise (ms). */
  private advTx: number;
  private advRx: number;
  /** Values in effect for our own timing (ms); differ from the advertised ones during a poll. */
  private activeTx: number;
  private activeRx: number;
  private polling = false;
  private remoteMinRx = 0.001; // RFC: initialised to 1 µs
  private remoteDesiredTx = 0;
  private remoteDetectMult = 0;
  private authRx: AuthRxState = { known: false, rcvSeq: 0 };
  private xmitSeq: number;
  private lastRx = 0;
  private txTimer: unknown;
  private detectTimer: unknown;
  private closed = false;
  private stats = { tx: 0, rx: 0, dropped: 0 };
  private late = { maxMs: 0, over20ms: 0, over50ms: 0, over100ms: 0 };

  constructor(o: SessionOptions) {
    this.key = o.key;
    this.localDiscr = o.localDiscriminator;
    this.profile = o.profile;
    this.auth = o.auth;
    this.send = o.send;
    this.onState = o.onState;
    this.onDrop = o.onDrop ?? (() => {});
    this.onTimers = o.onTimers ?? (() => {});
    this.clock = o.clock ?? realClock;
    this.state = o.adminDown ? 'AdminDown' : 'Down';
    if (o.adminDown) this.localDiag = Diag.AdministrativelyDown;
    this.xmitSeq = Math.floor(this.clock.random() * 0xffffffff) >>> 0;
    this.advTx = this.wantedTx();
    this.advRx = this.profile.receiveInterval;
    this.activeTx = this.advTx;
    this.activeRx = this.advRx;
  }

  start(): void {
    this.scheduleTx(true);
  }

  get sessionState(): BfdState {
    return this.state;
  }

  private wantedTx(): number {
    return this.state === 'Up' ? this.profile.transmitInterval : Math.max(this.profile.transmitInterval, SLOW_TX_MS);
  }

  /** Negotiated periodic transmit interval, ms (0 = must not send periodically). */
  txInterval(): number {
    if (this.remoteMinRx === 0) return 0;
    return Math.max(this.activeTx, this.remoteMinRx);
  }

  /** RFC 5880 6.8.4, asynchronous mode; 0 while nothing has been heard from the peer. */
  detectionTime(): number {
    if (this.remoteDetectMult === 0) return 0;
    return this.remoteDetectMult * Math.max(this.activeRx, this.remoteDesiredTx);
  }

  /** Applies a new profile/auth; timer changes go through a poll sequence, without a flap. */
  update(profile: BfdProfile, auth: BfdAuth | undefined): void {
    this.profile = profile;
    this.auth = auth;
    if (!this.retime()) this.scheduleTx(false);
  }

  setAdminDown(down: boolean): void {
    this.apply({ type: down ? 'adminDown' : 'adminUp' });
  }

  /** Recomputes advertised timers; starts a poll sequence if they changed and the peer is known. */
  private retime(): boolean {
    const tx = this.wantedTx();
    const rx = this.profile.receiveInterval;
    if (tx === this.advTx && rx === this.advRx) return false;
    const oldTx = this.activeTx;
    const oldRx = this.activeRx;
    this.advTx = tx;
    this.advRx = rx;
    if (this.remoteDiscr === 0) {
      this.activeTx = tx;
      this.activeRx = rx;
      this.polling = false;
    } else {
      // Until the Final arrives the peer may still use our old values: send at the faster of the
      // two rates, and allow the longer of the two receive intervals.
      this.activeTx = Math.min(oldTx, tx);
      this.activeRx = Math.max(oldRx, rx);
      this.polling = true;
      this.transmit(false);
      this.scheduleTx(false);
      return true;
    }
    this.scheduleTx(false);
    return false;
  }

  private apply(ev: FsmEvent, detectedAfterMs?: number): void {
    const prev = this.state;
    const r = transition(prev, ev);
    if (r.diagnostic !== undefined) this.localDiag = r.diagnostic;
    if (r.state === prev) return;
    this.state = r.state;
    if (r.state === 'AdminDown' || (r.state === 'Down' && ev.type === 'detectTimeout')) {
      this.clock.clearTimeout(this.detectTimer);
      this.detectTimer = undefined;
    }
    this.onState({
      key: this.key, state: r.state, previous: prev, diagnostic: diagName(this.localDiag), diagnosticCode: this.localDiag,
      detectionTimeMs: this.detectionTime(), ...(detectedAfterMs !== undefined ? { detectedAfterMs } : {}),
    });
    const sent = this.retime();
    if (!sent && r.actions.includes('sendNow')) this.transmit(false);
    this.scheduleTx(false);
  }

  /** A decoded packet demultiplexed to this session; `raw` is needed to verify digests. */
  receive(pkt: ControlPacket, raw: Uint8Array): void {
    if (this.closed) return;
    if (pkt.yourDiscriminator !== 0 && pkt.yourDiscriminator !== this.localDiscr) return this.drop('Your Discriminator does not match');
    const authResult = verifyAuth(raw, pkt, this.auth, this.authRx, pkt.detectMult);
    if (typeof authResult === 'string') return this.drop(authResult);
    this.authRx = authResult;
    this.stats.rx++;
    if (this.state === 'AdminDown') return;
    this.lastRx = this.clock.now();
    const remoteMinRxChanged = pkt.requiredMinRxInterval / 1000 !== this.remoteMinRx;
    this.remoteDiscr = pkt.myDiscriminator;
    this.remoteState = pkt.state;
    this.remoteDiag = pkt.diagnostic;
    this.remoteMinRx = pkt.requiredMinRxInterval / 1000;
    this.remoteDesiredTx = pkt.desiredMinTxInterval / 1000;
    this.remoteDetectMult = pkt.detectMult;
    if (pkt.final && this.polling) {
      this.polling = false;
      this.activeTx = this.advTx;
      this.activeRx = this.advRx;
    }
    this.apply({ type: 'recv', remoteState: pkt.state });
    if (pkt.poll) this.transmit(true);
    this.armDetect();
    if (remoteMinRxChanged) this.scheduleTx(false);
    this.reportTimers();
  }

  private reportTimers(): void {
    const detect = this.detectionTime();
    const tx = this.txInterval();
    if (detect === this.reported.detect && tx === this.reported.tx) return;
    this.reported = { detect, tx };
    this.onTimers({ key: this.key, detectionTimeMs: detect, txIntervalMs: tx });
  }

  private drop(reason: string): void {
    this.stats.dropped++;
    this.onDrop(reason);
  }

  private armDetect(): void {
    this.clock.clearTimeout(this.detectTimer);
    const t = this.detectionTime();
    if (t <= 0) return;
    this.detectTimer = this.clock.setTimeout(() => this.onDetectTimeout(), t);
  }

  private onDetectTimeout(): void {
    this.detectTimer = undefined;
    if (this.closed) return;
    const after = this.clock.now() - this.lastRx;
    // Timers may fire up to a millisecond early (whole-ms loop time): never declare Down before
    // a full detection time has passed.
    const remaining = this.detectionTime() - after;
    if (remaining >= 1) {
      this.detectTimer = this.clock.setTimeout(() => this.onDetectTimeout(), remaining);
      return;
    }
    // The peer is gone: forget it (RFC 5880 6.8.1 bfd.RemoteDiscr, bfd.AuthSeqKnown).
    this.remoteDiscr = 0;
    this.remoteState = 'Down';
    this.authRx = { known: false, rcvSeq: 0 };
    this.polling = false;
    this.remoteMinRx = 0.001;
    this.apply({ type: 'detectTimeout' }, after);
    this.remoteDetectMult = 0;
    this.remoteDesiredTx = 0;
    this.activeTx = this.advTx;
    this.activeRx = this.advRx;
    this.scheduleTx(false);
    this.reportTimers();
  }

  private lastTx = -Infinity;

  /** Schedules the next periodic packet, jittered to 75-100% (75-90% with multiplier 1). */
  private scheduleTx(immediate: boolean): void {
    this.clock.clearTimeout(this.txTimer);
    this.txTimer = undefined;
    if (this.closed) return;
    // Passive role: stay silent until the peer has spoken (RFC 5880 6.1).
    if (this.profile.passiveMode && this.remoteDiscr === 0) return;
    const base = this.txInterval();
    if (base === 0) return;
    const max = this.profile.detectMultiplier === 1 ? 0.9 : 1;
    const interval = base * (0.75 + this.clock.random() * (max - 0.75));
    const wait = immediate ? 0 : Math.max(0, this.lastTx + interval - this.clock.now());
    const due = this.clock.now() + wait;
    this.txTimer = this.clock.setTimeout(() => {
      this.txTimer = undefined;
      const late = this.clock.now() - due;
      if (late > this.late.maxMs) this.late.maxMs = late;
      if (late > 20) this.late.over20ms++;
      if (late > 50) this.late.over50ms++;
      if (late > 100) this.late.over100ms++;
      this.transmit(false);
      this.scheduleTx(false);
    }, wait);
  }

  private transmit(final: boolean): void {
    if (this.closed) return;
    if (this.profile.passiveMode && this.remoteDiscr === 0 && !final) return;
    const p: ControlPacket = {
      version: 1,
      diagnostic: this.localDiag,
      state: this.state,
      poll: this.polling && !final,
      final,
      controlPlaneIndependent: false,
      demand: false,
      multipoint: false,
      detectMult: this.profile.detectMultiplier,
      myDiscriminator: this.localDiscr,
      yourDiscriminator: this.remoteDiscr,
      desiredMinTxInterval: Math.round(this.advTx * 1000),
      requiredMinRxInterval: Math.round(this.advRx * 1000),
      // Echo is refused (docs/performance.md, BFD): 0 tells the peer not to send us echo packets.
      requiredMinEchoRxInterval: 0,
    };
    let buf: Buffer;
    if (this.auth) {
      this.xmitSeq = (this.xmitSeq + 1) >>> 0;
      buf = encodeAuthenticated(p, this.auth, this.xmitSeq);
    } else {
      buf = encodeControl(p);
    }
    this.stats.tx++;
    if (!final) this.lastTx = this.clock.now();
    this.send(buf);
  }

  snapshot(): SessionSnapshot {
    return {
      key: this.key, state: this.state, remoteState: this.remoteState,
      localDiscriminator: this.localDiscr, remoteDiscriminator: this.remoteDiscr,
      diagnostic: diagName(this.localDiag), remoteDiagnostic: diagName(this.remoteDiag),
      polling: this.polling, txIntervalMs: this.txInterval(), detectionTimeMs: this.detectionTime(),
      remoteMinRxMs: this.remoteMinRx, remoteDesiredTxMs: this.remoteDesiredTx, remoteDetectMult: this.remoteDetectMult,
      txPackets: this.stats.tx, rxPackets: this.stats.rx, rxDropped: this.stats.dropped, txLate: { ...this.late },
    };
  }

  /** Stops timers. With `adminDown`, first tells the peer (AdminDown, diag 7) so it doesn't flap to Down by timeout. */
  close(adminDown = true): void {
    if (this.closed) return;
    if (adminDown && this.state !== 'AdminDown' && this.remoteDiscr !== 0) {
      this.state = 'AdminDown';
      this.localDiag = Diag.AdministrativelyDown;
      this.transmit(false);
    }
    this.closed = true;
    this.clock.clearTimeout(this.txTimer);
    this.clock.clearTimeout(this.detectTimer);
  }
}
