import { Counter, type Registry } from 'prom-client';
import type { NodeLabels } from '../count/nodes.js';
import type { ExemplarSlot } from '../metrics/exemplar.js';
import { GaugeCells } from '../metrics/gauge-cells.js';
import { type CounterCell, HotCounter } from '../metrics/hot-counter.js';
import { type HistogramCell, HotHistogram } from '../metrics/hot-histogram.js';
import { METHOD_LABELS } from '../sip/methods.js';
import type { CallIdExemplars } from './call-ids.js';
import type { KpiStats } from './engine.js';
import {
  ATTEMPT_OUTCOME_LABELS,
  AttemptOutcome,
  type KpiSink,
  REASON_PROTOCOL_LABELS,
  REASON_Q850,
  REGISTRATION_OUTCOME_LABELS,
  SESSION_CUT_LABELS,
  SRD_RESULT_LABELS,
} from './types.js';

/**
 * Delay buckets (SRD, PDD, RRD), seconds: 10 ms to 30 s, dense where setup delays live (a
 * fraction of a second to a few seconds of ringing before a 180) and coarse past the 10 s a
 * caller waits at most.
 */
export const DELAY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;
/** Session duration buckets, seconds: 1 s to 4 h (the default --kpi.max-session-duration). */
export const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400] as const;

/**
 * Outcomes whose series carry a Call-ID exemplar: the failures someone will want to look up,
 * not the answered, redirected or cancelled attempts.
 */
const EXEMPLAR_OUTCOMES: ReadonlySet<number> = new Set([
  AttemptOutcome.BUSY,
  AttemptOutcome.DECLINED,
  AttemptOutcome.UNAVAILABLE,
  AttemptOutcome.INEFFECTIVE,
  AttemptOutcome.FAILED,
  AttemptOutcome.TIMEOUT,
]);

/** Release cause slots per node: Q.850 causes 1..127 at 0..126, SIP causes 300..699 at 127..526. */
const CAUSE_SLOTS = 127 + 400;

/** Per node, every cell the sink writes, resolved on the node's first report. */
interface NodeCells {
  attempts: CounterCell[];
  /** by outcome: the series' exemplar, null where it carries none */
  attemptExemplars: Array<ExemplarSlot | null>;
  registrations: CounterCell[];
  deregistrations: CounterCell[];
  srd: HistogramCell[];
  pdd: HistogramCell;
  rrd: HistogramCell;
  duration: HistogramCell;
  active: { value: number };
  cut: CounterCell[];
  causes: Array<CounterCell | undefined>;
}

/**
 * The call KPIs as Prometheus families: the engine's KpiSink. Counters and histograms only (and
 * one gauge of active sessions), so every ratio is exact over any window and sums across
 * exporters. A node's cells are resolved once, on its first report, and every later report is
 * an array read and an increment: no label hashing per message.
 */
export class KpiMetrics implements KpiSink {
  private readonly attempts: HotCounter<'node' | 'outcome'>;
  private readonly registrations: HotCounter<'node' | 'outcome'>;
  private readonly deregistrations: HotCounter<'node' | 'outcome'>;
  private readonly srd: HotHistogram<'node' | 'result'>;
  private readonly pdd: HotHistogram<'node'>;
  private readonly rrd: HotHistogram<'node'>;
  private readonly duration: HotHistogram<'node'>;
  private readonly active: GaugeCells<'node'>;
  private readonly cut: HotCounter<'node' | 'reason'>;
  private readonly causes: HotCounter<'node' | 'protocol' | 'cause'>;
  private readonly lateFinals: HotCounter<'method'>;
  private readonly lateInvite: CounterCell;
  private readonly lateRegister: CounterCell;
  private readonly cells: Array<NodeCells | undefined> = [];
  private readonly callIds: CallIdExemplars | null;

