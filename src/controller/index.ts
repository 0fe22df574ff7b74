// The controller: informers → allocate (pure allocator) → status, annotations, Events.
export { Controller, COMPONENT, CONFIG_STATE_NAME, type ControllerOptions } from './controller.ts';
export { createMetrics, type ControllerMetrics } from './metrics.ts';
export { startHealthServer, type HealthServer, type HealthServerOptions, type Probe } from '../util/health-server.ts';
export { toAllocatorRequest, poolSpecs, serviceKey, ingressIPs, startupOrder, type Service } from './requests.ts';
export { AdmissionWebhook, WEBHOOK_PATH, type WebhookOptions } from './webhook.ts';
