// The speaker tests' cluster: the cluster harness's (testbed/cluster/speaker-cluster.ts) with BIRD
// (test/support/peers/bird.ts) as the routers' daemon. Tests and benches import it from here.
import { SpeakerClusterHarness, type ClusterOptions, type RouterStart } from '../../testbed/cluster/speaker-cluster.ts';
import type { Netns } from './netns.ts';
import { Bird } from './peers/bird.ts';

export { APP_PORT, METRICS_PORT, NS, SECRET_NAME, SpeakerNode, type ClusterOptions } from '../../testbed/cluster/speaker-cluster.ts';

const startBird = (ns: Netns, o: RouterStart): Promise<Bird> => Bird.start(ns, o);

export class SpeakerCluster extends SpeakerClusterHarness<Bird> {
  static async create(opts: ClusterOptions): Promise<SpeakerCluster> {
    return SpeakerClusterHarness.build(new SpeakerCluster(opts, startBird));
  }
}