  /**
   * With `callIds`, the session request delay buckets and the failed attempt series carry the
   * Call-ID of a recent example as an OpenMetrics exemplar (docs/kpis.md, Exemplars).
   */
  constructor(
    registry: Registry,
    private readonly nodes: NodeLabels,
    callIds?: CallIdExemplars,
  ) {
    this.callIds = callIds ?? null;
    this.attempts = new HotCounter(
      registry,
      'sip_session_attempts_total',
      'Session attempts (initial INVITEs) ended, by the final response sent upstream or timeout (RFC 6076), per node.',
      ['node', 'outcome'],
    );
    this.registrations = new HotCounter(
      registry,
      'sip_registration_attempts_total',
      'REGISTER attempts ended (challenge rounds included, de-registrations excluded), by outcome, per node.',
      ['node', 'outcome'],
    );
    this.deregistrations = new HotCounter(
      registry,
      'sip_deregistration_attempts_total',
      'De-registrations (REGISTER with Expires: 0) ended, by outcome, per node.',
      ['node', 'outcome'],
    );
    this.srd = new HotHistogram(
      registry,
      'sip_session_request_delay_seconds',
      'Session request delay (RFC 6076 4.3): INVITE to the first status-indicative response, success and failure apart.',
      ['node', 'result'],
      DELAY_BUCKETS,
      this.callIds !== null,
    );
    this.pdd = new HotHistogram(
      registry,
      'sip_post_dial_delay_seconds',
      'Post-dial delay: the INVITE of an attempt to its first 180 or 183.',
      ['node'],
      DELAY_BUCKETS,
    );
    this.rrd = new HotHistogram(
      registry,
      'sip_registration_request_delay_seconds',
      'Registration request delay (RFC 6076 4.1): first REGISTER of the attempt to its 2xx.',
      ['node'],
      DELAY_BUCKETS,
    );
    this.duration = new HotHistogram(
      registry,
      'sip_session_duration_seconds',
      'Session duration (RFC 6076 4.5): 200 OK of the attempt to the BYE; cut sessions are not observed.',
      ['node'],
      DURATION_BUCKETS,
    );
    this.active = new GaugeCells(
      registry,
      'sip_sessions_active',
      'Dialogs answered and not yet ended by a BYE, a cut or an eviction.',
      ['node'],
    );
    this.cut = new HotCounter(
      registry,
      'sip_sessions_cut_total',
      'Answered dialogs that ended without a measurable BYE: max_duration, evicted or clock_step.',
      ['node', 'reason'],
    );
    this.causes = new HotCounter(
      registry,
      'sip_release_causes_total',
      'Reason header causes (Q.850 1-127, SIP 300-699) on the 3xx-6xx final responses that end attempts and on the BYEs that end dialogs.',
      ['node', 'protocol', 'cause'],
    );
    this.lateFinals = new HotCounter(
      registry,
      'sip_exporter_kpi_late_finals_total',
      'Final responses to attempts that had already timed out: counted here and otherwise dropped.',
      ['method'],
    );
    this.lateInvite = this.lateFinals.cell({ method: 'INVITE' });
    this.lateRegister = this.lateFinals.cell({ method: 'REGISTER' });
    if (callIds !== undefined) {
      const stats = callIds.stats;
      new Counter({
        name: 'sip_exporter_kpi_exemplars_total',
        help: 'Call-ID exemplars of the call KPIs: taken, truncated (taken with the Call-ID cut to the 128-character limit), unnamed (due, but the Call-ID of an attempt that timed out was no longer remembered).',
        labelNames: ['result'],
        registers: [registry],
        collect() {
          this.reset();
          this.inc({ result: 'taken' }, stats.taken);
          this.inc({ result: 'truncated' }, stats.truncated);
          this.inc({ result: 'unnamed' }, stats.unnamed);
        },
      });
    }
  }

  /**
   * The families, for a reader that needs their values between two messages (a replay samples
   * them at each step of capture time and summarises them at the end).
   */
  get families(): {
    counters: readonly HotCounter<string>[];
    histograms: readonly HotHistogram<string>[];
    gauges: readonly { name: string; family: GaugeCells<string> }[];
  } {
    return {
      counters: [this.attempts, this.registrations, this.deregistrations, this.cut, this.causes],
      histograms: [this.srd, this.pdd, this.rrd, this.duration],
      gauges: [{ name: 'sip_sessions_active', family: this.active }],
    };
  }

