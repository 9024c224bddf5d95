import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * The worker's whole program. It is evaluated from a string, not loaded from a file, so that it
 * runs the same from the TypeScript sources and from the compiled package; it loads bcryptjs
 * from the path the main thread resolved.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptjs);
parentPort.on('message', (job) => {
  let ok = false;
  try {
    ok = bcrypt.compareSync(job.password, job.hash);
  } catch {
    ok = false;
  }
  parentPort.postMessage(ok);
});
`;

const BCRYPTJS = createRequire(import.meta.url).resolve('bcryptjs');

interface Job {
  password: string;
  hash: string;
  resolve: (ok: boolean) => void;
  reject: (err: Error) => void;
}

/**
 * One or two worker threads that run bcrypt compares. bcrypt costs tens of milliseconds by
 * design; on the main thread every check would stall HEP and syslog ingest and every other
 * scrape for that long. Workers start on first use and do not keep the process alive.
 */
export class BcryptPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private workers = 0;
  private closed = false;
  /** compares handed to a worker since start; tests read it to see that the worker was asked */
  compares = 0;

  constructor(private readonly size = Math.max(1, Math.min(2, availableParallelism() - 1))) {}

  /** Checks queued or running: the caller bounds this. */
  get pending(): number {
    return this.queue.length + this.busy.size;
  }

  compare(password: string, hash: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error('bcrypt pool is closed'));
        return;
      }
      this.queue.push({ password, hash, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0 && !this.closed) {
      let worker = this.idle.pop();
      if (worker === undefined && this.workers >= this.size) return;
      const job = this.queue.shift() as Job;
      if (worker === undefined) {
        try {
          worker = this.spawn();
        } catch (err) {
          // A worker that cannot start fails this check (500) and leaves the queue, which would
          // otherwise fill with jobs no worker takes and refuse every later check with 429.
          job.reject(err as Error);
          continue;
        }
      }
      this.busy.set(worker, job);
      this.compares++;
      worker.postMessage({ password: job.password, hash: job.hash });
    }
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptjs: BCRYPTJS } });
    worker.unref();
    this.workers++;
    let dead = false;
    worker.on('message', (ok: unknown) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      this.idle.push(worker);
      job?.resolve(ok === true);
      this.dispatch();
    });
    // A worker that dies fails its check (the caller answers 500) and is replaced on next use.
    const fail = (err: Error) => {
      if (dead) return;
      dead = true;
      this.workers--;
      const i = this.idle.indexOf(worker);
      if (i >= 0) this.idle.splice(i, 1);
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      job?.reject(err);
      this.dispatch();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`bcrypt worker exited with code ${code}`)));
    return worker;
  }

  /** Fails what is queued or running and stops the workers. */
  async close(): Promise<void> {
    this.closed = true;
    const error = new Error('bcrypt pool is closed');
    for (const job of this.queue.splice(0)) job.reject(error);
    const workers = [...this.idle, ...this.busy.keys()];
    for (const job of this.busy.values()) job.reject(error);
    this.busy.clear();
    this.idle.length = 0;
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
