// BGP UPDATE encode/decode speed (outside pass/fail): the pure codec alone, no sockets. Encodes
// N IPv4 /32 and N/4 IPv6 /128 routes with one attribute set (with communities) into UPDATEs
// through UpdateEncoder, then frames them with MessageReader and decodes every one. Prints the
// median and range of prefixes per second over the repeats.
//
// Usage: node bench/bgp-codec.ts [--routes 100000] [--repeats 7]
import { parseArgs } from 'node:util';
import { AttrTable } from '../src/bgp/attr-set.ts';
import { MessageReader, decodeMessage, parseAddress, type DecodeContext, type UpdateMessage } from '../src/bgp/codec/index.ts';
import { UpdateEncoder } from '../src/bgp/update-builder.ts';

const { values } = parseArgs({ options: { routes: { type: 'string', default: '100000' }, repeats: { type: 'string', default: '7' } } });
const N = Number(values.routes);
const REPEATS = Number(values.repeats);

const table = new AttrTable();
const set = table.intern({ communities: ['65000:1', '65000:2'], largeCommunities: ['65000:1:2'], med: 10 });
const v4 = Array.from({ length: N }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`);
const v6 = Array.from({ length: N >> 2 }, (_, i) => `fd00::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}/128`);
const dctx: DecodeContext = { fourOctetAs: true, ibgp: false, addPathReceive: () => false };

function once(): { encodeMs: number; decodeMs: number; messages: number } {
  const enc = new UpdateEncoder({ localAsn: 65001, ibgp: false, fourOctetAs: true, maxSize: 4096, addPath: { IPv4: false, IPv6: false }, localAddress: parseAddress('10.0.0.1'), otherFamilyNextHop: parseAddress('fd00::1') });
  const out: Buffer[] = [];
  let t = performance.now();
  enc.announce('IPv4', set, v4, out);
  enc.announce('IPv6', set, v6, out);
  const encodeMs = performance.now() - t;
  t = performance.now();
  const reader = new MessageReader();
  let prefixes = 0;
  for (const m of out) {
    reader.push(m);
    for (let raw = reader.next(); raw; raw = reader.next()) {
      const u = decodeMessage(raw, dctx) as UpdateMessage;
      prefixes += u.nlri.length + (u.attrs.mpReach?.nlri.length ?? 0);
    }
  }
  const decodeMs = performance.now() - t;
  if (prefixes !== v4.length + v6.length) throw new Error(`decoded ${prefixes} prefixes, sent ${v4.length + v6.length}`);
  return { encodeMs, decodeMs, messages: out.length };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
once(); // warm-up
const runs = Array.from({ length: REPEATS }, once);
const total = v4.length + v6.length;
const rate = (ms: number): number => Math.round(total / (ms / 1000));
for (const k of ['encodeMs', 'decodeMs'] as const) {
  const r = runs.map((x) => rate(x[k]));
  console.log(`${k === 'encodeMs' ? 'encode' : 'decode'}: ${median(r)} prefixes/s (range ${Math.min(...r)}-${Math.max(...r)}; ${total} prefixes in ${runs[0]!.messages} UPDATEs, ${REPEATS} runs)`);
}
