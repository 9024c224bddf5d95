/**
 * Exponential backoff with jitter for reconnecting to a forwarding target: the n-th wait is
 * drawn from [ceiling/2, ceiling) where ceiling = min(max, base * 2^n). The half that is random
 * keeps exporters that lost the same collector at the same moment from all reconnecting in step;
 * the half that is not keeps the wait from collapsing to zero.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    readonly baseMs = 100,
    readonly maxMs = 30_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** The next wait, in ms; each call doubles the ceiling until it reaches maxMs. */
  next(): number {
    // 2^20 times any sane base is past any sane max; stop doubling there so the power stays finite.
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 20));
    this.attempt++;
    return ceiling / 2 + this.random() * (ceiling / 2);
  }

  /** After a success: the next failure waits baseMs-ish again. */
  reset(): void {
    this.attempt = 0;
  }
}
