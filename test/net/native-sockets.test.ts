// The native addon against the real kernel: TCP MD5, TTL and min TTL on loopback, UDP received TTL,
// AF_PACKET send/receive inside namespaces this test creates, prompt exit after close, errno errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as native from '../../src/native/index.ts';
import { withNamespaces, veth } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const nativeIndex = fileURLToPath(new URL('../../src/native/index.ts', import.meta.url));

function listen(opts: native.TcpListenOptions): Promise<{ server: net.Server; port: number; fd: native.TcpSocketRef; accepted: net.Socket[] }> {
  const fd = native.tcpListenSocket(opts);
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => {
    accepted.push(s);
    s.end('hello');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd: fd.fd }, () => resolve({ server, port: fd.localAddress().port, fd, accepted }));
  });
}

async function readAll(ref: native.TcpSocketRef): Promise<string> {
  const s = new net.Socket({ fd: ref.fd, readable: true, writable: true });
  let data = '';
  s.setEncoding('utf8');
  for await (const chunk of s) data += chunk as string;
  return data;
}

for (const family of [4, 6] as const) {
  const lo = family === 4 ? '127.0.0.1' : '::1';

  test(`TCP MD5 (IPv${family}): the right key connects, a wrong or missing key never does, keys change at runtime`, async () => {
    const l = await listen({ family, localAddress: lo, md5Keys: new Map([[lo, 'sesame']]) });
    try {
      const fd = await native.tcpConnectSocket({ family, address: lo, port: l.port, md5Key: 'sesame', timeoutMs: 5000 });
      assert.equal(await readAll(fd), 'hello');
      await assert.rejects(native.tcpConnectSocket({ family, address: lo, port: l.port, md5Key: 'wrong', timeoutMs: 1500 }), { code: 'ETIMEDOUT' });
      await assert.rejects(native.tcpConnectSocket({ family, address: lo, port: l.port, timeoutMs: 1500 }), { code: 'ETIMEDOUT' });
      assert.equal(l.accepted.length, 1, 'only the keyed connection reached the server');
      // Removing the peer's key on the listener lets an unsigned connection in.
      l.fd.setTcpMd5(lo, null);
      const fd2 = await native.tcpConnectSocket({ family, address: lo, port: l.port, timeoutMs: 5000 });
      assert.equal(await readAll(fd2), 'hello');
    } finally {
      for (const a of l.accepted) a.destroy();
      l.server.close();
    }
  });

  test(`TTL and min TTL (IPv${family}): GTSM drops segments below the minimum`, async () => {
    const l = await listen({ family, localAddress: lo, minTtl: 255 });
    try {
      assert.equal(l.fd.getTtl(true), 255);
      await assert.rejects(native.tcpConnectSocket({ family, address: lo, port: l.port, ttl: 64, timeoutMs: 1500 }), { code: 'ETIMEDOUT' });
      const fd = await native.tcpConnectSocket({ family, address: lo, port: l.port, ttl: 255, timeoutMs: 5000 });
      assert.equal(fd.getTtl(), 255);
      fd.setTtl(3);
      assert.equal(fd.getTtl(), 3);
      fd.setMinTtl(10);
      assert.equal(fd.getTtl(true), 10);
      // Back to 255, or the listener's GTSM would drop our FIN.
      fd.setTtl(255);
      assert.equal(await readAll(fd), 'hello');
    } finally {
      for (const a of l.accepted) a.destroy();
      l.server.close();
    }
  });

  test(`UDP (IPv${family}): payload, source and received TTL reach JavaScript`, async () => {
    const got: native.UdpMessage[] = [];
    const rx = new native.UdpSocket({ family, localAddress: lo, localPort: 0, reuseAddr: true }, (m) => got.push(m));
    const tx = new native.UdpSocket({ family, localAddress: lo, ttl: 255 }, () => {});
    try {
      const port = rx.localAddress().port;
      assert.ok(port > 0);
      tx.send(Buffer.from('bfd!'), lo, port);
      const m = await waitFor(() => got[0], { what: 'a datagram', timeoutMs: 5000 });
      assert.equal(m.payload.toString(), 'bfd!');
      assert.equal(m.address, lo);
      assert.equal(m.port, tx.localAddress().port);
      assert.equal(m.ttl, 255);
      tx.setTtl(17);
      tx.send(Buffer.from('x'), lo, port);
      const m2 = await waitFor(() => got[1], { what: 'a second datagram', timeoutMs: 5000 });
      assert.equal(m2.ttl, 17);
    } finally {
      rx.close();
      tx.close();
    }
  });
}

