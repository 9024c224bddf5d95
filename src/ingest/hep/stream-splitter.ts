import { type HepParseError, OK, type Ok, ParseError } from '../../errors.js';
import { isHep3Magic } from './decode.js';

const HEP3_MAGIC = [0x48, 0x45, 0x50, 0x33];

export type PacketSink = (buf: Buffer, start: number, end: number) => void;

/**
 * Splits a TCP byte stream into HEPv3 packets by their length field. Packets arrive back to
 * back with no other framing: one read may hold several packets and one packet may span reads.
 * Only the bytes of an unfinished packet are kept, never more than `maxPacketSize`.
 */
export class HepStreamSplitter {
  private pending: Buffer | null = null;
  private pendingLength = 0;
  private failed: HepParseError | Ok = OK;
  private completed = 0;

  constructor(
    private readonly maxPacketSize: number,
    private readonly sink: PacketSink,
  ) {}

  /** Feeds one read. Returns OK, or the ParseError id that makes the stream unusable. */
  push(chunk: Buffer): HepParseError | Ok {
    if (this.failed !== OK) return this.failed;
    const data = chunk;
    let p = 0;
    if (this.pending !== null) {
      // Complete the unfinished packet from the head of this read first.
      const merged = this.completePending(chunk);
      if (merged < 0) return this.failed;
      p = merged;
      if (this.pending !== null) return OK; // still incomplete
    }
    while (p < data.length) {
      const remaining = data.length - p;
      if (remaining < 6) {
        if (!this.checkPrefix(data, p, remaining)) return this.failed;
        this.keep(data, p);
        return OK;
      }
      const error = this.checkHeader(data, p);
      if (error !== OK) return this.fail(error);
      const total = (data[p + 4] << 8) | data[p + 5];
      if (total > remaining) {
        this.keep(data, p);
        return OK;
      }
      this.completed++;
      this.sink(data, p, p + total);
      p += total;
    }
    return OK;
  }

  /** true from the first byte of a packet until its last */
  get inFrame(): boolean {
    return this.pending !== null;
  }

  /** Packets completed so far. */
  get frames(): number {
    return this.completed;
  }

  /** Bytes held for a packet not yet complete. */
  get bufferedBytes(): number {
    return this.pending === null ? 0 : this.pendingLength;
  }

  private checkHeader(data: Buffer, p: number): HepParseError | Ok {
    if (!isHep3Magic(data, p)) return ParseError.HEP_STREAM_NOT_V3;
    const total = (data[p + 4] << 8) | data[p + 5];
    if (total < 6) return ParseError.HEP_BAD_LENGTH;
    if (total > this.maxPacketSize) return ParseError.HEP_FRAME_TOO_LARGE;
    return OK;
  }

  /** Rejects a stream early when even its first bytes cannot start a HEPv3 packet. */
  private checkPrefix(data: Buffer, p: number, length: number): boolean {
    for (let i = 0; i < length && i < 4; i++) {
      const ok = i === 0 ? data[p] === 0x48 || data[p] === 0x45 : data[p + i] === HEP3_MAGIC[i];
      if (!ok) {
        this.fail(ParseError.HEP_STREAM_NOT_V3);
        return false;
      }
    }
    return true;
  }

  private keep(data: Buffer, p: number): void {
    const length = data.length - p;
    // The buffer is sized for the whole packet once its length is known, so it fills in place.
    const size = length >= 6 ? (data[p + 4] << 8) | data[p + 5] : 6;
    const buffer = Buffer.allocUnsafe(Math.max(size, length));
    data.copy(buffer, 0, p);
    this.pending = buffer;
    this.pendingLength = length;
  }

  /** Returns the offset in chunk after the completed packet, or -1 on failure. */
  private completePending(chunk: Buffer): number {
    let pending = this.pending!;
    let used = 0;
    if (this.pendingLength < 6) {
      const need = Math.min(6 - this.pendingLength, chunk.length);
      chunk.copy(pending, this.pendingLength, 0, need);
      this.pendingLength += need;
      used = need;
      if (this.pendingLength < 6) {
        return this.checkPrefix(pending, 0, this.pendingLength) ? used : -1;
      }
      const error = this.checkHeader(pending, 0);
      if (error !== OK) {
        this.fail(error);
        return -1;
      }
      const total = (pending[4] << 8) | pending[5];
      const grown = Buffer.allocUnsafe(total);
      pending.copy(grown, 0, 0, 6);
      pending = grown;
      this.pending = grown;
    }
    const total = pending.length;
    const need = Math.min(total - this.pendingLength, chunk.length - used);
    chunk.copy(pending, this.pendingLength, used, used + need);
    this.pendingLength += need;
    used += need;
    if (this.pendingLength === total) {
      this.pending = null;
      this.pendingLength = 0;
      this.completed++;
      this.sink(pending, 0, total);
    }
    return used;
  }

  private fail(error: HepParseError): HepParseError {
    this.failed = error;
    this.pending = null;
    this.pendingLength = 0;
    return error;
  }
}
