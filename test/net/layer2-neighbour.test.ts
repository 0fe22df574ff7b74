// What a Linux client's own neighbour code does with the announcements a new owner sends while the
// client's entry for the address is fresh (issue 16: "mind Linux's neighbour locktime and whether
// requests or replies update existing entries"). A client namespace and a sender namespace on a
// veth pair; the sender writes raw frames (encoded by src/layer2's codecs) claiming the VIP for a
// new MAC; the client's entry is set to the old MAC just before (inside the 1 s locktime) or 1.2 s
// before (outside it). The table is printed; the test asserts what takeover relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withNamespaces, veth, type Netns } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';
import { ARP_REPLY, ARP_REQUEST, encodeArp, gratuitousArp } from '../../src/layer2/arp.ts';
import { BROADCAST_MAC, ZERO_MAC, parseMac } from '../../src/layer2/ethernet.ts';
import { ALL_NODES, ALL_NODES_MAC, ICMPV6_NA, encodeNdp, unsolicitedNa } from '../../src/layer2/ndp.ts';

const VIP4 = '10.78.0.100';
const VIP6 = 'fd00:78::100';
const OLD = '02:00:00:00:0a:01';
const NEW = '02:00:00:00:0b:02';
const SEND = 'import socket,sys\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\ns.bind(("eth0",0))\nfor h in sys.argv[1:]: s.send(bytes.fromhex(h))';

async function entry(client: Netns, ip: string): Promise<{ lladdr?: string; state?: string[] }> {
  const j = JSON.parse(await client.ip('-j', 'neigh', 'show', ip, 'dev', 'eth0')) as Array<{ lladdr?: string; state?: string[] }>;
  return j[0] ?? {};
}

/**
 * Sets the client's entry to OLD in `state`, waits `ageMs` (the entry's age is what is under test,
 * so this wait is the experiment, not a synchronisation), sends `frames` from the sender, and
 * returns the entry once the client has processed them (it either changed, or 200 ms passed).
 */
async function trial(client: Netns, sender: Netns, ip: string, state: 'reachable' | 'stale', ageMs: number, frames: Buffer[]): Promise<string> {
  await client.ip('neigh', 'replace', ip, 'lladdr', OLD, 'nud', state, 'dev', 'eth0');
  if (ageMs > 0) await new Promise((r) => setTimeout(r, ageMs));
  await sender.exec('python3', ['-c', SEND, ...frames.map((f) => f.toString('hex'))]);
  const e = await waitFor(async () => {
    const x = await entry(client, ip);
    return x.lladdr === NEW ? x : undefined;
  }, { what: 'entry change', timeoutMs: 200, intervalMs: 10 }).catch(() => entry(client, ip));
  return `${e.lladdr === NEW ? 'moved' : 'kept'} (${(e.state ?? []).join(',')})`;
}

test('a fresh neighbour entry (inside the 1 s locktime) follows a gratuitous ARP request or reply and an unsolicited NA with Override', { timeout: 120_000 }, async () => {
  await withNamespaces('ilbl', 2, async ([client, sender]) => {
    await veth(client!, 'eth0', sender!, 'eth0');
    await client!.ip('addr', 'add', '10.78.0.1/24', 'dev', 'eth0');
    await client!.ip('-6', 'addr', 'add', 'fd00:78::1/64', 'dev', 'eth0', 'nodad');
    await sender!.ip('addr', 'add', '10.78.0.2/24', 'dev', 'eth0');
    for (const ns of [client!, sender!]) await ns.ip('link', 'set', 'eth0', 'up');
    const sysctl = async (k: string): Promise<string> => (await client!.exec('sysctl', ['-n', k])).trim();
    const settings = {
      arp_accept: await sysctl('net.ipv4.conf.eth0.arp_accept'),
      locktime4: await sysctl('net.ipv4.neigh.eth0.locktime'),
      locktime6: await sysctl('net.ipv6.neigh.eth0.locktime'),
    };
    const clientMac = parseMac(JSON.parse(await client!.ip('-j', 'link', 'show', 'eth0'))[0].address as string);
    const mac = parseMac(NEW);
    const [garpRequest, garpReply] = gratuitousArp(mac, VIP4);
    const frames4: Record<string, Buffer[]> = {
      'gratuitous ARP request (broadcast, sender = target = VIP)': [garpRequest],
      'gratuitous ARP reply (broadcast, target MAC = sender MAC)': [garpReply],
      'ARP reply unicast to the client (an answer to its request)': [encodeArp({ ethDst: clientMac, ethSrc: mac, op: ARP_REPLY, senderMac: mac, senderIp: VIP4, targetMac: clientMac, targetIp: '10.78.0.1' })],
      'ARP request from the VIP for the client': [encodeArp({ ethDst: BROADCAST_MAC, ethSrc: mac, op: ARP_REQUEST, senderMac: mac, senderIp: VIP4, targetMac: ZERO_MAC, targetIp: '10.78.0.1' })],
    };
    const frames6: Record<string, Buffer[]> = {
      'unsolicited NA, Override set (ironlb)': [unsolicitedNa(mac, VIP6)],
      'unsolicited NA, Override clear': [encodeNdp({ ethDst: ALL_NODES_MAC, ethSrc: mac, src: VIP6, dst: ALL_NODES, type: ICMPV6_NA, flags: 0, target: VIP6, lla: mac })],
    };
    const rows: string[] = [];
    const result = new Map<string, string>();
    for (const [family, ip, frames] of [[4, VIP4, frames4], [6, VIP6, frames6]] as const) {
      for (const [what, f] of Object.entries(frames)) {
        for (const state of ['reachable', 'stale'] as const) {
          const fresh = await trial(client!, sender!, ip, state, 0, f);
          const aged = await trial(client!, sender!, ip, state, 1200, f);
          result.set(`${what}|${state}|fresh`, fresh);
          result.set(`${what}|${state}|aged`, aged);
          rows.push(`| IPv${family} | ${what} | ${state.toUpperCase()} | ${fresh} | ${aged} |`);
        }
      }
    }
    console.log(`client settings: ${JSON.stringify(settings)} (kernel ${(await client!.exec('uname', ['-r'])).trim()})`);
    console.log('| family | frame | entry before | entry < 1 s old | entry 1.2 s old |\n|---|---|---|---|---|\n' + rows.join('\n'));
    // What takeover relies on: both gratuitous ARP forms and the NA with Override move an entry
    // however fresh (ironlb sends all three; the kernel exempts gratuitous ARP from the locktime).
    for (const state of ['reachable', 'stale']) {
      for (const age of ['fresh', 'aged']) {
        assert.match(result.get(`gratuitous ARP request (broadcast, sender = target = VIP)|${state}|${age}`) ?? '', /^moved/, `GARP request, ${state}, ${age}`);
        assert.match(result.get(`gratuitous ARP reply (broadcast, target MAC = sender MAC)|${state}|${age}`) ?? '', /^moved/, `GARP reply, ${state}, ${age}`);
        assert.match(result.get(`unsolicited NA, Override set (ironlb)|${state}|${age}`) ?? '', /^moved/, `NA with Override, ${state}, ${age}`);
      }
    }
  });
});
