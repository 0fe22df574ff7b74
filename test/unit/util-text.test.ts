// User values in messages and logs (issue 13 item 9): cut to a bound, hostile characters escaped,
// through one helper; and the root logger's options apply it to every string field of a log line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { clip, joined, quote, MAX_VALUE } from '../../src/util/text.ts';
import { logOptions, MAX_LOG_VALUE } from '../../src/util/log.ts';

test('clip: short printable text is returned as is', () => {
  assert.equal(clip('web-pool'), 'web-pool');
  assert.equal(clip('ünïcödé 😀'), 'ünïcödé 😀');
  assert.equal(quote('a'), '"a"');
  assert.equal(clip({ a: 1 }), '{"a":1}');
});

test('clip: control, bidirectional and invisible characters are escaped', () => {
  assert.equal(clip('a\nb\u0007c'), 'a\\u000ab\\u0007c');
  assert.equal(clip('evil\u202egnp.exe'), 'evil\\u202egnp.exe');
  for (const c of ['\u0000', '\u001b', '\u007f', '\u0085', '\u061c', '\u200b', '\u200e', '\u200f', '\u2028', '\u2029', '\u202a', '\u2066', '\u2069', '\ufeff']) {
    assert.equal(clip(`x${c}y`), `x\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}y`, `U+${c.charCodeAt(0).toString(16)}`);
  }
});

test('clip: long values are cut at the bound, with the number of characters left out', () => {
  const v = `x\u202e${'A'.repeat(200_000)}`;
  const out = clip(v);
  assert.ok(out.startsWith('x\\u202eAAAA'));
  const m = /^(.*)… \((\d+) more characters\)$/.exec(out);
  assert.ok(m, out.slice(-60));
  assert.ok((m[1] as string).length <= MAX_VALUE);
  // What was kept (in source characters) plus what was left out is the whole value.
  assert.equal((m[1] as string).length - 5 + Number(m[2]), v.length);
  assert.equal(clip('abcdef', 3), 'abc… (3 more characters)');
  // An escape is never split, nor a surrogate pair.
  assert.equal(clip('ab\ncd', 4), 'ab… (3 more characters)');
  assert.equal(clip('a😀b', 2), 'a… (3 more characters)');
});

test('logs: every string field of a log line is clipped and escaped, nested ones too', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const log = pino({ ...logOptions, level: 'info' }, sink);
  const hostile = `pool\u202e${'B'.repeat(300_000)}\n{"level":60,"msg":"forged"}`;
  log.info({ service: 'default/x', message: hostile, errors: [hostile, { value: hostile }], count: 3 }, 'allocation failed');
  assert.equal(lines.length, 1);
  const line = lines[0] as string;
  assert.ok(line.length < 5 * MAX_LOG_VALUE, `log line of ${line.length} characters`);
  assert.equal(line.split('\n').filter(Boolean).length, 1, 'one line');
  assert.doesNotMatch(line, /\u202e/);
  const obj = JSON.parse(line) as { message: string; errors: [string, { value: string }]; count: number; service: string };
  for (const v of [obj.message, obj.errors[0], obj.errors[1].value]) {
    assert.ok(v.startsWith('pool\\u202eBBB'), v.slice(0, 40));
    assert.match(v, /… \(\d+ more characters\)$/);
  }
  assert.equal(obj.count, 3);
  assert.equal(obj.service, 'default/x');
});

test('joined: the parts as one string, equal to their concatenation', () => {
  assert.equal(joined('ns-with-a-long-name', '/', 'svc-12345'), 'ns-with-a-long-name/svc-12345');
  assert.equal(joined('10.128.0.1', '/32'), '10.128.0.1/32');
  assert.equal(joined(), '');
});
