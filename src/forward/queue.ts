/**
 * A target's queue of packets waiting to be sent: a ring of packets in one byte buffer allocated
 * once, bounded both in packets and in bytes, so that a target that is slow or gone holds at most
 * `maxBytes` of memory whatever arrives. A packet is stored in one contiguous range (never split
 * over the end of the buffer), so the send paths hand ranges of `storage` straight to the kernel:
 * sendmmsg takes `offsets`/`lengths` as they are; a TCP write takes a run of packets that follow
 * each other in `storage` as one slice.
 *
 * Packets are copied in because the receive buffer they come from is reused for the next batch
 * before the send can happen (and a TCP read's buffer would keep a whole 64 KiB read alive).
 */
export class PacketQueue {
  /** packet i lies at storage[offsets[i], offsets[i] + lengths[i]) */
  readonly storage: Buffer;
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
  /** index in offsets/lengths of the oldest packet */
  first = 0;
  /** packets queued */
  count = 0;
  /** bytes of the packets queued (not counting the gap a wrap leaves at the end of storage) */
  bytes = 0;

  constructor(
    readonly maxPackets: number,
    readonly maxBytes: number,
  ) {
    if (!Number.isInteger(maxPackets) || maxPackets < 1)
      throw new RangeError('maxPackets must be at least 1');
    if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError('maxBytes must be at least 1');
    this.storage = Buffer.allocUnsafeSlow(maxBytes);
    this.offsets = new Int32Array(maxPackets);
    this.lengths = new Int32Array(maxPackets);
  }

  /**
   * Copies buf[start, end) in at the back. Returns false, copying nothing, when the packet would
   * take the queue past either bound (or is empty: no HEP packet is).
   */
  push(buf: Buffer, start: number, end: number): boolean {
    const length = end - start;
    const count = this.count;
    if (length <= 0 || count === this.maxPackets) return false;
    const max = this.maxBytes;
    let at: number;
    if (count === 0) {
      if (length > max) return false;
      this.first = 0;
      at = 0;
    } else {
      const head = this.offsets[this.first];
      const lastIndex = this.index(count - 1);
      const tail = this.offsets[lastIndex] + this.lengths[lastIndex];
      // Wrapped: the newest packets sit before the oldest one in storage.
      const wrapped = count > 1 && this.offsets[lastIndex] < head;
      if (wrapped) {
        if (tail + length > head) return false;
        at = tail;
      } else if (tail + length <= max) at = tail;
      else if (length <= head) at = 0;
      else return false;
    }
    const i = this.index(count);
    buf.copy(this.storage, at, start, end);
    this.offsets[i] = at;
    this.lengths[i] = length;
    this.count = count + 1;
    this.bytes += length;
    return true;
  }

  /** The index in offsets/lengths of the packet `n` places from the front. */
  index(n: number): number {
    const i = this.first + n;
    return i >= this.maxPackets ? i - this.maxPackets : i;
  }

  /** Drops the `n` oldest packets (sent, or given up on). */
  shift(n: number): void {
    if (n > this.count) n = this.count;
    for (let k = 0; k < n; k++) this.bytes -= this.lengths[this.index(k)];
    this.first = this.index(n);
    this.count -= n;
    if (this.count === 0) {
      this.first = 0;
      this.bytes = 0;
    }
  }

  /**
   * How many packets from the `skip`-th oldest on follow each other in storage without a gap,
   * at most `max`: one slice of storage holds them all.
   */
  run(skip: number, max: number): number {
    const available = this.count - skip;
    if (available <= 0) return 0;
    let i = this.index(skip);
    let end = this.offsets[i] + this.lengths[i];
    let n = 1;
    const limit = Math.min(available, max);
    while (n < limit) {
      i = i + 1 === this.maxPackets ? 0 : i + 1;
      if (this.offsets[i] !== end) break;
      end += this.lengths[i];
      n++;
    }
    return n;
  }

  /** Forgets every packet; returns how many there were. */
  clear(): number {
    const n = this.count;
    this.first = 0;
    this.count = 0;
    this.bytes = 0;
    return n;
  }
}
