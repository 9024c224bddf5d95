import { CaptureDrop } from './errors.js';
import { KeyedTable } from './keyed-table.js';

/** IP datagrams larger than this cannot exist (IPv4 total length, IPv6 without jumbograms). */
const MAX_DATAGRAM = 65535;

interface Fragment {
  offset: number;
  data: Uint8Array;
}

/** A datagram under reassembly; addresses are kept because the fragments' buffers are not. */
export interface PendingDatagram {
  readonly ipVersion: 4 | 6;
  readonly protocol: number;
  /** Source address at 0, destination at 16 (both 4 or 16 bytes). */
  readonly addresses: Uint8Array;
  readonly firstSec: number;
  fragments: Fragment[];
  /** Length of the whole payload once the last fragment is seen, else -1. */
  total: number;
  received: number;
}

export interface FragmentOptions {
  /** Datagrams under reassembly at once; the oldest is evicted past it. */
  maxDatagrams: number;
  /** Fragments per datagram; more is read as an attack or a broken sender. */
  maxFragments: number;
  /** Capture-time seconds a datagram may wait for its fragments. */
  timeoutSeconds: number;
}

/**
 * Reassembles fragmented IPv4 and IPv6 payloads, bounded in datagrams, fragments and bytes
 * (65535 per datagram). Time is capture time, so a file replays the same way however fast it is
 * read. Only fragments pay for the string key and the copies; whole packets never come here.
 */
export class FragmentTable extends KeyedTable<PendingDatagram, FragmentOptions> {
  /**
   * Adds the fragment buf[start, end) at byte `offset` of the payload; `more` is the MF flag.
   * Returns the datagram with its payload rebuilt once complete, else null.
   */
  add(
    key: string,
    ipVersion: 4 | 6,
    protocol: number,
    buf: Uint8Array,
    srcOffset: number,
    dstOffset: number,
    offset: number,
    more: boolean,
    start: number,
    end: number,
    nowSec: number,
  ): { datagram: PendingDatagram; payload: Uint8Array } | null {
    this.sweep(nowSec);
    const length = end - start;
    if (offset + length > MAX_DATAGRAM || (more && length % 8 !== 0) || (more && length === 0)) {
      this.drops[CaptureDrop.CAPTURE_FRAGMENT_BAD]++;
      this.table.delete(key);
      return null;
    }
    let entry = this.table.get(key);
    if (entry === undefined) {
      if (this.table.size >= this.options.maxDatagrams) {
        const oldest = this.table.keys().next().value as string;
        this.table.delete(oldest);
        this.drops[CaptureDrop.CAPTURE_FRAGMENT_OVERFLOW]++;
      }
      const alen = ipVersion === 4 ? 4 : 16;
      const addresses = new Uint8Array(32);
      addresses.set(buf.subarray(srcOffset, srcOffset + alen), 0);
      addresses.set(buf.subarray(dstOffset, dstOffset + alen), 16);
      entry = { ipVersion, protocol, addresses, firstSec: nowSec, fragments: [], total: -1, received: 0 };
      this.table.set(key, entry);
    }
    if (entry.fragments.length >= this.options.maxFragments) {
      this.drops[CaptureDrop.CAPTURE_FRAGMENT_OVERFLOW]++;
      this.table.delete(key);
      return null;
    }
    if (!more) {
      if (entry.total >= 0 && entry.total !== offset + length) {
        this.drops[CaptureDrop.CAPTURE_FRAGMENT_BAD]++;
        this.table.delete(key);
        return null;
      }
      entry.total = offset + length;
    }
    // A copy (Buffer#slice would be a view): the reader reuses its chunks.
    entry.fragments.push({ offset, data: new Uint8Array(buf.subarray(start, end)) });
    entry.received += length;
    if (entry.total < 0 || entry.received < entry.total) return null;
    // Enough bytes: check they cover [0, total) without holes (duplicates may inflate `received`).
    entry.fragments.sort((a, b) => a.offset - b.offset);
    let covered = 0;
    for (const f of entry.fragments) {
      if (f.offset > covered) return null;
      covered = Math.max(covered, f.offset + f.data.length);
    }
    if (covered < entry.total) return null;
    if (covered > entry.total) {
      this.drops[CaptureDrop.CAPTURE_FRAGMENT_BAD]++;
      this.table.delete(key);
      return null;
    }
    const payload = new Uint8Array(entry.total);
    // Later fragments win an overlap, as in most stacks; the order is by offset, ties by arrival.
    for (const f of entry.fragments) payload.set(f.data, f.offset);
    this.table.delete(key);
    return { datagram: entry, payload };
  }

  /** Drops datagrams older than the timeout; runs at most once per capture-time second. */
  sweep(nowSec: number): void {
    if (!this.sweepDue(nowSec, 1)) return;
    const limit = nowSec - this.options.timeoutSeconds;
    for (const [key, entry] of this.table) {
      // Insertion order is arrival order; a negative clock jump leaves later entries for later.
      if (entry.firstSec >= limit) break;
      this.table.delete(key);
      this.drops[CaptureDrop.CAPTURE_FRAGMENT_TIMEOUT]++;
    }
  }

  /** The input ended: what is still waiting will never complete. */
  finish(): void {
    this.drops[CaptureDrop.CAPTURE_FRAGMENT_INCOMPLETE] += this.table.size;
    this.table.clear();
  }
}