test('errors carry errno, code and the failing call', async () => {
  const gone = native.tcpListenSocket({ family: 4, localAddress: '127.0.0.1' });
  closeSync(gone.fd);
  assert.throws(() => native.setTcpMd5(gone, '127.0.0.1', 'k'), (e: unknown) => native.isNativeError(e) && e.code === 'EBADF' && e.errno === 9 && /setTcpMd5/.test(e.message));
  assert.throws(() => new native.PacketSocket(999_999, native.ETH_P_ARP, () => {}), (e: unknown) => native.isNativeError(e) && e.code === 'ENODEV' && /packetOpen/.test(e.message));
  await assert.rejects(native.tcpConnectSocket({ family: 4, address: '127.0.0.1', port: 1, timeoutMs: 5000 }), { code: 'ECONNREFUSED', errno: 111 });
  await assert.rejects(native.tcpConnectSocket({ family: 4, address: 'not-an-ip', port: 1 }), /address does not parse/);
  assert.throws(() => native.setTtl(gone, 4), { code: 'EBADF' });
  const s = new native.PacketSocket(1, native.ETH_P_ARP, () => {});
  s.close();
  assert.throws(() => s.send(Buffer.alloc(60)), { code: 'EBADF' });
});

test('a reference to a closed socket refuses every call, even when a new socket got its fd number', async () => {
  for (const family of [4, 6] as const) {
    const lo = family === 4 ? '127.0.0.1' : '::1';
    const old = native.tcpListenSocket({ family, localAddress: lo });
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen({ fd: old.fd }, resolve));
    const number = old.fd;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // The lowest free number is reused at once: the new socket gets the old one's fd.
    const fresh = native.tcpListenSocket({ family, localAddress: lo });
    try {
      assert.equal(fresh.fd, number, 'the kernel reused the fd number');
      const before = fresh.getTtl();
      assert.throws(() => old.setTtl(3), (e: unknown) => native.isNativeError(e) && e.code === 'EBADF' && /was closed/.test(e.message));
      assert.throws(() => old.setTcpMd5(lo, 'k'), { code: 'EBADF' });
      assert.throws(() => old.localAddress(), { code: 'EBADF' });
      assert.throws(() => old.fd, { code: 'EBADF' });
      assert.equal(fresh.getTtl(), before, 'the new socket was not touched');
    } finally {
      closeSync(fresh.fd);
    }
  }
});

test('a 16-byte device name is refused, not cut to the 15-byte name of another interface', async () => {
  await withNamespaces('ilbn', 1, async ([ns]) => {
    // 15 bytes: the longest name; the kernel used to cut a 16-byte request to exactly this.
    await ns!.ip('link', 'add', 'hl-abcdefghijkl', 'type', 'veth', 'peer', 'name', 'hl-peer0');
    const code = `
      import * as n from ${JSON.stringify(nativeIndex)};
      const out = {};
      const s = n.tcpListenSocket({ family: 4, localAddress: '127.0.0.1' });
      for (const name of ['hl-abcdefghijklX', 'hl-abcdefghijk\u00e9', 'hl-abcdefghijkl']) {
        try { s.setBindDevice(name); out[name] = 'bound'; } catch (e) { out[name] = e.name + ': ' + e.message; }
      }
      for (const device of ['hl-abcdefghijklX']) {
        try { n.tcpListenSocket({ family: 4, localAddress: '127.0.0.1', device }); out['opt ' + device] = 'bound'; } catch (e) { out['opt ' + device] = e.name; }
      }
      console.log(JSON.stringify(out));
    `;
    const out = JSON.parse(await ns!.exec(process.execPath, ['--input-type=module', '-e', code], 20_000)) as Record<string, string>;
    assert.match(out['hl-abcdefghijklX']!, /^RangeError: device is 16 bytes long/);
    assert.match(out['hl-abcdefghijk\u00e9']!, /^RangeError: device is 16 bytes long/);
    assert.equal(out['hl-abcdefghijkl'], 'bound');
    assert.equal(out['opt hl-abcdefghijklX'], 'RangeError');
  });
});

