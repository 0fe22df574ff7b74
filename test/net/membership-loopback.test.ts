// Real UDP sockets and the real clock on loopback (IPv4 and IPv6), in one process: quick checks
// of the socket path that the namespace tests exercise across processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Membership } from '../../src/membership/membership.ts';
import { waitFor } from '../support/wait.ts';

const silent = pino({ level: 'silent' });

for (const address of ['127.0.0.1', '::1']) {
  test(`three members on ${address}: converge, detect a closed member, see a leave`, async () => {
    const secret = randomBytes(32);
    const registry = new Registry();
    const ms = ['a', 'b', 'c'].map((name, i) => new Membership({ name, address, port: 0, secret, logger: silent, registry: i === 0 ? registry : undefined }));
    try {
      const ports = await Promise.all(ms.map((m) => m.start()));
      const peers = ms.map((m, i) => ({ name: m.name, address, port: ports[i] }));
      for (const m of ms) m.setPeers(peers);
      await waitFor(() => ms.every((m) => m.alive().length === 3), { what: 'three see three', timeoutMs: 5000, intervalMs: 10 });

      const [a, b, c] = ms as [Membership, Membership, Membership];
      const downs: number[] = [];
      const closedAt = Date.now();
      a.on('memberDown', (n) => n === 'c' && downs.push(Date.now() - closedAt));
      b.on('memberDown', (n) => n === 'c' && downs.push(Date.now() - closedAt));
      await c.close();
      await waitFor(() => downs.length === 2, { what: 'c declared dead by a and b', timeoutMs: 5000, intervalMs: 10 });
      console.log(`# membership loopback ${address}: closed member detected after ${downs.join(', ')} ms`);
      assert.ok(Math.max(...downs) < 1000);
      assert.deepEqual(a.alive(), ['a', 'b']);
      assert.match(await registry.metrics(), /ironlb_membership_detection_seconds_count 1/);

      // Garbage from a stranger is dropped before the MAC, counted by reason, and changes nothing.
      const stranger = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
      await new Promise<void>((r) => stranger.send(Buffer.from('hello, not a member'), ports[0]!, address, () => r()));
      await new Promise<void>((r) => stranger.send(Buffer.alloc(200, 0x41), ports[0]!, address, () => r()));
      stranger.close();
      await waitFor(async () => /ironlb_membership_messages_rejected_total\{reason="size"\} [1-9][\s\S]*reason="magic"\} [1-9]/.test(await registry.metrics()), { what: 'size and magic rejections counted', timeoutMs: 3000 });
      assert.doesNotMatch(await registry.metrics(), /reason="auth"\} [1-9]/, 'no HMAC spent on junk');

      const left = new Promise<string>((r) => a.once('memberDown', (n, reason) => r(`${n}:${reason}`)));
      const t = Date.now();
      await b.leave();
      assert.equal(await left, 'b:left');
      assert.ok(Date.now() - t < 500);
      assert.deepEqual(a.alive(), ['a']);
    } finally {
      for (const m of ms) await m.close();
    }
  });
}
