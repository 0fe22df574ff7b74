// One interface's responder: raw sockets for ARP and ICMPv6, answering for exactly the addresses
// the announcer put in `v4`/`v6`. Work per frame is bounded (decode + one set lookup + at most one
// send, synchronously): nothing is queued, so a flood costs CPU but never memory or staleness.
import { ETH_P_ARP, ETH_P_IPV6, PacketSocket, PacketType, type BpfInsn } from '../native/index.ts';
import { type Logger } from '../util/log.ts';
import { ARP_REQUEST, arpReply, decodeArp, gratuitousArp } from './arp.ts';
import { parseMac } from './ethernet.ts';
import { GroupMembership } from './mld.ts';
import { ICMPV6_NS, decodeNdp, multicastMac, naReply, solicitedNode, unsolicitedNa } from './ndp.ts';
import type { Layer2Metrics } from './metrics.ts';

// Kernel-side filters so only candidate frames wake us up: ARP requests; ICMPv6 NS without
// extension headers (next header 58 at byte 20, ICMPv6 type 135 at byte 54).
const ARP_FILTER: BpfInsn[] = [
  { code: 0x28, jt: 0, jf: 0, k: 20 }, // ldh [20]  (ARP op)
  { code: 0x15, jt: 0, jf: 1, k: 1 }, // jeq #1
  { code: 0x06, jt: 0, jf: 0, k: 0x40000 }, // ret all
  { code: 0x06, jt: 0, jf: 0, k: 0 }, // ret 0
];
const NS_FILTER: BpfInsn[] = [
  { code: 0x30, jt: 0, jf: 0, k: 20 }, // ldb [20]  (next header)
  { code: 0x15, jt: 0, jf: 3, k: 58 }, // jeq #58
  { code: 0x30, jt: 0, jf: 0, k: 54 }, // ldb [54]  (ICMPv6 type)
  { code: 0x15, jt: 0, jf: 1, k: 135 }, // jeq #135
  { code: 0x06, jt: 0, jf: 0, k: 0x40000 },
  { code: 0x06, jt: 0, jf: 0, k: 0 },
];

export class InterfaceResponder {
  readonly name: string;
  readonly index: number;
  readonly mac: Buffer;
  /** Addresses answered on this interface (normalised text). Mutated by the announcer. */
  readonly v4 = new Set<string>();
  readonly v6 = new Set<string>();
  private arp: PacketSocket | null = null;
  private ip6: PacketSocket | null = null;
  private mld: GroupMembership | null = null;
  private readonly groups = new Map<string, number>();
  private readonly metrics: Layer2Metrics;
  private readonly log: Logger;

  constructor(name: string, index: number, mac: string, metrics: Layer2Metrics, log: Logger) {
    this.name = name;
    this.index = index;
    this.mac = parseMac(mac);
    this.metrics = metrics;
    this.log = log.child({ interface: name });
  }

  addV4(ip: string): void {
    if (!this.arp) {
      this.arp = new PacketSocket(this.index, ETH_P_ARP, (f, t) => this.onArp(f, t));
      this.arp.setFilter(ARP_FILTER);
    }
    this.v4.add(ip);
  }

  removeV4(ip: string): void {
    this.v4.delete(ip);
  }

  addV6(ip: string): void {
    if (!this.ip6) {
      this.ip6 = new PacketSocket(this.index, ETH_P_IPV6, (f, t) => this.onNdp(f, t));
      this.ip6.setFilter(NS_FILTER);
      this.mld = new GroupMembership(this.name);
    }
    if (this.v6.has(ip)) return;
    this.v6.add(ip);
    const g = solicitedNode(ip);
    const n = this.groups.get(g) ?? 0;
    this.groups.set(g, n + 1);
    if (n === 0) {
      try {
        this.ip6.addMembership(multicastMac(g));
      } catch (err) {
        this.log.warn({ err, group: g }, 'could not add the solicited-node MAC to the packet socket');
      }
      this.mld?.join(g);
    }
  }

  removeV6(ip: string): void {
    if (!this.v6.delete(ip)) return;
    const g = solicitedNode(ip);
    const n = this.groups.get(g) ?? 0;
    if (n > 1) {
      this.groups.set(g, n - 1);
      return;
    }
    this.groups.delete(g);
    this.mld?.leave(g);
    try {
      this.ip6?.dropMembership(multicastMac(g));
    } catch {
      /* socket already gone */
    }
  }

  get empty(): boolean {
    return this.v4.size === 0 && this.v6.size === 0;
  }

  /** Gratuitous ARP (request and reply) or an unsolicited NA for one address. */
  announce(ip: string, family: 4 | 6): void {
    if (family === 4) {
      for (const f of gratuitousArp(this.mac, ip)) this.send(this.arp, f, 'arp', this.metrics.gratuitous);
    } else {
      this.send(this.ip6, unsolicitedNa(this.mac, ip), 'ndp', this.metrics.gratuitous);
    }
  }

  close(): void {
    this.arp?.close();
    this.ip6?.close();
    this.mld?.close();
    this.arp = this.ip6 = null;
    this.mld = null;
    this.v4.clear();
    this.v6.clear();
    this.groups.clear();
  }

  private onArp(frame: Buffer, pktType: number): void {
    const req = decodeArp(frame);
    if (!req || req.op !== ARP_REQUEST) return;
    this.metrics.requests.inc({ interface: this.name, protocol: 'arp' });
    // Broadcast, or unicast to our MAC (a refresh probe); never frames for other hosts seen in promiscuous mode.
    if (pktType !== PacketType.broadcast && pktType !== PacketType.host) return;
    if (!this.v4.has(req.targetIp)) return;
    if (req.senderIp === req.targetIp) return; // someone else's gratuitous ARP for the address
    this.send(this.arp, arpReply(req, this.mac, req.targetIp), 'arp', this.metrics.replies);
  }

  private onNdp(frame: Buffer, pktType: number): void {
    const ns = decodeNdp(frame);
    if (!ns || ns.type !== ICMPV6_NS) return;
    this.metrics.requests.inc({ interface: this.name, protocol: 'ndp' });
    if (pktType !== PacketType.multicast && pktType !== PacketType.host) return;
    if (!this.v6.has(ns.target)) return;
    // Multicast resolution goes to the target's solicited-node group; a reachability probe (with
    // or without a source link-layer option) to the target itself.
    if (ns.dst !== ns.target && ns.dst !== solicitedNode(ns.target)) return;
    this.send(this.ip6, naReply(ns, this.mac, ns.target), 'ndp', this.metrics.replies);
  }

  private send(sock: PacketSocket | null, frame: Buffer, protocol: 'arp' | 'ndp', counter: Layer2Metrics['replies']): void {
    if (!sock || sock.closed) return;
    try {
      sock.send(frame);
      counter.inc({ interface: this.name, protocol });
    } catch (err) {
      this.metrics.sendErrors.inc({ interface: this.name, protocol });
      this.log.warn({ err, protocol }, 'sending a frame failed');
    }
  }
}
