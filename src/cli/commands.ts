// The ironlb subcommands: name, one-line summary, and how to load the module that implements it.
// `ironlb --help` and the dispatcher read only this table; a subcommand's module (and everything it
// imports) is loaded when that subcommand runs, so `ironlb status` never loads the speaker, and
// the speaker never loads the controller or the allocator.
import type { Command } from 'commander';

export type Register = (program: Command) => void;

export interface Subcommand {
  name: string;
  summary: string;
  load: () => Promise<Register>;
}

export const SUBCOMMANDS: readonly Subcommand[] = [
  { name: 'controller', summary: 'allocate addresses to Services of type LoadBalancer from IPPools (leader-elected)', load: async () => (await import('./controller.ts')).registerController },
  { name: 'speaker', summary: 'announce Service addresses from this node over Layer 2 (ARP/NDP) and BGP (runs on every node)', load: async () => (await import('./speaker.ts')).registerSpeaker },
  { name: 'status', summary: 'show Services, addresses, announcing nodes, BGP sessions, pool usage, and why a Service is pending', load: async () => (await import('./status.ts')).registerStatus },
  { name: 'dashboard', summary: 'serve a live page (http://127.0.0.1:PORT/) of pools, Services, announcing nodes, BGP/BFD sessions, membership and failovers; read-only', load: async () => (await import('./dashboard.ts')).registerDashboard },
  { name: 'validate', summary: 'check ironlb configuration files offline (schemas and the controller\'s own validation)', load: async () => (await import('./validate.ts')).registerValidate },
  { name: 'migrate', summary: 'convert MetalLB or OpenELB configuration (CRs, legacy ConfigMap, Service annotations) into ironlb objects', load: async () => (await import('./migrate.ts')).registerMigrate },
  { name: 'layer2', summary: 'Layer 2 mode diagnostics: which interfaces this host would answer ARP/NDP on, and why not', load: async () => (await import('./layer2.ts')).registerLayer2Command },
];

/** The summary of a subcommand, for its own module's `.description()`. */
export function summary(name: string): string {
  return SUBCOMMANDS.find((s) => s.name === name)?.summary ?? '';
}
