// Inside a node's network namespace, the lab API server (listening on a Unix socket in the root
// namespace) is reached through a relay on a loopback port: TCP from the speaker, Unix socket out.
import net from 'node:net';

/** Starts the relay (unref'd: it never keeps the process alive) and returns its loopback port. */
export async function relayToUnixSocket(socketPath: string): Promise<number> {
  const relay = net.createServer((c) => {
    const u = net.connect(socketPath);
    c.pipe(u).pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  relay.unref();
  return (relay.address() as net.AddressInfo).port;
}
