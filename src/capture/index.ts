import { createReadStream } from 'node:fs';
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

/** Reads a capture file in chunks, so a large file never sits in memory whole. */
export async function readCaptureFile(
  path: string,
  onPacket: (packet: CapturedPacket) => void,
  options: CaptureOptions = {},
): Promise<CaptureStats> {
  const session = new CaptureSession(onPacket, options);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) session.push(chunk as Buffer);
  return session.end();
}
