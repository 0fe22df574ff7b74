// NDP reply latency probe, the Neighbor Solicitation counterpart of `arping` (which the ARP rows
// use): run inside a client namespace, it sends COUNT Neighbor Solicitations for TARGET on IFACE,
// one at a time and INTERVAL_MS apart, each as the kernel sends one (to the target's
// solicited-node group, hop limit 255, with a source link-layer option, from SOURCE), and times
// each until a Neighbor Advertisement for TARGET arrives. The timing loop runs in C
// (PacketSocket.probe: send, poll, receive, compare), so, as with arping, the probe's own cost is
// a few microseconds and not a JavaScript event loop turn. A few solicitations first, answered
// through JavaScript, tell which link-layer addresses answer. ndisc6 cannot be used: MetalLB's
// responder does not answer it (docs/performance.md), while it answers solicitations like these.
//   node bench/ndp-probe.ts IFACE SOURCE TARGET [COUNT=200] [INTERVAL_MS=10] [TIMEOUT_MS=200]
// Prints one JSON line: { us: [latency µs of each answered request], lost, macs: [answering MACs] }.
import { ETH_P_IPV6, PacketSocket, listInterfaces } from '../src/native/index.ts';
import { formatMac, parseMac } from '../src/layer2/ethernet.ts';
import { ICMPV6_NA, ICMPV6_NS, decodeNdp, encodeNdp, ipv6ToBytes, multicastMac, solicitedNode } from '../src/layer2/ndp.ts';
import { normaliseIp } from '../src/layer2/announcer.ts';

const [iface, source, targetArg] = process.argv.slice(2);
const count = Number(process.argv[5] ?? 200);
const intervalMs = Number(process.argv[6] ?? 10);
const timeoutMs = Number(process.argv[7] ?? 200);
if (!iface || !source || !targetArg) throw new Error('usage: node bench/ndp-probe.ts IFACE SOURCE TARGET [COUNT=200] [INTERVAL_MS=10] [TIMEOUT_MS=200]');
if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new Error(`COUNT must be 1 to 100000, got ${process.argv[5]}`);
const target = normaliseIp(targetArg).text;
const link = listInterfaces().find((l) => l.name === iface);
if (!link) throw new Error(`no interface ${iface} in this namespace`);
const mac = parseMac(link.mac);
const group = solicitedNode(target);
const ns = encodeNdp({ ethDst: multicastMac(group), ethSrc: mac, src: source, dst: group, type: ICMPV6_NS, target, lla: mac });

// Who answers: three solicitations through the JavaScript path.
let onAnswer: (() => void) | null = null;
const macs = new Set<string>();
const sock = new PacketSocket(link.index, ETH_P_IPV6, (frame) => {
  const m = decodeNdp(frame);
  if (!m || m.type !== ICMPV6_NA || m.target !== target) return;
  macs.add(formatMac(m.lla ?? m.ethSrc));
  onAnswer?.();
});
for (let i = 0; i < 3; i++) {
  await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    onAnswer = () => {
      clearTimeout(timer);
      resolve(true);
    };
    sock.send(ns);
  });
  onAnswer = null;
}

// The timed run: an NA (next header ICMPv6 at byte 20, type 136 code 0 at 54, no extension
// headers: both responders and the kernel send them so) whose target (62) is TARGET.
const pattern = Buffer.alloc(58);
const mask = Buffer.alloc(58);
pattern[0] = 58;
mask[0] = 0xff;
pattern[34] = ICMPV6_NA;
mask[34] = mask[35] = 0xff;
ipv6ToBytes(target).copy(pattern, 42);
mask.fill(0xff, 42, 58);
const times = sock.probe(ns, { offset: 20, pattern, mask }, count, intervalMs, timeoutMs);
sock.close();
const us = [...times].filter((x) => !Number.isNaN(x));
process.stdout.write(`${JSON.stringify({ us, lost: count - us.length, macs: [...macs] })}\n`);
