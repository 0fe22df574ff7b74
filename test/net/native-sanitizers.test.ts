// The native addon under AddressSanitizer and UndefinedBehaviorSanitizer: builds the same source
// with -fsanitize=address,undefined into a build directory of its own (never the node-gyp one),
// proves that the set-up catches a planted out-of-bounds read, then runs the addon's tests
// with that build (node preloads libasan, which must come first in the process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
// The addon's C files as node-gyp builds them (binding.gyp's sources), with the header they share.
const nativeDir = path.join(root, 'src/native');
const gyp = JSON.parse(readFileSync(path.join(nativeDir, 'binding.gyp'), 'utf8')) as { targets: { sources: string[] }[] };
const sources = gyp.targets[0]!.sources.map((s) => path.join(nativeDir, s));
// Node's own headers: the ones node-gyp builds against (scripts/setup.sh), else next to the binary.
const nodeInclude = [path.join(path.dirname(process.execPath), '../include/node'), '/usr/include/node'].find((d) => existsSync(path.join(d, 'node_api.h')));

const SAN_FLAGS = ['-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer', '-g', '-O1'];

async function compile(srcs: readonly string[], out: string): Promise<void> {
  await run('nice', ['gcc', '-shared', '-fPIC', '-std=gnu11', '-Wall', '-Wextra', '-Wno-unused-parameter', '-fvisibility=hidden', ...SAN_FLAGS, '-DNAPI_VERSION=8', `-I${nodeInclude}`, ...srcs, '-o', out], { timeout: 240_000 });
}

async function libasan(): Promise<string> {
  const { stdout } = await run('gcc', ['-print-file-name=libasan.so']);
  return stdout.trim();
}

function sanitizerEnv(addon: string, preload: string): NodeJS.ProcessEnv {
  const env = { ...process.env };
  // This file runs under `node --test`: a nested runner that inherits the context would report
  // to this one in its private format instead of running as a runner of its own.
  delete env.NODE_TEST_CONTEXT;
  return {
    ...env,
    IRONLB_NATIVE_ADDON: addon,
    LD_PRELOAD: preload,
    // Node itself is not built with ASan: its own allocations at exit are not our leaks.
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=0:exitcode=86:halt_on_error=1',
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1:exitcode=87',
  };
}

/** Runs node with `args`; resolves with exit code and output whatever the outcome. */
function node(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, cwd: root }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number | string }).code as number | null) ?? null : 0;
      resolve({ code: typeof code === 'number' ? code : null, out: `${stdout}${stderr}` });
    });
  });
}

test('the native addon built with ASan+UBSan passes its tests; the sanitizer set-up demonstrably catches errors', { timeout: 600_000 }, async () => {
  // Set-up installs Node 24 with its headers: without them the set-up is broken, not the test moot.
  assert.ok(nodeInclude, 'no node_api.h next to node or in /usr/include/node: run ". scripts/setup.sh"');
  const preload = await libasan();
  assert.ok(existsSync(preload), `libasan not found (gcc -print-file-name=libasan.so gave "${preload}"): install gcc's sanitizer runtime (Debian: libasan8)`);
  const hash = createHash('sha256');
  for (const f of [...sources, path.join(nativeDir, 'ironlb_native.h')]) hash.update(readFileSync(f));
  const digest = hash.digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), `ironlb-native-asan-${digest}`);
  mkdirSync(dir, { recursive: true });
  const addon = path.join(dir, 'ironlb_native.node');
  if (!existsSync(addon)) await compile(sources, `${addon}.tmp`).then(() => run('mv', [`${addon}.tmp`, addon]));

  // 1. The set-up catches a planted heap over-read (ASan) and a signed overflow (UBSan) in an
  //    addon loaded by node.
  const canarySrc = path.join(dir, 'canary3.c');
  const canary = path.join(dir, 'canary3.node');
  writeFileSync(canarySrc, `
    #include <node_api.h>
    #include <limits.h>
    #include <stdlib.h>
    #include <string.h>
    static napi_value over(napi_env env, napi_callback_info info) {
      volatile size_t n = 8; unsigned char* p = malloc(n); int v = 0; memcpy(&v, p + 6, 4); free(p);
      napi_value r; napi_create_int32(env, v, &r); return r;
    }
    static napi_value ub(napi_env env, napi_callback_info info) {
      volatile int x = INT_MAX; int y = x + 1;
      napi_value r; napi_create_int32(env, y, &r); return r;
    }
    NAPI_MODULE_INIT() {
      napi_value f;
      napi_create_function(env, "over", NAPI_AUTO_LENGTH, over, NULL, &f); napi_set_named_property(env, exports, "over", f);
      napi_create_function(env, "ub", NAPI_AUTO_LENGTH, ub, NULL, &f); napi_set_named_property(env, exports, "ub", f);
      return exports;
    }
  `);
  if (!existsSync(canary)) await compile([canarySrc], canary);
  const caught = await node(['-e', `require(${JSON.stringify(canary)}).over()`], sanitizerEnv(addon, preload), 60_000);
  assert.equal(caught.code, 86, `ASan did not stop the planted over-read (exit ${caught.code}): ${caught.out.slice(-2000)}`);
  assert.match(caught.out, /ERROR: AddressSanitizer/);
  assert.match(caught.out, /to the right of 8-byte region/);
  const ub = await node(['-e', `require(${JSON.stringify(canary)}).ub()`], sanitizerEnv(addon, preload), 60_000);
  assert.equal(ub.code, 87, `UBSan did not stop the planted signed overflow (exit ${ub.code}): ${ub.out.slice(-2000)}`);
  assert.match(ub.out, /runtime error: signed integer overflow/);

  // 2. The addon's own tests against the sanitized build (argument checks, parser fuzz, sockets).
  // The Layer 2 hardening tests drive the packet socket paths (batches, floods, errors on link flaps);
  // the native responder's tests its frame checks (a differential fuzz) and its thread (bursts, withdrawal).
  const files = ['test/unit/native-args.test.ts', 'test/unit/layer2-native-responder.test.ts', 'test/net/native-sockets.test.ts', 'test/net/layer2-hardening.test.ts', 'test/net/layer2-native-responder.test.ts'];
  const res = await node(['--test', '--test-reporter=spec', '--test-concurrency=1', ...files], { ...sanitizerEnv(addon, preload), NODE_ENV: 'test' }, 540_000);
  assert.doesNotMatch(res.out, /AddressSanitizer|runtime error:|UndefinedBehaviorSanitizer/, res.out.slice(-4000));
  assert.equal(res.code, 0, `tests under ASan/UBSan failed (exit ${res.code}):\n${res.out.slice(-4000)}`);
  const passed = Number(/ℹ pass (\d+)/.exec(res.out)?.[1] ?? 0);
  assert.ok(passed >= 20 && /ℹ fail 0/.test(res.out), `expected the native tests to run and pass under the sanitizers:\n${res.out.slice(-4000)}`);
  console.log(`native tests under ASan+UBSan: ${passed} passed`);
  // The children really ran the sanitized build.
  const check = await node(['-e', `const a = require(process.env.IRONLB_NATIVE_ADDON); a.interfaces(); console.log(require('fs').readFileSync('/proc/self/maps', 'utf8').includes('libasan') && require('fs').readFileSync('/proc/self/maps', 'utf8').includes(${JSON.stringify(dir)}))`], sanitizerEnv(addon, preload), 60_000);
  assert.equal(check.out.trim(), 'true', check.out);
});
