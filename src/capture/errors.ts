import { CAPTURE_DROP_INFO, CODE, SreError } from '../errors.js';

/**
 * What the capture readers drop: the table (labels, codes, meanings, what to do) is in
 * src/errors.ts with every other code. Readers count drops in a Float64Array indexed by
 * CaptureDrop ids instead of throwing, so a bad file costs no allocation per bad packet and never
 * stops the read (except where the container itself can no longer be followed, which is counted
 * once and ends the file).
 */
export { CAPTURE_DROP_INFO, CaptureDrop, type CaptureDropId, type CaptureDropName } from '../errors.js';

/** A counter per drop id (index 0 unused). */
export function newDropCounters(): Float64Array {
  return new Float64Array(CAPTURE_DROP_INFO.length);
}

/** Non-zero drop counters by label, for summaries and tests. */
export function dropsByLabel(drops: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (let id = 1; id < drops.length; id++) if (drops[id] > 0) out[CAPTURE_DROP_INFO[id].label] = drops[id];
  return out;
}

/**
 * The input is not a pcap or pcapng file at all (or not one we can read: an unknown pcapng
 * version). Thrown once at the start, never per packet; the CLI exits 2 on it.
 */
export class CaptureFormatError extends SreError {
  constructor(message: string) {
    super(CODE.SRE_ERR_CAPTURE_FORMAT, message);
    this.name = 'CaptureFormatError';
  }
}
