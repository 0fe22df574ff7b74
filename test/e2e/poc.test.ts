// The proof of concept every user runs first: three workers, a hostname backend behind a
// LoadBalancer Service, requests from outside, then a node stops and traffic moves — over Layer 2
// and over BGP (ECMP across nodes at the router, the dead node's next hop withdrawn).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { firstAnswerElsewhere, hostPrefix, settledOwner, spread, waitOwnerAgain, waitRoute, withLab } from './helpers.ts';
import { urlFor } from '../../testbed/lab/index.ts';
import { waitFor } from '../support/wait.ts';

const run = promisify(execFile);

test('proof of concept: three workers, hostname backend, L2 and BGP traffic with ECMP spread, failover when a node stops', async () => {
  await withLab(151, async (lab) => {
    await lab.applyExample();
    const [l2v4, l2v6] = await lab.waitAddresses('hello-l2', 2);
    const [bgp] = await lab.waitAddresses('hello-bgp', 1);
    assert.ok(l2v4 && l2v6 && bgp);
    assert.ok(l2v4.startsWith('10.151.0.'), `hello-l2 got ${l2v4} from the lab-l2 pool`);
    assert.ok(bgp.startsWith('10.151.2.'), `hello-bgp got ${bgp} from the lab-bgp pool`);

    // kubectl works against the lab with its printed KUBECONFIG.
    const { stdout } = await run('kubectl', ['get', 'svc', 'hello-bgp', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'], { env: { ...process.env, KUBECONFIG: lab.kubeconfig, HOME: lab.dir } });
    assert.equal(stdout.trim(), bgp);

    // ---- Layer 2: one owner answers ARP and serves every request, from the LAN and through the router.
    const owner = await settledOwner(lab, 'hello-l2', l2v4);
    assert.deepEqual(await spread(lab, 'lan', l2v4, 5), { [owner]: 5 });
    assert.deepEqual(await spread(lab, 'ext', l2v4, 5), { [owner]: 5 });

    // ---- BGP: three next hops at the router; requests from behind it spread over the nodes.
    const all = lab.plan.nodes.map((n) => n.name);
    await waitRoute(lab, hostPrefix(bgp), all);
    const answers = await spread(lab, 'ext', bgp, 30);
    console.log(`# poc: 30 requests to ${bgp} through the router: ${JSON.stringify(answers)}`);
    assert.deepEqual(Object.keys(answers).sort(), all, `ECMP spreads requests over every node: ${JSON.stringify(answers)}`);

    // ---- stop the L2 owner's node: another node answers, the router drops its next hop.
    const probe = lab.probe('ext', urlFor(l2v4), { intervalMs: 50, timeoutMs: 300 });
    try {
      await waitFor(() => probe.results.some((x) => x.node === owner), { what: `the probe's first answers from ${owner}`, timeoutMs: 15_000 });
      const t0 = await lab.killNode(lab.node(owner).index);
      const r = await firstAnswerElsewhere(probe.results, t0, owner);
      console.log(`# poc: node ${owner} stopped; ${r.node} answered after ${r.ms} ms (${r.failed} failed requests meanwhile)`);
      assert.ok(r.ms < 5000, `Layer 2 failover took ${r.ms} ms`);
    } finally {
      probe.stop();
    }
    const rest = all.filter((n) => n !== owner);
    await waitRoute(lab, hostPrefix(bgp), rest, 15_000);
    const after = await spread(lab, 'ext', bgp, 12);
    assert.ok(!(owner in after) && Object.values(after).reduce((a, b) => a + b, 0) === 12, `every request answered by a live node: ${JSON.stringify(after)}`);
    assert.notEqual(await settledOwner(lab, 'hello-l2', l2v6), owner, 'the IPv6 address moved too');

    // ---- the node comes back: its next hop returns.
    await lab.reviveNode(lab.node(owner).index);
    await waitRoute(lab, hostPrefix(bgp), all, 30_000);
    // Same nodes, same owner: the address returns to the revived node, and only it answers.
    await waitOwnerAgain(lab, 'hello-l2', l2v4, owner, `${owner} to own hello-l2 again`);
    assert.deepEqual(await spread(lab, 'lan', l2v4, 3), { [owner]: 3 });
  });
});
