// The nodes told directly of a death: the likely new owners of the dead node's Layer 2 addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Decision, ServiceView } from '../../src/speaker/decide.ts';
import { rankCandidates } from '../../src/speaker/owner.ts';
import { takeoverCandidates } from '../../src/speaker/successors.ts';

function decision(owners: Record<string, Record<string, string>>): Decision {
  const services = new Map<string, ServiceView>();
  for (const [svc, l2Owners] of Object.entries(owners)) services.set(svc, { l2Owners, bgpNodes: [] });
  return { l2: new Map(), bgp: new Map(), services };
}

test('takeover candidates: the best-ranked other live nodes for each address the node owned', () => {
  const alive = Array.from({ length: 50 }, (_, i) => `node-${i}`);
  const d = decision({ 'ns/a': { '192.0.2.1': 'node-7' }, 'ns/b': { '192.0.2.2': 'node-7', '192.0.2.3': 'node-8' } });
  const got = takeoverCandidates(d, 'node-7', alive);
  const others = alive.filter((n) => n !== 'node-7');
  const want = new Set([...rankCandidates('192.0.2.1', others).slice(0, 2), ...rankCandidates('192.0.2.2', others).slice(0, 2)]);
  assert.deepEqual(new Set(got), want);
  assert.ok(!got.includes('node-7'));
  assert.deepEqual(takeoverCandidates(d, 'node-9', alive), [], 'owns nothing: nobody to tell');
  assert.deepEqual(takeoverCandidates(undefined, 'node-7', alive), [], 'no decision yet');
});

test('takeover candidates are bounded for a node owning many addresses', () => {
  const alive = Array.from({ length: 200 }, (_, i) => `node-${i}`);
  const owners: Record<string, string> = {};
  for (let i = 0; i < 1000; i++) owners[`10.0.${i >> 8}.${i & 255}`] = 'node-1';
  const got = takeoverCandidates(decision({ 'ns/many': owners }), 'node-1', alive);
  assert.ok(got.length > 0 && got.length <= 16, `${got.length} names`);
});
