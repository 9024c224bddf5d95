/**
 * Remembers the 64-bit keys of the messages seen in the last `windowMs`, so that the same
 * message traced twice by a proxy (received and forwarded) or retransmitted is counted once.
 *
 * Memory is fixed at construction: an open-addressing table (linear probing, backward-shift
 * deletion, so no tombstones) holds the keys, and a ring in arrival order expires them. Every
 * operation is O(1) amortised and allocates nothing. When the ring is full the oldest key is
 * evicted early and counted: a duplicate of it arriving later would then be counted again.
 */
export class DedupeWindow {
  hits = 0;
  evictions = 0;

  private readonly mask: number;
  private readonly tableHi: Uint32Array;
  private readonly tableLo: Uint32Array;
  private readonly tableUsed: Uint8Array;
  private readonly ringHi: Uint32Array;
  private readonly ringLo: Uint32Array;
  private readonly ringTime: Float64Array;
  private ringHead = 0;
  private ringSize = 0;

  constructor(
    readonly windowMs: number,
    readonly maxEntries: number,
  ) {
    if (!(windowMs > 0)) throw new RangeError('dedupe window must be positive');
    if (!(maxEntries >= 1)) throw new RangeError('dedupe capacity must be at least 1');
    let capacity = 16;
    while (capacity < maxEntries * 2) capacity *= 2;
    this.mask = capacity - 1;
    this.tableHi = new Uint32Array(capacity);
    this.tableLo = new Uint32Array(capacity);
    this.tableUsed = new Uint8Array(capacity);
    this.ringHi = new Uint32Array(maxEntries);
    this.ringLo = new Uint32Array(maxEntries);
    this.ringTime = new Float64Array(maxEntries);
  }

  get size(): number {
    return this.ringSize;
  }

  /**
   * True when the key was seen within the window (a duplicate, counted in `hits`); otherwise
   * the key is remembered from `now` on. The window runs from the first sighting, so a message
   * retransmitted for longer than the window is counted again once it ends.
   */
  seen(hi: number, lo: number, now: number): boolean {
    this.expire(now);
    let slot = this.home(hi, lo);
    while (this.tableUsed[slot] === 1) {
      if (this.tableHi[slot] === hi && this.tableLo[slot] === lo) {
        this.hits++;
        return true;
      }
      slot = (slot + 1) & this.mask;
    }
    if (this.ringSize === this.maxEntries) {
      this.evictOldest();
      this.evictions++;
      // Removal may have shifted keys into the probe path; find the free slot again.
      slot = this.home(hi, lo);
      while (this.tableUsed[slot] === 1) slot = (slot + 1) & this.mask;
    }
    this.tableUsed[slot] = 1;
    this.tableHi[slot] = hi;
    this.tableLo[slot] = lo;
    let tail = this.ringHead + this.ringSize;
    if (tail >= this.maxEntries) tail -= this.maxEntries;
    this.ringHi[tail] = hi;
    this.ringLo[tail] = lo;
    this.ringTime[tail] = now;
    this.ringSize++;
    return false;
  }

  private home(hi: number, lo: number): number {
    return (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
  }

  private expire(now: number): void {
    const oldest = now - this.windowMs;
    while (this.ringSize > 0 && this.ringTime[this.ringHead] <= oldest) this.evictOldest();
  }

  private evictOldest(): void {
    this.remove(this.ringHi[this.ringHead], this.ringLo[this.ringHead]);
    this.ringHead++;
    if (this.ringHead === this.maxEntries) this.ringHead = 0;
    this.ringSize--;
  }

  private remove(hi: number, lo: number): void {
    const mask = this.mask;
    let hole = this.home(hi, lo);
    while (this.tableUsed[hole] === 1 && !(this.tableHi[hole] === hi && this.tableLo[hole] === lo)) {
      hole = (hole + 1) & mask;
    }
    if (this.tableUsed[hole] === 0) return;
    this.tableUsed[hole] = 0;
    let next = (hole + 1) & mask;
    while (this.tableUsed[next] === 1) {
      const home = this.home(this.tableHi[next], this.tableLo[next]);
      // Move the key back into the hole unless its home lies cyclically in (hole, next].
      const distanceToNext = (next - home) & mask;
      const distanceToHole = (hole - home) & mask;
      if (distanceToHole < distanceToNext) {
        this.tableHi[hole] = this.tableHi[next];
        this.tableLo[hole] = this.tableLo[next];
        this.tableUsed[hole] = 1;
        this.tableUsed[next] = 0;
        hole = next;
      }
      next = (next + 1) & mask;
    }
  }
}
