import type { Writable } from 'node:stream';
import { ATTEMPT_OUTCOME_LABELS, REGISTRATION_OUTCOME_LABELS, SESSION_CUT_LABELS } from '../kpi/types.js';
import type { HistogramCell, HotHistogram } from '../metrics/hot-histogram.js';
import type { ReplayResult } from './replay.js';

export const OUTPUT_FORMATS = ['table', 'json', 'openmetrics'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface ResponseRow {
  node: string;
  code: string;
  class: string;
  reason: string;
  method: string;
  count: number;
}

/** A delay histogram in brief: observations, and the median and 95th percentile in seconds. */
export interface DelaySummary {
  count: number;
  /** estimated from the buckets as histogram_quantile does; null without observations */
  p50: number | null;
  p95: number | null;
}

/** The call KPIs of one node (docs/kpis.md), as the exporter's families hold them at the end. */
export interface KpiSummary {
  node: string;
  /** session attempts ended, by outcome (every outcome, zeros included) */
  attempts: Record<string, number>;
  attemptsTotal: number;
  /** INVITE attempts the capture left without a final response or a timeout: not in `attempts` */
  openAttempts: number;
  /** ratios over the ended attempts (null when their denominator is 0) */
  asr: number | null;
  ser: number | null;
  seer: number | null;
  isa: number | null;
  ner: number | null;
  srd: { success: DelaySummary; failure: DelaySummary };
  pdd: DelaySummary;
  registrations: Record<string, number>;
  deregistrations: Record<string, number>;
  /** REGISTER attempts (de-registrations included) the capture left open */
  openRegistrations: number;
  rrd: DelaySummary;
  /** dialogs answered and still up at the end, ended by a BYE, and cut (by reason) */
  sessions: { active: number; ended: number; cut: Record<string, number> };
}

/** What a replay found, as plain data: the json output, and what the table shows. */
export interface ReplaySummary {
  files: ReplayResult['files'];
  /** ISO times of the first and last message read (null when none) */
  captureStart: string | null;
  captureEnd: string | null;
  responses: ResponseRow[];
  requests: Array<{ node: string; method: string; count: number }>;
  /** responses per node and class */
  classes: Array<{ node: string; class: string; count: number }>;
  /** responses per configured peer, direction and class, most first (empty without `peers`) */
  peers: Array<{ peer: string; direction: string; class: string; count: number }>;
  dedupeHits: { response: number; request: number };
  /** sip_exporter_parse_errors_total by listener (`replay` for raw SIP, `hep`) and reason */
  parseErrors: Array<{ listener: string; reason: string; count: number }>;
  authFailures: number;
  /** raw SIP messages lost to an unexpected failure (a bug to report; HEP's are parse errors `hep_internal`) */
  internalErrors: number;
  /** HEP packets whose payload is not SIP, by HEP payload type */
  hepNonSip: Record<string, number>;
  captureDrops: Record<string, number>;
  /** the call KPIs per node (empty with --kpi.enabled=false or without INVITE or REGISTER) */
  kpis: KpiSummary[];
  totals: {
    records: number;
    messages: number;
    responses: number;
    requests: number;
    duplicates: number;
    parseErrors: number;
    captureDrops: number;
  };
}

type Series = { labels: Readonly<Record<string, string>>; cell: { value: number } };

function seriesOf(result: ReplayResult, name: string): readonly Series[] {
  const family = result.families.find((f) => f.name === name);
  return family?.allSeries ?? [];
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The q-quantile of histogram cells added together, as PromQL's histogram_quantile estimates it:
 * linear within the bucket that holds it, from 0 for the first; in the +Inf bucket, the highest
 * finite bound.
 */
export function histogramQuantile(
  q: number,
  buckets: readonly number[],
  cells: readonly HistogramCell[],
): number | null {
  const counts = new Float64Array(buckets.length + 1);
  let total = 0;
  for (const cell of cells)
    for (let i = 0; i <= buckets.length; i++) {
      counts[i] += cell.counts[i];
      total += cell.counts[i];
    }
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < buckets.length; i++) {
    if (below + counts[i] >= rank) {
      const lower = i === 0 ? 0 : buckets[i - 1];
      return lower + (buckets[i] - lower) * ((rank - below) / counts[i]);
    }
    below += counts[i];
  }
  return buckets[buckets.length - 1];
}

function delaySummary(
  family: HotHistogram<string> | undefined,
  match: (l: Readonly<Record<string, string>>) => boolean,
): DelaySummary {
  if (family === undefined) return { count: 0, p50: null, p95: null };
  const cells = family.allSeries.filter((s) => match(s.labels)).map((s) => s.cell);
  const count = cells.reduce((a, c) => a + c.count, 0);
  return {
    count,
    p50: histogramQuantile(0.5, family.buckets, cells),
    p95: histogramQuantile(0.95, family.buckets, cells),
  };
}

const ratio = (num: number, den: number) => (den > 0 ? num / den : null);

function kpiSummaries(result: ReplayResult): KpiSummary[] {
  const kpi = result.kpi;
  if (kpi === null) return [];
  const f = kpi.metrics.families;
  const counter = (name: string) => f.counters.find((c) => c.name === name)?.allSeries ?? [];
  const histogram = (name: string) => f.histograms.find((h) => h.name === name);
  const nodes = new Set<string>(result.openAttempts.keys());
  const zero = (labels: readonly string[]) => Object.fromEntries(labels.map((l) => [l, 0]));
  const byNode = (name: string, key: string, labels: readonly string[]) => {
    const out = new Map<string, Record<string, number>>();
    for (const s of counter(name)) {
      nodes.add(s.labels.node);
      let row = out.get(s.labels.node);
      if (row === undefined) {
        row = zero(labels);
        out.set(s.labels.node, row);
      }
      row[s.labels[key]] += s.cell.value;
    }
    return out;
  };
  const attempts = byNode('sip_session_attempts_total', 'outcome', ATTEMPT_OUTCOME_LABELS);
  const registrations = byNode('sip_registration_attempts_total', 'outcome', REGISTRATION_OUTCOME_LABELS);
  const deregistrations = byNode('sip_deregistration_attempts_total', 'outcome', REGISTRATION_OUTCOME_LABELS);
  const cuts = byNode('sip_sessions_cut_total', 'reason', SESSION_CUT_LABELS);
  const active = new Map<string, number>();
  for (const g of f.gauges) for (const s of g.family.allSeries) active.set(s.labels.node, s.cell.value);
  const out: KpiSummary[] = [];
  for (const node of [...nodes].sort(byText)) {
    const a = attempts.get(node) ?? zero(ATTEMPT_OUTCOME_LABELS);
    const total = Object.values(a).reduce((x, y) => x + y, 0);
    const effective = a.answered + a.busy + a.declined + a.unavailable;
    const open = result.openAttempts.get(node) ?? { invite: 0, register: 0 };
    const ofNode = (l: Readonly<Record<string, string>>) => l.node === node;
    out.push({
      node,
      attempts: a,
      attemptsTotal: total,
      openAttempts: open.invite,
      asr: ratio(a.answered, total),
      ser: ratio(a.answered, total - a.redirected),
      seer: ratio(effective, total - a.redirected),
      isa: ratio(a.ineffective + a.timeout, total),
      ner: ratio(effective, total),
      srd: {
        success: delaySummary(
          histogram('sip_session_request_delay_seconds'),
          (l) => ofNode(l) && l.result === 'success',
        ),
        failure: delaySummary(
          histogram('sip_session_request_delay_seconds'),
          (l) => ofNode(l) && l.result === 'failure',
        ),
      },
      pdd: delaySummary(histogram('sip_post_dial_delay_seconds'), ofNode),
      registrations: registrations.get(node) ?? zero(REGISTRATION_OUTCOME_LABELS),
      deregistrations: deregistrations.get(node) ?? zero(REGISTRATION_OUTCOME_LABELS),
      openRegistrations: open.register,
      rrd: delaySummary(histogram('sip_registration_request_delay_seconds'), ofNode),
      sessions: {
        active: active.get(node) ?? 0,
        ended: delaySummary(histogram('sip_session_duration_seconds'), ofNode).count,
        cut: cuts.get(node) ?? zero(SESSION_CUT_LABELS),
      },
    });
  }
  return out;
}

/** The replay's counts, read from the same cells /metrics would show. */
export function summarize(result: ReplayResult): ReplaySummary {
  const { self } = result;
  const responses: ResponseRow[] = [];
  for (const s of seriesOf(result, 'sip_responses_total')) {
    if (s.cell.value === 0) continue;
    const l = s.labels;
    responses.push({
      node: l.node,
      code: l.code,
      class: l.class,
      reason: l.reason,
      method: l.method,
      count: s.cell.value,
    });
  }
  responses.sort((a, b) => byText(a.node, b.node) || byText(a.code, b.code) || byText(a.method, b.method));
  const requests: ReplaySummary['requests'] = [];
  for (const s of seriesOf(result, 'sip_requests_total')) {
    if (s.cell.value === 0) continue;
    requests.push({ node: s.labels.node, method: s.labels.method, count: s.cell.value });
  }
  requests.sort((a, b) => byText(a.node, b.node) || byText(a.method, b.method));
  const classMap = new Map<string, { node: string; class: string; count: number }>();
  for (const r of responses) {
    const key = `${r.node}\u0000${r.class}`;
    const row = classMap.get(key) ?? { node: r.node, class: r.class, count: 0 };
    row.count += r.count;
    classMap.set(key, row);
  }
  const classes = [...classMap.values()].sort((a, b) => byText(a.node, b.node) || byText(a.class, b.class));
  const peerMap = new Map<string, ReplaySummary['peers'][number]>();
  for (const s of seriesOf(result, 'sip_peer_responses_total')) {
    if (s.cell.value === 0) continue;
    const l = s.labels;
    const key = `${l.peer}\u0000${l.direction}\u0000${l.class}`;
    const row = peerMap.get(key) ?? { peer: l.peer, direction: l.direction, class: l.class, count: 0 };
    row.count += s.cell.value;
    peerMap.set(key, row);
  }
  const peers = [...peerMap.values()].sort(
    (a, b) =>
      b.count - a.count ||
      byText(a.peer, b.peer) ||
      byText(a.direction, b.direction) ||
      byText(a.class, b.class),
  );
  const parseErrors: ReplaySummary['parseErrors'] = [];
  for (const s of self.parseErrors.allSeries) {
    if (s.cell.value > 0)
      parseErrors.push({ listener: s.labels.listener, reason: s.labels.reason, count: s.cell.value });
  }
  const hits = { response: 0, request: 0 };
  for (const s of self.dedupeHits.allSeries) hits[s.labels.kind as 'response' | 'request'] += s.cell.value;
  let authFailures = 0;
  for (const s of self.authFailures.allSeries) authFailures += s.cell.value;
  const hepNonSip: Record<string, number> = {};
  for (const s of self.hepPayloadTypes.allSeries) {
    if (s.labels.type !== '1' && s.cell.value > 0) hepNonSip[s.labels.type] = s.cell.value;
  }
  const iso = (ms: number) => (Number.isNaN(ms) ? null : new Date(ms).toISOString());
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  return {
    files: result.files,
    captureStart: iso(result.firstMs),
    captureEnd: iso(result.lastMs),
    responses,
    requests,
    classes,
    peers,
    dedupeHits: hits,
    parseErrors,
    authFailures,
    internalErrors: result.ingest.internalErrors,
    hepNonSip,
    captureDrops: result.captureDrops,
    kpis: kpiSummaries(result),
    totals: {
      records: sum(result.files.map((f) => f.records)),
      messages: sum(result.files.map((f) => f.messages)),
      responses: sum(responses.map((r) => r.count)),
      requests: sum(requests.map((r) => r.count)),
      duplicates: hits.response + hits.request,
      parseErrors: sum(parseErrors.map((e) => e.count)),
      captureDrops: sum(Object.values(result.captureDrops)),
    },
  };
}

/** Rows of the table's peer section; the json output has them all. */
const TOP_PEERS = 20;

/** Left-aligned text columns, numbers right-aligned. */
function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  return cells
    .map((r) =>
      r
        .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function duration(ms: number): string {
  if (!(ms >= 0)) return '0s';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${m}m${s % 60}s` : m > 0 ? `${m}m${s % 60}s` : `${s}s`;
}

const percent = (r: number | null) => (r === null ? '-' : `${(r * 100).toFixed(1)}%`);
const seconds = (s: number | null) => (s === null ? '-' : `${s.toFixed(3)}s`);

/** The call KPI sections of the table output. */
function kpiTables(kpis: readonly KpiSummary[]): string[] {
  const parts: string[] = ['Session attempts by outcome (call KPIs)'];
  parts.push(
    table(
      ['node', ...ATTEMPT_OUTCOME_LABELS, 'open'],
      kpis.map((k) => [k.node, ...ATTEMPT_OUTCOME_LABELS.map((o) => k.attempts[o]), k.openAttempts]),
    ),
  );
  parts.push('', 'Session ratios and delays');
  parts.push(
    table(
      ['node', 'attempts', 'ASR', 'SER', 'SEER', 'ISA', 'NER', 'SRD p50', 'SRD p95', 'PDD p50', 'PDD p95'],
      kpis.map((k) => [
        k.node,
        k.attemptsTotal,
        percent(k.asr),
        percent(k.ser),
        percent(k.seer),
        percent(k.isa),
        percent(k.ner),
        seconds(k.srd.success.p50),
        seconds(k.srd.success.p95),
        seconds(k.pdd.p50),
        seconds(k.pdd.p95),
      ]),
    ),
  );
  parts.push('', 'Registrations');
  parts.push(
    table(
      ['node', ...REGISTRATION_OUTCOME_LABELS, 'open', 'RRD p50', 'RRD p95', 'de-registrations'],
      kpis.map((k) => [
        k.node,
        ...REGISTRATION_OUTCOME_LABELS.map((o) => k.registrations[o]),
        k.openRegistrations,
        seconds(k.rrd.p50),
        seconds(k.rrd.p95),
        Object.values(k.deregistrations).reduce((a, b) => a + b, 0),
      ]),
    ),
  );
  return parts;
}

/** The summary line: the one line that says what the replay found. */
export function summaryLine(summary: ReplaySummary, result: ReplayResult): string {
  const t = summary.totals;
  const span = Number.isNaN(result.firstMs)
    ? 'no messages'
    : `${duration(result.lastMs - result.firstMs)} of capture`;
  return (
    `${summary.files.length} file(s), ${t.records} records, ${t.messages} messages, ${span}: ` +
    `${t.responses} responses and ${t.requests} requests counted, ${t.duplicates} duplicates, ` +
    `${t.parseErrors} parse errors, ${summary.authFailures} auth failures, ${t.captureDrops} capture drops` +
    (summary.internalErrors > 0 ? `, ${summary.internalErrors} internal errors (please report)` : '')
  );
}

export function formatTable(summary: ReplaySummary, result: ReplayResult): string {
  const parts: string[] = [];
  parts.push('Responses by code');
  parts.push(
    summary.responses.length === 0
      ? '  (none)'
      : table(
          ['node', 'code', 'class', 'reason', 'method', 'count'],
          summary.responses.map((r) => [r.node, r.code, r.class, r.reason, r.method, r.count]),
        ),
  );
  parts.push('', 'Responses by class');
  parts.push(
    summary.classes.length === 0
      ? '  (none)'
      : table(
          ['node', 'class', 'count'],
          summary.classes.map((r) => [r.node, r.class, r.count]),
        ),
  );
  if (summary.peers.length > 0) {
    parts.push(
      '',
      `Top peers (responses by peer, direction and class${summary.peers.length > TOP_PEERS ? `, first ${TOP_PEERS}` : ''})`,
    );
    parts.push(
      table(
        ['peer', 'direction', 'class', 'count'],
        summary.peers.slice(0, TOP_PEERS).map((r) => [r.peer, r.direction, r.class, r.count]),
      ),
    );
  }
  if (summary.requests.length > 0) {
    parts.push('', 'Requests');
    parts.push(
      table(
        ['node', 'method', 'count'],
        summary.requests.map((r) => [r.node, r.method, r.count]),
      ),
    );
  }
  if (summary.parseErrors.length > 0) {
    parts.push('', 'Parse errors');
    parts.push(
      table(
        ['listener', 'reason', 'count'],
        summary.parseErrors.map((e) => [e.listener, e.reason, e.count]),
      ),
    );
  }
  const drops = Object.entries(summary.captureDrops).sort(([a], [b]) => byText(a, b));
  if (drops.length > 0) {
    parts.push('', 'Capture drops');
    parts.push(
      table(
        ['reason', 'count'],
        drops.map(([reason, count]) => [reason, count]),
      ),
    );
  }
  if (summary.kpis.length > 0) parts.push('', ...kpiTables(summary.kpis));
  parts.push('', summaryLine(summary, result));
  return `${parts.join('\n')}\n`;
}

export function formatJson(summary: ReplaySummary): string {
  return `${JSON.stringify(summary, null, 2)}\n`;
}

/** OpenMetrics label value escaping: backslash, double quote and newline. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/**
 * Writes the sampled families as OpenMetrics text: a sample of every series at every step of
 * capture time, timestamped in seconds, cumulative from the start of the replay, ending with
 * `# EOF`, as `promtool tsdb create-blocks-from openmetrics` reads it. Families and series are
 * written whole, one after another, as the format requires.
 */
export async function writeOpenMetrics(result: ReplayResult, out: Writable): Promise<void> {
  const timeline = result.timeline;
  if (timeline === null) throw new Error('the replay was run without a step');
  const steps = result.steps;
  const stamps: string[] = [];
  for (let step = 0; step < steps; step++)
    stamps.push(((timeline.origin + step * timeline.stepMs) / 1000).toFixed(3));
  let buffer = '';
  const write = async (text: string) => {
    buffer += text;
    if (buffer.length < 1 << 16) return;
    const chunk = buffer;
    buffer = '';
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };
  const labelText = (labels: Record<string, string>, extra = '') => {
    const text = Object.entries(labels)
      .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
      .join(',');
    const all = text === '' ? extra : extra === '' ? text : `${text},${extra}`;
    return all === '' ? '' : `{${all}}`;
  };
  for (const { family, series } of timeline.samples(steps)) {
    const help = (result.registry.getSingleMetric(family.name) as { help?: string } | undefined)?.help ?? '';
    if (family.type === 'histogram') {
      const name = family.name;
      await write(`# TYPE ${name} histogram\n# HELP ${name} ${escapeHelp(help)}\n`);
      const le = [...family.buckets.map((b) => `le="${b}"`), 'le="+Inf"'];
      const width = family.width;
      for (const s of series) {
        const bucketNames = le.map((l) => `${name}_bucket${labelText(s.labels, l)}`);
        const countName = `${name}_count${labelText(s.labels)}`;
        const sumName = `${name}_sum${labelText(s.labels)}`;
        // A histogram's samples at one time are one point: its buckets, count and sum together.
        for (let step = 0; step < steps; step++) {
          const at = step * width;
          for (let b = 0; b < le.length; b++)
            await write(`${bucketNames[b]} ${s.values[at + b]} ${stamps[step]}\n`);
          await write(`${countName} ${s.values[at + le.length]} ${stamps[step]}\n`);
          await write(`${sumName} ${s.values[at + le.length + 1]} ${stamps[step]}\n`);
        }
      }
      continue;
    }
    const base = family.type === 'counter' ? family.name.replace(/_total$/, '') : family.name;
    await write(`# TYPE ${base} ${family.type}\n# HELP ${base} ${escapeHelp(help)}\n`);
    for (const s of series) {
      const name = `${family.name}${labelText(s.labels)}`;
      for (let step = 0; step < steps; step++) await write(`${name} ${s.values[step]} ${stamps[step]}\n`);
    }
  }
  await write('# EOF\n');
  if (buffer !== '') out.write(buffer);
}
