import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { KpiObserver } from '../kpi/observer.js';
import { type CounterCell, HotCounter } from '../metrics/hot-counter.js';
import type { SelfMetrics } from '../metrics/self-metrics.js';
import type { PeerCounter } from '../peers/peer-counter.js';
import { METHOD_COUNT, METHOD_LABELS } from '../sip/methods.js';
import { MIN_STATUS_CODE, reasonPhrase, statusClass } from '../sip/status-codes.js';
import type { DedupeWindow } from './dedupe.js';
import { KeyHasher } from './key-hasher.js';
import { NodeSources } from './node-sources.js';
import type { NodeLabels } from './nodes.js';
import { KIND_RESPONSE, type Observation } from './observation.js';

const CODE_SLOTS = 600;
/** Most dedupe lookups deferDedupe() queues before it looks them up; a recvmmsg batch is at most 256. */
const MAX_DEFERRED = 256;

/** Default of --metrics.max-series. */
export const DEFAULT_MAX_SERIES = 20_000;
/**
 * The value of every label an overflow series drops. No real series carries it: codes are three
 * digits, reasons are registry phrases or `Unassigned`, methods are upper case (`OTHER` included)
 * or empty.
 */
export const SERIES_OVERFLOW_LABEL = 'other';

export interface SipCounterOptions {
  /** most series of sip_responses_total, and apart of sip_requests_total, before overflow series */
  maxSeries?: number;
  /** for the warning when a sender reports through both HEP and syslog */
  logger?: Logger;
  /** the call KPIs (src/kpi), fed every message before the dedupe */
  kpi?: KpiObserver;
  /**
   * With several ingest threads, the process-wide series cap of a family by name
   * (metrics/shared-series.ts), which decides instead of the family's own count.
   */
  admitSeries?: (family: string) => ((labels: Readonly<Record<string, string>>) => boolean) | undefined;
}

/** Sets o.callIdHi and o.callIdLo: the Call-ID hashed alone, the start of every key made from it. */
export function hashCallId(h: KeyHasher, o: Observation): void {
  if (o.callId.length === 0) {
    o.callIdHi = 0;
    o.callIdLo = 0;
    return;
  }
  h.begin().text(o.callId).end();
  // Kept as int32 bits: a uint32 above 2^31 is no small integer to V8, and the field would hold
  // a boxed double.
  o.callIdHi = h.hi | 0;
  o.callIdLo = h.lo | 0;
}

/**
 * Hashes the key by which a message is the same message seen again: node, kind, Call-ID, CSeq
 * number and method, and for a response its code and To tag. The Call-ID enters as its own hash
 * (hashCallId, which must have run for `o`), the one the call KPIs key by: hashing its bytes
 * once serves both. A byte-range field and a string field with the same text hash alike, so HEP
 * and syslog reports of one message share a key. Returns false, hashing nothing, for a message
 * without Call-ID or CSeq number: it is never deduplicated.
 */
export function hashMessageKey(h: KeyHasher, o: Observation): boolean {
  if (o.cseqNumber < 0 || o.callId.length === 0) return false;
  // Kind (2 bits), method (under 2^12) and code (under 2^10; 0 for a request) in one word.
  h.begin()
    .uint32(o.kind | (o.method << 4) | (o.statusCode << 16))
    .uint32(o.node)
    .uint32(o.callIdHi)
    .uint32(o.callIdLo)
    .uint32(o.cseqNumber);
  if (o.kind === KIND_RESPONSE && o.toTag.length > 0) h.text(o.toTag);
  h.end();
  return true;
}

/**
 * The one place where an observed SIP message becomes a counter increment, for every source.
 * A message is counted once per node: a message with the same node, Call-ID, CSeq number and
 * method (and, for a response, code and To tag) seen again within the dedupe window is a
 * duplicate — the same message traced on the way in and out, or a retransmission. A message
 * without a Call-ID or a CSeq number is always counted: without a CSeq an INVITE and a re-INVITE
 * of one dialog answered alike would share a key.
 *
 * Series are created on first use and cached per node in flat arrays indexed by code and
 * method, so counting is an array read and an increment. Past the series cap a new code, method
 * and node goes to the node's overflow series for its class, cached the same way.
 */
