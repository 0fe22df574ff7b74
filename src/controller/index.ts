// The controller: informers → allocate (pure allocator) → Service status (addresses and pool condition), Events.
export { Controller, COMPONENT, CONFIG_STATE_NAME, CONTROLLER_RATE_LIMIT, type ControllerOptions } from './controller.ts';
export { createMetrics, type ControllerMetrics } from './metrics.ts';
export { toAllocatorRequest, poolSpecs, serviceKey, ingressIPs, startupOrder, sortForStartupInSlices, type Service } from './requests.ts';
export { serviceView, namespaceView, SERVICE_ANNOTATIONS } from './cache-view.ts';
export { AdmissionWebhook, WEBHOOK_PATH, type WebhookOptions } from './webhook.ts';
