import type { Writable } from 'node:stream';
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
  for (const { family, series } of timeline.samples(steps)) {
    const base = family.name.replace(/_total$/, '');
    const help = (result.registry.getSingleMetric(family.name) as { help?: string } | undefined)?.help ?? '';
    await write(`# TYPE ${base} counter\n# HELP ${base} ${escapeHelp(help)}\n`);
    for (const s of series) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(',');
      const name = labels === '' ? family.name : `${family.name}{${labels}}`;
      for (let step = 0; step < steps; step++) await write(`${name} ${s.values[step]} ${stamps[step]}\n`);
    }
  }
  await write('# EOF\n');
  if (buffer !== '') out.write(buffer);
}
