import type { GaugeCell } from '../metrics/gauge-cells.js';
import type { CounterCell } from '../metrics/hot-counter.js';
import { LINE_ALIGNING_OFFSET, lineAlignedUint32Array } from './cache-lines.js';

/** The exported series the window keeps itself, handed in when it is built. */
export interface DedupeCells {
  /** sip_exporter_dedupe_evictions_total */
  evictions: CounterCell;
  /** sip_exporter_dedupe_entries */
  entries: GaugeCell;
}

const WAYS = 4;
/**
 * Uint32 words per entry: key high half, key low half, time, spare (keeps entries 16 bytes). The
 * spare word of a bucket's first entry is the bucket's lock when the table is shared.
 */
const WORDS = 4;
/**
 * An age above this (unsigned, modulo 2^32 ms) is a small negative one: the entry was stamped a
 * little after `now`. Ingest threads stamp a batch when it is read, so one may count a copy it
 * stamped before another thread's copy that was counted first.
 */
const AGE_WRAP = 2 ** 32 - 600_000;
/**
 * Int32 words before the entries of a shared table: the entries ever filled, then padding up to
 * where the entries most likely start a cache line (count/cache-lines).
 */
const SHARED_HEADER = LINE_ALIGNING_OFFSET / 4;

/** The memory of a table several threads share, and the origin of the clock they pass. */
export interface SharedDedupe {
  readonly buffer: SharedArrayBuffer;
  /** `now` at construction on the one clock every thread passes (see DedupeWindow.origin) */
  readonly origin: number;
}

function bucketCount(maxEntries: number): number {
  let buckets = 1;
  while (buckets * WAYS < maxEntries) buckets *= 2;
  return buckets;
}

/**
 * Remembers the 64-bit keys of the messages seen in the last `windowMs`, so that the same
 * message traced twice by a proxy (received and forwarded) or retransmitted is counted once.
 *
 * A set-associative table, as a CPU cache is built: a key can live only in the four entries of
 * its bucket, and a bucket is one 64-byte cache line, so each message costs one memory line
 * and no pointer chasing, whatever the table size. Memory is fixed at construction (16 bytes an
 * entry). An entry older than the window is free again. When all four entries of a bucket are
 * still inside the window, the oldest is replaced and counted in `evictions`: a later copy of
 * that message would then be counted again. Entries never give false duplicates: a key is a hit
 * only if the same 63-bit key was stored within the window.
 */
export class DedupeWindow {
  hits = 0;
  evictions = 0;
  /**
   * The exported series, bumped with `evictions` and `filled` themselves: a copy made when some
   * other metric is collected would show each eviction one scrape late.
   */
  protected readonly cells: DedupeCells;
  /** entries ever filled; an expired entry stays filled until reused */
  filled = 0;

  protected readonly bucketMask: number;
  protected readonly table: Uint32Array;
  /**
   * Times are milliseconds since this origin, modulo 2^32, on the caller's clock: the listeners
   * pass performance.now(), which a wall-clock step (NTP, DST) cannot move backwards.
   */
  protected readonly origin: number;

  /**
   * The same memory as `table`, for Atomics, when the table is shared between threads; null
   * otherwise, and then no lock is taken. The first SHARED_HEADER words hold the filled count.
   */
  protected readonly locks: Int32Array | null;

  constructor(
    readonly windowMs: number,
    readonly maxEntries: number,
    now = performance.now(),
    cells: DedupeCells = { evictions: { value: 0 }, entries: { value: 0 } },
    shared?: SharedDedupe,
  ) {
    this.cells = cells;
    if (!(windowMs > 0 && windowMs < 2 ** 31))
      throw new RangeError('dedupe window must be between 1 ms and 24 days');
    if (!(maxEntries >= 1)) throw new RangeError('dedupe capacity must be at least 1');
    const buckets = bucketCount(maxEntries);
    this.bucketMask = buckets - 1;
    if (shared === undefined) {
      this.table = lineAlignedUint32Array(buckets * WAYS * WORDS);
      this.locks = null;
      this.origin = now;
    } else {
      // Only a SharedDedupeWindow locks; a plain one on shared memory would race.
      if (!(this instanceof SharedDedupeWindow))
        throw new TypeError('a shared dedupe table needs SharedDedupeWindow');
      const bytes = DedupeWindow.sharedBytes(maxEntries);
      if (shared.buffer.byteLength !== bytes) throw new RangeError('shared dedupe table has the wrong size');
      this.table = new Uint32Array(shared.buffer, SHARED_HEADER * 4);
      this.locks = new Int32Array(shared.buffer);
      this.origin = shared.origin;
    }
  }

  /** A window of its own, or this thread's view on `shared` (a SharedDedupeWindow). */
  static create(
    windowMs: number,
    maxEntries: number,
    now: number,
    cells: DedupeCells,
    shared: SharedDedupe | undefined,
  ): DedupeWindow {
    return shared === undefined
      ? new DedupeWindow(windowMs, maxEntries, now, cells)
      : new SharedDedupeWindow(windowMs, maxEntries, now, cells, shared);
  }

  /** Bytes of the SharedArrayBuffer a table of `maxEntries` shared between threads needs. */
  static sharedBytes(maxEntries: number): number {
    return (SHARED_HEADER + bucketCount(maxEntries) * WAYS * WORDS) * 4;
  }

