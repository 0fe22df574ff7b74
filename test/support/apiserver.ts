// A real control plane for a test: the cluster harness's (testbed/cluster/apiserver.ts), kept here for the tests' imports.
export * from '../../testbed/cluster/apiserver.ts';
