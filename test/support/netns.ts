// Network namespaces as test hosts: the cluster harness's (testbed/cluster/netns.ts), kept here for the tests' imports.
export * from '../../testbed/cluster/netns.ts';
