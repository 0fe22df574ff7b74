// The socket seam: BFD needs UDP sockets that send with TTL 255 and (ideally) report the received
// TTL. Node's dgram can send with TTL 255 but can't read the received TTL; the native addon can.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

export interface UdpReceived {
  address: string;
  port: number;
  /** Received TTL / hop limit, if the transport can read it. */
  ttl?: number;
}

export interface UdpEndpointOptions {
  family: 4 | 6;
  address?: string;
  port: number;
  /** TTL / hop limit for everything sent. */
  ttl: number;
  device?: string;
  onMessage: (msg: Buffer, from: UdpReceived) => void;
}

export interface UdpEndpoint {
  readonly port: number;
  send(msg: Buffer, port: number, address: string): void;
  close(): Promise<void>;
}

export interface BfdTransport {
  readonly name: string;
  /** Whether received TTLs are reported (RFC 5881 section 5 check). */
  readonly receivesTtl: boolean;
  open(o: UdpEndpointOptions): Promise<UdpEndpoint>;
}

export function familyOf(address: string): 4 | 6 {
  return isIPv6(address) ? 6 : 4;
}

/** Transport on node:dgram: TTL 255 on send; received TTL unknown (not checked). */
export const dgramTransport: BfdTransport = {
  name: 'dgram',
  receivesTtl: false,
  async open(o) {
    if (o.device) throw new Error(`binding BFD to interface ${o.device} needs the native addon (SO_BINDTODEVICE); omit "interface" or build src/native`);
    const sock: Socket = createSocket({ type: o.family === 6 ? 'udp6' : 'udp4', ipv6Only: o.family === 6 });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port: o.port, address: o.address ?? (o.family === 6 ? '::' : '0.0.0.0'), exclusive: true }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    sock.setTTL(o.ttl);
    sock.on('message', (msg, r) => o.onMessage(msg, { address: r.address, port: r.port }));
    // Send errors (e.g. no route while a link is down) must not kill the worker: BFD just times out.
    sock.on('error', () => {});
    // Sends still queued when close() is called (the AdminDown goodbye) are let out first.
    let inFlight = 0;
    let drained: (() => void) | undefined;
    return {
      port: sock.address().port,
      send(msg, port, address) {
        inFlight++;
        sock.send(msg, port, address, () => {
          if (--inFlight === 0) drained?.();
        });
      },
      async close() {
        if (inFlight > 0) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, 200);
            drained = () => { clearTimeout(t); resolve(); };
          });
        }
        await new Promise<void>((resolve) => {
          try { sock.close(() => resolve()); } catch { resolve(); }
        });
      },
    };
  },
};
