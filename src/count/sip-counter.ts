import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type CounterCell, HotCounter } from '../metrics/hot-counter.js';
import type { SelfMetrics } from '../metrics/self-metrics.js';
import { METHOD_COUNT, METHOD_LABELS } from '../sip/methods.js';
import { SIP_RESPONSE, type SipMessageScan } from '../sip/scan.js';
import { MIN_STATUS_CODE, reasonPhrase, statusClass } from '../sip/status-codes.js';
import type { DedupeWindow } from './dedupe.js';
import { KeyHasher } from './key-hasher.js';
import { NodeSources } from './node-sources.js';
import type { NodeLabels } from './nodes.js';

const CODE_SLOTS = 600;
const KIND_REQUEST = 1;
const KIND_RESPONSE = 2;

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
}

/** A SIP response or request as a syslog extractor reports it: text fields, all but code optional. */
export interface SipEvent {
  code?: number;
  method: number;
  callId?: string;
  cseq?: number;
  toTag?: string;
}

/**
 * The one place where a parsed SIP message becomes a counter increment, for every source.
 * A message is counted once per node: a message with the same node, Call-ID, CSeq number and
 * method (and, for a response, code and To tag) seen again within the dedupe window is a
 * duplicate — the same message traced on the way in and out, or a retransmission.
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

  constructor(
    registry: Registry,
    readonly nodes: NodeLabels,
    private readonly dedupe: DedupeWindow | null,
    self: SelfMetrics,
    options: SipCounterOptions = {},
  ) {
    const maxSeries = options.maxSeries ?? DEFAULT_MAX_SERIES;
    // Node and class stay exact in overflow, so per-node class ratios still add up.
    this.responses = new HotCounter(
      registry,
      'sip_responses_total',
      'SIP responses seen, by status code, class, canonical reason phrase, CSeq method and reporting node.',
      ['code', 'class', 'reason', 'method', 'node'],
      {
        maxSeries,
        overflowLabels: (l) => ({
          code: SERIES_OVERFLOW_LABEL,
          class: l.class,
          reason: SERIES_OVERFLOW_LABEL,
          method: SERIES_OVERFLOW_LABEL,
          node: l.node,
        }),
      },
    );
    this.requests = new HotCounter(
      registry,
      'sip_requests_total',
      'SIP requests seen, by method and reporting node.',
      ['method', 'node'],
      { maxSeries, overflowLabels: (l) => ({ method: SERIES_OVERFLOW_LABEL, node: l.node }) },
    );
    self.watchSeries(this.responses);
    self.watchSeries(this.requests);
    this.sources = new NodeSources(nodes, self, options.logger);
    this.responseHits = self.dedupeHits.cell({ kind: 'response' });
    this.requestHits = self.dedupeHits.cell({ kind: 'request' });
  }

  /** Responses counted so far over every series (after dedupe). */
  countedResponses(): number {
    return this.responses.total();
  }

  /** Counts what the scanner read from buf, keyed on its own bytes. */
  countScanned(node: number, scan: SipMessageScan, buf: Uint8Array, now: number): void {
    const method = scan.method;
    const isResponse = scan.kind === SIP_RESPONSE;
    let keyed = false;
    if (this.dedupe !== null && scan.callIdStart >= 0) {
      keyed = true;
      const h = this.hasher.begin();
      h.uint32(isResponse ? KIND_RESPONSE : KIND_REQUEST)
        .uint32(node)
        .bytes(buf, scan.callIdStart, scan.callIdEnd)
        .uint32(scan.cseqNumber)
        .uint32(method);
      if (isResponse) {
        h.uint32(scan.statusCode);
        if (scan.toTagStart >= 0) h.bytes(buf, scan.toTagStart, scan.toTagEnd);
      }
      h.end();
    }
    if (isResponse) this.countResponse(node, scan.statusCode, method, keyed, now);
    else this.countRequest(node, method, keyed, now);
  }

  /** Counts a message a syslog extractor found; `event.code` set means a response. */
  countEvent(node: number, event: SipEvent, now: number): void {
    const isResponse = event.code !== undefined;
    let keyed = false;
    // Without a CSeq two transactions of one dialog (an INVITE and a re-INVITE both answered 200)
    // would share a key, so such events are always counted.
    if (
      this.dedupe !== null &&
      event.callId !== undefined &&
      event.callId !== '' &&
      event.cseq !== undefined
    ) {
      keyed = true;
      const h = this.hasher.begin();
      h.uint32(isResponse ? KIND_RESPONSE : KIND_REQUEST)
        .uint32(node)
        .string(event.callId)
        .uint32(event.cseq)
        .uint32(event.method);
      if (isResponse) {
        h.uint32(event.code!);
        if (event.toTag !== undefined && event.toTag !== '') h.string(event.toTag);
      }
      h.end();
    }
    if (isResponse) this.countResponse(node, event.code!, event.method, keyed, now);
    else this.countRequest(node, event.method, keyed, now);
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
