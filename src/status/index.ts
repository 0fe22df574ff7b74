// `ironlb status`: what the cluster's ironlb is doing, read from the API.
export { collectStatus, buildReport, type CollectOptions, type BuildOptions, type StatusInputs, type StatusReport, type ServiceStatus, type PoolStatus, type SessionStatus, type ComponentConfig, type ServiceState } from './collect.ts';
export { formatStatus, announcedBy, table } from './format.ts';
export { StatusWatcher, type StatusWatcherOptions, type WatchedObjects } from './watch.ts';
