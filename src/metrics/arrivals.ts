import type { CounterCell } from './hot-counter.js';
import type { ListenerName, Transport } from './self-metrics.js';

/** What the landing page shows per listener and transport. */
export interface Arrival {
  packets: number;
  /** wall time (ms since the epoch) of the last packet, to within a tick; null when none came */
  lastPacketAt: number | null;
}

interface Watched {
  cell: CounterCell;
  seen: number;
  lastPacketAt: number | null;
}

/**
 * When the last packet arrived on each listener and transport, without a clock read per packet:
 * a timer compares the packet counters with what it saw at its last tick and stamps the wall time
 * when one moved. The time is therefore late by at most one tick, and costs nothing per packet.
 */
export class ArrivalClock {
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | null = null;

  watch(listener: ListenerName, transport: Transport, cell: CounterCell): void {
    this.watched.set(`${listener}/${transport}`, { cell, seen: cell.value, lastPacketAt: null });
  }

  /** Stamps `now` on every counter that moved since the last tick. */
  tick(now = Date.now()): void {
    for (const w of this.watched.values()) {
      if (w.cell.value !== w.seen) {
        w.seen = w.cell.value;
        w.lastPacketAt = now;
      }
    }
  }

  start(intervalMs = 1000): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), intervalMs);
    // Never the reason the process stays up.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The arrivals on one listener and transport, brought up to date first. */
  arrival(listener: ListenerName, transport: Transport): Arrival {
    this.tick();
    const w = this.watched.get(`${listener}/${transport}`);
    return w === undefined
      ? { packets: 0, lastPacketAt: null }
      : { packets: w.cell.value, lastPacketAt: w.lastPacketAt };
  }
}
