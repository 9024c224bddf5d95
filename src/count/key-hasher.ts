import type { TextRef } from './observation.js';

/**
 * A 64-bit key built from two independent 32-bit hashes (murmur3- and murmur2-style mixes), fed
 * field by field, four bytes a step, with no allocation. 64 bits keep the chance that two different messages share a
 * key across a million-entry dedupe window near 1e-8; one 32-bit hash would collide daily.
 */
export class KeyHasher {
  hi = 0;
  lo = 0;

  begin(): this {
    this.hi = 0x811c9dc5;
    this.lo = 0x9747b28c;
    return this;
  }

  /**
   * Mixes one 32-bit word into both halves. The word is scrambled first (murmur3's
   * multiply-rotate-multiply): without it, keys that differ in a few digits share their high
   * half far more often than random keys would, and the KPI tables bucket by that half.
   * murmur3's constant 0xe6546b64 is added as its int32 twin, -0x19ab949c, then `| 0`: the same
   * value modulo 2^32, but the sum stays an int32 add, where the larger constant made V8 add
   * doubles and truncate them again at the next step.
   */
  private word(k: number): void {
    k = Math.imul(k, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    let hi = this.hi ^ k;
    hi = (Math.imul((hi << 13) | (hi >>> 19), 5) - 0x19ab949c) | 0;
    let lo = Math.imul(this.lo ^ k, 0x5bd1e995);
    lo ^= lo >>> 15;
    this.hi = hi;
    this.lo = lo;
  }

  bytes(buf: Uint8Array, start: number, end: number): this {
    // Four bytes a step, mixed in locals (the same scramble and mix as word()); then the tail
    // bytes and the length, which closes the field so that "ab"+"c" and "a"+"bc" differ. All in
    // locals: this runs for every message, and a round trip through the fields per word cost a
    // fifth of the key.
    let hi = this.hi;
    let lo = this.lo;
    let i = start;
    let k = 0;
    for (; i + 4 <= end; i += 4) {
      k = buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
      k = Math.imul(k, 0xcc9e2d51);
      k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
      hi ^= k;
      hi = (Math.imul((hi << 13) | (hi >>> 19), 5) - 0x19ab949c) | 0;
      lo = Math.imul(lo ^ k, 0x5bd1e995);
      lo ^= lo >>> 15;
    }
    let tail = 0;
    for (let shift = 0; i < end; i++, shift += 8) tail |= buf[i] << shift;
    for (let last = 0; last < 2; last++) {
      k = last === 0 ? tail : end - start;
      k = Math.imul(k, 0xcc9e2d51);
      k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
      hi ^= k;
      hi = (Math.imul((hi << 13) | (hi >>> 19), 5) - 0x19ab949c) | 0;
      lo = Math.imul(lo ^ k, 0x5bd1e995);
      lo ^= lo >>> 15;
    }
    this.hi = hi;
    this.lo = lo;
    return this;
  }

  /** Hashes a string as bytes: for Latin-1 text the same key as hashing its bytes. */
  string(text: string): this {
    const end = text.length;
    let i = 0;
    for (; i + 4 <= end; i += 4) {
      this.word(
        (text.charCodeAt(i) & 0xff) |
          ((text.charCodeAt(i + 1) & 0xff) << 8) |
          ((text.charCodeAt(i + 2) & 0xff) << 16) |
          ((text.charCodeAt(i + 3) & 0xff) << 24),
      );
    }
    let tail = 0;
    for (let shift = 0; i < end; i++, shift += 8) tail |= (text.charCodeAt(i) & 0xff) << shift;
    this.word(tail);
    this.word(end);
    return this;
  }

  /** Hashes an observation's text field, byte range or string, the same way for the same text. */
  text(field: TextRef): this {
    return field.text !== null ? this.string(field.text) : this.bytes(field.buf, field.start, field.end);
  }

  uint32(n: number): this {
    this.word(n | 0);
    return this;
  }

  /** Final avalanche so that nearby inputs land far apart in the table. */
  end(): this {
    let hi = this.hi;
    hi ^= hi >>> 16;
    hi = Math.imul(hi, 0x85ebca6b);
    hi ^= hi >>> 13;
    hi = Math.imul(hi, 0xc2b2ae35);
    hi ^= hi >>> 16;
    let lo = this.lo;
    lo ^= lo >>> 13;
    lo = Math.imul(lo, 0x5bd1e995);
    lo ^= lo >>> 15;
    this.hi = hi >>> 0;
    this.lo = lo >>> 0;
    return this;
  }
}
