/**
 * Slots of the memory of recent requests by which a copy is recognised (8 KiB of keys, 8 of
 * times): at 10,000 calls a second a slot is rewritten about every 25 ms, while the copy a node
 * sends follows the request it received within a millisecond or so. A copy that finds its slot
 * rewritten is handed to the engine, which absorbs it as before: the memory saves work and never
 * decides what is counted.
 */
export const COPY_SLOTS = 1024;
/** A request seen again within this (ms, on the expiry clock) is a copy; later, a new request. */
export const COPY_WINDOW_MS = 2000;

/**
 * The requests last handed to the call-state engine, by a key of node, method, Call-ID, CSeq and
 * From header (the adapter's copy key, kpi/observer): a request whose key was handed over within
 * COPY_WINDOW_MS is a copy, as a proxy traced in and out sends it on or a retransmission repeats
 * it, and the engine would do nothing with it but find its attempt (or, for a BYE, find its
 * dialog ended and count the BYE unmatched). Direct-mapped, fixed memory.
 *
 * One memory per engine: the adapter's own when the engine is on its thread; with ingest
 * workers, the main thread's, which reads the key from each record before the engine does, so
 * that copies read by different workers are known as one thread would know them.
 */
export class CopyMemory {
  /** Requests recognised as copies and not handed to the engine. */
  copies = 0;
  /** Of those, BYEs: each would have been counted as matching no dialog. */
  byes = 0;
  private readonly keys = new Int32Array(COPY_SLOTS * 2);
  private readonly times = new Float64Array(COPY_SLOTS).fill(Number.NEGATIVE_INFINITY);

  /**
   * Whether the request with copy key `hi`, `lo` (int32 bits) is a copy to leave out: seen within
   * the window, and `skippable` (not a copy the node received, which may correct the attempt's
   * upstream branch, nor one naming a peer, which is a leg of its own). Remembers it otherwise.
   */
  isCopy(hi: number, lo: number, now: number, skippable: boolean, bye: boolean): boolean {
    const slot = hi & (COPY_SLOTS - 1);
    const keys = this.keys;
    // Either way: with ingest workers, two copies read by two threads may come with their
    // clocks a little out of order.
    const age = Math.abs(now - this.times[slot]);
    if (skippable && keys[slot * 2] === hi && keys[slot * 2 + 1] === lo && age <= COPY_WINDOW_MS) {
      this.copies++;
      if (bye) this.byes++;
      return true;
    }
    keys[slot * 2] = hi;
    keys[slot * 2 + 1] = lo;
    this.times[slot] = now;
    return false;
  }
}
