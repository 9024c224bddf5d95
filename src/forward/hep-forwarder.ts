import type { Logger } from 'pino';
import type { SelfMetrics } from '../metrics/self-metrics.js';
import type { ForwardTarget, ForwardTransport } from './target.js';
import type { QueueBounds, TargetForwarder } from './target-forwarder.js';
import { TcpForwarder } from './tcp-forwarder.js';
import { UdpForwarder } from './udp-forwarder.js';

export interface HepForwarderOptions {
  targets: readonly ForwardTarget[];
  transport: ForwardTransport;
  queue: QueueBounds;
  /** send UDP with sendmmsg through the native addon when it loaded */
  udpBatch: boolean;
}

/**
 * Sends every HEP packet the ingest accepted, unchanged, to each configured target. The ingest
 * calls forward() per packet, which only copies it into each target's bounded queue; the queues
 * are flushed once per turn of the event loop (setImmediate), after every receive callback of
 * that turn, so a recvmmsg batch of 256 packets leaves as one sendmmsg, and a TCP read of many
 * packets as one write. Nothing here blocks ingest: a full queue or a target that is down drops
 * the packet and counts it.
 */
export class HepForwarder {
  readonly targets: TargetForwarder[];
  private scheduled = false;

  constructor(options: HepForwarderOptions, self: SelfMetrics, logger: Logger) {
    this.targets = options.targets.map((target) =>
      options.transport === 'tcp'
        ? new TcpForwarder(target, options.queue, self, logger)
        : new UdpForwarder(target, options.queue, self, logger, options.udpBatch),
    );
  }

  start(): void {
    for (const target of this.targets) target.start();
  }

  /** One accepted HEP packet in buf[start, end), valid only during the call. */
  forward(buf: Buffer, start: number, end: number): void {
    const targets = this.targets;
    for (let i = 0; i < targets.length; i++) targets[i].enqueue(buf, start, end);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Flushes every target's queue as far as its socket takes it now. */
  readonly flush = (): void => {
    this.scheduled = false;
    const targets = this.targets;
    for (let i = 0; i < targets.length; i++) targets[i].flush();
  };

  /** Sends what it can of what is queued, then closes every target. */
  async stop(): Promise<void> {
    await Promise.all(this.targets.map((target) => target.stop()));
  }
}
