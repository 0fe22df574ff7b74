// `ironlb status`: what the cluster's ironlb is doing, read from the API.
export { collectStatus, type CollectOptions, type StatusReport, type ServiceStatus, type PoolStatus, type SessionStatus, type ComponentConfig, type ServiceState } from './collect.ts';
export { formatStatus, table } from './format.ts';
