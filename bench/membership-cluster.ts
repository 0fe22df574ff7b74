// The membership agents' cluster: the cluster harness's (testbed/cluster/agent-cluster.ts), kept here for the benches' and tests' imports.
export * from '../testbed/cluster/agent-cluster.ts';
