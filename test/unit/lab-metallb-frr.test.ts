// The lab's MetalLB FRR-mode pieces that need no root: each node's FRR daemons stay in that node's
// folder (no TCP vty, no bgpd listener), the speaker is pointed at the node's reloader, and MetalLB's
// configuration carries the BFD profile in its own CRDs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { daemonArgv, FRR_DAEMONS, frrNodeDirs, frrPidKeys, reloaderArgv, speakerEnv, startupConfig } from '../../testbed/lab/metallb-frr.ts';
import { isMetalLB, metallbObjects, parseImplementation, serviceAnnotations } from '../../testbed/lab/peers.ts';

test('FRR daemons of a node: own sockets, PID and config files in its folder; unix vty only; bgpd without a listener', () => {
  const d = frrNodeDirs('/run/lab', 'node1');
  assert.deepEqual(d, { frr: '/run/lab/metallb-frr/node1/frr', shared: '/run/lab/metallb-frr/node1/reloader' });
  for (const daemon of FRR_DAEMONS) {
    const argv = daemonArgv(d, daemon);
    assert.equal(argv[0], `/usr/lib/frr/${daemon}`);
    assert.equal(argv[argv.indexOf('-z') + 1], `${d.frr}/zserv.api`);
    assert.equal(argv[argv.indexOf('--vty_socket') + 1], d.frr);
    assert.equal(argv[argv.indexOf('-P') + 1], '0');
    // Every argument path is inside the lab folder: `lab down` finds the daemons by it.
    assert.ok(argv.slice(1).filter((a) => a.startsWith('/')).every((a) => a.startsWith('/run/lab/')), argv.join(' '));
  }
  assert.equal(daemonArgv(d, 'bgpd')[daemonArgv(d, 'bgpd').indexOf('-p') + 1], '0');
  assert.deepEqual(reloaderArgv(d).slice(-2), [d.shared, d.frr]);
  assert.match(startupConfig(d), /^log file \/run\/lab\/metallb-frr\/node1\/frr\/frr\.log informational$/m);
  assert.deepEqual(frrPidKeys('node1'), ['node1-frr-zebra', 'node1-frr-bgpd', 'node1-frr-staticd', 'node1-frr-bfdd', 'node1-frr-reloader']);
});

test('the speaker in FRR mode writes into the node\'s shared folder and signals its reloader', () => {
  const d = frrNodeDirs('/run/lab', 'node0');
  assert.deepEqual(speakerEnv(d), { METALLB_BGP_TYPE: 'frr', FRR_CONFIG_FILE: `${d.shared}/frr.conf`, FRR_RELOADER_PID_FILE: `${d.shared}/reloader.pid` });
});

test('metallb-frr is MetalLB: its annotations, and BFD profiles named by BGPPeers in MetalLB\'s CRDs', () => {
  assert.equal(parseImplementation('metallb-frr'), 'metallb-frr');
  assert.ok(isMetalLB('metallb-frr') && isMetalLB('metallb') && !isMetalLB('ironlb'));
  assert.deepEqual(serviceAnnotations('metallb-frr', { pool: 'p', sharingKey: 'k' }), { 'metallb.io/address-pool': 'p', 'metallb.io/allow-shared-ip': 'k' });
  const objs = metallbObjects({
    pools: [{ name: 'bgp', addresses: ['10.0.2.0/26'] }], l2: [], bgp: [{ name: 'bgp', pools: ['bgp'] }],
    peers: [{ name: 'r', myASN: 64512, peerASN: 64512, peerAddress: '10.0.0.254', holdTime: '9s', connectTime: '1s', bfdProfile: 'fast' }],
    bfdProfiles: [{ name: 'fast', receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 }],
  });
  const bfd = objs.find((o) => o.kind === 'BFDProfile');
  assert.deepEqual(bfd, { apiVersion: 'metallb.io/v1beta1', kind: 'BFDProfile', metadata: { name: 'fast', namespace: 'metallb-system' }, spec: { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 } });
  assert.equal((objs.find((o) => o.kind === 'BGPPeer')?.spec as { bfdProfile?: string }).bfdProfile, 'fast');
  // Without profiles (native mode refuses them) none is written.
  assert.equal(metallbObjects({ pools: [], l2: [], bgp: [], peers: [] }).length, 0);
});
