/**
 * What the fragment table and the TCP reassembler share: state keyed by a string built from the
 * packet's addresses, bounded by their options, with drops counted into the decoder's array, and
 * swept for stale entries on capture time (not the wall clock, so a file replays the same way
 * however fast it is read) at most once per interval.
 */
export abstract class KeyedTable<V, O> {
  protected readonly table = new Map<string, V>();
  private nextSweep = 0;

  constructor(
    protected readonly options: O,
    protected readonly drops: Float64Array,
  ) {}

  get size(): number {
    return this.table.size;
  }

  /** Whether a sweep is due at `nowSec`; when it is, the next one is due `intervalSec` later. */
  protected sweepDue(nowSec: number, intervalSec: number): boolean {
    if (nowSec < this.nextSweep || this.table.size === 0) return false;
    this.nextSweep = nowSec + intervalSec;
    return true;
  }
}
