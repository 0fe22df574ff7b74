// Real IPv6 multicast group joins (solicited-node groups) through the kernel: an IPv6 datagram
// socket's IPV6_JOIN_GROUP makes the kernel send MLD reports, so MLD-snooping switches forward
// solicitations to this port. Refcounted per group, since several addresses share one group.
import dgram from 'node:dgram';
import { logger } from '../util/log.ts';

const log = logger('layer2.mld');

export class GroupMembership {
  readonly ifname: string;
  private readonly socket: dgram.Socket;
  private readonly counts = new Map<string, number>();
  private ready = false;
  private closed = false;

  constructor(ifname: string) {
    this.ifname = ifname;
    this.socket = dgram.createSocket({ type: 'udp6', reuseAddr: true });
    this.socket.on('error', (err) => log.warn({ err, ifname }, 'MLD join socket error; solicited-node groups may not be joined'));
    this.socket.bind({ port: 0, address: '::', exclusive: true }, () => {
      this.ready = true;
      this.socket.unref();
      for (const g of this.counts.keys()) this.apply(g, true);
    });
  }

  join(group: string): void {
    const n = this.counts.get(group) ?? 0;
    this.counts.set(group, n + 1);
    if (n === 0 && this.ready) this.apply(group, true);
  }

  leave(group: string): void {
    const n = this.counts.get(group) ?? 0;
    if (n <= 1) {
      this.counts.delete(group);
      if (n === 1 && this.ready) this.apply(group, false);
    } else this.counts.set(group, n - 1);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.socket.close();
    } catch {
      /* already closed */
    }
  }

  private apply(group: string, join: boolean): void {
    if (this.closed) return;
    try {
      if (join) this.socket.addMembership(group, `::%${this.ifname}`);
      else this.socket.dropMembership(group, `::%${this.ifname}`);
    } catch (err) {
      log.warn({ err, group, ifname: this.ifname }, join ? 'IPv6 group join failed' : 'IPv6 group leave failed');
    }
  }
}