  /**
   * Memory for a table that several threads share, each through its own DedupeWindow built with
   * it. `origin` is the `now` of the clock they all pass.
   */
  static share(maxEntries: number, origin: number): SharedDedupe {
    return { buffer: new SharedArrayBuffer(DedupeWindow.sharedBytes(maxEntries)), origin };
  }

  /**
   * Entries ever filled by every thread; also sets the entries gauge of this one, so that the
   * thread that exports it shows the table's, not its own share.
   */
  refreshEntries(): number {
    if (this.locks !== null) this.filled = Atomics.load(this.locks, 0);
    this.cells.entries.value = this.filled;
    return this.filled;
  }

  /** Entries the table can hold (maxEntries rounded up to a power of two). */
  get capacity(): number {
    return (this.bucketMask + 1) * WAYS;
  }

  /**
   * Reads the first and last words of the key's bucket and returns them mixed, changing nothing:
   * a batch touches its keys' buckets in one loop before looking them up, so that their cache
   * misses overlap. Both ends: a bucket the allocator left straddling two cache lines
   * (count/cache-lines) is then loaded whole all the same.
   */
  touch(hi: number, keyLo: number): number {
    const lo = (keyLo | 1) >>> 0;
    const base = ((lo ^ Math.imul(hi, 0x9e3779b1)) & this.bucketMask) * WAYS * WORDS;
    return this.table[base] ^ this.table[base + WAYS * WORDS - 1];
  }

  /**
   * True when the key was seen within the window (a duplicate, counted in `hits`); otherwise
   * the key is remembered from `now` on. The window runs from the first sighting, so a message
   * retransmitted for longer than the window is counted again once it ends.
   */
  seen(hi: number, keyLo: number, now: number): boolean {
    // Bit 0 of lo is given up so that a stored key is never 0 (0 marks an empty entry).
    const lo = (keyLo | 1) >>> 0;
    const time = (now - this.origin) >>> 0;
    const window = this.windowMs;
    let base = ((lo ^ Math.imul(hi, 0x9e3779b1)) & this.bucketMask) * WAYS * WORDS;
    const table = this.table;
    let victim = -1;
    let victimAge = -1;
    for (let way = 0; way < WAYS; way++, base += WORDS) {
      const storedLo = table[base + 1];
      let age = (time - table[base + 2]) >>> 0;
      // Stored later than `now`: another thread stamped its copy after this one and counted it
      // first. Live, not an entry 49 days old.
      if (age > AGE_WRAP) age = 0;
      if (storedLo === 0 || age >= window) {
        // Empty or expired: the first such entry takes the key, unless a later way holds it live.
        if (victimAge < window) {
          victim = base;
          victimAge = window;
        }
        continue;
      }
      if (storedLo === lo && table[base] === hi) {
        this.hits++;
        return true;
      }
      if (age > victimAge) {
        victim = base;
        victimAge = age;
      }
    }
    if (table[victim + 1] === 0) this.cells.entries.value = ++this.filled;
    else if (victimAge < window) {
      this.evictions++;
      this.cells.evictions.value++;
    }
    table[victim] = hi;
    table[victim + 1] = lo;
    table[victim + 2] = time;
    return false;
  }
}

/**
 * A DedupeWindow on a table several threads share (DedupeWindow.share), one view per thread.
 * The same lookup under a lock per bucket: the spare word of the bucket's first entry, so a
 * bucket is still one cache line and threads on other buckets never wait. The section is a few
 * dozen instructions, so a waiter spins rather than sleeps. A class of its own so that the
 * one-thread seen() stays as small as it was: V8 inlines it into the counters, and a call it
 * does not inline boxes the key words (uint32s above 2^30), an allocation per message.
 */
export class SharedDedupeWindow extends DedupeWindow {
  override seen(hi: number, keyLo: number, now: number): boolean {
    const lo = (keyLo | 1) >>> 0;
    const time = (now - this.origin) >>> 0;
    const window = this.windowMs;
    let base = ((lo ^ Math.imul(hi, 0x9e3779b1)) & this.bucketMask) * WAYS * WORDS;
    const locks = this.locks!;
    const lock = SHARED_HEADER + base + 3;
    while (Atomics.compareExchange(locks, lock, 0, 1) !== 0);
    const table = this.table;
    let victim = -1;
    let victimAge = -1;
    for (let way = 0; way < WAYS; way++, base += WORDS) {
      const storedLo = table[base + 1];
      let age = (time - table[base + 2]) >>> 0;
      if (age > AGE_WRAP) age = 0;
      if (storedLo === 0 || age >= window) {
        if (victimAge < window) {
          victim = base;
          victimAge = window;
        }
        continue;
      }
      if (storedLo === lo && table[base] === hi) {
        this.hits++;
        Atomics.store(locks, lock, 0);
        return true;
      }
      if (age > victimAge) {
        victim = base;
        victimAge = age;
      }
    }
    if (table[victim + 1] === 0) {
      this.filled = Atomics.add(locks, 0, 1) + 1;
      this.cells.entries.value = this.filled;
    } else if (victimAge < window) {
      this.evictions++;
      this.cells.evictions.value++;
    }
    table[victim] = hi;
    table[victim + 1] = lo;
    table[victim + 2] = time;
    Atomics.store(locks, lock, 0);
    return false;
  }
}
