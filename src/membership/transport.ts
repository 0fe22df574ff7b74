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
}

export class UdpTransport implements Transport {
  private sock: dgram.Socket | undefined;
  private readonly address: string;
  private readonly port: number;
  private readonly onError: (err: Error) => void;

  constructor(address: string, port: number, onError: (err: Error) => void = () => {}) {
    this.address = address;
    this.port = port;
    this.onError = onError;
  }

  bind(onMessage: (d: Datagram) => void): Promise<number> {
    const sock = dgram.createSocket({ type: isIPv6(this.address) ? 'udp6' : 'udp4', reuseAddr: false });
    this.sock = sock;
    sock.on('message', (data, rinfo) => onMessage({ data, address: rinfo.address, port: rinfo.port }));
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
