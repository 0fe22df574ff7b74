import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Timeline } from '../../src/dashboard/timeline.ts';
import { speakerView } from '../../src/dashboard/metrics.ts';

test('timeline: the initial state is not news; a takeover from a node that went down is a failover with its duration', () => {
  const t = new Timeline();
  t.announcement('default/web', ['node0'], 1000);
  t.announcement('default/db', [], 1000);
  t.prime();
  assert.deepEqual(t.entries(), []);
  t.nodeDown('node0', 5000, 'node0: Stop node (from this page)', 'fault');
  const e = t.announcement('default/web', ['node1'], 6250);
  assert.equal(e?.kind, 'failover');
  assert.equal(e?.durationMs, 1250);
  assert.deepEqual([e?.from, e?.to], [['node0'], ['node1']]);
  assert.match(e?.text ?? '', /node0 → node1 \(failover, 1\.25 s after node0 went down\)/);
  assert.equal(t.announcement('default/web', ['node1'], 7000), undefined, 'unchanged: no entry');
  // node0 comes back and the address moves back: a move, not a failover.
  t.nodeUp('node0', 8000, 'node0 back', 'fault');
  assert.equal(t.announcement('default/web', ['node0'], 9000)?.kind, 'moved');
  // Unannounced, then announced again: how long it went without.
  assert.equal(t.announcement('default/web', [], 10_000)?.kind, 'unannounced');
  const back = t.announcement('default/web', ['node2'], 12_500);
  assert.deepEqual([back?.kind, back?.durationMs], ['announced', 2500]);
  assert.deepEqual(t.entries().map((x) => x.kind), ['announced', 'unannounced', 'moved', 'fault', 'failover', 'fault']);
});

test('timeline: bounded', () => {
  const t = new Timeline({ limit: 5 });
  t.prime();
  for (let i = 0; i < 50; i++) t.announcement('default/web', [`node${i % 2}`], i);
  assert.equal(t.entries().length, 5);
});

test('speakerView reads membership, quorum, announcements, BFD and BGP from a /metrics page', () => {
  const v = speakerView(
    'node0',
    [
      '# HELP ironlb_membership_members x',
      'ironlb_membership_members{state="alive"} 2',
      'ironlb_membership_members{state="dead"} 1',
      'ironlb_speaker_members_alive 2',
      'ironlb_speaker_l2_quorum 1',
      'ironlb_speaker_announced_addresses{mode="layer2"} 1',
      'ironlb_bfd_sessions{state="Up"} 2',
      'ironlb_bfd_sessions{state="Down"} 0',
      'ironlb_speaker_bgp_session_up{peer="router"} 1',
      'ironlb_speaker_failovers_total{mode="layer2"} 3',
    ].join('\n'),
    42,
  );
  assert.deepEqual(v, { node: 'node0', time: 42, members: { alive: 2, dead: 1 }, membersAlive: 2, l2Quorum: true, announced: { layer2: 1 }, bfd: { Up: 2 }, bgpSessionsUp: { router: true }, failovers: 3 });
});
