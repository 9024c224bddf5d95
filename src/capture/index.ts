import { open } from 'node:fs/promises';
import { CaptureReader, type ContainerOptions } from './container.js';
import { type DecoderOptions, PacketDecoder } from './decode.js';
import { newDropCounters } from './errors.js';
import type { CapturedPacket } from './packet.js';

export { CaptureReader, type ContainerOptions, type FrameSink } from './container.js';
export { DEFAULT_HEP_PORT, type DecoderCounts, type DecoderOptions, PacketDecoder } from './decode.js';
export {
  CAPTURE_DROP_INFO,
  CaptureDrop,
  CaptureFormatError,
  dropsByLabel,
  newDropCounters,
} from './errors.js';
export { CapturedPacket, formatAddress, LinkType, PayloadKind, Transport } from './packet.js';

export type CaptureOptions = ContainerOptions & DecoderOptions;

/** What one read of a capture did: records read, messages handed over, drops by CaptureDrop id. */
export interface CaptureStats {
  records: number;
  frames: number;
  emitted: number;
  reassembled: number;
  drops: Float64Array;
}

/**
 * A capture read in pieces: push() chunks as they come, end() once. Each decoded SIP message or
 * HEP packet goes to `onPacket` (one reused object, valid during the call).
 */
export class CaptureSession {
  readonly drops = newDropCounters();
  private readonly decoder: PacketDecoder;
  private readonly reader: CaptureReader;

  constructor(onPacket: (packet: CapturedPacket) => void, options: CaptureOptions = {}) {
    this.decoder = new PacketDecoder(onPacket, this.drops, options);
    this.reader = new CaptureReader(this.decoder, this.drops, options);
  }

  /** Throws CaptureFormatError when the bytes are not a capture; damage inside one is counted. */
  push(chunk: Uint8Array): void {
    this.reader.push(chunk);
  }

  end(): CaptureStats {
    this.reader.end();
    this.decoder.finish();
    return this.stats();
  }

  stats(): CaptureStats {
    const c = this.decoder.counts;
    return {
      records: this.reader.records,
      frames: c.frames,
      emitted: c.emitted,
      reassembled: c.reassembled,
      drops: this.drops,
    };
  }
}

/** Reads a whole capture held in memory. */
export function readCapture(
  bytes: Uint8Array,
  onPacket: (packet: CapturedPacket) => void,
  options: CaptureOptions = {},
): CaptureStats {
  const session = new CaptureSession(onPacket, options);
  session.push(bytes);
  return session.end();
}

/** Bytes read from a capture file at a time. */
export const CHUNK_BYTES = 1 << 20;

export interface ChunkOptions {
  /** bytes a chunk holds at most; CHUNK_BYTES unless given */
  chunkBytes?: number;
  /**
   * Overwrite each chunk once onChunk returns, so that a reader that kept a view of one past the
   * call reads garbage at once rather than when a later read happens to land (tests).
   */
  scrub?: boolean;
}

/**
 * Hands the file at `path` to `onChunk` in chunks of at most CHUNK_BYTES, reading the next chunk
 * while the current one is handled. Two buffers serve the whole file: a chunk is valid only
 * until onChunk returns (CaptureSession copies what it keeps). A fresh 1 MiB Buffer per chunk,
 * as a read stream gives, costs the replay a full garbage collection every few megabytes.
 */
export async function readFileChunks(
  path: string,
  onChunk: (chunk: Buffer) => void,
  options: ChunkOptions = {},
): Promise<void> {
  const size = options.chunkBytes ?? CHUNK_BYTES;
  const file = await open(path, 'r');
  try {
    const buffers = [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)];
    let which = 0;
    let next = file.read(buffers[which], 0, size, null);
    for (;;) {
      const { bytesRead } = await next;
      if (bytesRead === 0) return;
      const chunk = buffers[which].subarray(0, bytesRead);
      which ^= 1;
      next = file.read(buffers[which], 0, size, null);
      try {
        onChunk(chunk);
      } catch (err) {
        // The read in flight must settle before the file closes.
        await next.catch(() => undefined);
        throw err;
      }
      if (options.scrub === true) chunk.fill(0xa5);
    }
  } finally {
    await file.close();
  }
}

/** Reads a capture file in chunks, so a large file never sits in memory whole. */
export async function readCaptureFile(
  path: string,
  onPacket: (packet: CapturedPacket) => void,
  options: CaptureOptions = {},
): Promise<CaptureStats> {
  const session = new CaptureSession(onPacket, options);
  await readFileChunks(path, (chunk) => session.push(chunk));
  return session.end();
}
