// The in-repo Kubernetes API server: an in-memory test double (see docs/apiserver.md).
export { startApiServer, type ApiServer, type ApiServerOptions } from './server.ts';
export { ApiCore } from './core.ts';
export { ApiError, type Status, type StatusCause } from './errors.ts';
export { builtinResources, type ResourceDescriptor } from './resources.ts';
export type { KObject, ObjectMeta } from './store.ts';
export { readCrdFiles } from './crds.ts';
