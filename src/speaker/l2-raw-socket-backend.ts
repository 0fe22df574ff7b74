// The L2Backend over src/layer2's Announcer (ARP and NDP from raw sockets on this node).
import type { Registry } from 'prom-client';
import { Announcer, type AddressOptions } from '../layer2/index.ts';
import type { L2Backend } from './l2-backend.ts';

export interface RawSocketL2BackendOptions {
  include?: readonly string[];
  exclude?: readonly string[];
  registry?: Registry;
}

export class RawSocketL2Backend implements L2Backend {
  readonly announcer: Announcer;
  #last = '';

  constructor(o: RawSocketL2BackendOptions = {}) {
    this.announcer = new Announcer({
      ...(o.include?.length ? { interfaces: o.include } : {}),
      ...(o.exclude ? { excludePatterns: o.exclude } : {}),
      ...(o.registry ? { registry: o.registry } : {}),
    });
    this.announcer.on('error', () => {}); // logged by the announcer; an interface error must not stop the speaker
  }

  set(desired: ReadonlyMap<string, readonly string[]>): void {
    // Unchanged desired state: nothing to do (the announcer diffs too, but this skips the work).
    const key = JSON.stringify([...desired]);
    if (key === this.#last) return;
    this.#last = key;
    const m = new Map<string, AddressOptions>();
    for (const [ip, ifaces] of desired) m.set(ip, { interfaces: ifaces });
    this.announcer.setAddresses(m);
  }

  reannounce(): void {
    this.announcer.reannounce();
  }

  interfaceNames(): string[] {
    return this.announcer.interfaces();
  }

  async close(): Promise<void> {
    this.announcer.close();
  }
}
