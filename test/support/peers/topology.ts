// The two-host topology every BGP test uses: namespaces "a" and "b" joined by one veth,
// with IPv4 10.<net>.0.0/24 and IPv6 fd00:<net>::/64 (extra host addresses on request).
import { veth, type Netns } from '../netns.ts';

export interface Link {
  a: Netns;
  b: Netns;
  a4: string;
  b4: string;
  a6: string;
  b6: string;
  /** Extra addresses on b's side (speakers sharing one namespace), IPv4 and IPv6 pairs. */
  extraB: Array<{ v4: string; v6: string }>;
  /** Takes the link down on both ends (a dead host, as the peer sees it). */
  down(): Promise<void>;
  up(): Promise<void>;
}

export async function link(a: Netns, b: Netns, net: number, extraB = 0): Promise<Link> {
  if (!Number.isInteger(net) || net < 1 || net > 254) throw new Error(`link net must be 1..254, got ${net}`);
  await veth(a, 'eth0', b, 'eth0');
  const a4 = `10.${net}.0.1`;
  const b4 = `10.${net}.0.2`;
  const a6 = `fd00:${net}::1`;
  const b6 = `fd00:${net}::2`;
  await a.ip('addr', 'add', `${a4}/24`, 'dev', 'eth0');
  await b.ip('addr', 'add', `${b4}/24`, 'dev', 'eth0');
  await a.ip('addr', 'add', `${a6}/64`, 'dev', 'eth0', 'nodad');
  await b.ip('addr', 'add', `${b6}/64`, 'dev', 'eth0', 'nodad');
  const extraBList: Link['extraB'] = [];
  for (let i = 0; i < extraB; i++) {
    const v4 = `10.${net}.0.${3 + i}`;
    const v6 = `fd00:${net}::${3 + i}`;
    await b.ip('addr', 'add', `${v4}/24`, 'dev', 'eth0');
    await b.ip('addr', 'add', `${v6}/64`, 'dev', 'eth0', 'nodad');
    extraBList.push({ v4, v6 });
  }
  return {
    a, b, a4, b4, a6, b6, extraB: extraBList,
    async down() {
      await a.ip('link', 'set', 'eth0', 'down');
      await b.ip('link', 'set', 'eth0', 'down');
    },
    async up() {
      await a.ip('link', 'set', 'eth0', 'up');
      await b.ip('link', 'set', 'eth0', 'up');
    },
  };
}
