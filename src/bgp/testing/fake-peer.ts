// A scripted BGP peer for tests: speaks the wire protocol through the codec, records what it
// receives (including a simple RIB of the routes), and sends whatever the test tells it to,
// malformed bytes included. Loopback only.
import net from 'node:net';
import { Afi, SAFI_UNICAST } from '../codec/constants.ts';
import { emptyCapabilities, type Capabilities } from '../codec/capabilities.ts';
import { decodeMessage, encodeKeepalive, encodeOpen, MessageReader, type BgpMessage, type UpdateMessage } from '../codec/messages.ts';
import { BgpError } from '../codec/errors.ts';
import type { DecodedAttributes } from '../codec/attributes.ts';

export interface FakeRoute {
  attrs: DecodedAttributes;
  nextHops: string[];
  pathId?: number;
}

export interface FakeOpen {
  asn: number;
  bgpId: string;
  holdTime?: number;
  capabilities?: Capabilities;
}

/** Capabilities of a typical modern peer: IPv4+IPv6 unicast, 4-octet AS, route refresh. */
export function standardCapabilities(asn: number, extra: Partial<Capabilities> = {}): Capabilities {
  return {
    ...emptyCapabilities(),
    multiprotocol: [{ afi: Afi.IPV4, safi: SAFI_UNICAST }, { afi: Afi.IPV6, safi: SAFI_UNICAST }],
    routeRefresh: true,
    fourOctetAs: asn,
    ...extra,
  };
}

export class FakePeer {
  readonly messages: BgpMessage[] = [];
  readonly routes = new Map<string, FakeRoute>();
  readonly endOfRib: number[] = [];
  /** Routes held (or counted, with countOnly) when each End-of-RIB arrived. */
  readonly routesAtEndOfRib: number[] = [];
  decodeErrors: BgpError[] = [];
  socket: net.Socket | undefined;
  closed = false;
  ibgp = false;
  addPath = false;
  /** Public so a test can raise maxSize after offering extended messages. */
  readonly reader = new MessageReader();
  /** Decode AS numbers as 4 bytes (the peer offered the 4-octet AS capability). */
  fourOctetAs = true;
  private server: net.Server | undefined;
  /** Sent automatically on connect (undefined: the test sends its own OPEN). */
  autoOpen: FakeOpen | undefined;
  /** Answer the engine's OPEN with a KEEPALIVE automatically. */
  autoKeepalive = true;
  connections = 0;
  /** Only count routes (for 100k-route tests): `announced` and `withdrawn` totals. */
  countOnly = false;
  announced = 0;
  withdrawn = 0;

  /** Listens on 127.0.0.1 (or `host`), port 0; each new connection replaces the previous one. */
  static async listen(autoOpen?: FakeOpen, host = '127.0.0.1'): Promise<FakePeer> {
    const p = new FakePeer();
    p.autoOpen = autoOpen;
    const server = net.createServer((s) => p.adopt(s));
    p.server = server;
    await new Promise<void>((resolve) => server.listen({ host, port: 0 }, () => resolve()));
    return p;
  }

  /** Connects to an engine's listener. */
  static async connect(port: number, autoOpen?: FakeOpen, localAddress = '127.0.0.1'): Promise<FakePeer> {
    const p = new FakePeer();
    p.autoOpen = autoOpen;
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    p.adopt(s);
    return p;
  }

  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  private adopt(s: net.Socket): void {
    this.socket?.destroy();
    this.socket = s;
    this.closed = false;
    this.connections++;
    s.on('data', (d: Buffer) => {
      if (this.socket !== s) return;
      this.reader.push(d);
      for (let i = 0; i < 100_000; i++) {
        let m: BgpMessage;
        try {
          const raw = this.reader.next();
          if (!raw) break;
          m = decodeMessage(raw, { fourOctetAs: this.fourOctetAs, ibgp: this.ibgp, addPathReceive: () => this.addPath });
        } catch (e) {
          if (e instanceof BgpError) this.decodeErrors.push(e);
          s.destroy();
          return;
        }
        this.onMessage(m);
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      if (this.socket === s) this.closed = true;
    });
    if (this.autoOpen) this.sendOpen(this.autoOpen);
  }

  private onMessage(m: BgpMessage): void {
    this.messages.push(m);
    if (m.type === 'open' && this.autoKeepalive) this.send(encodeKeepalive());
    if (m.type === 'update') this.apply(m);
  }

  private apply(u: UpdateMessage): void {
    if (u.endOfRib) {
      this.endOfRib.push(u.endOfRib.afi);
      this.routesAtEndOfRib.push(this.countOnly ? this.announced - this.withdrawn : this.routes.size);
      return;
    }
    if (this.countOnly) {
      // Large tables: count, keep nothing (the messages list is not kept either).
      this.messages.pop();
      this.announced += u.nlri.length + (u.attrs.mpReach?.nlri.length ?? 0);
      this.withdrawn += u.withdrawn.length + (u.attrs.mpUnreach?.withdrawn.length ?? 0);
      return;
    }
    for (const w of u.withdrawn) this.routes.delete(w.prefix);
    for (const w of u.attrs.mpUnreach?.withdrawn ?? []) this.routes.delete(w.prefix);
    if (u.treatAsWithdraw) return;
    for (const n of u.nlri) this.routes.set(n.prefix, { attrs: u.attrs, nextHops: u.attrs.nextHop ? [u.attrs.nextHop] : [], ...(n.pathId !== undefined ? { pathId: n.pathId } : {}) });
    const mp = u.attrs.mpReach;
    if (mp) for (const n of mp.nlri) this.routes.set(n.prefix, { attrs: u.attrs, nextHops: mp.nextHops, ...(n.pathId !== undefined ? { pathId: n.pathId } : {}) });
  }

  sendOpen(o: FakeOpen): void {
    this.send(encodeOpen({ asn: o.asn, bgpId: o.bgpId, holdTime: o.holdTime ?? 90, capabilities: o.capabilities ?? standardCapabilities(o.asn) }));
  }

  send(b: Buffer): void {
    this.socket?.write(b);
  }

  of<T extends BgpMessage['type']>(type: T): Array<Extract<BgpMessage, { type: T }>> {
    return this.messages.filter((m): m is Extract<BgpMessage, { type: T }> => m.type === type);
  }

  /** Closes the connection (abruptly with reset=true). */
  drop(reset = false): void {
    if (reset) this.socket?.resetAndDestroy();
    else this.socket?.destroy();
  }

  async close(): Promise<void> {
    this.socket?.destroy();
    const server = this.server;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
