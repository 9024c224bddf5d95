/**
 * OpenMetrics exemplars for the hot families: a series keeps its latest exemplar as the text
 * that follows the sample in the exposition, rendered once when taken, so a scrape only
 * concatenates it and the text format (0.0.4), which has no exemplars, never sees it.
 */

/**
 * The key under which a sample value (as a family's get() returns it) carries its exemplar
 * text for the OpenMetrics formatter. A symbol, so prom-client's own formatter never reads it.
 */
export const EXEMPLAR = Symbol('exemplar');

/**
 * OpenMetrics: "The combined length of the label names and values of an Exemplar's LabelSet
 * MUST NOT exceed 128 UTF-8 character code points."
 */
export const EXEMPLAR_LABELS_MAX = 128;

/** One series' (or one bucket's) latest exemplar, and when it was taken. */
export class ExemplarSlot {
  /** ` # {name="value"} value timestamp`, or '' while there is none */
  text = '';
  /** when it was taken, on the sampler's clock (ms); -Infinity before the first */
  takenAt = Number.NEGATIVE_INFINITY;

  /**
   * Due for a new exemplar: at most one per `intervalMs` on the sampler's clock. A clock that
   * went back (a test, a capture replay) makes it due at once rather than never again.
   */
  due(now: number, intervalMs: number): boolean {
    return now - this.takenAt >= intervalMs || now < this.takenAt;
  }

  /**
   * `labels` is the label set as written (see exemplarLabelValue), `value` the observed value
   * (1 for a counter), `timestampMs` wall-clock time.
   */
  set(labels: string, value: number, timestampMs: number, now: number): void {
    this.text = ` # {${labels}} ${formatOpenMetricsNumber(value)} ${(timestampMs / 1000).toFixed(3)}`;
    this.takenAt = now;
  }

  clear(): void {
    this.text = '';
    this.takenAt = Number.NEGATIVE_INFINITY;
  }
}

/** A number as OpenMetrics writes it: NaN, +Inf and -Inf spelt so, the rest as JavaScript does. */
export function formatOpenMetricsNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

const REPLACEMENT = '\ufffd';

/**
 * An exemplar label value as written between the quotes, from any text: at most `budget` code
 * points once escaped (a backslash or a quote is written as two, so the limit holds whether a
 * reader counts the value or its escaped text), cut on a code point boundary. Control
 * characters (C0, DEL, C1) and lone surrogates become U+FFFD: OpenMetrics would let most of
 * them through unescaped, but no real Call-ID has one and a line-based reader may choke. Never
 * throws; `truncated` says whether anything was cut.
 */
export function exemplarLabelValue(text: string, budget: number): { value: string; truncated: boolean } {
  let value = '';
  let used = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0xfffd;
    let out = ch;
    let cost = 1;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0xd800 && cp <= 0xdfff)) out = REPLACEMENT;
    else if (ch === '\\' || ch === '"') {
      out = `\\${ch}`;
      cost = 2;
    }
    if (used + cost > budget) return { value, truncated: true };
    value += out;
    used += cost;
  }
  return { value, truncated: false };
}
