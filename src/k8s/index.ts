// Kubernetes plumbing shared by the controller and the speaker: clients, informers, the
// configuration watch, leader election on a Lease, Events, and API error helpers.
export { loadKubeConfig, kubeConfigForServer, makeClients, TokenBucket, type Clients, type ClientOptions, type GetJson } from './client.ts';
export { Informer, jsonListPage, trimMetadata, WATCH_IDLE_TIMEOUT_MS, type InformerOptions, type InformerEvent, type ListPage } from './informer.ts';
export { ConfigWatch, type ConfigWatchOptions } from './config-watch.ts';
export { LeaderElector, type LeaderElectionOptions } from './leader.ts';
export { EventRecorder, MAX_EVENT_MESSAGE, type EventRecorderOptions, type EventType, type ObjectRef } from './events.ts';
export { statusCode, isNotFound, isConflict, isAlreadyExists, errorText, retryOnConflict } from './errors.ts';
