import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer } from './peers.js';

/**
 * A strict reader of OpenMetrics 1.0 text, written from the specification's ABNF and its
 * MetricFamily rules rather than from our formatter, so that the tests hold the exposition to
 * the standard: valid UTF-8, `# EOF` last and nothing after, each family's metadata before its
 * samples and the family in one block, sample names by type (`_total` for counters), escapes,
 * numbers, exemplars only on counter totals and histogram buckets with at most 128 code points
 * of label names and values and a value within the bucket, histogram buckets cumulative with
 * `+Inf` equal to `_count`. Returns the problems found, empty when there are none.
 */
export function checkOpenMetrics(bytes: Uint8Array): string[] {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return ['not valid UTF-8'];
  }
  const problems: string[] = [];
  if (!text.endsWith('# EOF\n')) problems.push('does not end with "# EOF\\n"');
  const lines = text.split('\n');
  lines.pop();
  const seen = new Set<string>();
  let fam: Family | null = null;
  let eof = false;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    const where = `line ${index + 1}`;
    const fail = (why: string): void => {
      problems.push(`${where}: ${why}: ${JSON.stringify(line.slice(0, 200))}`);
    };
    if (eof) {
      fail('after # EOF');
      continue;
    }
    if (line === '# EOF') {
      eof = true;
      if (fam !== null) problems.push(...fam.finish());
      continue;
    }
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      // Comments other than these three are not OpenMetrics.
      if (m === null) {
        fail('bad metadata line');
        continue;
      }
      const [, kind, name, rest] = m;
      if (fam === null || fam.name !== name) {
        if (fam !== null) problems.push(...fam.finish());
        if (seen.has(name)) {
          fail(`family ${name} appears twice`);
          continue;
        }
        seen.add(name);
        fam = new Family(name);
      }
      if (fam.samples > 0) {
        fail('metadata after samples');
        continue;
      }
      if (fam.meta.has(kind)) {
        fail(`second ${kind}`);
        continue;
      }
      fam.meta.add(kind);
      if (kind === 'HELP' && !escapesValid(rest, false)) {
        fail('bad escape in HELP');
        continue;
      }
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) {
          fail(`unknown type ${rest}`);
          continue;
        }
        fam.type = rest;
      }
      if (kind === 'UNIT' && !name.endsWith(`_${rest}`)) {
        fail('unit is not the suffix of the name');
        continue;
      }
      continue;
    }
    const sample = parseSample(line);
    if (typeof sample === 'string') {
      fail(sample);
      continue;
    }
    if (fam === null || !fam.owns(sample.name)) {
      fail(`sample ${sample.name} outside its family (${fam?.name ?? 'none'})`);
      continue;
    }
    const why = fam.add(sample);
    if (why !== null) fail(why);
  }
  if (!eof) problems.push('no # EOF line');
  return problems;
}

const TYPES = new Set([
  'counter',
  'gauge',
  'histogram',
  'gaugehistogram',
  'summary',
  'info',
  'stateset',
  'unknown',
]);
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const NUMBER =
  /^(?:[+-]?(?:\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\d*\.\d+(?:[eE][+-]?\d+)?)|[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|[nN][aA][nN])$/;

interface Sample {
  name: string;
  labels: Map<string, string>;
  value: number;
  exemplar: { labels: Map<string, string>; value: number } | null;
}

function escapesValid(text: string, quotesMustBeEscaped: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      const next = text[i + 1];
      if (next !== '\\' && next !== 'n' && next !== '"') return false;
      i++;
    } else if (quotesMustBeEscaped && c === '"') return false;
  }
  return true;
}

function number(text: string): number | null {
  if (!NUMBER.test(text)) return null;
  const lower = text.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (lower.includes('inf')) return lower.startsWith('-') ? -Infinity : Infinity;
  return Number(text);
}

