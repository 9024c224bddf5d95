import type { GaugeCell } from '../metrics/gauge-cells.js';
import type { CounterCell } from '../metrics/hot-counter.js';

/** The exported series the window keeps itself, handed in when it is built. */
export interface DedupeCells {
  /** sip_exporter_dedupe_evictions_total */
  evictions: CounterCell;
  /** sip_exporter_dedupe_entries */
  entries: GaugeCell;
}

const WAYS = 4;
/** Uint32 words per entry: key high half, key low half, time, spare (keeps entries 16 bytes). */
const WORDS = 4;

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
  private readonly cells: DedupeCells;
  /** entries ever filled; an expired entry stays filled until reused */
  filled = 0;

  private readonly bucketMask: number;
  private readonly table: Uint32Array;
  /**
   * Times are milliseconds since this origin, modulo 2^32, on the caller's clock: the listeners
   * pass performance.now(), which a wall-clock step (NTP, DST) cannot move backwards.
   */
  private readonly origin: number;

  constructor(
    readonly windowMs: number,
    readonly maxEntries: number,
    now = performance.now(),
    cells: DedupeCells = { evictions: { value: 0 }, entries: { value: 0 } },
  ) {
    this.cells = cells;
    if (!(windowMs > 0 && windowMs < 2 ** 31))
      throw new RangeError('dedupe window must be between 1 ms and 24 days');
    if (!(maxEntries >= 1)) throw new RangeError('dedupe capacity must be at least 1');
    let buckets = 1;
    while (buckets * WAYS < maxEntries) buckets *= 2;
    this.bucketMask = buckets - 1;
    this.table = new Uint32Array(buckets * WAYS * WORDS);
    this.origin = now;
  }

  /** Entries the table can hold (maxEntries rounded up to a power of two). */
  get capacity(): number {
    return (this.bucketMask + 1) * WAYS;
  }

  /**
   * True when the key was seen within the window (a duplicate, counted in `hits`); otherwise
   * the key is remembered from `now` on. The window runs from the first sighting, so a message
   * retransmitted for longer than the window is counted again once it ends.
   */
  seen(hi: number, keyLo: number, now: number): boolean {
    // Bit 0 of lo is given up so that a stored key is never 0 (0 marks an empty entry).
    const lo = (keyLo | 1) >>> 0;
    const table = this.table;
    const time = (now - this.origin) >>> 0;
    const window = this.windowMs;
    let base = ((lo ^ Math.imul(hi, 0x9e3779b1)) & this.bucketMask) * WAYS * WORDS;
    let victim = -1;
    let victimAge = -1;
    for (let way = 0; way < WAYS; way++, base += WORDS) {
      const storedLo = table[base + 1];
      const age = (time - table[base + 2]) >>> 0;
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
