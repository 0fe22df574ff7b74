import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bridge, withNamespaces, sh } from '../support/netns.ts';

test('two namespaces on a bridge reach each other and are removed afterwards', async () => {
  let names: string[] = [];
  await withNamespaces('ilbt', 3, async ([sw, a, b]) => {
    names = [sw!.name, a!.name, b!.name];
    const plug = await bridge(sw!);
    await plug(a!, 'eth0', 'pa');
    await plug(b!, 'eth0', 'pb');
    await a!.ip('addr', 'add', '10.250.0.1/24', 'dev', 'eth0');
    await b!.ip('addr', 'add', '10.250.0.2/24', 'dev', 'eth0');
    const out = await a!.exec('ping', ['-c', '1', '-W', '2', '10.250.0.2']);
    assert.match(out, /1 received/);
  });
  const left = await sh('ip', ['netns', 'list']);
  for (const n of names) assert.ok(!left.includes(n), `namespace ${n} was not removed`);
});
