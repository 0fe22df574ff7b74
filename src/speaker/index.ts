// The speaker: who announces what (pure decide()), the loop that reconciles the Layer 2 announcer,
// the BGP engine and BFD with it, and the status it writes.
export { decide, aggregate, EXCLUDE_LB_LABEL, type DecideInput, type Decision, type NodeFacts, type ServiceFacts, type L2Policy, type BgpPolicy, type PeerFacts, type ServiceView, type BgpRoute, type L2Announcement } from './decide.ts';
export { assignOwners, rankCandidates, DEFAULT_LOAD_FACTOR } from './owner.ts';
export { Speaker, COMPONENT, MEMBERSHIP_SECRET_KEY, type SpeakerOptions, type ShutdownMode } from './speaker.ts';
export { createSpeakerMetrics, type SpeakerMetrics } from './metrics.ts';
export { NullL2, type L2Backend } from './l2-backend.ts';
export { RawSocketL2Backend, type RawSocketL2BackendOptions } from './l2-raw-socket-backend.ts';
export { ANNOTATION_L2_SUBNETS, nodeFacts, serviceFacts, endpointFacts, policies } from './facts.ts';
export { interfacesFor, localSubnets, DEFAULT_EXCLUDE } from './l2-interface-choice.ts';
export { announcementStatus, statusWriter, configStateName, sessionStateName } from './status.ts';
export { peerConfigFor, bfdSpecFor, sessionFamilies, GR_RESTART_TIME, BgpReconciler, type BgpNodeContext } from './bgp-reconciler.ts';
export { hasL2Quorum } from './quorum.ts';
