import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  CAPTURE_DROP_INFO,
  CaptureDrop,
  CODE,
  CODES,
  HEP_PARSE_ERRORS,
  type HepListenerError,
  PARSE_ERROR_INFO,
  ParseError,
  SIP_PARSE_ERRORS,
  SYSLOG_PARSE_ERRORS,
  type SyslogParseError,
} from '../src/errors.js';
import { ParseErrorCells, SelfMetrics } from '../src/metrics/self-metrics.js';

const root = join(import.meta.dirname, '..');

function filesUnder(dir: string, ext: RegExp): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => ext.test(f))
    .map((f) => join(dir, f));
}

const CODE_PATTERN = /\bSRE_(?:ERR|WARN|INFO)_[A-Z0-9_]+\b/g;

/** Each code that `text` names, as a string or as `CODE.X`. */
const codesIn = (text: string) => new Set(text.match(CODE_PATTERN) ?? []);

/** The source outside the tables: every place that can log, print or throw a code. */
const sources = filesUnder('src', /\.ts$/)
  .filter((f) => f !== join('src', 'errors.ts'))
  .map((f) => ({ file: f, text: readFileSync(join(root, f), 'utf8') }));

describe('error codes', () => {
  it('names no code in src/ that the table does not define', () => {
    for (const { file, text } of sources) {
      for (const code of codesIn(text)) expect(Object.keys(CODES), `${file} names ${code}`).toContain(code);
    }
  });

  it('uses every code the table defines', () => {
    const used = new Set(sources.flatMap(({ text }) => [...codesIn(text)]));
    // An error class carries its code; the code is used where the class is thrown.
    const errors = readFileSync(join(root, 'src', 'errors.ts'), 'utf8');
    for (const [, cls, code] of errors.matchAll(
      /class (\w+) extends SreError \{[\s\S]*?super\(CODE\.(\w+)/g,
    )) {
      if (sources.some(({ text }) => text.includes(`new ${cls}(`))) used.add(code);
    }
    for (const [code, info] of Object.entries(CODES)) {
      if (info.level === 'counted') {
        // A parse error or a capture drop is used where a parser returns or counts it by name.
        const name = code.slice('SRE_ERR_'.length);
        expect(
          sources.some(({ text }) => new RegExp(`\\b(ParseError|CaptureDrop)\\.${name}\\b`).test(text)),
          `nothing in src/ produces ${code}`,
        ).toBe(true);
      } else expect(used, `nothing in src/ logs or throws ${code}`).toContain(code);
    }
  });

  it('documents no code that does not exist', () => {
    const pages = ['README.md', ...filesUnder('docs', /\.md$/)];
    for (const page of pages) {
      for (const code of codesIn(readFileSync(join(root, page), 'utf8'))) {
        expect(Object.keys(CODES), `${relative(root, join(root, page))} names ${code}`).toContain(code);
      }
    }
  });

  it('says for every code what it means and what to do', () => {
    for (const [code, info] of Object.entries(CODES)) {
      expect(info.meaning, code).not.toBe('');
      expect(info.action, code).not.toBe('');
      expect(code.startsWith('SRE_WARN_'), code).toBe(info.level === 'warn');
      expect(code.startsWith('SRE_INFO_'), code).toBe(info.level === 'info');
      expect(CODE[code as keyof typeof CODE]).toBe(code);
    }
  });
});

describe('parse error ids', () => {
  it('split into one list per source, each id in exactly one, its reason prefixed by its source', () => {
    const all = [...HEP_PARSE_ERRORS, ...SIP_PARSE_ERRORS, ...SYSLOG_PARSE_ERRORS].map(Number);
    expect(all.sort((a, b) => a - b)).toEqual(PARSE_ERROR_INFO.slice(1).map((_, i) => i + 1));
    for (const [source, ids] of [
      ['hep', HEP_PARSE_ERRORS],
      ['sip', SIP_PARSE_ERRORS],
      ['syslog', SYSLOG_PARSE_ERRORS],
    ] as const) {
      expect(ids.length, source).toBeGreaterThan(1);
      for (const id of ids) {
        expect(PARSE_ERROR_INFO[id].source).toBe(source);
        expect(PARSE_ERROR_INFO[id].label.startsWith(`${source}_`), PARSE_ERROR_INFO[id].label).toBe(true);
        expect(PARSE_ERROR_INFO[id].code).toBe(`SRE_ERR_${PARSE_ERROR_INFO[id].label.toUpperCase()}`);
      }
    }
  });

  it("count only into their own listener's table: another source's id does not type and has no cell", async () => {
    const registry = new Registry();
    const self = new SelfMetrics(registry);
    const syslog = new ParseErrorCells<SyslogParseError>(self, 'syslog', SYSLOG_PARSE_ERRORS);
    const hep = new ParseErrorCells<HepListenerError>(self, 'hep', [
      ...HEP_PARSE_ERRORS,
      ...SIP_PARSE_ERRORS,
    ]);
    syslog.count(ParseError.SYSLOG_MALFORMED);
    hep.count(ParseError.HEP_BAD_MAGIC);
    hep.count(ParseError.SIP_BAD_START_LINE);
    // @ts-expect-error a HEP id cannot index the syslog table (tsc checks this line)
    expect(() => syslog.count(ParseError.HEP_TOO_SHORT)).toThrow(TypeError);
    // @ts-expect-error nor a SIP scanner id: syslog's sip-message extractor treats those as no match
    expect(() => syslog.count(ParseError.SIP_BAD_START_LINE)).toThrow(TypeError);
    // @ts-expect-error nor a syslog id the HEP table
    expect(() => hep.count(ParseError.SYSLOG_MALFORMED)).toThrow(TypeError);
    // @ts-expect-error nor a capture drop: its ids are another numbering, so the same number is
    // another reason in each table, and only the type keeps them apart
    const crossed: Parameters<typeof hep.count>[0] = CaptureDrop.CAPTURE_NOT_IP;
    expect(PARSE_ERROR_INFO[crossed].label).not.toBe(CAPTURE_DROP_INFO[crossed].label);
    const text = await registry.getSingleMetricAsString('sip_exporter_parse_errors_total');
    expect(text).toContain('sip_exporter_parse_errors_total{listener="syslog",reason="syslog_malformed"} 1');
    expect(text).toContain('sip_exporter_parse_errors_total{listener="hep",reason="hep_bad_magic"} 1');
    expect(text).toContain('sip_exporter_parse_errors_total{listener="hep",reason="sip_bad_start_line"} 1');
    expect(text).not.toContain('listener="syslog",reason="hep_');
    expect(text).not.toContain('listener="hep",reason="syslog_');
  });
});
