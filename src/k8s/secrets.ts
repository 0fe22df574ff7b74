// A cache of a fixed set of named Secrets in one namespace: one list+watch per name, each with the
// field selector metadata.name=NAME. The API server then authorizes the request for that name, so
// the Role can grant list/watch on exactly these names (resourceNames) instead of on every Secret
// of the namespace (whose other Secrets may be anyone's credentials).
import type { CoreV1Api, KubeConfig, V1Secret } from '@kubernetes/client-node';
import { Informer, type InformerEvent } from './informer.ts';

export interface NamedSecretsOptions {
  kc: KubeConfig;
  core: CoreV1Api;
  namespace: string;
  /** The Secrets read; others are never requested (and the Role need not allow them). */
  names: readonly string[];
}

export class NamedSecrets {
  readonly names: readonly string[];
  readonly namespace: string;
  #informers: Informer<V1Secret>[];

  constructor(o: NamedSecretsOptions) {
    this.names = [...new Set(o.names.filter(Boolean))].sort();
    this.namespace = o.namespace;
    this.#informers = this.names.map((name) => {
      const fieldSelector = `metadata.name=${name}`;
      return new Informer<V1Secret>({
        kc: o.kc,
        name: `secret ${o.namespace}/${name}`,
        path: `/api/v1/namespaces/${o.namespace}/secrets`,
        fieldSelector,
        list: () => o.core.listNamespacedSecret({ namespace: o.namespace, fieldSelector }),
      });
    });
  }

  on(event: InformerEvent, cb: (s: V1Secret) => void): void {
    for (const i of this.#informers) i.on(event, cb);
  }

  /** Resolves once each Secret's first list succeeded (a missing Secret lists empty). */
  async start(): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.stop()));
  }

  list(): V1Secret[] {
    return this.#informers.flatMap((i) => i.list());
  }

  get(name: string): V1Secret | undefined {
    const i = this.names.indexOf(name);
    return i < 0 ? undefined : this.#informers[i]?.get(name, this.namespace);
  }
}