  /** Registers the engine's own counters (evictions, dropped input) as self-metrics. */
  watchEngine(registry: Registry, stats: KpiStats): void {
    new Counter({
      name: 'sip_exporter_kpi_evictions_total',
      help: 'KPI table entries replaced by a new one in a full bucket: open attempts (no outcome counted), ended attempts before their linger ran out, answered dialogs (ended as cut), per-peer legs open and lingering.',
      labelNames: ['table'],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ table: 'attempts' }, stats.attemptEvictions);
        this.inc({ table: 'linger' }, stats.lingerEvictions);
        this.inc({ table: 'dialogs' }, stats.dialogEvictions);
        this.inc({ table: 'legs' }, stats.legEvictions);
        this.inc({ table: 'leg_linger' }, stats.legLingerEvictions);
      },
    });
    new Counter({
      name: 'sip_exporter_kpi_dropped_total',
      help: 'Input the call KPIs did not use: rejected messages, invalid Reason causes, negative delays (capture clock stepped back), BYEs matching no dialog.',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ reason: 'rejected' }, stats.rejected);
        this.inc({ reason: 'invalid_reason' }, stats.invalidReasons);
        this.inc({ reason: 'negative_delay' }, stats.negativeDelays);
        this.inc({ reason: 'unmatched_bye' }, stats.unmatchedByes);
      },
    });
  }

  private node(node: number): NodeCells {
    let c = this.cells[node];
    if (c === undefined) {
      const label = this.nodes.labels[node] ?? 'unknown';
      const attempts = ATTEMPT_OUTCOME_LABELS.map((outcome) => this.attempts.cell({ node: label, outcome }));
      c = {
        attempts,
        attemptExemplars: attempts.map((cell, outcome) =>
          this.callIds !== null && EXEMPLAR_OUTCOMES.has(outcome) ? this.attempts.exemplar(cell) : null,
        ),
        registrations: REGISTRATION_OUTCOME_LABELS.map((outcome) =>
          this.registrations.cell({ node: label, outcome }),
        ),
        deregistrations: REGISTRATION_OUTCOME_LABELS.map((outcome) =>
          this.deregistrations.cell({ node: label, outcome }),
        ),
        srd: SRD_RESULT_LABELS.map((result) => this.srd.cell({ node: label, result })),
        pdd: this.pdd.cell({ node: label }),
        rrd: this.rrd.cell({ node: label }),
        duration: this.duration.cell({ node: label }),
        active: this.active.cell({ node: label }),
        cut: SESSION_CUT_LABELS.map((reason) => this.cut.cell({ node: label, reason })),
        causes: new Array<CounterCell | undefined>(CAUSE_SLOTS),
      };
      this.cells[node] = c;
    }
    return c;
  }

  onAttemptEnd(node: number, outcome: number): void {
    const c = this.node(node);
    c.attempts[outcome].value++;
    const exemplar = c.attemptExemplars[outcome];
    if (exemplar !== null) this.callIds?.offer(exemplar, 1);
  }

  onSrd(node: number, result: number, seconds: number): void {
    const cell = this.node(node).srd[result];
    const bucket = cell.observe(seconds);
    if (cell.exemplars !== null) this.callIds?.offer(cell.exemplars[bucket], seconds);
  }

  onPdd(node: number, seconds: number): void {
    this.node(node).pdd.observe(seconds);
  }

  onRegistrationEnd(node: number, outcome: number): void {
    this.node(node).registrations[outcome].value++;
  }

  onDeregistrationEnd(node: number, outcome: number): void {
    this.node(node).deregistrations[outcome].value++;
  }

  onRrd(node: number, seconds: number): void {
    this.node(node).rrd.observe(seconds);
  }

  onSessionStart(node: number): void {
    this.node(node).active.value++;
  }

  onSessionEnd(node: number, seconds: number): void {
    const c = this.node(node);
    c.active.value--;
    c.duration.observe(seconds);
  }

  onSessionCut(node: number, reason: number): void {
    const c = this.node(node);
    c.active.value--;
    c.cut[reason].value++;
  }

  /** The engine passes only valid causes (Q.850 1-127, SIP 300-699), so the slots bound the series. */
  onReleaseCause(node: number, protocol: number, cause: number): void {
    const c = this.node(node);
    const slot = protocol === REASON_Q850 ? cause - 1 : 127 + cause - 300;
    let cell = c.causes[slot];
    if (cell === undefined) {
      cell = this.causes.cell({
        node: this.nodes.labels[node] ?? 'unknown',
        protocol: REASON_PROTOCOL_LABELS[protocol],
        cause: String(cause),
      });
      c.causes[slot] = cell;
    }
    cell.value++;
  }

  onLateFinal(_node: number, method: number): void {
    if (METHOD_LABELS[method] === 'REGISTER') this.lateRegister.value++;
    else this.lateInvite.value++;
  }
}
