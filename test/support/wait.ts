// Waiting with a deadline: the cluster harness's (testbed/cluster/wait.ts), kept here for the tests' imports.
export * from '../../testbed/cluster/wait.ts';
