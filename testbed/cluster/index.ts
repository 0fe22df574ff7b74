// The cluster harness (docs/dev.md, docs/architecture.md): one set of pieces for every cluster the
// lab, the tests and the benches build. A topology says what the cluster is made of; the pieces
// make and drive it: namespaces and bridges, API objects as kubelets and controllers would write
// them, Services and endpoints, owner probes on the wire, clients, child processes and their logs.
export { checkTopology, type ClientKind, type RouterKind, type RouterSpec, type Topology } from './topology.ts';
export { Netns, bridge, veth, withNamespaces, arpingMac, ndiscMac } from './netns.ts';
export { sh, nsExec, nsIp } from './shell.ts';
export { waitFor, type WaitOptions } from './wait.ts';
export { applyObject, removeObject, registerNode, setNodeStatus, setNodeLabels, readAnnouncement, type Announcement, type AnnouncementStatus } from './objects.ts';
export { createService, serviceAddresses, hostNetworkPod, backendPods, endpointSlice, type ServiceShape, type BackendNode, type HostPod } from './workloads.ts';
export { neighbourMacs, nodesOfMacs, waitOwners, settledOwner } from './owners.ts';
export { tcpClient, httpProbe, probeArgs, type ClientResult, type ProbeResult, type RunningClient } from './clients.ts';
export { ChildLog, isRunning, killChild, jsonLines, metricValue } from './child.ts';
export { startTestApiServer, componentClients, helmInstall, withApiServer, type TestApiServer, type TestApiServerOptions } from './apiserver.ts';
export { SpeakerClusterHarness, SpeakerNode, speakerTopology, type ClusterOptions, type RouterDriver, type RouterStart } from './speaker-cluster.ts';
export { AgentCluster, Agent, type AgentEvent, type AgentStats } from './agent-cluster.ts';
