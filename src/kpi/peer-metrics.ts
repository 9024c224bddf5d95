import type { Registry } from 'prom-client';
import type { NodeLabels } from '../count/nodes.js';
import { type CounterCell, HotCounter } from '../metrics/hot-counter.js';
import { type HistogramCell, HotHistogram } from '../metrics/hot-histogram.js';
import type { SelfMetrics } from '../metrics/self-metrics.js';
import { DELAY_BUCKETS } from './metrics.js';
import {
  ATTEMPT_OUTCOME_LABELS,
  type KpiPeerSink,
  LEG_DIRECTION_LABELS,
  SRD_RESULT_LABELS,
} from './types.js';

/** Where a peer's name comes from: the id a leg holds outlives a reload that reorders the list. */
export interface PeerNames {
  nameOf(id: number): string;
}

/** The node label of the series a row folds into past the series cap. */
const OVERFLOW = 'other';

/** Every cell of one (peer, node, direction), resolved together on its first report. */
interface Row {
  attempts: CounterCell[];
  srd: HistogramCell[];
  pdd: HistogramCell;
}

export interface PeerKpiMetricsOptions {
  /** series cap of the attempts family, as --metrics.max-series; the histograms follow its rows */
  maxSeries: number;
}

/**
 * The per-peer call KPIs (docs/kpis.md, per peer): the engine's KpiPeerSink. One leg is one
 * INVITE transaction between a node and a peer, counted with the peer at its other end and the
 * direction of the INVITE (`from_peer`: the node received it; `to_peer`: the node sent it).
 *
 * Series are bounded as the other per-peer families are: a row (peer, node, direction) costs 9
 * attempt series; once `maxSeries` are used, a new row folds its node into `other`, keeping peer,
 * direction and outcome exact, for the histograms too. Folding is decided per row, so a row's
 * attempts and delays always agree; the attempt family's overflow is counted as every capped
 * family's is (sip_exporter_series_overflow_total).
 */
export class PeerKpiMetrics implements KpiPeerSink {
  private readonly attempts: HotCounter<'node' | 'peer' | 'direction' | 'outcome'>;
  private readonly srd: HotHistogram<'node' | 'peer' | 'direction' | 'result'>;
  private readonly pdd: HotHistogram<'node' | 'peer' | 'direction'>;
  /** rows by peer id, then by node * 2 + direction */
  private readonly rows: Array<Array<Row | undefined> | undefined> = [];
  /** rows past the cap, by peer id * 2 + direction */
  private readonly folded = new Map<number, Row>();
  private regularRows = 0;
  private readonly maxRows: number;
  /** Set by the exporter to the peer counter, which gives ids to names. */
  names: PeerNames = { nameOf: () => OVERFLOW };

  constructor(
    registry: Registry,
    private readonly nodes: NodeLabels,
    self: SelfMetrics,
    options: PeerKpiMetricsOptions,
  ) {
    const perRow = ATTEMPT_OUTCOME_LABELS.length;
    this.maxRows = Math.max(0, Math.floor(options.maxSeries / perRow));
    this.attempts = new HotCounter(
      registry,
      'sip_peer_session_attempts_total',
      'Session attempt legs (one INVITE transaction between the node and a configured peer) ended, by the final response on the leg or timeout, per node, peer and direction of the INVITE.',
      ['node', 'peer', 'direction', 'outcome'],
      {
        // The same bound, row by row: the rows below fold exactly when this family does.
        maxSeries: this.maxRows * perRow,
        overflowLabels: (l) => ({ node: OVERFLOW, peer: l.peer, direction: l.direction, outcome: l.outcome }),
      },
    );
    this.srd = new HotHistogram(
      registry,
      'sip_peer_session_request_delay_seconds',
      'Session request delay (RFC 6076 4.3) on each leg: its INVITE to the first status-indicative response on its branch, success and failure apart, per node, peer and direction.',
      ['node', 'peer', 'direction', 'result'],
      DELAY_BUCKETS,
    );
    this.pdd = new HotHistogram(
      registry,
      'sip_peer_post_dial_delay_seconds',
      'Post-dial delay on each leg: its INVITE to the first 180 or 183 on its branch, per node, peer and direction.',
      ['node', 'peer', 'direction'],
      DELAY_BUCKETS,
    );
    self.watchSeries(this.attempts);
  }

  private row(node: number, peer: number, direction: number): Row {
    let byNode = this.rows[peer];
    if (byNode === undefined) {
      byNode = [];
      this.rows[peer] = byNode;
    }
    const slot = node * 2 + direction;
    let row = byNode[slot];
    if (row === undefined) {
      if (this.regularRows < this.maxRows) {
        this.regularRows++;
        row = this.build(this.nodes.labels[node] ?? 'unknown', peer, direction);
      } else {
        const key = peer * 2 + direction;
        row = this.folded.get(key);
        if (row === undefined) {
          row = this.build(OVERFLOW, peer, direction);
          this.folded.set(key, row);
        }
      }
      byNode[slot] = row;
    }
    return row;
  }

  private build(node: string, id: number, d: number): Row {
    const peer = this.names.nameOf(id);
    const direction = LEG_DIRECTION_LABELS[d];
    return {
      attempts: ATTEMPT_OUTCOME_LABELS.map((outcome) =>
        this.attempts.cell({ node, peer, direction, outcome }),
      ),
      srd: SRD_RESULT_LABELS.map((result) => this.srd.cell({ node, peer, direction, result })),
      pdd: this.pdd.cell({ node, peer, direction }),
    };
  }

  onLegEnd(node: number, peer: number, direction: number, outcome: number): void {
    this.row(node, peer, direction).attempts[outcome].value++;
  }

  onLegSrd(node: number, peer: number, direction: number, result: number, ms: number): void {
    this.row(node, peer, direction).srd[result].observe(ms / 1000);
  }

  onLegPdd(node: number, peer: number, direction: number, ms: number): void {
    this.row(node, peer, direction).pdd.observe(ms / 1000);
  }
}
