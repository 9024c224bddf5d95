/**
 * A 64-bit key built from two independent 32-bit hashes (FNV-1a and a murmur-style mix), fed
 * field by field with no allocation. 64 bits keep the chance that two different messages share a
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

  private byte(b: number): void {
    this.hi = Math.imul(this.hi ^ b, 0x01000193);
    let lo = Math.imul(this.lo ^ b, 0x5bd1e995);
    lo ^= lo >>> 15;
    this.lo = lo;
  }

  bytes(buf: Uint8Array, start: number, end: number): this {
    for (let i = start; i < end; i++) this.byte(buf[i]);
    // The length closes the field, so "ab"+"c" and "a"+"bc" differ.
    this.byte((end - start) & 0xff);
    return this;
  }

  /** Hashes a string's UTF-16 units; for ASCII text this equals hashing its bytes. */
  string(text: string): this {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0xff) this.byte(c >>> 8);
      this.byte(c & 0xff);
    }
    this.byte(text.length & 0xff);
    return this;
  }

  uint32(n: number): this {
    this.byte(n & 0xff);
    this.byte((n >>> 8) & 0xff);
    this.byte((n >>> 16) & 0xff);
    this.byte((n >>> 24) & 0xff);
    return this;
  }

  /** Final avalanche so that nearby inputs land far apart in the table. */
  end(): this {
    let hi = this.hi;
    hi ^= hi >>> 16;
    hi = Math.imul(hi, 0x85ebca6b);
    hi ^= hi >>> 13;
    let lo = this.lo;
    lo ^= lo >>> 16;
    lo = Math.imul(lo, 0xc2b2ae35);
    lo ^= lo >>> 16;
    this.hi = hi >>> 0;
    this.lo = lo >>> 0;
    return this;
  }
}
