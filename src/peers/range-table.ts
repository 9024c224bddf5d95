/**
 * A sorted table of non-overlapping address segments, each with a small integer value, built
 * once from any number of overlapping ranges. Lookups are a binary search over the segment
 * starts: O(log segments), and there are at most twice as many segments as ranges.
 *
 * IPv4 starts are one uint32 each; IPv6 starts are four uint32 (most significant first) at
 * stride 4, so a lookup compares plain numbers and allocates nothing.
 */
export interface RangeTable {
  /** segment starts, `words` uint32 per segment; the first segment starts at 0 */
  readonly starts: Uint32Array;
  /** value of each segment */
  readonly values: Int32Array;
  readonly segments: number;
}

export interface OwnedRange {
  readonly first: bigint;
  readonly last: bigint;
  /** small integer; `decide` sees the owners covering a segment in increasing order */
  readonly owner: number;
}

interface Edge {
  adds: number[];
  removes: number[];
}

/**
 * Sweeps the range edges in address order, keeping the owners that cover the current segment
 * (sorted, with a count each so an owner listing overlapping ranges of its own stays in once).
 * `decide` maps that owner list to the segment's value; neighbouring segments with one value
 * are merged.
 */
export function buildRangeTable(
  ranges: readonly OwnedRange[],
  bits: 32 | 128,
  decide: (owners: readonly number[]) => number,
): RangeTable {
  const max = (1n << BigInt(bits)) - 1n;
  const edges = new Map<bigint, Edge>([[0n, { adds: [], removes: [] }]]);
  const edge = (at: bigint): Edge => {
    let e = edges.get(at);
    if (e === undefined) {
      e = { adds: [], removes: [] };
      edges.set(at, e);
    }
    return e;
  };
  for (const r of ranges) {
    edge(r.first).adds.push(r.owner);
    if (r.last < max) edge(r.last + 1n).removes.push(r.owner);
  }
  const keys = [...edges.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  const counts = new Map<number, number>();
  const active: number[] = [];
  const startKeys: bigint[] = [];
  const values: number[] = [];
  for (const key of keys) {
    const e = edges.get(key)!;
    for (const owner of e.removes) {
      const n = counts.get(owner)! - 1;
      if (n === 0) {
        counts.delete(owner);
        active.splice(active.indexOf(owner), 1);
      } else counts.set(owner, n);
    }
    for (const owner of e.adds) {
      const n = counts.get(owner) ?? 0;
      counts.set(owner, n + 1);
      if (n === 0) {
        let i = active.length;
        while (i > 0 && active[i - 1] > owner) i--;
        active.splice(i, 0, owner);
      }
    }
    const value = decide(active);
    if (values.length > 0 && values[values.length - 1] === value) continue;
    startKeys.push(key);
    values.push(value);
  }

  const words = bits / 32;
  const starts = new Uint32Array(startKeys.length * words);
  for (let i = 0; i < startKeys.length; i++) {
    for (let w = 0; w < words; w++) {
      starts[i * words + w] = Number((startKeys[i] >> BigInt((words - 1 - w) * 32)) & 0xffffffffn);
    }
  }
  return { starts, values: Int32Array.from(values), segments: startKeys.length };
}

/**
 * The address being looked up, as uint32 words. Passed through this scratch array rather than as
 * arguments because a uint32 above 2^30 is not a small integer to V8: as an argument to a call
 * that is not inlined it would be boxed, one allocation per lookup.
 */
export const LOOKUP_KEY = new Uint32Array(4);

/** Index of the IPv4 segment holding LOOKUP_KEY[0]. */
export function findSegment4(starts: Uint32Array, segments: number): number {
  const key = LOOKUP_KEY[0];
  let lo = 0;
  let hi = segments - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (starts[mid] <= key) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Index of the IPv6 segment holding the address in LOOKUP_KEY[0..3]. */
export function findSegment6(starts: Uint32Array, segments: number): number {
  const k0 = LOOKUP_KEY[0];
  const k1 = LOOKUP_KEY[1];
  const k2 = LOOKUP_KEY[2];
  const k3 = LOOKUP_KEY[3];
  let lo = 0;
  let hi = segments - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    const p = mid * 4;
    const s0 = starts[p];
    const s1 = starts[p + 1];
    const s2 = starts[p + 2];
    const atOrBelow = s0 !== k0 ? s0 < k0 : s1 !== k1 ? s1 < k1 : s2 !== k2 ? s2 < k2 : starts[p + 3] <= k3;
    if (atOrBelow) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Stores the big-endian uint32 at `buf[p]` in LOOKUP_KEY[slot]. */
export function loadKeyWord(buf: Uint8Array, p: number, slot: number): void {
  LOOKUP_KEY[slot] = (buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3];
}
