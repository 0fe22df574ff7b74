// The socket seam of the engine: how BGP's TCP connections are made and accepted. The native
// factory sets TCP MD5, TTL, min TTL and the device before the SYN (src/native); the plain one
// uses node:net and refuses options it cannot honour rather than silently ignoring them.
import net from 'node:net';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ConnectRequest {
  host: string;
  port: number;
  localAddress?: string;
  password?: string;
  ttl?: number;
  minTtl?: number;
  device?: string;
  timeoutMs: number;
}

export interface ListenRequest {
  /** "::" or "0.0.0.0" listen on every address of both families; others on that one. */
  address: string;
  port: number;
}

export interface BgpListener {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** Sets (or with undefined removes) the TCP MD5 key for connections from a peer address. */
  setPassword(peerAddress: string, password: string | undefined): void;
  /** TTL of the listener's SYN-ACKs and of accepted connections until tuned (255 for GTSM peers). */
  setTtl?(ttl: number): void;
  close(): Promise<void>;
}

export interface SocketFactory {
  readonly name: string;
  connect(req: ConnectRequest, signal: AbortSignal): Promise<net.Socket>;
  listen(req: ListenRequest, onConnection: (socket: net.Socket) => void): Promise<BgpListener>;
  /** Sets the TTL options of a peer on a connection accepted by the listener (eBGP multihop, GTSM). */
  tune?(socket: net.Socket, opts: { ttl?: number; minTtl?: number }): void;
}

/** The file descriptor behind a connected net.Socket (Unix), for socket options Node lacks. */
function socketFd(s: net.Socket): number | undefined {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function family(address: string): 4 | 6 {
  return net.isIPv6(address) ? 6 : 4;
}

/** The bare IPv4 form of an IPv4-mapped IPv6 address, for matching peers. */
export function unmapAddress(a: string): string {
  return a.startsWith('::ffff:') && net.isIPv4(a.slice(7)) ? a.slice(7) : a;
}

function serverOn(server: net.Server, listen: net.ListenOptions | { fd: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // An { fd } object is the "handle" form of listen(), which the typings list separately.
    server.listen(listen as net.ListenOptions, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(s: net.Server): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()));
}

function listenAddresses(address: string): string[] {
  return address === '::' || address === '0.0.0.0' || address === '' ? ['0.0.0.0', '::'] : [address];
}

/** node:net sockets: no MD5, TTL, min TTL or device. */
export const plainSockets: SocketFactory = {
  name: 'plain',
  connect(req, signal) {
    if (req.password !== undefined || req.minTtl !== undefined || req.device !== undefined) {
      return Promise.reject(new Error('TCP MD5, GTSM (minTtl) and device binding need the native addon (src/native); build it with ". scripts/setup.sh"'));
    }
    return new Promise((resolve, reject) => {
      const opts: net.NetConnectOpts = { host: req.host, port: req.port, timeout: req.timeoutMs };
      if (req.localAddress) opts.localAddress = req.localAddress;
      const s = net.connect(opts);
      const done = (err?: Error): void => {
        s.off('connect', ok);
        s.off('error', done);
        s.off('timeout', onTimeout);
        signal.removeEventListener('abort', onAbort);
        s.setTimeout(0);
        if (err) {
          s.destroy();
          reject(err);
        } else resolve(s);
      };
      const ok = (): void => done();
      const onTimeout = (): void => done(new Error(`connect to ${req.host}:${req.port} timed out after ${req.timeoutMs} ms`));
      const onAbort = (): void => done(new Error('connect aborted'));
      s.once('connect', ok);
      s.once('error', done);
      s.once('timeout', onTimeout);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  },
  async listen(req, onConnection) {
    const servers: net.Server[] = [];
    let port = req.port;
    for (const address of listenAddresses(req.address)) {
      const server = net.createServer(onConnection);
      await serverOn(server, { host: address, port, ipv6Only: family(address) === 6 });
      const a = server.address();
      if (a && typeof a === 'object') port = a.port;
      servers.push(server);
    }
    return {
      port,
      setPassword(_peer, password) {
        if (password !== undefined) throw new Error('TCP MD5 on the listening socket needs the native addon (src/native)');
      },
      async close() {
        await Promise.all(servers.map(closeServer));
      },
    };
  },
};

type NativeModule = typeof import('../native/index.ts');

/** Sockets through the native addon: every option set before the SYN. */
export function nativeSockets(native: NativeModule): SocketFactory {
  return {
    name: 'native',
    async connect(req, signal) {
      const opts: import('../native/index.ts').TcpConnectOptions = { family: family(req.host), address: req.host, port: req.port, timeoutMs: req.timeoutMs, signal };
      if (req.localAddress) opts.localAddress = req.localAddress;
      if (req.password !== undefined) opts.md5Key = req.password;
      if (req.ttl !== undefined) opts.ttl = req.ttl;
      if (req.minTtl !== undefined) opts.minTtl = req.minTtl;
      if (req.device !== undefined) opts.device = req.device;
      const ref = await native.tcpConnectSocket(opts);
      return new net.Socket({ fd: ref.fd, readable: true, writable: true });
    },
    async listen(req, onConnection) {
      // References, not fd numbers: options set later (a peer's MD5 key, the TTL) reach this
      // socket or fail, never another socket that reused a closed one's number.
      const entries: Array<{ fam: 4 | 6; ref: import('../native/index.ts').TcpSocketRef; server: net.Server }> = [];
      let port = req.port;
      try {
        for (const address of listenAddresses(req.address)) {
          const fam = family(address);
          const ref = native.tcpListenSocket({ family: fam, localAddress: address, localPort: port });
          const server = net.createServer(onConnection);
          entries.push({ fam, ref, server });
          await serverOn(server, { fd: ref.fd });
          port = native.localAddress(ref).port;
        }
      } catch (e) {
        await Promise.all(entries.map((x) => closeServer(x.server)));
        throw e;
      }
      return {
        port,
        setPassword(peer, password) {
          for (const x of entries) if (x.fam === family(peer)) native.setTcpMd5(x.ref, peer, password ?? null);
        },
        setTtl(ttl) {
          for (const x of entries) native.setTtl(x.ref, ttl);
        },
        async close() {
          await Promise.all(entries.map((x) => closeServer(x.server)));
        },
      };
    },
    tune(socket, opts) {
      const fd = socketFd(socket);
      if (fd === undefined) throw new Error('cannot find the file descriptor of an accepted BGP connection to set its TTL');
      // Taken while node holds the socket open, so the number is this connection's.
      const ref = native.TcpSocketRef.fromFd(fd);
      if (opts.ttl !== undefined) ref.setTtl(opts.ttl);
      if (opts.minTtl !== undefined) ref.setMinTtl(opts.minTtl);
    },
  };
}

let chosen: Promise<SocketFactory> | undefined;

/** The native factory when the addon is built, else the plain one. */
export function defaultSockets(): Promise<SocketFactory> {
  chosen ??= (async () => {
    const built = fileURLToPath(new URL('../native/build/Release/ironlb_native.node', import.meta.url));
    if (!existsSync(built)) return plainSockets;
    try {
      return nativeSockets(await import('../native/index.ts'));
    } catch {
      return plainSockets;
    }
  })();
  return chosen;
}
