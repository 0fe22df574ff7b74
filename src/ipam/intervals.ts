// The free space of one pool and family: disjoint, ordered intervals [lo, hi] of bigint indexes in
// an AVL tree keyed by lo. Taking the lowest free index, taking a given index and giving one back
// each cost O(log n) where n is the number of intervals, and n is at most the number of addresses
// in use plus the number of configured ranges: memory follows use, never the size of the pool.

interface Node {
  lo: bigint;
  hi: bigint;
  left: Node | undefined;
  right: Node | undefined;
  height: number;
}

const h = (n: Node | undefined): number => (n ? n.height : 0);

function fix(n: Node): void {
  n.height = Math.max(h(n.left), h(n.right)) + 1;
}

function rotateRight(n: Node): Node {
  const l = n.left as Node;
  n.left = l.right;
  l.right = n;
  fix(n);
  fix(l);
  return l;
}

function rotateLeft(n: Node): Node {
  const r = n.right as Node;
  n.right = r.left;
  r.left = n;
  fix(n);
  fix(r);
  return r;
}

function balance(n: Node): Node {
  fix(n);
  const bf = h(n.left) - h(n.right);
  if (bf > 1) {
    const l = n.left as Node;
    if (h(l.left) < h(l.right)) n.left = rotateLeft(l);
    return rotateRight(n);
  }
  if (bf < -1) {
    const r = n.right as Node;
    if (h(r.right) < h(r.left)) n.right = rotateRight(r);
    return rotateLeft(n);
  }
  return n;
}

function insertNode(n: Node | undefined, lo: bigint, hi: bigint): Node {
  if (!n) return { lo, hi, left: undefined, right: undefined, height: 1 };
  if (lo < n.lo) n.left = insertNode(n.left, lo, hi);
  else if (lo > n.lo) n.right = insertNode(n.right, lo, hi);
  else throw new Error(`internal: free interval starting at ${lo} already present`);
  return balance(n);
}

function removeMin(n: Node): Node | undefined {
  if (!n.left) return n.right;
  n.left = removeMin(n.left);
  return balance(n);
}

function deleteNode(n: Node | undefined, lo: bigint): Node | undefined {
  if (!n) return undefined;
  if (lo < n.lo) n.left = deleteNode(n.left, lo);
  else if (lo > n.lo) n.right = deleteNode(n.right, lo);
  else {
    if (!n.left) return n.right;
    if (!n.right) return n.left;
    let m = n.right;
    while (m.left) m = m.left;
    const right = removeMin(n.right);
    m.right = right;
    m.left = n.left;
    return balance(m);
  }
  return balance(n);
}

/** Disjoint ordered intervals of free indexes. */
export class FreeIntervals {
  #root: Node | undefined;
  #count = 0;
  #free = 0n;

  /** Number of intervals held (a measure of fragmentation and of memory). */
  get intervals(): number {
    return this.#count;
  }

  /** Number of free indexes. */
  get size(): bigint {
    return this.#free;
  }

  /** Adds [lo, hi] as free; it must not overlap what is already free. Adjacent intervals merge. */
  addRange(lo: bigint, hi: bigint): void {
    if (hi < lo) return;
    const prev = this.#floor(lo);
    if (prev && prev.hi >= lo) throw new Error(`internal: [${lo}, ${hi}] overlaps a free interval`);
    const next = this.#ceiling(lo);
    if (next && next.lo <= hi) throw new Error(`internal: [${lo}, ${hi}] overlaps a free interval`);
    this.#free += hi - lo + 1n;
    const newLo = lo;
    let newHi = hi;
    if (next && next.lo === hi + 1n) {
      newHi = next.hi;
      this.#root = deleteNode(this.#root, next.lo);
      this.#count--;
    }
    if (prev && prev.hi + 1n === lo) {
      // Widening prev to the right keeps the order: nothing lies between prev and newHi.
      prev.hi = newHi;
      return;
    }
    this.#root = insertNode(this.#root, newLo, newHi);
    this.#count++;
  }

  /** True when index i is free. */
  has(i: bigint): boolean {
    const n = this.#floor(i);
    return n !== undefined && n.hi >= i;
  }

  /** The lowest free index, or undefined when nothing is free. */
  lowest(): bigint | undefined {
    let n = this.#root;
    if (!n) return undefined;
    while (n.left) n = n.left;
    return n.lo;
  }

  /** Marks index i as used; false when it was not free. */
  take(i: bigint): boolean {
    const n = this.#floor(i);
    if (!n || n.hi < i) return false;
    this.#free -= 1n;
    if (n.lo === n.hi) {
      this.#root = deleteNode(this.#root, n.lo);
      this.#count--;
    } else if (i === n.lo) {
      // Moving the key right inside its own interval keeps the tree ordered.
      n.lo = i + 1n;
    } else if (i === n.hi) {
      n.hi = i - 1n;
    } else {
      const oldHi = n.hi;
      n.hi = i - 1n;
      this.#root = insertNode(this.#root, i + 1n, oldHi);
      this.#count++;
    }
    return true;
  }

  /** Takes and returns the lowest free index. */
  takeLowest(): bigint | undefined {
    const i = this.lowest();
    if (i !== undefined) this.take(i);
    return i;
  }

  /** Gives index i back; false when it was already free. */
  give(i: bigint): boolean {
    if (this.has(i)) return false;
    this.addRange(i, i);
    return true;
  }

  /** The intervals in order (for tests and diagnostics). */
  *[Symbol.iterator](): IterableIterator<[bigint, bigint]> {
    const stack: Node[] = [];
    let n = this.#root;
    while (stack.length > 0 || n) {
      while (n) {
        stack.push(n);
        n = n.left;
      }
      const top = stack.pop() as Node;
      yield [top.lo, top.hi];
      n = top.right;
    }
  }

  #floor(k: bigint): Node | undefined {
    let n = this.#root;
    let best: Node | undefined;
    while (n) {
      if (n.lo === k) return n;
      if (n.lo < k) {
        best = n;
        n = n.right;
      } else n = n.left;
    }
    return best;
  }

  #ceiling(k: bigint): Node | undefined {
    let n = this.#root;
    let best: Node | undefined;
    while (n) {
      if (n.lo === k) return n;
      if (n.lo > k) {
        best = n;
        n = n.left;
      } else n = n.right;
    }
    return best;
  }
}
