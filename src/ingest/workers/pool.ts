import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { SOURCE_HEP } from '../../count/node-sources.js';
import type { NodeLabels } from '../../count/nodes.js';
import type { SipCounter } from '../../count/sip-counter.js';
import { CODE } from '../../errors.js';
import type { KpiEngine } from '../../kpi/engine.js';
import { EXPIRE_INTERVAL_MS } from '../../kpi/observer.js';
import { emptyKpiMessage } from '../../kpi/types.js';
import { KpiRingReader, KpiRingWriter } from './kpi-ring.js';
import type {
  FromWorker,
  Metrics,
  SenderReport,
  ToWorker,
  WorkerInit,
  WorkerLiveConfig,
} from './protocol.js';
import type { SharedIngestState } from './shared-state.js';

/** A worker that does not answer a scrape within this is shown with its last answer. */
const SNAPSHOT_TIMEOUT_MS = 2000;
/** A worker that has not stopped within this after being asked is terminated. */
const STOP_TIMEOUT_MS = 5000;
/** The engine's thread frees ring slots after this many records, so writers never wait long. */
const RELEASE_EVERY = 1024;
/** How long a KPI record waits in its ring before the engine takes it (see drain). */
export const KPI_HOLD_MS = 20;

/**
 * Starts a worker thread on worker.ts: from the compiled package it is worker.js beside this
 * file; from the TypeScript sources (tests, `tsx`) the worker loads it through tsx, whose loader
 * hooks a worker thread does not inherit.
 */
function spawn(init: WorkerInit): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./worker.js', here), { workerData: init });
  const entry = new URL('./worker.ts', here).href;
  const tsx = dirname(createRequire(here).resolve('tsx/package.json'));
  const api = pathToFileURL(join(tsx, 'dist/esm/api/index.mjs')).href;
  const source =
    `const { tsImport } = await import(${JSON.stringify(api)});\n` +
    `await tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)});\n`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), { workerData: init });
}

/** The main thread's side of what the workers report to it. */
export interface WorkersHost {
  readonly nodes: NodeLabels;
  /** the call-state engine every worker's KPI messages go to; null with the call KPIs off */
  readonly engine: KpiEngine | null;
  readonly logger: Logger;
}

interface Running {
  readonly worker: Worker;
  /** the worker's cells at its last answer */
  last: Metrics;
  stopped: boolean;
  pending: Map<number, (metrics: Metrics) => void>;
}

/**
 * The ingest worker threads of one UDP listener (HEP): starts them on the SO_REUSEPORT group the
 * main thread opened, runs the call-state engine on what they hand it, sums their cells into
 * each scrape, hands them reloads, and stops them.
 */
export class IngestWorkers {
  private readonly running: Running[] = [];
  private readonly readers: KpiRingReader[];
  private draining = false;
  private nextId = 1;
  /** the main thread's counter, which keeps the node senders the workers report */
  private counter: SipCounter | null = null;

  constructor(
    readonly count: number,
    private readonly state: SharedIngestState,
    private readonly init: Omit<WorkerInit, 'index' | 'state' | 'socket'>,
    private readonly host: WorkersHost,
  ) {
    this.readers = state.kpiRings.map((ring) => new KpiRingReader(ring));
  }

