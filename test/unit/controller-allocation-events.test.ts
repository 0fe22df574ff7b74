// The IPAllocated Events of a burst of first assignments (src/controller/allocation-events.ts):
// own Events while the token bucket allows, then one summary per pool, within an Event's size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node';
import { AllocationEvents, summaryMessage } from '../../src/controller/allocation-events.ts';
import { EventRecorder, MAX_EVENT_MESSAGE } from '../../src/k8s/index.ts';

function recorder(): { rec: EventRecorder; written: CoreV1Event[] } {
  const written: CoreV1Event[] = [];
  const api = {
    createNamespacedEvent: async ({ body }: { body: CoreV1Event }) => {
      written.push(body);
      return body;
    },
  } as unknown as CoreV1Api;
  return { rec: new EventRecorder({ api, component: 'test' }), written };
}

test('summaryMessage names every Service that fits, then how many more, within MAX_EVENT_MESSAGE', () => {
  assert.equal(summaryMessage('p', 2, ['ns/a 10.0.0.1', 'ns/b 10.0.0.2']), "Assigned addresses of pool p to 2 Services at once (their own IPAllocated Events left out; each Service's status names its addresses): ns/a 10.0.0.1; ns/b 10.0.0.2");
  const items = Array.from({ length: 100 }, (_, i) => `namespace-${i}/service-${i} 10.0.${i}.1, fd00::${i}`);
  const m = summaryMessage('p', 5000, items);
  assert.ok(m.length <= MAX_EVENT_MESSAGE, `${m.length} characters`);
  const shown = (m.match(/namespace-\d+\//g) ?? []).length;
  assert.ok(shown > 5 && shown < 100, `${shown} shown`);
  assert.ok(m.endsWith(` and ${5000 - shown} more`), m.slice(-40));
});

test('own Events while the bucket allows, the rest in one summary per pool at flush', async () => {
  const { rec, written } = recorder();
  const ev = new AllocationEvents({ recorder: rec, poolRef: (name) => ({ kind: 'IPPool', name, uid: `uid-${name}` }), burst: 3, perSecond: 0.001, summaryDelayMs: 60_000 });
  for (let i = 0; i < 10; i++) await ev.assigned({ kind: 'Service', namespace: 'ns', name: `s${i}` }, i % 2 ? 'odd' : 'even', [`10.0.0.${i}`], `Assigned 10.0.0.${i} from pool x`);
  assert.deepEqual(written.map((e) => e.involvedObject.name), ['s0', 's1', 's2']);
  assert.equal(ev.summarised, 7);
  await ev.flush();
  const summaries = written.slice(3);
  assert.deepEqual(summaries.map((e) => [e.involvedObject.kind, e.involvedObject.name, e.involvedObject.uid, e.metadata?.namespace]), [
    ['IPPool', 'odd', 'uid-odd', 'default'],
    ['IPPool', 'even', 'uid-even', 'default'],
  ]);
  assert.match(summaries[0]?.message ?? '', /to 4 Services at once .*: ns\/s3 10\.0\.0\.3; ns\/s5 10\.0\.0\.5; ns\/s7 10\.0\.0\.7; ns\/s9 10\.0\.0\.9$/);
  assert.match(summaries[1]?.message ?? '', /to 3 Services at once .*: ns\/s4 10\.0\.0\.4; ns\/s6 10\.0\.0\.6; ns\/s8 10\.0\.0\.8$/);
  await ev.flush(); // nothing gathered: nothing written
  assert.equal(written.length, 5);
});
