// The image build file, checked without a container engine: stages, the Node base tag against
// scripts/setup.sh and package.json's engines, the addon built inside, the compiled entry point,
// a non-root user, and a build context that excludes developer builds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../testbed/tools.ts';

interface Stage {
  base: string;
  name?: string;
  lines: string[];
}

/** Dockerfile instructions (continuations joined), global ARGs, and stages. */
function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const joined = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const l of joined) {
    const [ins = '', ...rest] = l.split(/\s+/);
    const arg = rest.join(' ');
    if (ins.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(arg);
      assert.ok(m, `FROM ${arg}`);
      const base = (m[1] as string).replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? '');
      stages.push({ base, ...(m[2] ? { name: m[2] } : {}), lines: [] });
    } else if (ins.toUpperCase() === 'ARG' && !stages.length) {
      const [k, v = ''] = arg.split('=');
      args[k as string] = v;
    } else stages[stages.length - 1]?.lines.push(l);
  }
  return { args, stages };
}

const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const { args, stages } = parseDockerfile(text);

test('Dockerfile: multi-stage, both stages on the Node LTS of scripts/setup.sh, allowed by package.json engines', () => {
  assert.equal(stages.length, 2);
  assert.deepEqual(stages.map((s) => s.name), ['build', 'runtime']);
  const setupVersion = /NODE_VERSION="([0-9.]+)"/.exec(readFileSync(join(ROOT, 'scripts/setup.sh'), 'utf8'))?.[1];
  assert.ok(setupVersion);
  for (const s of stages) assert.equal(s.base.replace(/@sha256:[0-9a-f]{64}$/, ''), `node:${setupVersion}-bookworm-slim`);
  const major = Number(setupVersion.split('.')[0]);
  assert.equal(major % 2, 0, 'an even (LTS) Node major');
  const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  const min = Number(/>=\s*(\d+)/.exec(engines)?.[1]);
  assert.ok(major >= min, `Node ${major} satisfies engines ${engines}`);
});

test('Dockerfile: the addon and the TypeScript are built inside; the runtime runs dist/cli/main.js as non-root', () => {
  const [build, runtime] = stages as [Stage, Stage];
  const b = build.lines.join('\n');
  assert.match(b, /node-gyp(\.js)? rebuild/);
  assert.match(b, /tsc -p tsconfig\.build\.json/);
  assert.match(b, /npm ci/);
  assert.match(b, /cp src\/native\/build\/Release\/ironlb_native\.node dist\/native\/build\/Release\//, 'the addon lands where src/native/index.ts looks for it, relative to dist/native/');
  const r = runtime.lines;
  assert.ok(r.some((l) => /^COPY --from=build \/src\/dist /.test(l)));
  const user = r.filter((l) => l.startsWith('USER ')).pop();
  assert.ok(user, 'USER set in the runtime stage');
  const uid = (user.split(/\s+/)[1] as string).split(':')[0] as string;
  assert.ok(/^\d+$/.test(uid) && Number(uid) !== 0, `numeric non-root user (runAsNonRoot needs a number), got ${user}`);
  assert.match(r.find((l) => l.startsWith('ENTRYPOINT')) ?? '', /\["node", "\/app\/dist\/cli\/main\.js"\]/);
  // The build output maps src/ to dist/ (rootDir src), so dist/cli/main.js is the CLI.
  const tsb = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
  assert.deepEqual([tsb.compilerOptions.outDir, tsb.compilerOptions.rootDir], ['dist', 'src']);
  // The chart runs the controller as the same non-root user.
  assert.match(readFileSync(join(ROOT, 'deploy/helm/ironlb/templates/controller.yaml'), 'utf8'), new RegExp(`runAsUser: ${uid}\\b`));
});

test('.dockerignore keeps developer builds (addon, dist, node_modules) out of the context', () => {
  const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  assert.equal(lines[0], '*');
  assert.ok(lines.includes('src/native/build/'));
  for (const needed of ['!package.json', '!package-lock.json', '!tsconfig.json', '!tsconfig.build.json', '!src/']) assert.ok(lines.includes(needed), needed);
});

test('Dockerfile: both stages pinned by the index digest recorded for the NODE_VERSION they use', () => {
  const pinned = stages.map((s) => /^node:[^@]+@(sha256:[0-9a-f]{64})$/.exec(s.base)?.[1]);
  assert.ok(pinned.every((d) => d !== undefined), `every stage pinned by a sha256 digest, got ${stages.map((s) => s.base).join(', ')}`);
  assert.equal(new Set(pinned).size, 1, 'both stages on the same digest');
  // The digest belongs to one tag: a NODE_VERSION bump without a new digest would build the old Node.
  const of = /index digest of node:(\d+\.\d+\.\d+)-bookworm-slim/.exec(text)?.[1];
  assert.equal(of, args['NODE_VERSION'], 'the digest comment names the NODE_VERSION it was taken for');
  assert.match(text, new RegExp(`docker buildx imagetools inspect node:${args['NODE_VERSION']?.replace(/\./g, '\\.')}-bookworm-slim`), 'how to refresh it');
  assert.doesNotMatch(text, /NOT PINNED YET/);
});

test('Dockerfile: the speaker\'s capability launcher is built inside and gets file capabilities, permitted only', () => {
  const [build, runtime] = stages as [Stage, Stage];
  assert.ok(build.lines.some((l) => /gcc .*-o \/src\/ironlb-caps src\/native\/ironlb-caps\.c/.test(l)));
  const r = runtime.lines.join('\n');
  assert.match(r, /COPY --from=build \/src\/ironlb-caps \/usr\/local\/bin\/ironlb-caps/);
  // +p, never +ep: with the effective bit the kernel refuses the exec when the Pod adds fewer
  // capabilities than the file lists (e.g. NET_RAW alone with BGP off).
  assert.match(r, /setcap cap_net_raw,cap_net_bind_service,cap_sys_nice=\+p \/usr\/local\/bin\/ironlb-caps/);
  const speaker = readFileSync(join(ROOT, 'deploy/helm/ironlb/templates/speaker.yaml'), 'utf8');
  assert.match(speaker, /command: \["\/usr\/local\/bin\/ironlb-caps", "node"/);
  assert.match(speaker, /runAsNonRoot: true/);
  assert.doesNotMatch(speaker, /runAsUser: 0\b/);
});
