// The ironlb.io configuration as the controller and the speaker watch it: one informer per
// configuration kind (cluster-scoped kinds cluster-wide, the others in ironlb's namespace), plus the
// Secrets the configuration names, all reporting to one change callback; and the objects, each with
// its kind, as validateConfig() takes them.
import type { CustomObjectsApi, KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { CONFIG_KINDS, GROUP, KINDS, VERSION, type ConfigKindName } from '../api/kinds.ts';
import { Informer, type InformerEvent } from './informer.ts';
import type { NamedSecrets } from './secrets.ts';

export interface ConfigWatchOptions {
  kc: KubeConfig;
  custom: CustomObjectsApi;
  /** ironlb's namespace: where the namespaced configuration kinds are read. */
  namespace: string;
  /** Secrets the configuration refers to (BGP passwords, the membership key): their changes count too. */
  secrets?: NamedSecrets;
  /** Called on every change that `changes` lets through (coalescing is the caller's). */
  onChange: () => void;
  /**
   * Whether an event of a configuration object changes the configuration (default: every one).
   * The controller skips its own IPPool status writes with it.
   */
  changes?: (kind: ConfigKindName, event: InformerEvent, obj: KubernetesObject) => boolean;
}

const EVENTS: readonly InformerEvent[] = ['add', 'update', 'delete'];

export class ConfigWatch {
  readonly #informers = new Map<ConfigKindName, Informer<KubernetesObject>>();

  constructor(o: ConfigWatchOptions) {
    for (const kind of CONFIG_KINDS) {
      const def = KINDS[kind];
      const cluster = def.scope === 'Cluster';
      const path = cluster ? `/apis/${GROUP}/${VERSION}/${def.plural}` : `/apis/${GROUP}/${VERSION}/namespaces/${o.namespace}/${def.plural}`;
      const list = async (): Promise<KubernetesListObject<KubernetesObject>> =>
        (cluster
          ? await o.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: def.plural })
          : await o.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: o.namespace, plural: def.plural })) as KubernetesListObject<KubernetesObject>;
      const inf = new Informer<KubernetesObject>({ kc: o.kc, name: def.plural, path, list });
      const changes = o.changes;
      for (const ev of EVENTS) inf.on(ev, changes ? (obj) => void (changes(kind, ev, obj) && o.onChange()) : () => o.onChange());
      this.#informers.set(kind, inf);
    }
    for (const ev of EVENTS) o.secrets?.on(ev, () => o.onChange());
  }

  /** The cache of one kind. */
  informer(kind: ConfigKindName): Informer<KubernetesObject> {
    return this.#informers.get(kind)!;
  }

  /** Every configuration object the caches hold now, each with its kind (the list API leaves it out). */
  objects(): unknown[] {
    const objects: unknown[] = [];
    for (const [kind, inf] of this.#informers) for (const o of inf.list()) objects.push({ ...o, kind });
    return objects;
  }

  /** Resolves once every kind's first list succeeded (the Secrets are started by their owner). */
  async start(): Promise<void> {
    await Promise.all([...this.#informers.values()].map((i) => i.start()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#informers.values()].map((i) => i.stop()));
  }
}
