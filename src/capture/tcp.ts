import { CaptureDrop } from './errors.js';
import { KeyedTable } from './keyed-table.js';
import {
  BAD_CONTENT_LENGTH,
  contentLength,
  findHeaderEnd,
  START_LINE_NOT_SIP,
  START_LINE_SIP,
  startLine,
} from './sip-framing.js';

/** Called for each whole SIP message found on a stream: buf[start, end), valid during the call. */
export type MessageEmitter = (buf: Uint8Array, start: number, end: number) => void;

export interface TcpOptions {
  /** Streams followed at once (one per direction). */
  maxStreams: number;
  /** Bytes buffered per stream: the largest SIP message, and the out-of-order data held. */
  maxStreamBytes: number;
  /** Capture-time seconds without a segment after which a stream is forgotten. */
  idleSeconds: number;
}

interface Segment {
  seq: number;
  data: Uint8Array;
}

interface Stream {
  /** Sequence number of the next byte expected. */
  next: number;
  /**
   * True after the stream lost its framing (a gap, an oversized message, bytes that are not SIP):
   * segments are skipped, already counted, until one starts a SIP message.
   */
  lost: boolean;
  buf: Uint8Array | null;
  len: number;
  ooo: Segment[];
  oooBytes: number;
  lastSec: number;
  /**
   * For the message waiting at the front of `buf`: how many of its bytes are known to hold no
   * header end (0: not searched), and its whole length once known (-1 before). They keep a
   * message that arrives a byte at a time from being rescanned from its start on every byte.
   */
  scanned: number;
  known: number;
}

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const MAX_OUT_OF_ORDER_SEGMENTS = 32;

/**
 * Follows TCP streams that carry SIP and cuts them into messages by Content-Length: several
 * messages in one segment, one message across segments, retransmissions and reordering within a
 * bound. A segment that holds only whole messages is framed in place, without a copy; only a
 * message cut across segments is buffered. Every bound, when hit, is counted and the stream
 * resynchronises on the next segment that starts a SIP message.
 */
export class TcpReassembler extends KeyedTable<Stream, TcpOptions> {
  segment(
    key: string,
    seq: number,
    flags: number,
    buf: Uint8Array,
    start: number,
    end: number,
    nowSec: number,
    emit: MessageEmitter,
  ): void {
    this.sweep(nowSec);
    let st = this.table.get(key);
    if (st === undefined) {
      if (end === start && (flags & TCP_SYN) === 0) return; // a bare ACK/FIN of a stream we never saw
      if (this.table.size >= this.options.maxStreams) {
        if (end > start) this.drops[CaptureDrop.CAPTURE_TCP_STREAM_LIMIT]++;
        return;
      }
      st = {
        next: seq,
        lost: false,
        buf: null,
        len: 0,
        ooo: [],
        oooBytes: 0,
        lastSec: nowSec,
        scanned: 0,
        known: -1,
      };
      this.table.set(key, st);
    }
    st.lastSec = nowSec;
    if ((flags & TCP_SYN) !== 0) {
      st.next = (seq + 1) >>> 0;
      seq = st.next;
    }
    if (end > start) this.deliver(st, seq, buf, start, end, emit);
    if ((flags & (TCP_FIN | TCP_RST)) !== 0) this.close(key, st);
  }

  private deliver(
    st: Stream,
    seq: number,
    buf: Uint8Array,
    start: number,
    end: number,
    emit: MessageEmitter,
  ): void {
    const diff = (seq - st.next) | 0;
    if (diff < 0) {
      // A retransmission: keep only the bytes not seen yet.
      if (diff + (end - start) <= 0) return;
      start -= diff;
    } else if (diff > 0) {
      const length = end - start;
      if (st.ooo.length < MAX_OUT_OF_ORDER_SEGMENTS && st.oooBytes + length <= this.options.maxStreamBytes) {
        // A copy (Buffer#slice would be a view): the reader reuses its chunks.
        st.ooo.push({ seq, data: new Uint8Array(buf.subarray(start, end)) });
        st.oooBytes += length;
        return;
      }
      // The missing bytes are not coming (or would not fit): give up on them and restart here.
      this.drops[CaptureDrop.CAPTURE_TCP_GAP]++;
      this.resync(st);
      st.next = seq;
    }
    st.next = (st.next + (end - start)) >>> 0;
    this.consume(st, buf, start, end, emit);
    // Segments that arrived early may now be in order.
    while (st.ooo.length > 0) {
      let progressed = false;
      for (let i = 0; i < st.ooo.length; i++) {
        const o = st.ooo[i];
        const d = (o.seq - st.next) | 0;
        if (d > 0) continue;
        st.ooo.splice(i, 1);
        st.oooBytes -= o.data.length;
        if (d + o.data.length > 0) {
          st.next = (st.next + o.data.length + d) >>> 0;
          this.consume(st, o.data, -d, o.data.length, emit);
        }
        progressed = true;
        break;
      }
      if (!progressed) break;
    }
  }

