import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { isHep3Magic } from '../ingest/hep/decode.js';
import type { SelfMetrics } from '../metrics/self-metrics.js';
import type { Backoff } from './backoff.js';
import type { ForwardTarget } from './target.js';
import { type QueueBounds, TargetForwarder } from './target-forwarder.js';

/** How long a stop waits for what was written to leave before closing anyway. */
const STOP_GRACE_MS = 1000;
const CONNECT_TIMEOUT_MS = 5000;

/**
 * Forwards to one target over TCP: HEPv3 packets back to back, as Kamailio and heplify send them.
 * A run of queued packets that lie one after another in the queue's storage goes out as one
 * write of a slice of it (no copy); the packets stay queued until the write completes, so a
 * receiver that stops reading fills the kernel's buffer, then the queue, then drops are counted,
 * and memory stays at the queue's bound. A lost or refused connection drops what is queued
 * (counted) and is retried with exponential backoff and jitter; packets arriving meanwhile are
 * dropped as dropped_disconnected rather than queued, so a collector that comes back gets live
 * traffic, not a burst of stale packets.
 */
export class TcpForwarder extends TargetForwarder {
  private socket: Socket | null = null;
  /** packets at the front of the queue in the write in progress; 0 when none is */
  private writing = 0;
  /** bumped on each new connection, so a late callback of an old one changes nothing */
  private generation = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** connection attempts made, for tests of the backoff */
  attempts = 0;

  constructor(
    target: ForwardTarget,
    bounds: QueueBounds,
    self: SelfMetrics,
    logger: Logger,
    backoff?: Backoff,
  ) {
    super(target, bounds, self, logger, backoff);
  }

  start(): void {
    this.connect();
  }

  /**
   * HEPv1 and v2 carry no length, so on a stream the receiver could not tell where one ends: they
   * go over UDP only, and here are counted as dropped_hep_v1_v2.
   */
  override enqueue(buf: Buffer, start: number, end: number): void {
    if (isHep3Magic(buf, start)) super.enqueue(buf, start, end);
    else this.cells.unframed.value++;
  }

  private connect(): void {
    this.reconnectTimer = null;
    if (this.stopping) return;
    this.attempts++;
    const generation = ++this.generation;
    const socket = connect({
      host: this.target.host,
      port: this.target.port,
      noDelay: true,
      keepAlive: true,
    });
    this.socket = socket;
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error('connect timeout')));
    let reason = 'closed by the receiver';
    socket.once('connect', () => {
      if (generation !== this.generation) return;
      socket.setTimeout(0);
      this.markUp();
      this.flush();
    });
    // A collector has nothing to say over a HEP connection; whatever it sends is read and dropped
    // so that its bytes cannot pile up in our receive buffer.
    socket.on('data', () => {});
    socket.on('error', (err: NodeJS.ErrnoException) => {
      reason = err.code ?? err.message;
    });
    socket.once('close', () => {
      if (generation !== this.generation) return;
      this.socket = null;
      this.writing = 0;
      this.markDown(reason);
      if (!this.stopping) this.reconnectTimer = setTimeout(() => this.connect(), this.backoff.next());
    });
  }

  flush(): void {
    const socket = this.socket;
    const queue = this.queue;
    if (!this.up || socket === null || this.writing > 0 || queue.count === 0) return;
    const n = queue.run(0, queue.count);
    const first = queue.first;
    const last = queue.index(n - 1);
    const start = queue.offsets[first];
    const end = queue.offsets[last] + queue.lengths[last];
    this.writing = n;
    const generation = this.generation;
    socket.write(queue.storage.subarray(start, end), (err) => {
      if (generation !== this.generation || err) return; // the close handler counts what was lost
      this.writing = 0;
      queue.shift(n);
      this.cells.sent.value += n;
      this.cells.queued.value = queue.count;
      this.flush();
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const socket = this.socket;
    if (socket !== null) {
      this.flush();
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      // Wait for the queue to leave, then close our side; past the grace, close anyway.
      const deadline = Date.now() + STOP_GRACE_MS;
      while (this.up && this.queue.count > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 5));
      socket.end();
      const timer = setTimeout(() => socket.destroy(), Math.max(0, deadline - Date.now()) + 100);
      await closed;
      clearTimeout(timer);
    }
    this.socket = null;
    this.up = false;
    this.cells.connected.value = 0;
    this.cells.disconnected.value += this.queue.clear();
    this.cells.queued.value = 0;
  }
}
