import type { GaugeCell } from '../metrics/gauge-cells.js';
import type { CounterCell } from '../metrics/hot-counter.js';

export const NODE_OTHER_LABEL = 'other';
/** Index of `other`, where nodes past the limit are counted. */
export const NODE_OTHER = 0;
/** The label of a node whose name is empty. */
export const NODE_UNKNOWN_LABEL = 'unknown';
/**
 * Label values the exporter gives itself. A real node named like one of them, or like one of
 * them followed by underscores, is labelled with one more `_`: `other` becomes `other_`,
 * `other_` becomes `other__`. That keeps every real name apart from the reserved values and
 * from each other, so a capture agent that calls itself `other` never shares the overflow series.
 */
export const RESERVED_NODE_LABELS: readonly string[] = [NODE_OTHER_LABEL, NODE_UNKNOWN_LABEL];

/** The label for a real node name: itself, or with one more `_` when it reads as a reserved value. */
export function escapeNodeLabel(label: string): string {
  let stem = label.length;
  while (stem > 0 && label.charCodeAt(stem - 1) === 0x5f) stem--;
  const bare = stem === label.length ? label : label.slice(0, stem);
  return RESERVED_NODE_LABELS.includes(bare) ? `${label}_` : label;
}
/** Longest node name kept, in UTF-16 units; longer names are cut (an escaped one then gets its `_`). */
const MAX_NODE_LABEL_LENGTH = 128;
/**
 * Many raw names can share one label (renames, cut names); only this many of them per kind are
 * remembered, so that a sender cycling through names cannot grow the caches.
 */
const ALIASES_PER_LABEL = 8;

/** Compares in JS: node names are short, and a native compare costs more to call than to run. */
function sameBytes(known: Buffer, buf: Buffer, start: number, end: number): boolean {
  if (known.length !== end - start) return false;
  for (let i = 0; i < known.length; i++) if (known[i] !== buf[start + i]) return false;
  return true;
}

interface NamedNode {
  readonly bytes: Buffer;
  readonly index: number;
}

/**
 * Gives each reporting node a small integer and a label value: the capture agent name when a
 * packet has one, else its capture ID in decimal, else (HEPv1, or syslog) a name given by the
 * source. `names` renames IDs and names to what operators call the node. At most `limit`
 * distinct labels exist; messages from nodes beyond that are counted as `other` and in
 * `overflow`, and nothing about those nodes is remembered, so a flood of IDs costs no memory.
 */
export class NodeLabels {
  /** label by index; index 0 is `other`; no other index has a reserved label */
  readonly labels: string[] = [NODE_OTHER_LABEL];
  private readonly indexByLabel = new Map<string, number>();
  private readonly indexByCaptureId = new Map<number, number>();
  private readonly indexByText = new Map<string, number>();
  private readonly namedByHash = new Map<number, NamedNode[]>();
  private namedCount = 0;
  private readonly maxAliases: number;

  constructor(
    readonly limit: number,
    private names: ReadonlyMap<string, string>,
    private readonly overflow: CounterCell,
    /** sip_exporter_nodes, kept with the labels themselves */
    private readonly count: GaugeCell = { value: 0 },
  ) {
    this.maxAliases = (limit + 1) * ALIASES_PER_LABEL;
  }

  /**
   * Replaces the renames, as a config reload does. The lookup caches are dropped, so a renamed
   * node counts under its new label from now on; its old series stay at their last values.
   */
  setNames(names: ReadonlyMap<string, string>): void {
    this.names = names;
    this.indexByCaptureId.clear();
    this.indexByText.clear();
    this.namedByHash.clear();
    this.namedCount = 0;
  }

  /** Number of distinct node labels in use, `other` excluded. */
  get size(): number {
    return this.labels.length - 1;
  }

  fromCaptureId(id: number): number {
    const known = this.indexByCaptureId.get(id);
    if (known !== undefined) return known;
    const index = this.resolve(String(id));
    if (index !== NODE_OTHER && this.indexByCaptureId.size < this.maxAliases)
      this.indexByCaptureId.set(id, index);
    return index;
  }

  /** A node named by the bytes buf[start, end), as the HEPv3 capture agent name chunk carries it. */
  fromBytes(buf: Buffer, start: number, end: number): number {
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ buf[i], 0x01000193);
    const bucket = this.namedByHash.get(hash);
    if (bucket !== undefined) {
      for (let b = 0; b < bucket.length; b++) {
        const named = bucket[b];
        if (sameBytes(named.bytes, buf, start, end)) return named.index;
      }
    }
    const index = this.resolve(buf.toString('utf8', start, end));
    if (index !== NODE_OTHER && this.namedCount < this.maxAliases) {
      this.namedCount++;
      const entry = { bytes: Buffer.from(buf.subarray(start, end)), index };
      if (bucket === undefined) this.namedByHash.set(hash, [entry]);
      else bucket.push(entry);
    }
    return index;
  }

  /** A node named by text: a syslog HOSTNAME, or the address of a sender that names no node. */
  fromText(text: string): number {
    const known = this.indexByText.get(text);
    if (known !== undefined) return known;
    const index = this.resolve(text);
    if (index !== NODE_OTHER && this.indexByText.size < this.maxAliases) this.indexByText.set(text, index);
    return index;
  }

  private resolve(raw: string): number {
    const renamed = this.names.get(raw);
    let label = renamed ?? raw;
    if (label.length > MAX_NODE_LABEL_LENGTH) label = label.slice(0, MAX_NODE_LABEL_LENGTH);
    label = label === '' ? NODE_UNKNOWN_LABEL : escapeNodeLabel(label);
    const existing = this.indexByLabel.get(label);
    if (existing !== undefined) return existing;
    if (this.labels.length - 1 >= this.limit) {
      this.overflow.value++;
      return NODE_OTHER;
    }
    const index = this.labels.length;
    this.labels.push(label);
    this.count.value = this.labels.length - 1;
    this.indexByLabel.set(label, index);
    return index;
  }
}
