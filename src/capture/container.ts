import { CaptureDrop, CaptureFormatError } from './errors.js';

/**
 * Receives each captured frame: its link type, pcapng interface, capture time, and the frame as
 * buf[start, end). `origLen` is the length on the wire; origLen > end - start means the snap length
 * cut it. The bytes are only valid during the call.
 */
export interface FrameSink {
  frame(
    linkType: number,
    interfaceId: number,
    tsSec: number,
    tsNsec: number,
    buf: Uint8Array,
    start: number,
    end: number,
    origLen: number,
  ): void;
}

export interface ContainerOptions {
  /**
   * Largest record (pcap) or block (pcapng) accepted; a bigger length is read as corruption, which
   * also bounds what the reader buffers between chunks.
   */
  maxRecordBytes?: number;
}

export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;

const PCAP_US = 0xa1b2c3d4;
const PCAP_NS = 0xa1b23c4d;
const PCAP_US_SWAPPED = 0xd4c3b2a1;
const PCAP_NS_SWAPPED = 0x4d3cb2a1;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;
const PCAPNG_BOM_SWAPPED = 0x4d3c2b1a;

const FORMAT_UNKNOWN = 0;
const FORMAT_PCAP = 1;
const FORMAT_PCAPNG = 2;

function u32le(b: Uint8Array, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}
function u32be(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}
function u16le(b: Uint8Array, p: number): number {
  return b[p] | (b[p + 1] << 8);
}
function u16be(b: Uint8Array, p: number): number {
  return (b[p] << 8) | b[p + 1];
}

/** pcapng interface: link type and how to turn its timestamps into seconds and nanoseconds. */
interface PcapngInterface {
  linkType: number;
  snapLen: number;
  /** Timestamp units per second when it is a small power (fast exact path), else 0. */
  divisor: number;
  /** Nanoseconds per unit when divisor is 10^n, n <= 9; 0 when units are finer or binary. */
  nsPerUnit: number;
  /** Units per second as a bigint, for the rare resolutions past the fast path. */
  bigDivisor: bigint;
  offsetSec: number;
}

function newInterface(linkType: number, snapLen: number): PcapngInterface {
  return { linkType, snapLen, divisor: 1_000_000, nsPerUnit: 1000, bigDivisor: 1_000_000n, offsetSec: 0 };
}

/** Applies if_tsresol: high bit clear means 10^-n seconds, set means 2^-n. */
function setResolution(iface: PcapngInterface, tsresol: number): void {
  const n = tsresol & 0x7f;
  if ((tsresol & 0x80) === 0) {
    if (n > 18) return; // past any clock; keep the default rather than divide by 10^127
    iface.bigDivisor = 10n ** BigInt(n);
    iface.divisor = n <= 9 ? 10 ** n : 0;
    iface.nsPerUnit = n <= 9 ? 10 ** (9 - n) : 0;
  } else {
    if (n > 63) return;
    iface.bigDivisor = 1n << BigInt(n);
    iface.divisor = n <= 30 ? 2 ** n : 0;
    iface.nsPerUnit = 0;
  }
}

/**
 * Reads pcap (microsecond and nanosecond, either byte order) and pcapng (any number of sections
 * and interfaces, per-interface link type, if_tsresol and if_tsoffset), pushed as chunks of any
 * size. Whole records inside a chunk are handed over in place; only a record that straddles two
 * chunks is copied. Damage is counted in `drops`, never thrown: the only throw is
 * CaptureFormatError, at the start, when the bytes are not a capture at all.
 */
export class CaptureReader {
  private format = FORMAT_UNKNOWN;
  private littleEndian = true;
  private nanosecond = false;
  private pcapLinkType = 0;
  private interfaces: PcapngInterface[] = [];
  /** Bytes of a record cut by the end of a chunk, in pending[0, pendingLength). */
  private pending: Uint8Array | null = null;
  private pendingLength = 0;
  /**
   * Bytes the parser needs before it can make progress (a whole record once its header is read):
   * pushes add to `pending` without parsing until then, so a large record arriving in small chunks
   * is copied once, not once per chunk.
   */
  private need = 0;
  private stopped = false;
  private sawBytes = false;
  private readonly maxRecordBytes: number;
  // Scratch output of timestamp conversion, to return two numbers without an object.
  private tsSec = 0;
  private tsNsec = 0;
  /** Records (pcap) or packet blocks (pcapng) read, damaged or not. */
  records = 0;

