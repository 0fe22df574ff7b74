// The lab: a whole cluster in network namespaces on this machine (see docs/lab.md).
export { Lab, DEFAULT_DIR, DEFAULT_PREFIX, urlFor, type LabOptions, type LabState, type ServiceOptions, type ProbeResult } from './lab.ts';
export { labPlan, DEFAULT_NET, NODE_LINK, type LabPlan, type NodePlan } from './plan.ts';
export { metallbUnnumberedYaml, migratedUnnumberedConfig } from './unnumbered.ts';
export { summarize, formatSummary, type Summary } from './summary.ts';
export { birdConfig, frrConfig, frrBfdConfig, frrZebraConfig, parseKernelRoutes, parseBirdProtocols, type RouterKind, type KernelRoute } from './router.ts';
