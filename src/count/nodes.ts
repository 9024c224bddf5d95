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

/** UTF-16 units a shared label slot holds: the longest label, its escape `_`, and its length. */
const SLOT_UNITS = MAX_NODE_LABEL_LENGTH + 4;
/** Int32 words before a shared table's index: the lock, the labels in use, padding. */
const HEADER = 16;
const LOCK = 0;
const COUNT = 1;

function indexSize(limit: number): number {
  let size = 4;
  while (size < limit * 2) size *= 2;
  return size;
}

/** Bytes of the SharedArrayBuffer a node table of `limit` shared between threads needs. */
function sharedNodeBytes(limit: number): number {
  return (HEADER + indexSize(limit) + (limit + 1)) * 4 + (limit + 1) * SLOT_UNITS * 2;
}

/**
 * The label table several threads share: label text by index, an open-addressed index of the
 * labels by hash, and the count, so that a node has one index and the limit holds for the
 * process whichever thread names it first. Lookups of known names stay in each thread's caches;
 * only a name a thread has not seen comes here, under one lock.
 */
class SharedLabels {
  private readonly words: Int32Array;
  private readonly index: Int32Array;
  private readonly hashes: Int32Array;
  private readonly text: Uint16Array;
  private readonly mask: number;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly limit: number,
  ) {
    if (buffer.byteLength !== sharedNodeBytes(limit))
      throw new RangeError('shared node table has the wrong size');
    const size = indexSize(limit);
    this.mask = size - 1;
    this.words = new Int32Array(buffer, 0, HEADER);
    this.index = new Int32Array(buffer, HEADER * 4, size);
    this.hashes = new Int32Array(buffer, (HEADER + size) * 4, limit + 1);
    this.text = new Uint16Array(buffer, (HEADER + size + limit + 1) * 4);
  }

  get count(): number {
    return Atomics.load(this.words, COUNT);
  }

  /** The index of `label`, a new one while under the limit, or NODE_OTHER past it. */
  resolve(label: string): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < label.length; i++) hash = Math.imul(hash ^ label.charCodeAt(i), 0x01000193);
    const words = this.words;
    while (Atomics.compareExchange(words, LOCK, 0, 1) !== 0);
    try {
      let slot = hash & this.mask;
      for (;;) {
        const known = this.index[slot];
        if (known === 0) break;
        if (this.hashes[known] === hash && this.label(known) === label) return known;
        slot = (slot + 1) & this.mask;
      }
      const count = words[COUNT];
      if (count >= this.limit) return NODE_OTHER;
      const index = count + 1;
      const at = index * SLOT_UNITS;
      this.text[at] = label.length;
      for (let i = 0; i < label.length; i++) this.text[at + 1 + i] = label.charCodeAt(i);
      this.hashes[index] = hash;
      this.index[slot] = index;
      Atomics.store(words, COUNT, index);
      return index;
    } finally {
      Atomics.store(words, LOCK, 0);
    }
  }

  /** The label at `index`, which some thread has resolved. */
  label(index: number): string {
    const at = index * SLOT_UNITS;
    const length = this.text[at];
    return String.fromCharCode(...this.text.subarray(at + 1, at + 1 + length));
  }
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
  /**
   * The last node named by bytes and by capture id: a capture agent sends one name or id in every
   * packet, so most lookups are the last one again, and a byte compare beats a hash and a Map read.
   */
  private lastNamed: NamedNode | null = null;
  private lastCaptureId = -1;
  private lastCaptureIndex = 0;
  private readonly maxAliases: number;
  /** the table every ingest thread names nodes in, when there are several; null with one */
  private readonly shared: SharedLabels | null;

  constructor(
    readonly limit: number,
    private names: ReadonlyMap<string, string>,
    private readonly overflow: CounterCell,
    /** sip_exporter_nodes, kept with the labels themselves */
    private readonly count: GaugeCell = { value: 0 },
    /** from NodeLabels.share(limit): several threads name nodes in one table */
    shared?: SharedArrayBuffer,
  ) {
    this.maxAliases = (limit + 1) * ALIASES_PER_LABEL;
    this.shared = shared === undefined ? null : new SharedLabels(shared, limit);
  }

  /** Memory for a node table several threads share, each through its own NodeLabels. */
  static share(limit: number): SharedArrayBuffer {
    return new SharedArrayBuffer(sharedNodeBytes(limit));
  }

  /**
   * Makes `labels[index]` readable in this thread for an index another thread resolved (the KPI
   * engine gets node indexes from the ingest threads) and returns it.
   */
  labelOf(index: number): string {
    let label = this.labels[index];
    if (label === undefined && this.shared !== null && index > 0 && index <= this.shared.count) {
      label = this.shared.label(index);
      this.labels[index] = label;
      this.indexByLabel.set(label, index);
    }
    return label ?? NODE_UNKNOWN_LABEL;
  }

  /** Sets sip_exporter_nodes to the table's count, which other threads may have raised. */
  refreshCount(): void {
    this.count.value = this.size;
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
    this.lastNamed = null;
    this.lastCaptureId = -1;
  }

  /** Number of distinct node labels in use, `other` excluded. */
  get size(): number {
    return this.shared !== null ? this.shared.count : this.labels.length - 1;
  }

  fromCaptureId(id: number): number {
    if (id === this.lastCaptureId) return this.lastCaptureIndex;
    const known = this.indexByCaptureId.get(id);
    if (known !== undefined) {
      this.lastCaptureId = id;
      this.lastCaptureIndex = known;
      return known;
    }
    const index = this.resolve(String(id));
    if (index !== NODE_OTHER && this.indexByCaptureId.size < this.maxAliases)
      this.indexByCaptureId.set(id, index);
    return index;
  }

  /** A node named by the bytes buf[start, end), as the HEPv3 capture agent name chunk carries it. */
  fromBytes(buf: Buffer, start: number, end: number): number {
    const last = this.lastNamed;
    if (last !== null && sameBytes(last.bytes, buf, start, end)) return last.index;
    return this.fromBytesLookup(buf, start, end);
  }

  /** fromBytes past the last-hit check, apart so that the check stays small enough to inline. */
  private fromBytesLookup(buf: Buffer, start: number, end: number): number {
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ buf[i], 0x01000193);
    const bucket = this.namedByHash.get(hash);
    if (bucket !== undefined) {
      for (let b = 0; b < bucket.length; b++) {
        const named = bucket[b];
        if (sameBytes(named.bytes, buf, start, end)) {
          this.lastNamed = named;
          return named.index;
        }
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
    if (this.shared !== null) return this.resolveShared(label);
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

  private resolveShared(label: string): number {
    const index = this.shared!.resolve(label);
    if (index === NODE_OTHER) {
      this.overflow.value++;
      return NODE_OTHER;
    }
    this.labels[index] = label;
    this.indexByLabel.set(label, index);
    this.count.value = this.shared!.count;
    return index;
  }
}
