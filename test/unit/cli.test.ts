import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/ironlb', import.meta.url));

test('ironlb --help names the command and runs on Node >= 22', () => {
  const out = execFileSync(bin, ['--help'], { encoding: 'utf8' });
  assert.match(out, /Usage: ironlb/);
  const major = Number(process.versions.node.split('.')[0]);
  assert.ok(major >= 22, `tests must run on Node >= 22, got ${process.versions.node}`);
});
