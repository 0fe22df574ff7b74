// Chooses the socket transport: the native addon (received TTL for the RFC 5881/5883 checks,
// SO_BINDTODEVICE) when it is built, else node:dgram. The addon is loaded lazily, so BFD still runs
// where it was not compiled.
import type * as Native from '../native/index.ts';
import { logger } from '../util/log.ts';
import { type BfdTransport, dgramTransport, type UdpEndpoint } from './transport.ts';

type NativeUdpModule = Pick<typeof Native, 'UdpSocket'>;

export function nativeTransport(mod: NativeUdpModule): BfdTransport {
  return {
    name: 'native',
    receivesTtl: true,
    async open(o): Promise<UdpEndpoint> {
      const sock = new mod.UdpSocket(
        { family: o.family, localAddress: o.address ?? (o.family === 6 ? '::' : '0.0.0.0'), localPort: o.port, ttl: o.ttl, ...(o.device ? { device: o.device } : {}) },
        (m) => o.onMessage(m.payload, { address: m.address, port: m.port, ...(m.ttl >= 0 ? { ttl: m.ttl } : {}) }),
      );
      return {
        port: sock.localAddress().port,
        send(msg, port, address) {
          // No route while a link is down, etc.: BFD recovers by itself, the packet is just lost.
          try { sock.send(msg, address, port); } catch { /* lost */ }
        },
        async close() { sock.close(); },
      };
    },
  };
}

export async function selectTransport(): Promise<BfdTransport> {
  if (process.env.IRONLB_BFD_TRANSPORT === 'dgram') return dgramTransport;
  try {
    const mod: NativeUdpModule = await import('../native/index.ts');
    // Probe once: the module loads lazily and throws here if the addon is not built.
    const probe = new mod.UdpSocket({ family: 4, localAddress: '127.0.0.1', localPort: 0 }, () => {});
    probe.close();
    return nativeTransport(mod);
  } catch (err) {
    logger('bfd').warn({ err: (err as Error).message }, 'native addon unavailable, BFD uses node:dgram (received TTL not checked)');
    return dgramTransport;
  }
}
