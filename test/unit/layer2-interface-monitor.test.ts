// Interface selection (pure): eligibility, exclusion patterns, subnet matching, change detection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffInterfaces, globMatch, ineligibleReason, subnetContains, type Iface } from '../../src/layer2/interface-monitor.ts';
import type { LinkInfo } from '../../src/native/index.ts';

function link(over: Partial<LinkInfo>): LinkInfo {
  return {
    index: 2, name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1500, flags: 0, up: true, running: true, loopback: false, noarp: false,
    broadcast: true, multicast: true, pointToPoint: false, masterIndex: 0, bondSlave: false, kind: '', arpType: 1, operState: 6, ...over,
  };
}

test('eligibility: down, no carrier, NOARP, loopback, bond slaves and non-Ethernet links are skipped', () => {
  assert.equal(ineligibleReason(link({}), {}), null);
  assert.equal(ineligibleReason(link({ up: false }), {}), 'down');
  assert.equal(ineligibleReason(link({ running: false }), {}), 'no carrier');
  assert.equal(ineligibleReason(link({ noarp: true }), {}), 'NOARP');
  assert.equal(ineligibleReason(link({ name: 'lo0', loopback: true }), {}), 'loopback');
  assert.equal(ineligibleReason(link({ bondSlave: true }), {}), 'bond slave');
  assert.equal(ineligibleReason(link({ arpType: 65534, mac: '' }), {}), 'not Ethernet');
  // A bond itself (master) is fine, and so is a bridge port's bridge.
  assert.equal(ineligibleReason(link({ name: 'bond0', kind: 'bond' }), {}), null);
});

test('default exclusions follow peers.md; the list is configurable; exact names bypass it', () => {
  for (const n of ['docker0', 'cali123', 'veth1234', 'lo', 'flannel.1', 'kube-ipvs0', 'cni0', 'lxc99', 'nodelocaldns']) {
    assert.equal(ineligibleReason(link({ name: n }), {}), 'excluded by pattern', n);
  }
  assert.equal(ineligibleReason(link({ name: 'veth0' }), { excludePatterns: [] }), null);
  assert.equal(ineligibleReason(link({ name: 'veth0' }), { interfaces: ['veth0'] }), null);
  assert.equal(ineligibleReason(link({ name: 'veth0' }), { interfaces: ['veth*'] }), 'excluded by pattern');
  assert.equal(ineligibleReason(link({ name: 'eth1' }), { interfaces: ['eth0'] }), 'not selected');
  assert.equal(ineligibleReason(link({ name: 'ens3' }), { interfaces: ['ens*', 'eth0'] }), null);
});

test('glob patterns match whole names and escape regex characters', () => {
  assert.ok(globMatch('flannel*', 'flannel.1'));
  assert.ok(!globMatch('flannel.1', 'flannelx1'));
  assert.ok(globMatch('eth?', 'eth1'));
  assert.ok(!globMatch('eth', 'eth1'));
});

test('subnet containment per family; link-local prefixes do not count', () => {
  const p = [{ address: '192.168.1.5', prefixLength: 24 }, { address: 'fd00:1::5', prefixLength: 64 }, { address: 'fe80::1', prefixLength: 64 }];
  assert.ok(subnetContains(p, '192.168.1.200'));
  assert.ok(!subnetContains(p, '192.168.2.1'));
  assert.ok(subnetContains(p, 'fd00:1::100'));
  assert.ok(!subnetContains(p, 'fd00:2::100'));
  assert.ok(!subnetContains(p, 'fe80::99'));
  assert.ok(!subnetContains(p, 'not-an-ip'));
});

test('diff: added, removed, replaced (new index or MAC) and readdressed interfaces', () => {
  const i = (name: string, index: number, mac: string, prefixes: Iface['prefixes'] = []): Iface => ({ name, index, mac, prefixes, link: link({ name, index, mac }) });
  const before = new Map([['a', i('a', 2, 'm1')], ['b', i('b', 3, 'm2')], ['c', i('c', 4, 'm3')], ['d', i('d', 5, 'm4')]]);
  const after = new Map([['a', i('a', 2, 'm1')], ['b', i('b', 9, 'm2')], ['c', i('c', 4, 'm9')], ['d', i('d', 5, 'm4', [{ address: '10.0.0.1', prefixLength: 24 }])], ['e', i('e', 6, 'm5')]]);
  before.delete('e');
  const bb = new Map(before);
  bb.set('x', i('x', 7, 'm7'));
  const c = diffInterfaces(bb, after);
  assert.deepEqual(c.added.map((x) => x.name), ['e']);
  assert.deepEqual(c.removed.map((x) => x.name), ['x']);
  assert.deepEqual(c.replaced.map((x) => x.after.name), ['b', 'c']);
  assert.deepEqual(c.readdressed.map((x) => x.name), ['d']);
});