  private resync(st: Stream): void {
    st.len = 0;
    st.lost = true;
    st.scanned = 0;
    st.known = -1;
    st.ooo = [];
    st.oooBytes = 0;
  }

  /** Appends in-order bytes and emits every whole message. */
  private consume(st: Stream, buf: Uint8Array, start: number, end: number, emit: MessageEmitter): void {
    if (st.lost) {
      while (start < end && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
      if (start === end || startLine(buf, start, end) !== START_LINE_SIP) return;
      st.lost = false;
      st.len = 0;
    }
    if (st.len === 0) {
      const used = this.frame(st, buf, start, end, emit);
      if (!st.lost && used < end) this.keep(st, buf, used, end);
      return;
    }
    if (!this.keep(st, buf, start, end)) return;
    const stored = st.buf as Uint8Array;
    const used = this.frame(st, stored, 0, st.len, emit);
    if (st.lost) return;
    if (used > 0) stored.copyWithin(0, used, st.len);
    st.len -= used;
  }

  /** Buffers buf[start, end) after what the stream holds; false (counted) past the bound. */
  private keep(st: Stream, buf: Uint8Array, start: number, end: number): boolean {
    const need = st.len + (end - start);
    if (need > this.options.maxStreamBytes) {
      this.drops[CaptureDrop.CAPTURE_TCP_MESSAGE_TOO_LARGE]++;
      this.resync(st);
      return false;
    }
    if (st.buf === null || st.buf.length < need) {
      const grown = new Uint8Array(
        Math.min(this.options.maxStreamBytes, Math.max(need, 2048, (st.buf?.length ?? 0) * 2)),
      );
      if (st.buf !== null && st.len > 0) grown.set(st.buf.subarray(0, st.len), 0);
      st.buf = grown;
    }
    st.buf.set(buf.subarray(start, end), st.len);
    st.len = need;
    return true;
  }

  /** Emits the whole messages at the front of buf[start, end); returns where the rest begins. */
  private frame(st: Stream, buf: Uint8Array, start: number, end: number, emit: MessageEmitter): number {
    const max = this.options.maxStreamBytes;
    let p = start;
    let scanned = st.scanned;
    let known = st.known;
    st.scanned = 0;
    st.known = -1;
    while (p < end) {
      let messageEnd: number;
      if (known >= 0) {
        messageEnd = p + known;
        known = -1;
      } else {
        if (scanned === 0) {
          // CRLF keep-alives (RFC 5626) sit between messages.
          while (p < end && (buf[p] === 0x0d || buf[p] === 0x0a)) p++;
          if (p >= end) return end;
          const line = startLine(buf, p, end);
          if (line === START_LINE_NOT_SIP) {
            this.drops[CaptureDrop.CAPTURE_NOT_SIP]++;
            this.resync(st);
            return end;
          }
          if (line !== START_LINE_SIP) return end - p > max ? this.lost(st, end) : p;
        }
        const headerEnd = findHeaderEnd(buf, Math.max(p, p + scanned - 3), end);
        scanned = 0;
        if (headerEnd < 0) {
          if (end - p > max) return this.lost(st, end);
          st.scanned = end - p;
          return p;
        }
        let body = contentLength(buf, p, headerEnd);
        if (body === BAD_CONTENT_LENGTH) return this.lost(st, end);
        if (body < 0) body = 0;
        messageEnd = headerEnd + body;
        if (messageEnd - p > max) return this.lost(st, end);
      }
      if (messageEnd > end) {
        st.known = messageEnd - p;
        return p;
      }
      emit(buf, p, messageEnd);
      p = messageEnd;
    }
    return p;
  }

  private lost(st: Stream, end: number): number {
    this.drops[CaptureDrop.CAPTURE_TCP_MESSAGE_TOO_LARGE]++;
    this.resync(st);
    return end;
  }

  private close(key: string, st: Stream): void {
    if (st.len > 0) this.drops[CaptureDrop.CAPTURE_TCP_INCOMPLETE]++;
    if (st.ooo.length > 0) this.drops[CaptureDrop.CAPTURE_TCP_GAP]++;
    this.table.delete(key);
  }

  /** Forgets idle streams; runs at most once per ten capture-time seconds. */
  sweep(nowSec: number): void {
    if (!this.sweepDue(nowSec, 10)) return;
    const limit = nowSec - this.options.idleSeconds;
    for (const [key, st] of this.table) if (st.lastSec < limit) this.close(key, st);
  }

  /** The input ended: streams in the middle of a message are counted. */
  finish(): void {
    for (const [key, st] of this.table) this.close(key, st);
  }
}
