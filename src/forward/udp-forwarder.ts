import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { UdpBatchSender, udpBatchAvailability } from '../ingest/udp-batch.js';
import type { SelfMetrics } from '../metrics/self-metrics.js';
import type { Backoff } from './backoff.js';
import { resolveHost } from './resolve.js';
import type { ForwardTarget } from './target.js';
import { type QueueBounds, TargetForwarder } from './target-forwarder.js';

/** Most dgram sends waiting for their callback at once; their slots stay queued until then. */
const DGRAM_IN_FLIGHT = 256;
/** How soon to try again when the kernel's send buffer was full. */
const FULL_RETRY_MS = 1;
/** How long without an ICMP port unreachable before a target that sent one counts as back. */
const REFUSED_QUIET_MS = 1000;

/**
 * Forwards to one target over UDP from a socket connect()ed to it, so the kernel routes once and
 * an ICMP port unreachable comes back as ECONNREFUSED. With the native addon, a flush is one
 * sendmmsg of up to 1024 queued packets straight from the queue's storage; without it, one
 * dgram send per packet, whose slot is freed when its callback comes.
 *
 * UDP has no connection to lose: packets keep being sent whatever comes back. An ICMP port
 * unreachable (nothing listens at the target) reports on an earlier datagram, already counted as
 * sent, so it counts no packet; it sets sip_exporter_hep_forward_connected to 0 and logs the
 * outage, until a second passes without another.
 */
export class UdpForwarder extends TargetForwarder {
  private batch: UdpBatchSender | null = null;
  private dgram: Socket | null = null;
  /** dgram path: packets handed to send() whose callback has not come yet (the oldest queued) */
  private inFlight = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  /** performance.now() of the last ICMP port unreachable; -Infinity when none is outstanding */
  private refusedAt = Number.NEGATIVE_INFINITY;
  /** the path in use once open; for tests and the log */
  path: 'batch' | 'dgram' | null = null;

  constructor(
    target: ForwardTarget,
    bounds: QueueBounds,
    self: SelfMetrics,
    logger: Logger,
    private readonly useBatch: boolean,
    backoff?: Backoff,
  ) {
    super(target, bounds, self, logger, backoff);
  }

  start(): void {
    void this.open();
  }

  private async open(): Promise<void> {
    this.connectTimer = null;
    if (this.stopping) return;
    try {
      const { address, ipv6 } = await resolveHost(this.target.host);
      if (this.stopping) return;
      if (this.useBatch && udpBatchAvailability().available) {
        this.batch = new UdpBatchSender({ host: address, port: this.target.port, ipv6 });
        this.path = 'batch';
      } else {
        this.dgram = await connectDgram(address, this.target.port, ipv6, this.refused);
        if (this.stopping) {
          this.dgram.close();
          this.dgram = null;
          return;
        }
        this.path = 'dgram';
      }
      this.markUp();
    } catch (err) {
      this.markDown((err as NodeJS.ErrnoException).code ?? (err as Error).message);
      if (!this.stopping) this.connectTimer = setTimeout(() => void this.open(), this.backoff.next());
    }
  }

  flush(): void {
    if (this.batch !== null) this.flushBatch(this.batch);
    else if (this.dgram !== null) this.flushDgram(this.dgram);
  }

  private flushBatch(sender: UdpBatchSender): void {
    const queue = this.queue;
    const cells = this.cells;
    // Bounded: each turn sends or drops at least one packet of a bounded queue, or retries once.
    let retried = false;
    while (queue.count > 0) {
      const first = queue.first;
      // The index ring may wrap; send up to its end, then from 0 on the next turn.
      const contiguous = queue.maxPackets - first;
      let n = Math.min(queue.count, contiguous);
      if (n > sender.maxBatch) n = sender.maxBatch;
      const sent = sender.send(queue.storage, queue.offsets, queue.lengths, first, n);
      if (sent > 0) {
        cells.sent.value += sent;
        queue.shift(sent);
        retried = false;
        continue;
      }
      if (sent === -sender.eagain) {
        this.retrySoon();
        break;
      }
      // An ICMP port unreachable for an earlier datagram is reported in place of this send, which
      // did not happen; reporting clears it, so the packet is sent again. Any other refusal (no
      // route, not permitted), or a second in a row, gives up on the oldest packet: counted, and
      // the queue goes on.
      const refused = sent === -sender.econnrefused;
      if (refused) this.refused();
      if (!refused || retried) {
        cells.sendError.value++;
        queue.shift(1);
        retried = false;
      } else retried = true;
    }
    cells.queued.value = queue.count;
    this.checkRefusedOver();
  }

  /** An ICMP port unreachable came back from the target. */
  private readonly refused = (): void => {
    this.refusedAt = performance.now();
    this.cells.connected.value = 0;
    this.startOutage('ECONNREFUSED: nothing listens on the target port');
  };

  /** Back to connected once a while has passed without a refusal. */
  private checkRefusedOver(): void {
    if (this.refusedAt === Number.NEGATIVE_INFINITY) return;
    if (performance.now() - this.refusedAt < REFUSED_QUIET_MS) return;
    this.refusedAt = Number.NEGATIVE_INFINITY;
    if (this.up) this.cells.connected.value = 1;
    this.endOutage();
  }

  private flushDgram(socket: Socket): void {
    const queue = this.queue;
    while (this.inFlight < queue.count && this.inFlight < DGRAM_IN_FLIGHT) {
      const i = queue.index(this.inFlight);
      const offset = queue.offsets[i];
      this.inFlight++;
      socket.send(queue.storage.subarray(offset, offset + queue.lengths[i]), this.onDgramSent);
    }
  }

  /** dgram completes sends in order, so each callback frees the oldest queued packet. */
  private readonly onDgramSent = (err: Error | null): void => {
    if (this.dgram === null) return;
    this.inFlight--;
    this.queue.shift(1);
    if (err) this.cells.sendError.value++;
    else this.cells.sent.value++;
    this.cells.queued.value = this.queue.count;
    if (this.queue.count > this.inFlight) this.flushDgram(this.dgram);
    else this.checkRefusedOver();
  };

  private retrySoon(): void {
    if (this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.flush();
    }, FULL_RETRY_MS);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.connectTimer = null;
    this.retryTimer = null;
    this.flush();
    const socket = this.dgram;
    if (socket !== null) {
      // Let the sends in flight complete (their callbacks count them) before closing.
      const deadline = Date.now() + 500;
      while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      this.dgram = null;
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    }
    this.batch?.close();
    this.batch = null;
    this.inFlight = 0;
    this.up = false;
    this.cells.connected.value = 0;
    this.cells.disconnected.value += this.queue.clear();
    this.cells.queued.value = 0;
  }
}

function connectDgram(address: string, port: number, ipv6: boolean, refused: () => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(ipv6 ? 'udp6' : 'udp4');
    const fail = (err: Error) => {
      socket.close();
      reject(err);
    };
    socket.once('error', fail);
    socket.connect(port, address, () => {
      socket.off('error', fail);
      // A connected socket's ICMP errors arrive as 'error' events from its receive side; errors
      // of a send reach that send's callback, which counts them.
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') refused();
      });
      resolve(socket);
    });
  });
}