export class SipCounter {
  private readonly responses: HotCounter<'code' | 'class' | 'reason' | 'method' | 'node'>;
  private readonly requests: HotCounter<'method' | 'node'>;
  private readonly responseCells: Array<Array<CounterCell | undefined> | undefined> = [];
  private readonly requestCells: Array<Array<CounterCell | undefined> | undefined> = [];
  private readonly hasher = new KeyHasher();
  private readonly responseHits: CounterCell;
  private readonly requestHits: CounterCell;
  /** which source and senders each node comes from; the ingests report to it */
  readonly sources: NodeSources;
  /**
   * The optional SIP fields (SCAN_* bits of sip/scan) the measurements here read; a source that
   * scans SIP itself asks the scanner for these and no more. Dedupe and the counters need none:
   * Call-ID, CSeq and To tag are always read.
   */
  readonly scanFields: number = 0;
  private readonly kpi: KpiObserver | undefined;
  /** per-peer counts (src/peers), set by the exporter */
  peers: PeerCounter | null = null;
  /** between deferDedupe() and flush(): dedupe lookups wait in the deferred* arrays */
  private deferring = false;
  private deferredCount = 0;
  private readonly deferredHi = new Uint32Array(MAX_DEFERRED);
  private readonly deferredLo = new Uint32Array(MAX_DEFERRED);
  private readonly deferredNow = new Float64Array(MAX_DEFERRED);
  private readonly deferredNode = new Int32Array(MAX_DEFERRED);
  /** (code << 8) | method; code 0 for a request */
  private readonly deferredWhat = new Int32Array(MAX_DEFERRED);
  /** what the bucket loads read, kept so that they are not optimised away */
  touched = 0;

  constructor(
    registry: Registry,
    readonly nodes: NodeLabels,
    private readonly dedupe: DedupeWindow | null,
    self: SelfMetrics,
    options: SipCounterOptions = {},
  ) {
    const maxSeries = options.maxSeries ?? DEFAULT_MAX_SERIES;
    const admit = options.admitSeries ?? (() => undefined);
    // Node and class stay exact in overflow, so per-node class ratios still add up.
    this.responses = new HotCounter<'code' | 'class' | 'reason' | 'method' | 'node'>(
      registry,
      'sip_responses_total',
      'SIP responses seen, by status code, class, canonical reason phrase, CSeq method and reporting node.',
      ['code', 'class', 'reason', 'method', 'node'],
      {
        maxSeries,
        admit: admit('sip_responses_total'),
        overflowLabels: (l) => ({
          code: SERIES_OVERFLOW_LABEL,
          class: l.class,
          reason: SERIES_OVERFLOW_LABEL,
          method: SERIES_OVERFLOW_LABEL,
          node: l.node,
        }),
      },
    );
    this.requests = new HotCounter<'method' | 'node'>(
      registry,
      'sip_requests_total',
      'SIP requests seen, by method and reporting node.',
      ['method', 'node'],
      {
        maxSeries,
        admit: admit('sip_requests_total'),
        overflowLabels: (l) => ({ method: SERIES_OVERFLOW_LABEL, node: l.node }),
      },
    );
    self.watchSeries(this.responses);
    self.watchSeries(this.requests);
    this.sources = new NodeSources(nodes, self, options.logger);
    this.kpi = options.kpi;
    this.scanFields |= options.kpi?.scanFields ?? 0;
    this.responseHits = self.dedupeHits.cell({ kind: 'response' });
    this.requestHits = self.dedupeHits.cell({ kind: 'request' });
  }

  /** Responses counted so far over every series (after dedupe). */
  countedResponses(): number {
    return this.responses.total();
  }

  /** Counts one observation; its byte ranges are read during the call only. */
  count(o: Observation): void {
    const isResponse = o.kind === KIND_RESPONSE;
    const node = o.node;
    const method = o.method;
    const peers = this.peers;
    // Both ends looked up once, for the KPIs (which copy the node received, and from whom) and
    // for the per-peer counts.
    peers?.resolve(o);
    hashCallId(this.hasher, o);
    // Before the dedupe: the engine needs every copy, and the dedupe key has no Via branch.
    this.kpi?.observe(o);
    // The message's key, hashed once for every table that dedupes by it: this counter's, and the
    // per-peer one, which narrows it to direction and peer.
    const keyed = (this.dedupe !== null || peers !== null) && hashMessageKey(this.hasher, o);
    const deduped = keyed && this.dedupe !== null;
    if (deduped && this.deferring) this.defer(isResponse, node, o.statusCode, method, o.now);
    else if (isResponse) this.countResponse(node, o.statusCode, method, deduped, o.now);
    else this.countRequest(node, method, deduped, o.now);
    peers?.count(o, keyed, this.hasher);
  }