  /**
   * Starts the workers, each binding its own socket to the group on `socket`; resolves once all
   * are reading. Rejects with the first worker's bind error (an errno-coded Error, as a bind
   * on the main thread gives), having stopped the others.
   */
  async start(socket: WorkerInit['socket']): Promise<void> {
    const started: Array<Promise<void>> = [];
    for (let index = 0; index < this.count; index++) {
      const worker = spawn({ ...this.init, index, state: this.state, socket });
      const running: Running = { worker, last: [], stopped: false, pending: new Map() };
      this.running.push(running);
      started.push(
        new Promise<void>((resolve, reject) => {
          worker.on('message', (message: FromWorker) => {
            switch (message.type) {
              case 'ready':
                resolve();
                break;
              case 'error': {
                const err = new Error(message.message) as NodeJS.ErrnoException;
                err.code = message.code;
                reject(err);
                break;
              }
              case 'snapshot':
                this.report(message.senders);
                running.last = message.metrics;
                running.pending.get(message.id)?.(message.metrics);
                running.pending.delete(message.id);
                break;
              case 'senders':
                this.report(message.senders);
                break;
              case 'stopped':
                this.report(message.senders);
                running.last = message.metrics;
                running.stopped = true;
                for (const answer of running.pending.values()) answer(message.metrics);
                running.pending.clear();
                break;
            }
          });
          worker.on('error', (err) => {
            reject(err);
            this.host.logger.error(
              { code: CODE.SRE_ERR_UDP, worker: index, err },
              `hep: ingest worker ${index} failed; the kernel spreads its share over the others`,
            );
          });
          worker.on('exit', () => {
            running.stopped = true;
            for (const answer of running.pending.values()) answer(running.last);
            running.pending.clear();
            reject(new Error(`ingest worker ${index} exited before it was ready`));
          });
        }),
      );
    }
    try {
      await Promise.all(started);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * The main thread's own feed into the engine (HEP over TCP), through the last ring like the
   * workers', so that its messages take their place in the same order; null with the KPIs off.
   */
  mainKpiFeed(): KpiRingWriter | null {
    const ring = this.state.kpiRings[this.count];
    if (ring === undefined) return null;
    return new KpiRingWriter(
      ring,
      () => {},
      () => this.drain(Number.POSITIVE_INFINITY),
    );
  }

  setCounter(counter: SipCounter): void {
    this.counter = counter;
  }

  /**
   * Starts feeding the engine from the rings, and its expiry sweep, until stop(): at the
   * exporter's start, whether or not the workers themselves start.
   */
  startEngineFeed(): void {
    if (this.readers.length === 0 || this.host.engine === null || this.draining) return;
    this.draining = true;
    void this.drainLoop();
  }

  /** Each worker's cells now (or at its last answer), for the scrape to sum. */
  async snapshots(): Promise<Metrics[]> {
    const answers = this.running.map((running) => {
      if (running.stopped) return Promise.resolve(running.last);
      const id = this.nextId++;
      return new Promise<Metrics>((resolve) => {
        const timer = setTimeout(() => {
          running.pending.delete(id);
          resolve(running.last);
        }, SNAPSHOT_TIMEOUT_MS);
        running.pending.set(id, (metrics) => {
          clearTimeout(timer);
          resolve(metrics);
        });
        running.worker.postMessage({ type: 'snapshot', id } satisfies ToWorker);
      });
    });
    const metrics = await Promise.all(answers);
    // What the workers handed over before the hold is in the engine before the scrape.
    this.drain(performance.now() - KPI_HOLD_MS);
    return metrics;
  }

  reload(live: WorkerLiveConfig): void {
    for (const running of this.running)
      if (!running.stopped) running.worker.postMessage({ type: 'reload', live } satisfies ToWorker);
  }

  /** Closes every worker's socket, counts what they had read, and ends the threads. */
  async stop(): Promise<void> {
    await Promise.all(
      this.running.map(async (running) => {
        if (!running.stopped) {
          const stopped = new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, STOP_TIMEOUT_MS);
            running.worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
          });
          running.worker.postMessage({ type: 'stop' } satisfies ToWorker);
          await stopped;
        }
        await running.worker.terminate();
      }),
    );
    this.draining = false;
    this.drain(Number.POSITIVE_INFINITY);
  }

  /** A worker's new senders, kept where a single thread keeps them. */
  private report(senders: readonly SenderReport[]): void {
    const { nodes } = this.host;
    const counter = this.counter;
    if (counter === null) return;
    for (const [node, sender, messages] of senders) {
      nodes.labelOf(node);
      for (let i = 0; i < messages; i++) counter.sources.seen(SOURCE_HEP, node, sender);
    }
  }

  /** Feeds the engine what the ingest threads wrote, until stopped. */
  private async drainLoop(): Promise<void> {
    const signal = new Int32Array(this.state.kpiSignal);
    const engine = this.host.engine!;
    let lastExpire = performance.now();
    while (this.draining) {
      const seen = Atomics.load(signal, 0);
      const now = performance.now();
      const held = this.drain(now - KPI_HOLD_MS);
      // The engine's expiry runs on the same held-back clock as its messages, so that no
      // attempt times out while a message that answers it is still held.
      if (now - lastExpire >= EXPIRE_INTERVAL_MS) {
        engine.expire(now - KPI_HOLD_MS);
        lastExpire = now;
      }
      if (held) {
        await new Promise((resolve) => setTimeout(resolve, KPI_HOLD_MS / 2));
        continue;
      }
      const wait = (
        Atomics as unknown as {
          waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: unknown };
        }
      ).waitAsync(signal, 0, seen, EXPIRE_INTERVAL_MS);
      if (wait.async) await wait.value;
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private readonly message = emptyKpiMessage();

  /**
   * Hands the engine every record read before `cutoff` (on the shared clock), ordered by capture
   * time across the rings; returns whether younger records are left.
   *
   * A call's messages reach different workers when they come from different source ports, and
   * the workers run independently, so the order records are written in is not the order the
   * messages arrived in: a worker can write a 200 OK before another has written its INVITE. The
   * engine needs a call's messages in order. Each ring is in its socket's arrival order; a record
   * stays in its ring until KPI_HOLD_MS after it was read, by when a message that came before it
   * on another socket has been read too (unless that worker is further behind than the hold, which
   * only an overloaded exporter is); among the records old enough, the earliest capture time goes
   * first. A ring filling up is drained regardless of age, so its writer never waits on the hold.
   */
  private drain(cutoff: number): boolean {
    const engine = this.host.engine;
    const readers = this.readers;
    if (engine === null || readers.length === 0) return false;
    const m = this.message;
    const nodes = this.host.nodes;
    let read = 0;
    let held = false;
    for (;;) {
      let best = -1;
      let bestCapture = Number.POSITIVE_INFINITY;
      held = false;
      for (let i = 0; i < readers.length; i++) {
        const reader = readers[i];
        if (reader.available() === 0) continue;
        if (reader.headNow() > cutoff && !reader.nearlyFull) {
          held = true;
          continue;
        }
        const capture = reader.headCapture();
        if (best < 0 || capture < bestCapture) {
          best = i;
          bestCapture = capture;
        }
      }
      if (best < 0) break;
      readers[best].read(m);
      nodes.labelOf(m.node);
      engine.handle(m);
      if (++read % RELEASE_EVERY === 0) for (const reader of readers) reader.release();
    }
    for (const reader of readers) reader.release();
    return held;
  }
}
