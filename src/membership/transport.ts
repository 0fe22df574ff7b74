// Datagram transports: UDP for real, and an in-memory network (with loss and partitions) for tests.
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Clock } from './clock.ts';

export interface Datagram {
  data: Buffer;
  address: string;
  port: number;
}

export interface Transport {
  /** Starts receiving; resolves with the bound port. */
  bind(onMessage: (d: Datagram) => void): Promise<number>;
  send(data: Buffer, address: string, port: number): void;
  close(): Promise<void>;
  /** The socket's receive buffer as granted by the kernel (bytes), where there is one. */
  receiveBufferSize?(): number | undefined;
}

/**
 * Receive buffer asked for: a burst of junk (100k datagrams) must not push members' packets out.
 * The kernel's default (net.core.rmem_default, 208 KiB) holds only a few hundred small datagrams;
 * 4 MiB holds ~5000 and is granted up to net.core.rmem_max.
 */
export const DEFAULT_RECEIVE_BUFFER = 4 * 1024 * 1024;

export interface UdpTransportOptions {
  /** Called for socket errors after bind (sends to unreachable hosts; expected while a peer is down). */
  onError?: (err: Error) => void;
  /** SO_RCVBUF to ask for (bytes); default DEFAULT_RECEIVE_BUFFER. */
  receiveBufferBytes?: number;
}

export class UdpTransport implements Transport {
  private sock: dgram.Socket | undefined;
  private readonly address: string;
  private readonly port: number;
  private readonly onError: (err: Error) => void;
  private readonly rcvbuf: number;

  constructor(address: string, port: number, opts: UdpTransportOptions | ((err: Error) => void) = {}) {
    this.address = address;
    this.port = port;
    const o = typeof opts === 'function' ? { onError: opts } : opts;
    this.onError = o.onError ?? (() => {});
    this.rcvbuf = o.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER;
  }

  receiveBufferSize(): number | undefined {
    try {
      return this.sock?.getRecvBufferSize();
    } catch {
      return undefined; // not bound (yet, or any more)
    }
  }

  bind(onMessage: (d: Datagram) => void): Promise<number> {
    const sock = dgram.createSocket({ type: isIPv6(this.address) ? 'udp6' : 'udp4', reuseAddr: false, recvBufferSize: this.rcvbuf });
    this.sock = sock;
    sock.on('message', (data, rinfo) => {
      // Whatever arrives, an exception must not escape into the event loop and end the process.
      try {
        onMessage({ data, address: rinfo.address, port: rinfo.port });
      } catch (err) {
        this.onError(err instanceof Error ? err : new Error(String(err)));
      }
    });
    return new Promise((resolve, reject) => {
      const fail = (err: Error): void => reject(new Error(`membership: cannot bind UDP ${this.address}:${this.port}: ${err.message}`));
      sock.once('error', fail);
      sock.bind(this.port, this.address, () => {
        sock.off('error', fail);
        // A send to an unreachable host surfaces asynchronously; it is expected while a peer is down.
        sock.on('error', this.onError);
        resolve(sock.address().port);
      });
    });
  }

  send(data: Buffer, address: string, port: number): void {
    this.sock?.send(data, port, address, (err) => {
      if (err) this.onError(err);
    });
  }

  close(): Promise<void> {
    const s = this.sock;
    this.sock = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.close(() => resolve()));
  }
}

/**
 * An in-memory datagram network on a (fake) clock: deliveries take `latencyMs`, links can drop a
 * fraction of packets (seeded random) or be cut entirely. Endpoint identity is "address:port".
 */
export class MemoryNetwork {
  private readonly clock: Clock;
  private readonly endpoints = new Map<string, (d: Datagram) => void>();
  private readonly cut = new Set<string>();
  private readonly loss = new Map<string, number>();
  private readonly random: () => number;
  latencyMs: number;
  sent = 0;
  dropped = 0;
  /** Sees every datagram sent (before loss), e.g. to capture one for a replay test. */
  tap: ((d: Datagram & { toAddress: string; toPort: number }) => void) | undefined;

  constructor(clock: Clock, opts: { latencyMs?: number; random?: () => number } = {}) {
    this.clock = clock;
    this.latencyMs = opts.latencyMs ?? 1;
    this.random = opts.random ?? Math.random;
  }

  transport(address: string, port: number): Transport {
    const key = `${address}:${port}`;
    return {
      bind: (onMessage) => {
        if (this.endpoints.has(key)) return Promise.reject(new Error(`address in use: ${key}`));
        this.endpoints.set(key, onMessage);
        return Promise.resolve(port);
      },
      send: (data, toAddr, toPort) => this.deliver(address, port, data, toAddr, toPort),
      close: () => {
        this.endpoints.delete(key);
        return Promise.resolve();
      },
    };
  }

  /** Cuts (or heals) every packet from or to `address`. */
  setCut(address: string, isCut: boolean): void {
    if (isCut) this.cut.add(address);
    else this.cut.delete(address);
  }

  /** Drops `fraction` of packets on the directed link from → to (addresses). */
  setLoss(from: string, to: string, fraction: number): void {
    this.loss.set(`${from}>${to}`, fraction);
  }

  /** Drops `fraction` of all packets everywhere (a link-specific loss takes precedence). */
  setGlobalLoss(fraction: number): void {
    this.loss.set('*', fraction);
  }

  private deliver(fromAddr: string, fromPort: number, data: Buffer, toAddr: string, toPort: number): void {
    this.sent++;
    this.tap?.({ data: Buffer.from(data), address: fromAddr, port: fromPort, toAddress: toAddr, toPort });
    if (this.cut.has(fromAddr) || this.cut.has(toAddr)) {
      this.dropped++;
      return;
    }
    const p = this.loss.get(`${fromAddr}>${toAddr}`) ?? this.loss.get('*') ?? 0;
    if (p > 0 && this.random() < p) {
      this.dropped++;
      return;
    }
    const copy = Buffer.from(data);
    this.clock.setTimeout(() => {
      this.endpoints.get(`${toAddr}:${toPort}`)?.({ data: copy, address: fromAddr, port: fromPort });
    }, this.latencyMs);
  }
}
