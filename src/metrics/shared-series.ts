/** Int32 words before the set's entries: the lock, the series admitted, padding. */
const HEADER = 16;
const LOCK = 0;
const COUNT = 1;

function entryCount(maxSeries: number): number {
  let size = 4;
  while (size < maxSeries * 2) size *= 2;
  return size;
}

/**
 * The series cap of one family counted over every thread that counts into it. Each thread keeps
 * its own cells (summed when scraped) and so its own series list, but a label set is one series
 * whichever threads have it: this set remembers the 64-bit hash of every label set admitted as a
 * regular series, so the cap holds for the process and every thread folds the same label sets
 * into overflow. Only admitted sets are stored, so a flood of new label sets past the cap costs
 * nothing here. Asked only when a thread resolves a new cell, never per message.
 */
export class SharedSeriesCap {
  private readonly words: Int32Array;
  private readonly entries: Int32Array;
  private readonly mask: number;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly maxSeries: number,
  ) {
    if (buffer.byteLength !== SharedSeriesCap.bytes(maxSeries))
      throw new RangeError('shared series set has the wrong size');
    this.mask = entryCount(maxSeries) - 1;
    this.words = new Int32Array(buffer, 0, HEADER);
    this.entries = new Int32Array(buffer, HEADER * 4);
  }

  static bytes(maxSeries: number): number {
    return (HEADER + entryCount(maxSeries) * 2) * 4;
  }

  static share(maxSeries: number): SharedArrayBuffer {
    return new SharedArrayBuffer(SharedSeriesCap.bytes(maxSeries));
  }

  /** Regular series admitted by every thread together. */
  get admitted(): number {
    return Atomics.load(this.words, COUNT);
  }

  /** True when `labels` is (or now becomes) a regular series; false: fold it into overflow. */
  admit(labels: Readonly<Record<string, string>>): boolean {
    // Two FNV-1a hashes with different seeds over the values in label order, each ended by a
    // unit no label value carries; bit 0 of the low half is set so an entry is never 0.
    let hi = 0x811c9dc5;
    let lo = 0x1b873593;
    for (const key in labels) {
      const value = labels[key];
      for (let i = 0; i < value.length; i++) {
        const unit = value.charCodeAt(i);
        hi = Math.imul(hi ^ unit, 0x01000193);
        lo = Math.imul(lo ^ unit, 0x5bd1e995);
      }
      hi = Math.imul(hi ^ 0xffff, 0x01000193);
      lo = Math.imul(lo ^ 0xffff, 0x5bd1e995);
    }
    lo |= 1;
    const words = this.words;
    const entries = this.entries;
    while (Atomics.compareExchange(words, LOCK, 0, 1) !== 0);
    try {
      let slot = (hi ^ Math.imul(lo, 0x9e3779b1)) & this.mask;
      for (;;) {
        const storedLo = entries[slot * 2 + 1];
        if (storedLo === 0) break;
        if (storedLo === lo && entries[slot * 2] === hi) return true;
        slot = (slot + 1) & this.mask;
      }
      const count = words[COUNT];
      if (count >= this.maxSeries) return false;
      entries[slot * 2] = hi;
      entries[slot * 2 + 1] = lo;
      Atomics.store(words, COUNT, count + 1);
      return true;
    } finally {
      Atomics.store(words, LOCK, 0);
    }
  }
}
