import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { SOURCE_HEP } from '../../count/node-sources.js';
import type { NodeLabels } from '../../count/nodes.js';
import type { SipCounter } from '../../count/sip-counter.js';
import { CODE } from '../../errors.js';
import { CopyMemory } from '../../kpi/copies.js';
import type { KpiEngine } from '../../kpi/engine.js';
import { EXPIRE_INTERVAL_MS, skippable } from '../../kpi/observer.js';
import { emptyKpiMessage } from '../../kpi/types.js';
import { METHOD_LABELS } from '../../sip/methods.js';
import { queuedBytes } from '../udp-batch.js';
import { KpiRingReader, KpiRingWriter } from './kpi-ring.js';
import type {
  FromWorker,
  Metrics,
  SenderReport,
  ToWorker,
  WorkerInit,
  WorkerLiveConfig,
} from './protocol.js';
import { PROGRESS_DRAINED_AT, PROGRESS_PACKETS, type SharedIngestState } from './shared-state.js';

/** A worker that does not answer a scrape within this is shown with its last answer. */
const SNAPSHOT_TIMEOUT_MS = 2000;
/** A worker that has not stopped within this after being asked is terminated. */
const STOP_TIMEOUT_MS = 5000;
/** The engine's thread frees ring slots after this many records, so writers never wait long. */
const RELEASE_EVERY = 1024;
const BYE = METHOD_LABELS.indexOf('BYE');
/** How often the engine's thread looks again while a worker is in the middle of a batch. */
const HELD_POLL_MS = 2;

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
  /** its socket, once ready; -1 before */
  fd: number;
  readonly progress: BigInt64Array;
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
      const running: Running = {
        worker,
        fd: -1,
        progress: new BigInt64Array(this.state.progress[index]),
        last: [],
        stopped: false,
        pending: new Map(),
      };
      this.running.push(running);
      started.push(
        new Promise<void>((resolve, reject) => {
          worker.on('message', (message: FromWorker) => {
            switch (message.type) {
              case 'ready':
                running.fd = message.fd;
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
    // What the workers have handed over is in the engine before the scrape.
    this.drain(this.watermark());
    return metrics;
  }

  /**
   * Datagrams the workers received, as their last answers have it (after stop(), their final
   * counts), for the line logged when the process stops.
   */
  packetsReceived(): number {
    let sum = 0;
    for (const running of this.running) {
      const family = running.last.find((metric) => metric.name === 'sip_exporter_packets_received_total');
      for (const value of family?.values ?? []) if (value.labels.transport === 'udp') sum += value.value;
    }
    return sum;
  }

  /** Datagrams the workers have handled so far, read from shared memory (the landing page). */
  packetsNow(): number {
    let sum = 0;
    for (const running of this.running) sum += Number(Atomics.load(running.progress, PROGRESS_PACKETS));
    return sum;
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
      const cutoff = this.watermark();
      const held = this.drain(cutoff);
      // The engine's expiry runs on the clock its messages have reached, so that no attempt
      // times out while a message that answers it is still on its way through a worker.
      if (now - lastExpire >= EXPIRE_INTERVAL_MS && Number.isFinite(cutoff)) {
        engine.expire(Math.min(cutoff, now));
        lastExpire = now;
      }
      const wait = (
        Atomics as unknown as {
          waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: unknown };
        }
      ).waitAsync(signal, 0, seen, held ? HELD_POLL_MS : EXPIRE_INTERVAL_MS);
      if (wait.async) await wait.value;
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * The time (main thread's clock) before which every message that reached any worker's socket
   * has been written to its ring. For each worker: now, when its socket is empty and it is not
   * in the middle of a batch (checked in that order, so a read that starts in between is seen);
   * otherwise the start of its last handled read that emptied the socket, since anything that
   * arrived before then was in that read or an earlier one. A stopped worker holds nothing back.
   */
  private watermark(): number {
    const now = performance.now();
    let cutoff = Number.POSITIVE_INFINITY;
    for (const running of this.running) {
      if (running.stopped) continue;
      if (running.fd < 0) return Number.NEGATIVE_INFINITY;
      const empty = queuedBytes(running.fd) === 0;
      if (empty && Atomics.load(running.progress, 0) === 0n) {
        cutoff = Math.min(cutoff, now);
        continue;
      }
      const drainedAt = Atomics.load(running.progress, PROGRESS_DRAINED_AT);
      cutoff = Math.min(
        cutoff,
        drainedAt === 0n ? Number.NEGATIVE_INFINITY : Number(drainedAt) / 1e6 - this.state.mainBase,
      );
    }
    return cutoff;
  }

  private readonly message = emptyKpiMessage();
  /** The copies the workers' adapters hand over with their keys, left out before the engine. */
  private readonly copies = new CopyMemory();

  /**
   * Hands the engine the records in the rings in capture-time order, as long as the earliest was
   * read before `cutoff` (watermark()); returns whether records are left waiting.
   *
   * A call's messages reach different workers when they come from different source ports, and
   * the workers run independently, so the order records are written in is not the order the
   * messages arrived in: a worker can write a 200 OK before another has read the INVITE that came
   * first. The engine needs a call's messages in order. A record read before the cutoff arrived
   * before it, and so did every message that arrived before that record, on any socket: all of
   * those are in the rings by now. Each ring is in its socket's arrival order, and capture time
   * orders one call's messages across rings, so the earliest head goes first, and when it was read
   * after the cutoff, it and everything after it waits for the next look. While any ring is
   * filling up the wait is lifted (records still leave in capture order), so a writer never waits
   * on a worker that stalls, and an overloaded exporter trades exact order for not stopping.
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
      let pressed = false;
      for (let i = 0; i < readers.length; i++) {
        const reader = readers[i];
        if (reader.available() === 0) continue;
        if (reader.nearlyFull) pressed = true;
        const capture = reader.headCapture();
        if (best < 0 || capture < bestCapture) {
          best = i;
          bestCapture = capture;
        }
      }
      if (best < 0) break;
      // The earliest record waits, and everything with it, until it is known that nothing which
      // arrived before it is still on its way.
      // Any ring filling up lifts the wait: its writer may be stuck inside a read, which keeps
      // the cutoff where it is, and only the engine taking records can free it.
      if (readers[best].headNow() > cutoff && !pressed) {
        held = true;
        break;
      }
      readers[best].read(m);
      nodes.labelOf(m.node);
      // Copies of one request read by different workers are known here, as one thread knows them.
      if (m.copyLo === 0 || !this.copies.isCopy(m.copyHi, m.copyLo, m.now, skippable(m), m.method === BYE))
        engine.handle(m);
      if (++read % RELEASE_EVERY === 0) for (const reader of readers) reader.release();
    }
    for (const reader of readers) reader.release();
    return held;
  }
}
