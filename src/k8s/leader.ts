// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews
// every `retryPeriodMs`; a candidate takes the Lease when it has not seen it change for
// `leaseDurationMs` (time measured on the candidate's own clock, so clock skew does not matter);
// a leader that cannot renew within `renewDeadlineMs` steps down.
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { V1MicroTime } from '@kubernetes/client-node';
import { logger } from '../util/log.ts';
import { errorText, isConflict, isNotFound, isAlreadyExists } from './errors.ts';

export interface LeaderElectionOptions {
  api: CoordinationV1Api;
  namespace: string;
  name: string;
  identity: string;
  /** Default 15 s. */
  leaseDurationMs?: number;
  /** Default 10 s; must be below leaseDurationMs. */
  renewDeadlineMs?: number;
  /** Default 2 s. */
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onNewLeader?: (identity: string) => void;
}

export class LeaderElector {
  #opts: Required<Omit<LeaderElectionOptions, 'onNewLeader'>> & Pick<LeaderElectionOptions, 'onNewLeader'>;
  #leading = false;
  #stopped = true;
  #timer: NodeJS.Timeout | undefined;
  #observed: { key: string; at: number } | undefined;
  #lastRenew = 0;
  #leader = '';
  #log;
  #running: Promise<void> | undefined;

  constructor(opts: LeaderElectionOptions) {
    const leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    const renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    const retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    if (!(leaseDurationMs > renewDeadlineMs && renewDeadlineMs > retryPeriodMs && retryPeriodMs > 0)) {
      throw new Error(`leader election needs leaseDuration > renewDeadline > retryPeriod > 0, got ${leaseDurationMs} / ${renewDeadlineMs} / ${retryPeriodMs} ms`);
    }
    this.#opts = { ...opts, leaseDurationMs, renewDeadlineMs, retryPeriodMs };
    this.#log = logger('leader-election', { lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  get leader(): string {
    return this.#leader;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#tick();
  }

  /** Stops campaigning; a leader releases the Lease (unless `release` is false, as after a crash). */
  async stop(release = true): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    if (this.#leading) {
      if (release) await this.#release();
      this.#setLeading(false);
    }
  }

  #tick(): void {
    if (this.#stopped) return;
    this.#running = this.#tryAcquireOrRenew()
      .then((ok) => {
        if (this.#stopped) return;
        const now = Date.now();
        if (ok) {
          this.#lastRenew = now;
          if (!this.#leading) this.#setLeading(true);
        } else if (this.#leading && now - this.#lastRenew > this.#opts.renewDeadlineMs) {
          this.#log.warn('could not renew the lease before the renew deadline; stepping down');
          this.#setLeading(false);
        }
      })
      .finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(() => this.#tick(), this.#opts.retryPeriodMs);
      });
  }

  #setLeading(v: boolean): void {
    this.#leading = v;
    if (v) {
      this.#log.info('became leader');
      this.#opts.onStartedLeading();
    } else {
      this.#log.info('stopped leading');
      this.#opts.onStoppedLeading();
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { api, namespace, name, identity } = this.#opts;
    const now = new V1MicroTime(Date.now());
    const spec = (lease?: V1Lease) => ({
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.#opts.leaseDurationMs / 1000),
      acquireTime: lease?.spec?.holderIdentity === identity && lease.spec.acquireTime ? new V1MicroTime(new Date(lease.spec.acquireTime).getTime()) : now,
      renewTime: now,
      leaseTransitions: (lease?.spec?.leaseTransitions ?? 0) + (lease && lease.spec?.holderIdentity !== identity ? 1 : 0),
    });
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!isNotFound(err)) {
        this.#log.warn({ err: errorText(err) }, 'cannot read the lease');
        return false;
      }
      try {
        await api.createNamespacedLease({ namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: spec() } });
        this.#observe(identity, `${identity}/created`);
        return true;
      } catch (e) {
        if (isNotFound(e)) this.#log.warn({ err: errorText(e) }, `cannot create the lease: namespace ${namespace} does not exist; create it or choose another namespace`);
        else if (!isAlreadyExists(e)) this.#log.warn({ err: errorText(e) }, 'cannot create the lease');
        return false;
      }
    }
    const holder = lease.spec?.holderIdentity ?? '';
    const renew = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
    this.#observe(holder, `${holder}/${renew}/${lease.metadata?.resourceVersion ?? ''}`);
    const observed = this.#observed as { at: number };
    const expired = holder === '' || Date.now() - observed.at > (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
    if (holder !== identity && !expired) return false;
    try {
      await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: spec(lease) } });
      this.#observe(identity, `${identity}/${now.getTime()}`);
      return true;
    } catch (err) {
      if (!isConflict(err)) this.#log.warn({ err: errorText(err) }, 'cannot update the lease');
      return false;
    }
  }

  #observe(holder: string, key: string): void {
    if (this.#observed?.key !== key) this.#observed = { key, at: Date.now() };
    if (holder !== this.#leader) {
      this.#leader = holder;
      this.#opts.onNewLeader?.(holder);
    }
  }

  async #release(): Promise<void> {
    const { api, namespace, name, identity } = this.#opts;
    try {
      const lease = await api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== identity) return;
      // An empty holder lets a standby take over at once instead of after the lease duration.
      await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime(Date.now()) } } });
    } catch (err) {
      this.#log.warn({ err: errorText(err) }, 'cannot release the lease');
    }
  }
}
