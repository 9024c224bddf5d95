import { OK, type Ok, ParseError, type SyslogParseError } from '../../errors.js';

export type FrameSink = (frame: Buffer) => void;

const LF = 10;
const CR = 13;
const NUL = 0;
const SP = 32;
/** An octet count has at most this many digits; 10 digits already exceed any frame bound. */
const MAX_COUNT_DIGITS = 10;
/**
 * Blank bytes (LF, CR, NUL) in a row between frames that are still a trailer (CRLF, LF NUL, an
 * uncounted LF after an octet-counted frame, a few blank lines). A longer run counts as the start
 * of a frame for the frame deadline, so a peer cannot hold its connection by trickling blanks.
 */
const MAX_BLANK_RUN = 8;

/**
 * Splits a syslog TCP (or TLS) stream into messages per RFC 6587, deciding the framing for each
 * frame by its first byte: a digit starts octet counting (`LEN SP MSG`), anything else is
 * non-transparent framing ended by LF (CRLF and NUL trailers too). A frame longer than
 * `maxFrameSize`, or a count that is not a number, fails the stream; a claimed length is never
 * allocated before its bytes arrive.
 */
export class SyslogStreamSplitter {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** > 0 while inside an octet-counted frame: the bytes it still needs */
  private counted = -1;
  private failed: SyslogParseError | Ok = OK;
  private completed = 0;
  /** blank bytes skipped since the last frame ended */
  private blanks = 0;

  constructor(
    private readonly maxFrameSize: number,
    private readonly sink: FrameSink,
  ) {}

  get bufferedBytes(): number {
    return this.pendingLength;
  }

  /** true from the first byte of a frame until its last (a long run of blanks counts as a first byte) */
  get inFrame(): boolean {
    return this.counted > 0 || this.pendingLength > 0 || this.blanks > MAX_BLANK_RUN;
  }

  /** Frames completed so far, empty ones included. */
  get frames(): number {
    return this.completed;
  }

  /** Feeds one read. Returns OK, or the ParseError id that makes the stream unusable. */
  push(chunk: Buffer): SyslogParseError | Ok {
    if (this.failed !== OK) return this.failed;
    let p = 0;
    while (p < chunk.length) {
      if (this.counted > 0) {
        if (this.pendingLength === 0 && chunk.length - p >= this.counted) {
          // The whole frame is in this read: hand it over without copying.
          this.emit(chunk.subarray(p, p + this.counted));
          p += this.counted;
          this.counted = -1;
          continue;
        }
        const take = Math.min(this.counted, chunk.length - p);
        this.hold(chunk.subarray(p, p + take));
        this.counted -= take;
        p += take;
        if (this.counted === 0) {
          this.counted = -1;
          this.emit(this.take());
        }
        continue;
      }
      if (this.pendingLength === 0) {
        // Skip the blank separators some senders put between frames.
        const from = p;
        while (p < chunk.length && (chunk[p] === LF || chunk[p] === CR || chunk[p] === NUL)) p++;
        this.blanks += p - from;
        if (p === chunk.length) break;
        this.blanks = 0;
      }
      const head = this.pendingLength > 0 ? this.pendingHead() : chunk[p];
      if (head >= 48 && head <= 57) {
        const error = this.readCount(chunk, p);
        if (error < 0) return this.failed;
        p = error;
        continue;
      }
      // Non-transparent framing: up to the next LF or NUL.
      let end = p;
      while (end < chunk.length && chunk[end] !== LF && chunk[end] !== NUL) end++;
      if (this.pendingLength + (end - p) > this.maxFrameSize)
        return this.fail(ParseError.SYSLOG_FRAME_TOO_LARGE);
      if (end < chunk.length && this.pendingLength === 0) this.emit(chunk.subarray(p, end));
      else {
        this.hold(chunk.subarray(p, end));
        if (end === chunk.length) break;
        this.emit(this.take());
      }
      p = end + 1;
    }
    return OK;
  }

  private pendingHead(): number {
    return this.pending[0][0];
  }

  /** Reads `LEN SP` (possibly across reads). Returns the new offset, or -1 on failure. */
  private readCount(chunk: Buffer, p: number): number {
    let end = p;
    while (end < chunk.length && chunk[end] !== SP) {
      const b = chunk[end];
      if (b < 48 || b > 57) {
        this.fail(ParseError.SYSLOG_BAD_OCTET_COUNT);
        return -1;
      }
      end++;
      if (this.pendingLength + (end - p) > MAX_COUNT_DIGITS) {
        this.fail(ParseError.SYSLOG_BAD_OCTET_COUNT);
        return -1;
      }
    }
    this.hold(chunk.subarray(p, end));
    if (end === chunk.length) return end; // the count continues in the next read
    const digits = this.take().toString('latin1');
    const count = Number(digits);
    if (count === 0) {
      this.fail(ParseError.SYSLOG_BAD_OCTET_COUNT);
      return -1;
    }
    if (count > this.maxFrameSize) {
      this.fail(ParseError.SYSLOG_FRAME_TOO_LARGE);
      return -1;
    }
    this.counted = count;
    return end + 1;
  }

  private hold(part: Buffer): void {
    if (part.length === 0) return;
    // Copy: the part must outlive this read, which the socket does not promise.
    this.pending.push(Buffer.from(part));
    this.pendingLength += part.length;
  }

  private take(): Buffer {
    const frame =
      this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingLength);
    this.pending = [];
    this.pendingLength = 0;
    return frame;
  }

  private emit(frame: Buffer): void {
    this.completed++;
    // rsyslog counts the trailing LF inside the octet count; CR and NUL trailers are framing too.
    let end = frame.length;
    while (end > 0 && (frame[end - 1] === LF || frame[end - 1] === CR || frame[end - 1] === NUL)) end--;
    if (end > 0) this.sink(end === frame.length ? frame : frame.subarray(0, end));
  }

  private fail(error: SyslogParseError): SyslogParseError {
    this.failed = error;
    this.pending = [];
    this.pendingLength = 0;
    return error;
  }
}
