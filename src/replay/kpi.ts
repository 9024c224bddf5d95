import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { NodeLabels } from '../count/nodes.js';
import { KpiEngine } from '../kpi/engine.js';
import { KpiMetrics } from '../kpi/metrics.js';
import { KpiObserver } from '../kpi/observer.js';
import type { KpiSink } from '../kpi/types.js';
import { counterFamily, gaugeFamily, histogramFamily, type SampledFamily } from './timeline.js';

/**
 * A full expiry sweep per this much capture time: a timeout is reported at most this late (an
 * attempt met again by a message is settled on the spot, and the end of the files settles all).
 * The daemon's engine sweeps each second of wall time; a replay reads hours in seconds, and a
 * full sweep of the default tables costs about 10 ms, so a second would cost a minute per hour
 * of capture. 15 s, the default step, keeps an hour to 2 s and a timeout within about a step.
 */
export const SWEEP_PERIOD_MS = 15_000;

/** Attempts a capture left without an outcome, per node label. */
export interface OpenAttempts {
  /** INVITE attempts with no final response (nor a timeout) by the last message */
  invite: number;
  /** REGISTER attempts (de-registrations included) likewise */
  register: number;
}

/**
 * The KPI sink of a replay: everything goes to the exporter's own KpiMetrics, except while the
 * end of the capture is being drained, when what the engine reports is an attempt the capture
 * left open, not an outcome, and is counted apart.
 */
class ReplayKpiSink implements KpiSink {
  draining = false;
  /** reports forwarded so far: tells whether an expiry sweep changed anything */
  reports = 0;
  readonly open = new Map<number, OpenAttempts>();

  constructor(private readonly metrics: KpiMetrics) {}

  private openOf(node: number): OpenAttempts {
    let o = this.open.get(node);
    if (o === undefined) {
      o = { invite: 0, register: 0 };
      this.open.set(node, o);
    }
    return o;
  }

  onAttemptEnd(node: number, outcome: number): void {
    if (this.draining) {
      this.openOf(node).invite++;
      return;
    }
    this.reports++;
    this.metrics.onAttemptEnd(node, outcome);
  }
  onSrd(node: number, result: number, seconds: number): void {
    if (!this.draining) this.metrics.onSrd(node, result, seconds);
  }
  onPdd(node: number, seconds: number): void {
    if (!this.draining) this.metrics.onPdd(node, seconds);
  }
  onRegistrationEnd(node: number, outcome: number): void {
    if (this.draining) {
      this.openOf(node).register++;
      return;
    }
    this.reports++;
    this.metrics.onRegistrationEnd(node, outcome);
  }
  onDeregistrationEnd(node: number, outcome: number): void {
    if (this.draining) {
      this.openOf(node).register++;
      return;
    }
    this.reports++;
    this.metrics.onDeregistrationEnd(node, outcome);
  }
  onRrd(node: number, seconds: number): void {
    if (!this.draining) this.metrics.onRrd(node, seconds);
  }
  onSessionStart(node: number): void {
    if (!this.draining) this.metrics.onSessionStart(node);
  }
  onSessionEnd(node: number, seconds: number): void {
    if (!this.draining) this.metrics.onSessionEnd(node, seconds);
  }
  // A dialog still up at the end stays in sip_sessions_active: the drain cuts nothing.
  onSessionCut(node: number, reason: number): void {
    if (this.draining) return;
    this.reports++;
    this.metrics.onSessionCut(node, reason);
  }
  onReleaseCause(node: number, protocol: number, cause: number): void {
    if (!this.draining) this.metrics.onReleaseCause(node, protocol, cause);
  }
  onLateFinal(node: number, method: number): void {
    if (!this.draining) this.metrics.onLateFinal(node, method);
  }
}

/**
 * The call KPIs of a replay: the exporter's engine, observer and metrics, on capture time. The
 * engine's expiry clock is the capture time (ms since the epoch; the engine keeps it modulo
 * 2^32 from origin 0, as the dedupe window does), so attempts time out after the configured
 * timeouts of capture time however fast the file is read, and no timer runs.
 */
export class ReplayKpi {
  readonly metrics: KpiMetrics;
  readonly engine: KpiEngine;
  readonly observer: KpiObserver;
  private readonly sink: ReplayKpiSink;
  private readonly drainMs: number;
  private finished = false;

  constructor(registry: Registry, nodes: NodeLabels, config: Config) {
    this.metrics = new KpiMetrics(registry, nodes);
    this.sink = new ReplayKpiSink(this.metrics);
    this.engine = new KpiEngine(this.sink, {
      maxAttempts: config.kpi.max_entries,
      maxDialogs: config.kpi.max_dialogs,
      inviteTimeoutMs: config.kpi.invite_timeout,
      nonInviteTimeoutMs: config.kpi.non_invite_timeout,
      maxSessionMs: config.kpi.max_session_duration,
      sweepPeriodMs: SWEEP_PERIOD_MS,
      now: 0,
    });
    this.metrics.watchEngine(registry, this.engine.stats);
    this.observer = new KpiObserver(this.engine);
    // Past every attempt timeout but short of the longest session: the drain ends attempts only.
    this.drainMs = Math.max(config.kpi.invite_timeout, config.kpi.non_invite_timeout) + 1;
  }

  /** The KPI families the OpenMetrics output samples. */
  sampled(): SampledFamily[] {
    const f = this.metrics.families;
    return [
      ...f.counters.map(counterFamily),
      ...f.histograms.map(histogramFamily),
      ...f.gauges.map((g) => gaugeFamily(g.name, g.family)),
    ];
  }

  /**
   * Advances the expiry clock to `ms` of capture time with no message (between two steps of the
   * OpenMetrics timeline); returns whether it ended anything.
   */
  catchUp(ms: number): boolean {
    const before = this.sink.reports;
    this.engine.expire(ms);
    return this.sink.reports !== before;
  }

  /**
   * At the last message's capture time: settles every attempt whose timeout has passed by then
   * (the sweep may lag one period behind), as the live exporter would have shown them at that
   * moment. Call before the last sample is taken.
   */
  settle(lastMs: number): void {
    if (Number.isFinite(lastMs)) this.engine.expireAll(lastMs);
  }

  /**
   * The attempts the capture left open, per node index: those with neither a final response nor
   * a timeout by the last message. They are not outcomes (the capture cannot say how they ended,
   * and a capture cut mid-call would otherwise read as timeouts) and are reported apart. Runs
   * once, after the last sample; the families are left as they were.
   */
  openAttempts(lastMs: number): ReadonlyMap<number, OpenAttempts> {
    if (!this.finished && Number.isFinite(lastMs)) {
      this.finished = true;
      this.sink.draining = true;
      this.engine.expireAll(lastMs + this.drainMs);
      this.sink.draining = false;
    }
    return this.sink.open;
  }
}