  constructor(
    private readonly sink: FrameSink,
    private readonly drops: Float64Array,
    options: ContainerOptions = {},
  ) {
    this.maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  }

  push(chunk: Uint8Array): void {
    if (this.stopped || chunk.length === 0) return;
    this.sawBytes = true;
    let buf = chunk;
    if (this.pending !== null) {
      const total = this.pendingLength + chunk.length;
      if (this.pending.length < total) {
        const grown = new Uint8Array(Math.max(total, this.need, this.pending.length * 2));
        grown.set(this.pending.subarray(0, this.pendingLength), 0);
        this.pending = grown;
      }
      this.pending.set(chunk, this.pendingLength);
      this.pendingLength = total;
      if (total < this.need) return;
      buf = this.pending.subarray(0, total);
      this.pending = null;
      this.pendingLength = 0;
    }
    this.need = 0;
    const used = this.parse(buf);
    if (!this.stopped && used < buf.length) {
      // A copy: the caller may reuse the chunk once push returns.
      this.pending = new Uint8Array(buf.subarray(used));
      this.pendingLength = this.pending.length;
    }
  }

  /** The input has ended: what is left is a record cut short. */
  end(): void {
    if (!this.sawBytes) throw new CaptureFormatError('the capture file is empty');
    if (this.stopped) return;
    if (this.pending !== null && this.pendingLength > 0) {
      if (this.format === FORMAT_UNKNOWN && this.pendingLength < 4) {
        throw new CaptureFormatError('the file is too short to be a pcap or pcapng capture');
      }
      this.drops[CaptureDrop.CAPTURE_TRUNCATED_FILE]++;
    }
    this.pending = null;
    this.pendingLength = 0;
    this.stopped = true;
  }

  private parse(buf: Uint8Array): number {
    let pos = 0;
    if (this.format === FORMAT_UNKNOWN) {
      pos = this.header(buf);
      if (pos < 0) return 0;
    }
    return this.format === FORMAT_PCAP ? this.pcapRecords(buf, pos) : this.pcapngBlocks(buf, pos);
  }

  /** Recognises the file; returns the bytes consumed, or -1 while the header is incomplete. */
  private header(buf: Uint8Array): number {
    if (buf.length < 4) return -1;
    const magic = u32le(buf, 0);
    if (magic === PCAPNG_SHB) {
      // The section header block is parsed as a block, which sets the byte order.
      this.format = FORMAT_PCAPNG;
      return 0;
    }
    if (magic === PCAP_US || magic === PCAP_NS) this.littleEndian = true;
    else if (magic === PCAP_US_SWAPPED || magic === PCAP_NS_SWAPPED) this.littleEndian = false;
    else {
      throw new CaptureFormatError(
        `not a pcap or pcapng capture (magic 0x${magic.toString(16).padStart(8, '0')})`,
      );
    }
    if (buf.length < 24) return -1;
    this.format = FORMAT_PCAP;
    this.nanosecond = magic === PCAP_NS || magic === PCAP_NS_SWAPPED;
    // The upper bits of the link type field carry FCS information, not the type.
    this.pcapLinkType = (this.littleEndian ? u32le(buf, 20) : u32be(buf, 20)) & 0x0fffffff;
    return 24;
  }

