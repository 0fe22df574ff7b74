// Interface facts behind default next hops: link-local when the peer is on-link, and the
// interface's address of the other family.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type os from 'node:os';
import { interfaceAddresses, linkLocalFor, defaultRouterId } from '../../src/bgp/local-link.ts';
import { formatAddress } from '../../src/bgp/codec/prefix.ts';

const a = (address: string, cidr: string, family: 'IPv4' | 'IPv6', internal = false): os.NetworkInterfaceInfo =>
  ({ address, cidr, family, internal, netmask: '', mac: '00:00:00:00:00:00', ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as os.NetworkInterfaceInfo;

const ifaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = {
  lo: [a('127.0.0.1', '127.0.0.1/8', 'IPv4', true), a('::1', '::1/128', 'IPv6', true)],
  eth0: [a('10.0.0.5', '10.0.0.5/24', 'IPv4'), a('fd00::5', 'fd00::5/64', 'IPv6'), a('fe80::5', 'fe80::5/64', 'IPv6')],
};

test('link-local next hop only for on-link peers', () => {
  const hex = (b: Buffer | undefined): string | undefined => (b ? formatAddress(b) : undefined);
  assert.equal(hex(linkLocalFor('fd00::5', 'fd00::1', ifaces)), 'fe80::5');
  assert.equal(linkLocalFor('fd00::5', 'fd01::1', ifaces), undefined, 'not in the interface subnets');
  assert.equal(hex(linkLocalFor('10.0.0.5', '10.0.0.1', ifaces)), 'fe80::5');
  assert.equal(linkLocalFor('10.0.0.5', '10.9.0.1', ifaces), undefined);
  assert.equal(linkLocalFor('127.0.0.1', '127.0.0.2', ifaces), undefined, 'no link-local on lo');
});

test('addresses of the session interface, and a router ID from the host', () => {
  const x = interfaceAddresses('10.0.0.5', ifaces);
  assert.equal(x.ipv4 && formatAddress(x.ipv4), '10.0.0.5');
  assert.equal(x.ipv6 && formatAddress(x.ipv6), 'fd00::5');
  assert.equal(x.linkLocal && formatAddress(x.linkLocal), 'fe80::5');
  assert.equal(interfaceAddresses('127.0.0.1', ifaces).ipv6, undefined, '::1 is never a next hop');
  assert.deepEqual(interfaceAddresses('192.0.2.1', ifaces), {});
  assert.equal(defaultRouterId(ifaces), '10.0.0.5');
});