/** `{name="value",...}` at `at`; returns the labels and where it ended, or a problem. */
function parseLabels(line: string, at: number): { labels: Map<string, string>; end: number } | string {
  const labels = new Map<string, string>();
  let i = at + 1;
  if (line[i] === '}') return { labels, end: i + 1 };
  for (;;) {
    const name = LABEL_NAME.exec(line.slice(i))?.[0];
    if (name === undefined) return 'bad label name';
    i += name.length;
    if (line[i] !== '=' || line[i + 1] !== '"') return 'expected ="';
    i += 2;
    let value = '';
    for (;;) {
      const c = line[i];
      if (c === undefined) return 'unterminated label value';
      if (c === '"') break;
      if (c === '\\') {
        const next = line[i + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else return 'bad escape in label value';
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    if (labels.has(name)) return `label ${name} twice`;
    labels.set(name, value);
    if (line[i] === '}') return { labels, end: i + 1 };
    if (line[i] !== ',') return 'expected , or }';
    i++;
  }
}

function parseSample(line: string): Sample | string {
  const name = NAME.exec(line)?.[0];
  if (name === undefined) return 'bad metric name';
  let i = name.length;
  let labels = new Map<string, string>();
  if (line[i] === '{') {
    const parsed = parseLabels(line, i);
    if (typeof parsed === 'string') return parsed;
    labels = parsed.labels;
    i = parsed.end;
  }
  if (line[i] !== ' ') return 'expected a space before the value';
  // value [SP timestamp] [SP "#" SP exemplar-labels SP value [SP timestamp]]
  let exemplarAt = line.indexOf(' # ', i);
  if (exemplarAt < 0) exemplarAt = line.length;
  const fields = line.slice(i + 1, exemplarAt).split(' ');
  if (fields.length > 2) return 'extra fields';
  const value = number(fields[0]);
  if (value === null) return `bad value ${fields[0]}`;
  if (fields.length === 2 && number(fields[1]) === null) return 'bad timestamp';
  let exemplar: Sample['exemplar'] = null;
  if (exemplarAt < line.length) {
    const exemplarText = line.slice(exemplarAt + 3);
    if (exemplarText[0] !== '{') return 'exemplar without labels';
    const parsed = parseLabels(exemplarText, 0);
    if (typeof parsed === 'string') return `exemplar: ${parsed}`;
    let length = 0;
    for (const [k, v] of parsed.labels) length += [...k].length + [...v].length;
    if (length > 128) return `exemplar label set of ${length} code points`;
    const parts = exemplarText.slice(parsed.end).split(' ');
    if (parts[0] !== '' || parts.length < 2 || parts.length > 3) return 'bad exemplar value';
    const ev = number(parts[1]);
    if (ev === null) return 'bad exemplar value';
    if (parts.length === 3 && number(parts[2]) === null) return 'bad exemplar timestamp';
    exemplar = { labels: parsed.labels, value: ev };
  }
  return { name, labels, value, exemplar };
}

class Family {
  type = 'unknown';
  samples = 0;
  readonly meta = new Set<string>();
  /** per histogram series (labels but le): the buckets so far, and its _count */
  private readonly histograms = new Map<string, { le: number; count: number; total?: number }>();

  constructor(readonly name: string) {}

  owns(sample: string): boolean {
    const suffix = sample.slice(this.name.length);
    if (!sample.startsWith(this.name)) return false;
    switch (this.type) {
      case 'counter':
        return suffix === '_total' || suffix === '_created';
      case 'histogram':
        return ['_bucket', '_count', '_sum', '_created'].includes(suffix);
      case 'summary':
        return ['', '_count', '_sum', '_created'].includes(suffix);
      default:
        return suffix === '';
    }
  }

  add(s: Sample): string | null {
    this.samples++;
    if (
      s.exemplar !== null &&
      !(this.type === 'counter' && s.name.endsWith('_total')) &&
      !s.name.endsWith('_bucket')
    )
      return 'exemplar on a sample that cannot carry one';
    if (this.type === 'counter' && s.name.endsWith('_total') && !(s.value >= 0)) return 'counter not >= 0';
    if (this.type !== 'histogram') return null;
    const rest = [...s.labels].filter(([k]) => k !== 'le');
    const key = JSON.stringify(rest);
    let h = this.histograms.get(key);
    if (h === undefined) {
      h = { le: -Infinity, count: 0 };
      this.histograms.set(key, h);
    }
    if (s.name.endsWith('_bucket')) {
      const leText = s.labels.get('le');
      const le = leText === undefined ? null : number(leText);
      if (le === null) return 'bucket without a numeric le';
      if (!(le > h.le)) return 'buckets not in increasing le';
      if (s.value < h.count) return 'buckets not cumulative';
      if (s.exemplar !== null && !(s.exemplar.value <= le)) return 'exemplar value above its bucket';
      h.le = le;
      h.count = s.value;
    } else if (s.name.endsWith('_count')) {
      if (h.le !== Infinity) return 'histogram without a +Inf bucket before its _count';
      if (s.value !== h.count) return '_count is not the +Inf bucket';
      h.total = s.value;
    }
    return null;
  }

  finish(): string[] {
    if (this.type !== 'histogram') return [];
    return [...this.histograms]
      .filter(([, h]) => h.total === undefined)
      .map(([key]) => `family ${this.name}: series ${key} has no _count`);
  }
}

/**
 * Prometheus's own OpenMetrics parser, as promtool runs it to build TSDB blocks from a file:
 * that path wants a timestamp on every sample, so one is written in before any exemplar.
 * Throws with promtool's message when it refuses the text.
 */
export function promtoolAcceptsOpenMetrics(text: string): void {
  const promtool = requirePeer('promtool', 'prometheus');
  const stamped = text
    .split('\n')
    .map((line) => {
      if (line === '' || line.startsWith('#')) return line;
      // The value ends at the first space after the labels, whatever the labels hold.
      const name = NAME.exec(line)?.[0] ?? '';
      let at = name.length;
      if (line[at] === '{') {
        const parsed = parseLabels(line, at);
        if (typeof parsed === 'string') return line;
        at = parsed.end;
      }
      const end = line.indexOf(' ', at + 1);
      return end < 0 ? `${line} 1795600000` : `${line.slice(0, end)} 1795600000${line.slice(end)}`;
    })
    .join('\n');
  const dir = mkdtempSync(join(tmpdir(), 'sre-om-'));
  try {
    const file = join(dir, 'metrics.om');
    writeFileSync(file, stamped);
    execFileSync(promtool, ['tsdb', 'create-blocks-from', 'openmetrics', file, join(dir, 'blocks')], {
      stdio: 'pipe',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