  private pcapRecords(buf: Uint8Array, start: number): number {
    const le = this.littleEndian;
    const nano = this.nanosecond;
    const linkType = this.pcapLinkType;
    const sink = this.sink;
    const max = this.maxRecordBytes;
    let pos = start;
    while (pos + 16 <= buf.length) {
      const sec = le ? u32le(buf, pos) : u32be(buf, pos);
      const frac = le ? u32le(buf, pos + 4) : u32be(buf, pos + 4);
      const capLen = le ? u32le(buf, pos + 8) : u32be(buf, pos + 8);
      const origLen = le ? u32le(buf, pos + 12) : u32be(buf, pos + 12);
      if (capLen > max) {
        this.drops[CaptureDrop.CAPTURE_CORRUPT_BLOCK]++;
        this.stopped = true;
        return buf.length;
      }
      const dataStart = pos + 16;
      if (dataStart + capLen > buf.length) {
        this.need = 16 + capLen;
        break;
      }
      this.records++;
      let nsec = nano ? frac : frac * 1000;
      let s = sec;
      // Writers are loose about the fraction; carry it rather than report an impossible time.
      if (nsec >= 1_000_000_000) {
        s += Math.floor(nsec / 1_000_000_000);
        nsec %= 1_000_000_000;
      }
      sink.frame(linkType, 0, s, nsec, buf, dataStart, dataStart + capLen, origLen);
      pos = dataStart + capLen;
    }
    return pos;
  }

  private corrupt(stop: boolean): void {
    this.drops[CaptureDrop.CAPTURE_CORRUPT_BLOCK]++;
    if (stop) this.stopped = true;
  }

  private pcapngBlocks(buf: Uint8Array, start: number): number {
    let pos = start;
    while (pos + 12 <= buf.length) {
      const typeLe = u32le(buf, pos);
      if (typeLe === PCAPNG_SHB) {
        const bom = u32le(buf, pos + 8);
        if (bom === PCAPNG_BOM) this.littleEndian = true;
        else if (bom === PCAPNG_BOM_SWAPPED) this.littleEndian = false;
        else if (pos === 0 && this.records === 0 && this.interfaces.length === 0) {
          throw new CaptureFormatError('not a pcapng capture (bad byte-order magic)');
        } else {
          this.corrupt(true);
          return buf.length;
        }
      }
      const le = this.littleEndian;
      const type = le ? typeLe : u32be(buf, pos);
      const length = le ? u32le(buf, pos + 4) : u32be(buf, pos + 4);
      if (length < 12 || length % 4 !== 0 || length > this.maxRecordBytes + 64) {
        this.corrupt(true);
        return buf.length;
      }
      if (pos + length > buf.length) {
        this.need = length;
        break;
      }
      const trailer = le ? u32le(buf, pos + length - 4) : u32be(buf, pos + length - 4);
      if (trailer !== length) {
        this.corrupt(true);
        return buf.length;
      }
      this.block(type, buf, pos, length, le);
      if (this.stopped) return buf.length;
      pos += length;
    }
    return pos;
  }