test('an AF_PACKET socket in a namespace sends and receives frames; interface facts are read', async () => {
  await withNamespaces('ilbl', 2, async ([a, b]) => {
    await veth(a!, 'ilbla', b!, 'ilblb');
    await b!.ip('link', 'set', 'ilblb', 'address', '02:00:00:00:00:0b');
    // Receiver in b prints each frame of ethertype 0x88b5 (local experimental) as hex.
    const rxCode = `
      import * as n from ${JSON.stringify(nativeIndex)};
      const l = n.listInterfaces().find((i) => i.name === 'ilblb');
      process.stdout.write(JSON.stringify({ mac: l.mac, up: l.up, kind: l.kind, mtu: l.mtu }) + '\\n');
      const s = new n.PacketSocket(l.index, 0x88b5, (f, t) => { process.stdout.write('frame ' + t + ' ' + f.toString('hex') + '\\n'); s.close(); });
      process.stdout.write('ready\\n');
    `;
    const rx = b!.spawn(process.execPath, ['--input-type=module', '-e', rxCode]);
    let out = '';
    rx.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    rx.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('ready'), { what: 'receiver ready', timeoutMs: 10_000 });
    const facts = JSON.parse(out.split('\n')[0]!) as { mac: string; up: boolean; kind: string; mtu: number };
    assert.deepEqual(facts, { mac: '02:00:00:00:00:0b', up: true, kind: 'veth', mtu: 1500 });
    const txCode = `
      import * as n from ${JSON.stringify(nativeIndex)};
      const l = n.listInterfaces().find((i) => i.name === 'ilbla');
      const s = new n.PacketSocket(l.index, 0x88b5, () => {});
      const f = Buffer.alloc(60);
      Buffer.from([2,0,0,0,0,0x0b]).copy(f, 0);
      Buffer.from(l.mac.split(':').map((x) => parseInt(x, 16))).copy(f, 6);
      f.writeUInt16BE(0x88b5, 12);
      f.write('ironlb', 14);
      s.send(f);
      s.close();
    `;
    await a!.exec(process.execPath, ['--input-type=module', '-e', txCode], 15_000);
    await waitFor(() => out.includes('frame'), { what: 'the frame at the receiver', timeoutMs: 5000 });
    const line = out.split('\n').find((x) => x.startsWith('frame'))!;
    assert.match(line, /^frame 0 02000000000b/);
    assert.ok(line.includes(Buffer.from('ironlb').toString('hex')));
    // The receiver closed its only socket: the process must end by itself.
    await waitFor(() => rx.exitCode !== null, { what: 'receiver to exit after close', timeoutMs: 5000 });
    assert.equal(rx.exitCode, 0);
  });
});

test('a packet socket reports ENETDOWN when its link goes down and keeps receiving after the link returns', async () => {
  await withNamespaces('ilbn', 2, async ([a, b]) => {
    await veth(a!, 'hlpa', b!, 'hlpb');
    const rxCode = `
      import * as n from ${JSON.stringify(nativeIndex)};
      const l = n.listInterfaces().find((i) => i.name === 'hlpa');
      globalThis.keep = new n.PacketSocket(l.index, 0x88b5, (f) => process.stdout.write('frame ' + f.subarray(14, 20).toString() + '\\n'), (e) => process.stdout.write('error ' + e.code + '\\n'));
      process.stdout.write('ready\\n');
    `;
    const rx = a!.spawn(process.execPath, ['--input-type=module', '-e', rxCode]);
    let out = '';
    rx.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    rx.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const send = (text: string): Promise<string> => b!.exec(process.execPath, ['--input-type=module', '-e', `
      import * as n from ${JSON.stringify(nativeIndex)};
      const l = n.listInterfaces().find((i) => i.name === 'hlpb');
      const s = new n.PacketSocket(l.index, 0x88b5, () => {});
      const f = Buffer.alloc(60, 0);
      f.fill(0xff, 0, 6);
      f.writeUInt16BE(0x88b5, 12);
      f.write(${JSON.stringify(text)}, 14);
      s.send(f);
      s.close();
    `], 15_000);
    try {
      await waitFor(() => out.includes('ready'), { what: 'receiver ready', timeoutMs: 10_000 });
      await send('before');
      await waitFor(() => out.includes('frame before'), { what: `the first frame (output: ${out})`, timeoutMs: 5000 });
      // Down and up in one batch: the socket's error is reported...
      await a!.exec('sh', ['-c', 'printf "link set hlpa down\\nlink set hlpa up\\n" | ip -batch -'], 10_000);
      await waitFor(() => out.includes('error ENETDOWN'), { what: `ENETDOWN reported (output: ${out})`, timeoutMs: 5000 });
      // ...and the same socket, never reopened, hears frames again once the link carries them.
      await waitFor(async () => {
        await send('after!');
        return out.includes('frame after!');
      }, { what: `a frame after the flap on the same socket (output: ${out})`, timeoutMs: 10_000, intervalMs: 200 });
    } finally {
      rx.kill('SIGKILL');
    }
  });
});

test('closing every native handle lets the process exit at once', async () => {
  const code = `
    import * as n from ${JSON.stringify(nativeIndex)};
    const lo = n.listInterfaces().find((i) => i.loopback);
    const p = new n.PacketSocket(lo.index, n.ETH_P_ARP, () => {});
    const u = new n.UdpSocket({ family: 4, localAddress: '127.0.0.1' }, () => {});
    const w = new n.LinkWatcher(() => {});
    const pending = n.tcpConnectSocket({ family: 4, address: '127.0.0.1', port: 1 }).catch(() => {});
    const t0 = Date.now();
    p.close(); u.close(); w.close();
    await pending;
    process.stdout.write(String(Date.now() - t0));
  `;
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); resolve(null); }, 10_000);
    child.once('exit', (c) => { clearTimeout(t); resolve(c); });
  });
  assert.equal(exit, 0, `child did not exit cleanly: ${err}`);
  // Node start-up dominates; the point is that nothing native keeps the loop alive.
  assert.ok(Date.now() - t0 < 8000);
});