  /**
   * From now until flush(), a message the dedupe decides on is queued with its key instead of
   * looked up at once (at most MAX_DEFERRED; a full queue is flushed). For a source that hands
   * over a batch (a recvmmsg read): flush() then looks every key's bucket up first, so that the
   * cache misses of a table far larger than the caches (16 MiB by default) overlap instead of
   * stalling one message at a time. Counts are exact and in arrival order either way; the source
   * must call flush() before it returns to the event loop.
   */
  deferDedupe(): void {
    this.deferring = this.dedupe !== null;
  }

  /** Counts what deferDedupe() queued, in arrival order, and ends the deferral. */
  flush(): void {
    this.deferring = false;
    this.countDeferred();
  }

  private defer(isResponse: boolean, node: number, code: number, method: number, now: number): void {
    let n = this.deferredCount;
    if (n === MAX_DEFERRED) {
      this.countDeferred();
      n = 0;
    }
    this.deferredHi[n] = this.hasher.hi;
    this.deferredLo[n] = this.hasher.lo;
    this.deferredNow[n] = now;
    this.deferredNode[n] = node;
    // A request has code 0.
    this.deferredWhat[n] = isResponse ? (code << 8) | method : method;
    this.deferredCount = n + 1;
  }

  private countDeferred(): void {
    const n = this.deferredCount;
    if (n === 0) return;
    this.deferredCount = 0;
    const dedupe = this.dedupe!;
    const his = this.deferredHi;
    const los = this.deferredLo;
    // One load per key, none depending on another: the CPU has them all in flight at once.
    let touched = 0;
    for (let i = 0; i < n; i++) touched ^= dedupe.touch(his[i], los[i]);
    this.touched = touched;
    for (let i = 0; i < n; i++) {
      const what = this.deferredWhat[i];
      const code = what >>> 8;
      const node = this.deferredNode[i];
      const now = this.deferredNow[i];
      if (code !== 0) this.countResponseKey(node, code, what & 0xff, now, his[i], los[i]);
      else this.countRequestKey(node, what, now, his[i], los[i]);
    }
  }

  private countResponseKey(
    node: number,
    code: number,
    method: number,
    now: number,
    hi: number,
    lo: number,
  ): void {
    if (this.dedupe!.seen(hi, lo, now)) {
      this.responseHits.value++;
      return;
    }
    this.countResponse(node, code, method, false, now);
  }

  private countRequestKey(node: number, method: number, now: number, hi: number, lo: number): void {
    if (this.dedupe!.seen(hi, lo, now)) {
      this.requestHits.value++;
      return;
    }
    this.countRequest(node, method, false, now);
  }

  private countResponse(node: number, code: number, method: number, keyed: boolean, now: number): void {
    if (keyed && this.dedupe!.seen(this.hasher.hi, this.hasher.lo, now)) {
      this.responseHits.value++;
      return;
    }
    let cells = this.responseCells[node];
    if (cells === undefined) {
      cells = new Array<CounterCell | undefined>(CODE_SLOTS * METHOD_COUNT);
      this.responseCells[node] = cells;
    }
    const slot = (code - MIN_STATUS_CODE) * METHOD_COUNT + method;
    let cell = cells[slot];
    if (cell === undefined) {
      cell = this.responses.cell({
        code: String(code),
        class: statusClass(code),
        reason: reasonPhrase(code),
        method: METHOD_LABELS[method],
        node: this.nodes.labels[node],
      });
      cells[slot] = cell;
    }
    cell.value++;
  }

  private countRequest(node: number, method: number, keyed: boolean, now: number): void {
    if (keyed && this.dedupe!.seen(this.hasher.hi, this.hasher.lo, now)) {
      this.requestHits.value++;
      return;
    }
    let cells = this.requestCells[node];
    if (cells === undefined) {
      cells = new Array<CounterCell | undefined>(METHOD_COUNT);
      this.requestCells[node] = cells;
    }
    let cell = cells[method];
    if (cell === undefined) {
      cell = this.requests.cell({ method: METHOD_LABELS[method], node: this.nodes.labels[node] });
      cells[method] = cell;
    }
    cell.value++;
  }
}
