// Kubernetes label selectors (matchLabels + matchExpressions) evaluated against a label map.
// Shared by the allocator's inputs, the controller and the speaker's decisions.

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export type Labels = Readonly<Record<string, string>>;

/** True when `labels` satisfy `sel`. An empty selector ({}) matches everything, as in Kubernetes. */
export function matchesSelector(sel: LabelSelector, labels: Labels): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const req of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, req.key);
    const value = labels[req.key];
    switch (req.operator) {
      case 'In':
        if (!has || !(req.values ?? []).includes(value as string)) return false;
        break;
      case 'NotIn':
        if (has && (req.values ?? []).includes(value as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** A list of selectors matches when it is empty (no restriction) or any one of them matches. */
export function matchesAny(selectors: readonly LabelSelector[] | undefined, labels: Labels): boolean {
  if (!selectors || selectors.length === 0) return true;
  return selectors.some((s) => matchesSelector(s, labels));
}

/** Whether two label maps hold the same keys and values (either may be absent: then false). */
export function sameLabels(a: Labels | undefined, b: Labels | undefined): boolean {
  if (!a || !b) return false;
  if (a === b) return true;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}
