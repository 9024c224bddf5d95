import type { Logger } from 'pino';
import { CODE } from '../errors.js';
import type { GaugeCell } from '../metrics/gauge-cells.js';
import type { CounterCell } from '../metrics/hot-counter.js';
import type { SelfMetrics } from '../metrics/self-metrics.js';
import { Backoff } from './backoff.js';
import { PacketQueue } from './queue.js';
import type { ForwardTarget } from './target.js';

/** Every value of the `result` label of sip_exporter_hep_forwarded_total. */
export const FORWARD_RESULTS = [
  'sent',
  'dropped_queue_full',
  'dropped_disconnected',
  'dropped_hep_v1_v2',
  'send_error',
] as const;
export type ForwardResult = (typeof FORWARD_RESULTS)[number];

export interface QueueBounds {
  /** most packets waiting per target */
  packets: number;
  /** most bytes waiting per target */
  bytes: number;
}

/** One target's counters and gauges, resolved once. */
export class TargetCells {
  readonly sent: CounterCell;
  readonly queueFull: CounterCell;
  readonly disconnected: CounterCell;
  readonly unframed: CounterCell;
  readonly sendError: CounterCell;
  readonly queued: GaugeCell;
  readonly connected: GaugeCell;

  constructor(self: SelfMetrics, target: string) {
    const cell = (result: ForwardResult) => self.hepForwarded.cell({ target, result });
    this.sent = cell('sent');
    this.queueFull = cell('dropped_queue_full');
    this.disconnected = cell('dropped_disconnected');
    this.unframed = cell('dropped_hep_v1_v2');
    this.sendError = cell('send_error');
    this.queued = self.hepForwardQueue.cell({ target });
    this.connected = self.hepForwardConnected.cell({ target });
  }
}

/**
 * What the UDP and TCP forwarders share: the bounded queue a packet is copied into, the counters,
 * and the outage log (one warning when a target goes down, one line when it is back, never one
 * per packet or per retry).
 */
export abstract class TargetForwarder {
  readonly queue: PacketQueue;
  readonly cells: TargetCells;
  protected readonly backoff: Backoff;
  /** whether a packet can be queued now; false drops it as dropped_disconnected */
  protected up = false;
  protected stopping = false;
  private outage = false;

  constructor(
    readonly target: ForwardTarget,
    bounds: QueueBounds,
    self: SelfMetrics,
    protected readonly logger: Logger,
    backoff?: Backoff,
  ) {
    this.queue = new PacketQueue(bounds.packets, bounds.bytes);
    this.cells = new TargetCells(self, target.text);
    this.backoff = backoff ?? new Backoff();
  }

  /** Copies buf[start, end) into the queue, or counts why it is dropped. Per packet: no allocation. */
  enqueue(buf: Buffer, start: number, end: number): void {
    if (!this.up) {
      this.cells.disconnected.value++;
      return;
    }
    if (this.queue.push(buf, start, end)) this.cells.queued.value = this.queue.count;
    else this.cells.queueFull.value++;
  }

  /** Begins connecting; never throws: a target that cannot be reached is retried with backoff. */
  abstract start(): void;

  /** Sends what is queued, as far as the socket takes it now; never blocks. */
  abstract flush(): void;

  /** Sends what it can of the queue, closes, and counts what is left as dropped_disconnected. */
  abstract stop(): Promise<void>;

  protected markUp(): void {
    this.up = true;
    this.cells.connected.value = 1;
    this.backoff.reset();
    this.endOutage();
  }

  /** Logs the end of an outage, once. */
  protected endOutage(): void {
    if (this.outage) {
      this.outage = false;
      this.logger.info(
        { code: CODE.SRE_INFO_HEP_FORWARD_UP, target: this.target.text },
        `hep forward: ${this.target.text} is reachable again`,
      );
    }
  }

  /** Drops what is queued (counted) and says so once per outage. */
  protected markDown(reason: string): void {
    this.up = false;
    this.cells.connected.value = 0;
    this.cells.disconnected.value += this.queue.clear();
    this.cells.queued.value = 0;
    this.startOutage(reason);
  }

  /** Logs the start of an outage, once. */
  protected startOutage(reason: string): void {
    if (!this.outage && !this.stopping) {
      this.outage = true;
      this.logger.warn(
        { code: CODE.SRE_WARN_HEP_FORWARD_DOWN, target: this.target.text, reason },
        `hep forward: cannot send to ${this.target.text} (${reason}); retrying with backoff, packets are dropped and counted meanwhile`,
      );
    }
  }
}
