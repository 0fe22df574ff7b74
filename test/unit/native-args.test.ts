// The native addon's input checks and its netlink parser, without a network: every argument is
// validated (TypeError / RangeError, never a wrapped or truncated value, never a silent
// undefined), and the rtnetlink parser reads nothing outside the bytes it was given (a bounded
// fuzz; test/net/native-sanitizers.test.ts runs this file again under ASan/UBSan).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as native from '../../src/native/index.ts';
import { prng } from '../support/prng.ts';

// The raw addon, to call it the way a buggy caller could (missing arguments, wrong types).
const addonPath = process.env.IRONLB_NATIVE_ADDON || fileURLToPath(new URL('../../src/native/build/Release/ironlb_native.node', import.meta.url));
const raw = createRequire(import.meta.url)(addonPath) as Record<string, (...args: unknown[]) => unknown>;

const isType = (re: RegExp) => (e: unknown): boolean => e instanceof TypeError && re.test(e.message);
const isRange = (re: RegExp) => (e: unknown): boolean => e instanceof RangeError && re.test(e.message);

test('calls with missing arguments throw TypeError naming the call, never return undefined', () => {
  const sigs: Array<[string, unknown[]]> = [
    ['packetSend', []], ['packetMembership', []], ['packetSetFilter', []], ['setTtl', []], ['setMinTtl', []],
    ['getTtl', []], ['setTcpMd5', []], ['setBindDevice', []], ['localAddress', []], ['udpSend', []],
    ['close', []], ['setRef', []], ['handleFd', []], ['linkWatch', []], ['packetOpen', [1, 0x806, () => {}]],
    ['packetStats', []], ['packetSetReceiveBuffer', []], ['socketRef', []], ['tcpListen', []], ['tcpConnect', [{}]],
    ['packetResponderOpen', [1, 0x806]], ['packetAnswer', [null, Buffer.alloc(4)]], ['packetResponderStats', []], ['answerFrame', [0x806, Buffer.alloc(60), 0, null]], ['packetProbe', [null, Buffer.alloc(60), 0, Buffer.alloc(1), Buffer.alloc(1), 1, 0]],
  ];
  for (const [fn, args] of sigs) {
    assert.throws(() => raw[fn]!(...args), (e: unknown) => e instanceof TypeError && (e as { code?: string }).code === 'ERR_MISSING_ARGS' && e.message.startsWith(`${fn}(`), fn);
  }
});

test('indexes, ethertypes, ports and TTLs out of range or not integers throw RangeError instead of wrapping', () => {
  const noop = (): void => {};
  // NaN used to become ifindex 0: a socket on every link.
  for (const bad of [NaN, 0, -1, 1.5, 2 ** 31, Infinity]) {
    assert.throws(() => new native.PacketSocket(bad, native.ETH_P_ARP, noop), isRange(/ifindex must be an integer from 1/), String(bad));
  }
  assert.throws(() => new native.PacketSocket(1, 0x10000, noop), isRange(/ethertype/));
  // The responder answers ARP or Neighbor Solicitations, nothing else.
  assert.throws(() => new native.ResponderSocket(1, 0x0800 as typeof native.ETH_P_ARP, noop), isRange(/ethertype must be 0x0806 \(ARP\) or 0x86dd/));
  assert.throws(() => new native.ResponderSocket(0, native.ETH_P_ARP, noop), isRange(/ifindex must be an integer from 1/));
  assert.throws(() => raw.packetAnswer!({}, Buffer.alloc(4), null), isType(/handle must be a native handle/));
  assert.throws(() => new native.PacketSocket('1' as unknown as number, native.ETH_P_ARP, noop), isType(/ifindex must be an integer, got a string/));
  // Port 70000 used to bind 4464.
  assert.throws(() => native.tcpListenSocket({ family: 4, localAddress: '127.0.0.1', localPort: 70000 }), isRange(/options.localPort must be an integer from 0 to 65535, got 70000/));
  assert.throws(() => native.tcpListenSocket({ family: 4, localAddress: '127.0.0.1', localPort: -1 }), isRange(/localPort/));
  assert.throws(() => native.tcpListenSocket({ family: 4, localAddress: '127.0.0.1', ttl: 256 }), isRange(/options.ttl must be an integer from 1 to 255/));
  assert.throws(() => native.tcpListenSocket({ family: 5 as 4 }), isRange(/family/));
  assert.throws(() => native.tcpListenSocket({ family: 4, localAddress: '127.0.0.1\u0000junk' }), isType(/NUL/));
  const u = new native.UdpSocket({ family: 4, localAddress: '127.0.0.1' }, noop);
  try {
    assert.throws(() => u.send(Buffer.from('x'), '127.0.0.1', 70000), isRange(/port must be an integer from 1 to 65535, got 70000/));
    assert.throws(() => u.send(Buffer.from('x'), '127.0.0.1', 7.5), isRange(/port/));
    assert.throws(() => u.setTtl(0), isRange(/ttl must be an integer from 1 to 255, got 0/));
    assert.throws(() => u.setTtl(300), isRange(/ttl/));
    assert.throws(() => raw.setRef!(raw.socketRef!(u.fd), 'yes'), isType(/ref must be a boolean, got a string/));
  } finally {
    u.close();
  }
  assert.throws(() => raw.setTtl!(7, 64), isType(/socket must be a native handle from this addon, got a number/));
  assert.throws(() => raw.close!({}), isType(/handle must be a native handle/));
  assert.throws(() => raw.socketRef!(-1), isRange(/fd must be an integer from 0/));
});

