// The speaker's view of the Layer 2 announcer: a desired set of (address → interfaces), replaced as a
// whole on every decision. The adapter over src/layer2's Announcer lives in l2-raw-socket-backend.ts; tests
// and platforms without raw sockets can pass another implementation.

export interface L2Backend {
  /** Answer for exactly these addresses, each on these interfaces; stop answering for the others. */
  set(desired: ReadonlyMap<string, readonly string[]>): void;
  /** Names of the interfaces present in this namespace (for advertisement interface lists). */
  interfaceNames(): string[];
  /** Tell the neighbours again (gratuitous ARP / unsolicited NA) about every address answered here. */
  reannounce?(): void;
  close(): Promise<void>;
}

/** A backend that announces nothing (BGP-only nodes, or tests of the decision loop). */
export class NullL2 implements L2Backend {
  desired = new Map<string, readonly string[]>();
  set(desired: ReadonlyMap<string, readonly string[]>): void {
    this.desired = new Map(desired);
  }
  interfaceNames(): string[] {
    return [];
  }
  async close(): Promise<void> {}
}