  private block(type: number, buf: Uint8Array, pos: number, length: number, le: boolean): void {
    const end = pos + length - 4;
    switch (type) {
      case PCAPNG_SHB: {
        if (length < 28) {
          this.corrupt(true);
          return;
        }
        const major = le ? u16le(buf, pos + 12) : u16be(buf, pos + 12);
        if (major !== 1) {
          if (this.records === 0 && this.interfaces.length === 0) {
            throw new CaptureFormatError(`unsupported pcapng version ${major}`);
          }
          this.corrupt(true);
          return;
        }
        // A new section starts afresh: interface ids restart at 0.
        this.interfaces = [];
        return;
      }
      case 1: {
        // Interface Description Block.
        if (length < 20) {
          this.corrupt(false);
          return;
        }
        const linkType = le ? u16le(buf, pos + 8) : u16be(buf, pos + 8);
        const snapLen = le ? u32le(buf, pos + 12) : u32be(buf, pos + 12);
        const iface = newInterface(linkType, snapLen);
        let p = pos + 16;
        while (p + 4 <= end) {
          const code = le ? u16le(buf, p) : u16be(buf, p);
          const len = le ? u16le(buf, p + 2) : u16be(buf, p + 2);
          if (code === 0 || p + 4 + len > end) break;
          if (code === 9 && len >= 1) setResolution(iface, buf[p + 4]);
          else if (code === 14 && len >= 8) {
            const hi = le ? u32le(buf, p + 8) : u32be(buf, p + 4);
            const lo = le ? u32le(buf, p + 4) : u32be(buf, p + 8);
            // A signed 64-bit offset in seconds; any real one fits a double.
            iface.offsetSec = (hi | 0) * 4294967296 + lo;
          }
          p += 4 + ((len + 3) & ~3);
        }
        this.interfaces.push(iface);
        return;
      }
      case 6:
      case 2: {
        // Enhanced Packet Block, and the obsolete Packet Block old tools still write: the same
        // layout but for a 16-bit interface id (followed by a drops count).
        this.records++;
        if (length < 32) {
          this.corrupt(false);
          return;
        }
        let ifId: number;
        if (type === 6) ifId = le ? u32le(buf, pos + 8) : u32be(buf, pos + 8);
        else ifId = le ? u16le(buf, pos + 8) : u16be(buf, pos + 8);
        const high = le ? u32le(buf, pos + 12) : u32be(buf, pos + 12);
        const low = le ? u32le(buf, pos + 16) : u32be(buf, pos + 16);
        const capLen = le ? u32le(buf, pos + 20) : u32be(buf, pos + 20);
        const origLen = le ? u32le(buf, pos + 24) : u32be(buf, pos + 24);
        this.packet(ifId, high, low, buf, pos + 28, capLen, origLen, end);
        return;
      }
      case 3: {
        // Simple Packet Block: interface 0, no timestamp, length implied by the block.
        this.records++;
        if (length < 16) {
          this.corrupt(false);
          return;
        }
        const iface = this.interfaces[0];
        if (iface === undefined) {
          this.drops[CaptureDrop.CAPTURE_UNKNOWN_INTERFACE]++;
          return;
        }
        const origLen = le ? u32le(buf, pos + 8) : u32be(buf, pos + 8);
        let capLen = Math.min(origLen, end - (pos + 12));
        if (iface.snapLen > 0) capLen = Math.min(capLen, iface.snapLen);
        this.sink.frame(iface.linkType, 0, 0, 0, buf, pos + 12, pos + 12 + capLen, origLen);
        return;
      }
      default:
        // Name resolution, statistics, custom and unknown blocks carry no packets.
        return;
    }
  }

  private packet(
    ifId: number,
    high: number,
    low: number,
    buf: Uint8Array,
    dataStart: number,
    capLen: number,
    origLen: number,
    blockEnd: number,
  ): void {
    if (dataStart + capLen > blockEnd) {
      this.corrupt(false);
      return;
    }
    const iface = this.interfaces[ifId];
    if (iface === undefined) {
      this.drops[CaptureDrop.CAPTURE_UNKNOWN_INTERFACE]++;
      return;
    }
    this.timestamp(iface, high, low);
    this.sink.frame(
      iface.linkType,
      ifId,
      this.tsSec,
      this.tsNsec,
      buf,
      dataStart,
      dataStart + capLen,
      origLen,
    );
  }

  /** Splits a 64-bit timestamp in interface units into seconds and nanoseconds, exactly. */
  private timestamp(iface: PcapngInterface, high: number, low: number): void {
    const d = iface.divisor;
    if (d !== 0 && high < 0x200000) {
      // The value fits a double exactly (< 2^53); fix the rounding of the division by hand.
      const value = high * 4294967296 + low;
      let sec = Math.floor(value / d);
      let rem = value - sec * d;
      if (rem < 0) {
        sec--;
        rem += d;
      } else if (rem >= d) {
        sec++;
        rem -= d;
      }
      this.tsSec = sec + iface.offsetSec;
      this.tsNsec = iface.nsPerUnit !== 0 ? rem * iface.nsPerUnit : Math.floor((rem * 1e9) / d);
      return;
    }
    const value = (BigInt(high) << 32n) | BigInt(low);
    const sec = value / iface.bigDivisor;
    const rem = value % iface.bigDivisor;
    this.tsSec = Number(sec) + iface.offsetSec;
    this.tsNsec = Number((rem * 1_000_000_000n) / iface.bigDivisor);
  }
}
