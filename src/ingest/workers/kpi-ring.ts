import { emptyKpiMessage, type KpiMessage } from '../../kpi/types.js';

/**
 * The fields of a KpiMessage in a fixed order, each one float64 of a ring record; booleans go as
 * 0 and 1. Read from the message type itself, so a field added there travels with no change here.
 */
const TEMPLATE = emptyKpiMessage() as unknown as Record<string, number | boolean>;
const FIELDS = Object.keys(TEMPLATE);
const BOOLEAN = FIELDS.map((field) => typeof TEMPLATE[field] === 'boolean');
const NOW = FIELDS.indexOf('now');
const CAPTURE = FIELDS.indexOf('captureMs');
/** float64 words a record takes */
export const KPI_RECORD = FIELDS.length;

/** Int32 words of a ring's control block: head (the reader's), tail (the writer's), padding. */
const CONTROL = 32;
const HEAD = 0;
/** Apart from HEAD by a cache line, so the two threads do not write one line. */
const TAIL = 16;

/** Where one ingest thread hands KPI messages to the thread that runs the call-state engine. */
export interface KpiRingMemory {
  readonly control: SharedArrayBuffer;
  readonly records: SharedArrayBuffer;
  readonly capacity: number;
}

/** `capacity` records, rounded up to a power of two. */
export function createKpiRing(records: number): KpiRingMemory {
  let capacity = 1;
  while (capacity < records) capacity *= 2;
  return {
    control: new SharedArrayBuffer(CONTROL * 4),
    records: new SharedArrayBuffer(capacity * KPI_RECORD * 8),
    capacity,
  };
}

/**
 * The writing end, one per ingest thread: single producer, single consumer, so a record is
 * published by one store of the tail and needs no lock. A full ring makes the writer wait for
 * the reader rather than drop: every copy of a message must reach the engine for its KPIs to be
 * exact, and while the writer waits the socket's receive buffer holds what arrives (whatever
 * overflows it is a kernel drop, counted in sip_exporter_udp_receive_drops_total).
 */
export class KpiRingWriter {
  private readonly control: Int32Array;
  private readonly records: Float64Array;
  private readonly capacity: number;
  private tail = 0;
  /** records written since the reader was last woken */
  pending = 0;

  constructor(
    memory: KpiRingMemory,
    /** wakes the reader; called once per batch with something written */
    private readonly wake: () => void,
    /**
     * Empties the ring when it is full, instead of waiting: for a writer on the reader's own
     * thread, which would otherwise wait for itself.
     */
    private readonly onFull?: () => void,
  ) {
    this.control = new Int32Array(memory.control);
    this.records = new Float64Array(memory.records);
    this.capacity = memory.capacity;
  }

  /**
   * KpiEngine's probe: the engine is on the other thread, so every response goes to it (with its
   * optional fields read).
   */
  quietResponse(_m: KpiMessage): boolean {
    return false;
  }

  /** The engine is on another thread: copies go to it with their copy key (kpi/copies). */
  get remote(): boolean {
    return true;
  }

  /** The engine on the other thread may follow per-peer legs: every From tag goes to it. */
  get followsLegs(): boolean {
    return true;
  }

  /** KpiEngine's entry point, so that a KpiObserver can write here instead of to an engine. */
  handle(m: KpiMessage): void {
    const control = this.control;
    const tail = this.tail;
    while (((tail - Atomics.load(control, HEAD)) | 0) >= this.capacity) {
      if (this.onFull !== undefined) {
        this.onFull();
        continue;
      }
      this.wake();
      Atomics.wait(control, HEAD, Atomics.load(control, HEAD), 5);
    }
    const at = (tail & (this.capacity - 1)) * KPI_RECORD;
    const records = this.records;
    const fields = m as unknown as Record<string, number | boolean>;
    for (let i = 0; i < KPI_RECORD; i++) records[at + i] = +fields[FIELDS[i]];
    this.tail = (tail + 1) | 0;
    Atomics.store(control, TAIL, this.tail);
    this.pending++;
  }

  /** Nothing to expire here: the engine's own thread runs the expiry sweep. */
  expire(): void {}

  /** Wakes the reader if anything was written since the last call. */
  flush(): void {
    if (this.pending === 0) return;
    this.pending = 0;
    this.wake();
  }
}

/** The reading end, on the engine's thread. */
export class KpiRingReader {
  private readonly control: Int32Array;
  private readonly records: Float64Array;
  private readonly capacity: number;
  private head = 0;

  constructor(memory: KpiRingMemory) {
    this.control = new Int32Array(memory.control);
    this.records = new Float64Array(memory.records);
    this.capacity = memory.capacity;
  }

  /** Records written and not yet read. */
  available(): number {
    return (Atomics.load(this.control, TAIL) - this.head) | 0;
  }

  /** `now` of the oldest unread record; call only when available() > 0. */
  headNow(): number {
    return this.records[(this.head & (this.capacity - 1)) * KPI_RECORD + NOW];
  }

  /** Capture time of the oldest unread record; call only when available() > 0. */
  headCapture(): number {
    return this.records[(this.head & (this.capacity - 1)) * KPI_RECORD + CAPTURE];
  }

  /** Whether the writer may soon have to wait for room. */
  get nearlyFull(): boolean {
    return this.available() * 4 >= this.capacity * 3;
  }

  /** Reads the oldest record into `m`; its slot is free again at the next release(). */
  read(m: KpiMessage): void {
    const at = (this.head & (this.capacity - 1)) * KPI_RECORD;
    const records = this.records;
    const fields = m as unknown as Record<string, number | boolean>;
    for (let i = 0; i < KPI_RECORD; i++) {
      const value = records[at + i];
      fields[FIELDS[i]] = BOOLEAN[i] ? value !== 0 : value;
    }
    this.head = (this.head + 1) | 0;
  }

  /** Frees the slots read so far and wakes a writer waiting for room. */
  release(): void {
    if (Atomics.load(this.control, HEAD) === this.head) return;
    Atomics.store(this.control, HEAD, this.head);
    Atomics.notify(this.control, HEAD);
  }
}
