// Controller metrics (prom-client). One registry per controller so several can run in a process.
import { Registry, Gauge, Counter } from 'prom-client';

export interface ControllerMetrics {
  registry: Registry;
  poolCapacity: Gauge<'pool' | 'family'>;
  poolAssigned: Gauge<'pool' | 'family'>;
  poolAvailable: Gauge<'pool' | 'family'>;
  decisions: Counter;
  allocations: Counter<'result'>;
  allocationFailures: Counter<'reason'>;
  apiErrors: Counter<'op'>;
  configValid: Gauge;
  configRejectedObjects: Gauge;
  configReloads: Counter<'result'>;
  keptAssignments: Gauge;
  leader: Gauge;
}

export function createMetrics(registry: Registry = new Registry()): ControllerMetrics {
  const registers = [registry];
  return {
    registry,
    poolCapacity: new Gauge({ name: 'ironlb_pool_capacity_addresses', help: 'Addresses a pool can hand out, per family (after avoidBuggyIPs).', labelNames: ['pool', 'family'], registers }),
    poolAssigned: new Gauge({ name: 'ironlb_pool_assigned_addresses', help: 'Addresses of a pool in use, per family (a shared address counts once).', labelNames: ['pool', 'family'], registers }),
    poolAvailable: new Gauge({ name: 'ironlb_pool_available_addresses', help: 'Free addresses of a pool, per family.', labelNames: ['pool', 'family'], registers }),
    decisions: new Counter({ name: 'ironlb_controller_decisions_total', help: 'Services decided (one per Service event, start-up confirmation or retry), whether or not anything was written.', registers }),
    allocations: new Counter({ name: 'ironlb_controller_allocations_total', help: 'Allocation outcomes: allocated, failed, released.', labelNames: ['result'], registers }),
    allocationFailures: new Counter({ name: 'ironlb_controller_allocation_failures_total', help: 'Refused allocations by reason.', labelNames: ['reason'], registers }),
    apiErrors: new Counter({ name: 'ironlb_controller_api_errors_total', help: 'Failed Kubernetes API writes by operation.', labelNames: ['op'], registers }),
    configValid: new Gauge({ name: 'ironlb_controller_config_valid', help: '1 when every configuration object is valid, 0 when some are rejected (they are skipped or keep their last accepted version; the rest applies).', registers }),
    configRejectedObjects: new Gauge({ name: 'ironlb_controller_config_rejected_objects', help: 'Configuration objects whose current version is rejected (skipped, or served in their last accepted version).', registers }),
    configReloads: new Counter({ name: 'ironlb_controller_config_reloads_total', help: 'Configuration loads by result: applied, unchanged, rejected (the allocator refused it whole).', labelNames: ['result'], registers }),
    keptAssignments: new Gauge({ name: 'ironlb_controller_kept_assignments', help: 'Services keeping addresses that no valid pool covers (their pool is missing or invalid); they are never renumbered for that.', registers }),
    leader: new Gauge({ name: 'ironlb_controller_leader', help: '1 while this controller is the leader.', registers }),
  };
}