test('interface names are checked in bytes: 15 at most, never cut (16 bytes in 15 characters is refused)', () => {
  const l = native.tcpListenSocket({ family: 4, localAddress: '127.0.0.1' });
  try {
    const fifteenChars = 'abcdefghijklmn\u00e9'; // 15 characters, 16 bytes in UTF-8
    assert.equal(fifteenChars.length, 15);
    assert.throws(() => l.setBindDevice(fifteenChars), isRange(/device is 16 bytes long \(UTF-8\); at most 15/));
    assert.throws(() => l.setBindDevice('abcdefghijklmnop'), isRange(/16 bytes/));
    assert.throws(() => l.setBindDevice('a/b'), isRange(/not a valid interface name/));
    assert.throws(() => native.tcpListenSocket({ family: 4, localAddress: '127.0.0.1', device: fifteenChars }), isRange(/options.device is 16 bytes/));
    // A scope id longer than a name can be is refused, not truncated to another interface.
    assert.throws(() => native.tcpListenSocket({ family: 6, localAddress: 'fe80::1%abcdefghijklmnop' }), /does not parse/);
    l.setBindDevice('lo');
    l.setBindDevice('');
  } finally {
    l.release();
  }
});

// --- rtnetlink parser ---------------------------------------------------------------------------

function nlmsg(type: number, body: Buffer): Buffer {
  const len = 16 + body.length;
  const h = Buffer.alloc(16);
  h.writeUInt32LE(len, 0);
  h.writeUInt16LE(type, 4);
  const pad = Buffer.alloc((4 - (len % 4)) % 4);
  return Buffer.concat([h, body, pad]);
}
function attr(type: number, payload: Buffer, declaredLen = 4 + payload.length): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(declaredLen, 0);
  h.writeUInt16LE(type, 2);
  const pad = Buffer.alloc((4 - ((4 + payload.length) % 4)) % 4);
  return Buffer.concat([h, payload, pad]);
}
function ifinfo(index: number, flags: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(1, 2); // ARPHRD_ETHER
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  return b;
}
const RTM_NEWLINK = 16;
const IFLA_ADDRESS = 1, IFLA_IFNAME = 3, IFLA_MTU = 4, IFLA_LINKINFO = 18, IFLA_OPERSTATE = 16, IFLA_INFO_KIND = 1;
const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };

