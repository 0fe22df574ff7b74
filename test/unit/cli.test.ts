import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const bin = fileURLToPath(new URL('../../bin/ironlb', import.meta.url));

test('ironlb --help names the command and runs on Node >= 22', () => {
  const out = execFileSync(bin, ['--help'], { encoding: 'utf8' });
  assert.match(out, /Usage: ironlb/);
  const major = Number(process.versions.node.split('.')[0]);
  assert.ok(major >= 22, `tests must run on Node >= 22, got ${process.versions.node}`);
});

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The project's modules (paths from the root) that loading `module` pulls in. */
function graph(module: string): string[] {
  const out = execFileSync(process.execPath, [join(root, 'test/support/module-graph.ts'), new URL(module, `file://${root}`).href], { encoding: 'utf8', timeout: 60_000 });
  return (JSON.parse(out) as string[]).map((u) => fileURLToPath(u).slice(root.length));
}

test('ironlb --help lists every subcommand from the table without loading one', () => {
  const out = execFileSync(bin, ['--help'], { encoding: 'utf8' });
  for (const c of ['controller', 'speaker', 'status', 'dashboard', 'validate', 'migrate', 'layer2', 'lab']) assert.match(out, new RegExp(`^  ${c}\\b`, 'm'), c);
  const loaded = graph('src/cli/main.ts');
  assert.deepEqual(loaded.filter((f) => f.startsWith('src/')).sort(), ['src/cli/commands.ts', 'src/cli/main.ts']);
});

test('a subcommand\'s own help and errors come from its module, loaded when it runs', () => {
  const help = execFileSync(bin, ['speaker', '--help'], { encoding: 'utf8' });
  assert.match(help, /Usage: ironlb speaker \[options\]/);
  assert.match(help, /--node-name/);
  assert.throws(() => execFileSync(bin, ['validate', '-f', '/dev/null', '--no-such-flag'], { encoding: 'utf8', stdio: 'pipe' }), /unknown option '--no-such-flag'/);
});

test('the speaker loads no controller, allocator, status or test-bench module; the controller no speaker', () => {
  const speaker = graph('src/cli/speaker.ts');
  assert.ok(speaker.includes('src/speaker/speaker.ts'), 'sanity: the speaker itself is loaded');
  assert.deepEqual(speaker.filter((f) => /^src\/(controller|ipam|status|migrate|install)\/|^testbed\//.test(f)), []);
  const controller = graph('src/cli/controller.ts');
  assert.ok(controller.includes('src/controller/controller.ts'));
  assert.deepEqual(controller.filter((f) => /^src\/(speaker|layer2|bgp|bfd|membership|native)\/|^testbed\//.test(f)), []);
});

test('the product (src/) imports nothing from the test bench (testbed/); the one-protocol tools are not ironlb subcommands', () => {
  const files = execFileSync('git', ['ls-files', 'src/*.ts', 'src/**/*.ts'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
  assert.ok(files.length > 50, `found ${files.length} product sources`);
  const importsTestbed = files.filter((f) => /(?:from|import\()\s*['"][^'"]*testbed\//.test(readFileSync(join(root, f), 'utf8')));
  assert.deepEqual(importsTestbed, []);
  const help = execFileSync(bin, ['--help'], { encoding: 'utf8' });
  for (const tool of ['bfd', 'membership']) assert.doesNotMatch(help, new RegExp(`^  ${tool}\\b`, 'm'), tool);
});
