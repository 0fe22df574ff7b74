// A node falsely declared dead by membership gets its clients back (issue 16).
//
// Three `ironlb speaker` processes (membership only: --no-owner-watch, so no heartbeat flag tells the
// owner what happened), every node answering TCP for the address as kube-proxy would. The owner is
// frozen (SIGSTOP) long enough for the others to declare it dead and take its address over with
// gratuitous ARP: the client's neighbour entry moves to the taker. Then it is thawed: it never lost
// quorum or its address in its own view, so nothing in its own decision changes. It hears that it
// was declared dead, refutes, and the others give the address back. Unless it announces again, the
// client stays on the taker's MAC for as long as the taker keeps answering its TCP (the kernel
// confirms the entry from the traffic itself), which with externalTrafficPolicy: Local and no
// endpoint there is an outage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpeakerCluster } from '../support/speaker-cluster.ts';
import { waitFor } from '../support/wait.ts';

const VIP = '10.92.0.100';

test('a node declared dead while it was alive announces its addresses again after refuting: the client comes back to it', { timeout: 300_000 }, async () => {
  const c = await SpeakerCluster.create({ prefix: 'ilbr', nodes: 3, net: 92, client: true, localVips: [VIP], speakerArgs: ['--no-owner-watch'] });
  try {
    await c.apply('IPPool', 'p1', { addresses: [`${VIP}-10.92.0.110`] });
    await c.apply('L2Advertisement', 'l2', {});
    for (let i = 0; i < 3; i++) {
      c.startSpeaker(i);
      c.nodes[i]!.startApp();
    }
    await Promise.all(c.nodes.map((n) => n.waitLog(/membership running/, 180_000)));
    await c.service('s0', [VIP]);
    const owner = await c.settledL2Owner('s0', VIP, 60_000, 2000);
    const client = c.tcpClient(VIP, 20, 120_000);
    const lastFrom = (name: string, n = 10): boolean => {
      const last = client.results.slice(-n);
      return last.length === n && last.every((r) => r.node === name);
    };
    try {
      await waitFor(() => lastFrom(owner.name), { what: `TCP answered by the owner ${owner.name}`, timeoutMs: 20_000 });
      const marks = new Map(c.nodes.map((n) => [n.name, n.log.length]));
      owner.proc?.kill('SIGSTOP');
      let taker = '';
      try {
        // Declared dead and taken over by membership; the client follows the taker's gratuitous ARP.
        await waitFor(
          () => {
            taker = c.nodes.find((n) => n !== owner && n.log.slice(marks.get(n.name)).some((l) => l.includes('took over address') && l.includes(VIP)))?.name ?? '';
            return taker !== '' && lastFrom(taker);
          },
          { what: `another node to take ${VIP} over and answer the client`, timeoutMs: 15_000, intervalMs: 20 },
        );
      } finally {
        owner.proc?.kill('SIGCONT');
      }
      const from = owner.log.length;
      await owner.waitLog(/refuting a suspicion about this node/, 15_000, from);
      // Ownership is a function of the live set: with the owner alive again it owns the address.
      await waitFor(async () => (await c.announcement('s0'))?.announcements?.find((a) => a.mode === 'layer2')?.node === owner.name, { what: `status to name ${owner.name} again`, timeoutMs: 15_000, intervalMs: 100 });
      const back = Date.now();
      await waitFor(() => lastFrom(owner.name), { what: `the client's TCP answered by ${owner.name} again (it stayed on ${taker}: the owner did not announce again)`, timeoutMs: 6000, intervalMs: 20 }).catch((err: Error) => {
        const said = (n: typeof owner) => n.log.slice(marks.get(n.name)).filter((l) => /refuting|announcing them again|took over|released|declared|memberDown|member (down|up)/i.test(l)).map((l) => `${n.name}: ${l.slice(0, 300)}`);
        throw new Error(`${err.message}\n${c.nodes.flatMap(said).join('\n')}`);
      });
      console.log(`# owner ${owner.name} back; the client answered by it again ${Date.now() - back} ms after status named it`);
      assert.ok(owner.log.slice(from).some((l) => l.includes('announcing them again')), 'the owner logged why it announced again');
    } finally {
      client.stop();
    }
  } finally {
    await c.destroy();
  }
});
