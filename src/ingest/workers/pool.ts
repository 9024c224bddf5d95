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
import { emptyKpiMessage } from '../../kpi/types.js';
import { KpiRingReader } from './kpi-ring.js';
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
  readonly counter: SipCounter;
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
    if (this.readers.length > 0) void this.drainLoop();
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
    // What the workers handed over until they answered is in the engine before the scrape.
    this.drain();
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
    this.drain();
  }

  /** A worker's new senders, kept where a single thread keeps them. */
  private report(senders: readonly SenderReport[]): void {
    const { nodes, counter } = this.host;
    for (const [node, sender, messages] of senders) {
      nodes.labelOf(node);
      for (let i = 0; i < messages; i++) counter.sources.seen(SOURCE_HEP, node, sender);
    }
  }

  /** Feeds the engine whatever the workers wrote, until stopped; woken by the workers. */
  private async drainLoop(): Promise<void> {
    const signal = new Int32Array(this.state.kpiSignal);
    this.draining = true;
    while (this.draining) {
      const seen = Atomics.load(signal, 0);
      this.drain();
      // Bounded, so that a stop is noticed even when no worker writes again.
      const wait = (
        Atomics as unknown as {
          waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: unknown };
        }
      ).waitAsync(signal, 0, seen, 100);
      if (wait.async) await wait.value;
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private readonly message = emptyKpiMessage();

  /**
   * Hands every record written so far to the engine, oldest first across the rings (by the
   * arrival time each carries), so that the engine sees one call's messages in the order they
   * arrived, whichever workers read them, up to what a worker had not yet written.
   */
  private drain(): void {
    const engine = this.host.engine;
    const readers = this.readers;
    if (engine === null || readers.length === 0) return;
    const m = this.message;
    const nodes = this.host.nodes;
    let read = 0;
    for (;;) {
      let best = -1;
      let bestNow = Number.POSITIVE_INFINITY;
      for (let i = 0; i < readers.length; i++) {
        if (readers[i].available() === 0) continue;
        const now = readers[i].headNow();
        if (best < 0 || now < bestNow) {
          best = i;
          bestNow = now;
        }
      }
      if (best < 0) break;
      readers[best].read(m);
      nodes.labelOf(m.node);
      engine.handle(m);
      if (++read % RELEASE_EVERY === 0) for (const reader of readers) reader.release();
    }
    for (const reader of readers) reader.release();
  }
}
