import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';
import { EXEMPLAR, formatOpenMetricsNumber } from './exemplar.js';

export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Units OpenMetrics lets a family declare, read from its name's suffix (`_seconds`, `_bytes`). */
const UNITS = ['seconds', 'bytes'] as const;

type Sample = MetricValue<string> & { metricName?: string; [EXEMPLAR]?: string };
type Family = MetricObjectWithValues<MetricValue<string>>;

/**
 * The registry as OpenMetrics 1.0 text: counters' samples end in `_total` under a family name
 * without it, `# UNIT` where the name ends in a unit, exemplars on counter and bucket samples
 * whose value carries one (src/metrics/exemplar.ts), `# EOF` last.
 *
 * Written here rather than by switching prom-client's registry to its OpenMetrics content type:
 * that path renames every counter in place (its `_total` stripped, for every later scrape in
 * either format), spells NaN `Nan`, writes no UNIT, and throws on an exemplar it finds too long.
 * This one reads the same metric objects as the 0.0.4 scrape, through their get(), and changes
 * nothing, so scrapes of the two formats may run at once.
 */
export async function openMetrics(registry: Registry): Promise<string> {
  const families = await Promise.all(
    // Every registered metric has get(): prom-client's own and the hot families' (cell-family.ts).
    registry.getMetricsAsArray().map((m) => (m as unknown as { get(): Promise<Family> }).get()),
  );
  let out = '';
  for (const f of families) out += family(f);
  return `${out}# EOF\n`;
}

function family(f: Family): string {
  const type = String(f.type);
  const counter = type === 'counter';
  const name = counter && f.name.endsWith('_total') ? f.name.slice(0, -'_total'.length) : f.name;
  const omType = counter || type === 'gauge' || type === 'histogram' || type === 'summary' ? type : 'unknown';
  let out = `# HELP ${name} ${escapeText(f.help)}\n# TYPE ${name} ${omType}\n`;
  for (const unit of UNITS) if (name.endsWith(`_${unit}`)) out += `# UNIT ${name} ${unit}\n`;
  for (const v of f.values as Sample[]) {
    let sample = v.metricName ?? f.name;
    if (counter && sample === f.name) sample = `${name}_total`;
    out += sample;
    let labels = '';
    for (const key in v.labels) {
      const value = (v.labels as Record<string, unknown>)[key];
      if (value === undefined) continue;
      labels += `${labels === '' ? '' : ','}${key}="${escapeText(String(value))}"`;
    }
    if (labels !== '') out += `{${labels}}`;
    out += ` ${formatOpenMetricsNumber(v.value)}`;
    // OpenMetrics allows exemplars on a counter's _total and a histogram's _bucket samples only.
    const exemplar = v[EXEMPLAR];
    if (exemplar !== undefined && (counter || (type === 'histogram' && sample.endsWith('_bucket'))))
      out += exemplar;
    out += '\n';
  }
  return out;
}

/** Backslash, newline and double quote, escaped as OpenMetrics wants in HELP text and label values. */
function escapeText(text: string): string {
  return text.replace(/[\\\n"]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : '\\"'));
}
