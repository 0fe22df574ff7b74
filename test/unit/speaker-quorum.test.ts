import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasL2Quorum } from '../../src/speaker/quorum.ts';

test('Layer 2 quorum: announce while at least half of the known speakers are alive', () => {
  const table: Array<[alive: number, known: number, quorate: boolean, why: string]> = [
    [1, 1, true, 'a single-node cluster serves'],
    [1, 2, true, "a 2-node cluster's survivor serves"],
    [1, 3, false, 'a cut-off node of 3 stops'],
    [2, 3, true, 'the majority of 3 serves'],
    [2, 4, true, 'half of 4 serves'],
    [3, 5, true, 'the majority of 5 serves'],
    [2, 5, false, 'a minority of 5 stops'],
    [0, 0, true, 'no Node known yet: nothing to compare with'],
  ];
  for (const [alive, known, quorate, why] of table) assert.equal(hasL2Quorum(alive, known), quorate, `${alive}/${known}: ${why}`);
});