test('netlink parser: well-formed links parse; short attributes are skipped, not read past', () => {
  const good = nlmsg(RTM_NEWLINK, Buffer.concat([
    ifinfo(7, 0x1043),
    attr(IFLA_IFNAME, Buffer.from('eth0\0')),
    attr(IFLA_MTU, u32(9000)),
    attr(IFLA_ADDRESS, Buffer.from([2, 0, 0, 0, 0, 0x0b])),
    attr(IFLA_OPERSTATE, Buffer.from([6])),
    attr(IFLA_LINKINFO, attr(IFLA_INFO_KIND, Buffer.from('veth\0'))),
  ]));
  assert.deepEqual(native.parseLinkMessages(good), [{ index: 7, flags: 0x1043, type: 1, master: 0, name: 'eth0', mac: '02:00:00:00:00:0b', kind: 'veth', slaveKind: '', mtu: 9000, operState: 6 }]);
  // An MTU attribute with a 2-byte payload, the last thing in the buffer: no MTU, no over-read.
  const shortMtu = native.parseLinkMessages(nlmsg(RTM_NEWLINK, Buffer.concat([ifinfo(8, 1), attr(IFLA_IFNAME, Buffer.from('x\0')), attr(IFLA_MTU, Buffer.from([1, 2]))])));
  assert.equal(shortMtu[0]!.mtu, undefined);
  assert.equal(shortMtu[0]!.name, 'x');
  // A name without its NUL, longer than any interface name: bounded to 15 bytes.
  const longName = native.parseLinkMessages(nlmsg(RTM_NEWLINK, Buffer.concat([ifinfo(9, 1), attr(IFLA_IFNAME, Buffer.from('abcdefghijklmnopqrst'))])));
  assert.equal(longName[0]!.name, 'abcdefghijklmno');
  // An attribute claiming more bytes than the message holds: the walk stops there.
  const overlong = native.parseLinkMessages(nlmsg(RTM_NEWLINK, Buffer.concat([ifinfo(10, 1), attr(IFLA_IFNAME, Buffer.from('y\0')), attr(IFLA_MTU, u32(1500), 200)])));
  assert.deepEqual([overlong[0]!.name, overlong[0]!.mtu], ['y', undefined]);
  // A message too short for its ifinfomsg is ignored; a header claiming more than the buffer is refused.
  assert.deepEqual(native.parseLinkMessages(nlmsg(RTM_NEWLINK, Buffer.alloc(8))), []);
  const lying = nlmsg(RTM_NEWLINK, ifinfo(11, 1));
  lying.writeUInt32LE(4096, 0);
  assert.throws(() => native.parseLinkMessages(lying), (e: unknown) => native.isNativeError(e) && e.code === 'EBADMSG');
  assert.throws(() => native.parseLinkMessages(Buffer.alloc(7)), (e: unknown) => native.isNativeError(e) && e.code === 'EBADMSG');
});

test('netlink parser fuzz: 3000 mutated and truncated dumps never crash or read outside the buffer', () => {
  const rnd = prng(0x13);
  const base = Buffer.concat([
    nlmsg(RTM_NEWLINK, Buffer.concat([ifinfo(1, 0x49), attr(IFLA_IFNAME, Buffer.from('lo\0')), attr(IFLA_MTU, u32(65536)), attr(IFLA_LINKINFO, attr(IFLA_INFO_KIND, Buffer.from('dummy\0')))])),
    nlmsg(RTM_NEWLINK, Buffer.concat([ifinfo(2, 0x1043), attr(IFLA_IFNAME, Buffer.from('eth0\0')), attr(IFLA_ADDRESS, Buffer.from([2, 0, 0, 0, 0, 1]))])),
    nlmsg(3, Buffer.alloc(4)), // NLMSG_DONE
  ]);
  let parsed = 0, refused = 0;
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(base.subarray(0, i % 2 ? base.length : Math.floor(rnd() * (base.length + 1))));
    const flips = Math.floor(rnd() * 6);
    for (let k = 0; k < flips && b.length; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    try {
      const links = native.parseLinkMessages(b);
      assert.ok(Array.isArray(links));
      for (const l of links) assert.ok(Buffer.byteLength(l.name) <= 15);
      parsed++;
    } catch (e) {
      assert.ok(native.isNativeError(e), String(e));
      refused++;
    }
  }
  assert.ok(parsed > 100 && refused > 100, `parsed ${parsed}, refused ${refused}`);
});
