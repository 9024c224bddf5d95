import fc from 'fast-check';
import glossy from 'glossy';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../src/errors.js';
import { parseSyslog } from '../../../src/ingest/syslog/parse.js';

/*
 * The oracle: RFC 3164 as the exporter read it with the glossy library, before the header parser
 * was written out by hand (glossy split every message into words and built Date objects for a
 * time nobody reads). Kept verbatim so the two can be held side by side.
 */
const TAG = /^([^\s[\]:]{1,64})(?:\[[^\]\s]{0,32}\])?: ?/;
const RSYSLOG_ESCAPE = /#([0-3][0-7]{2})/g;
const unescapeRsyslog = (text: string) =>
  text.includes('#')
    ? text.replace(RSYSLOG_ESCAPE, (whole, octal: string) => {
        const code = Number.parseInt(octal, 8);
        return code < 32 || code === 127 ? String.fromCharCode(code) : whole;
      })
    : text;
const nil = (v: string | null | undefined) =>
  v === undefined || v === null || v === '' || v === '-' ? null : v;
const looksLikeTag = (token: string) => token.endsWith(':') || token.includes('[');
function splitTag(text: string): { app: string | null; text: string } {
  const match = TAG.exec(text);
  if (match === null) return { app: null, text };
  return { app: match[1], text: text.slice(match[0].length) };
}
function glossy3164(raw: string) {
  const parsed = glossy.Parse.parse(raw);
  if (parsed.type !== 'RFC3164' || parsed.host === undefined || parsed.host === null)
    return ParseError.SYSLOG_MALFORMED;
  const host = parsed.host;
  const message = parsed.message ?? '';
  if (looksLikeTag(host)) {
    const { app, text } = splitTag(`${host} ${message}`);
    return { host: null, app, text: unescapeRsyslog(text) };
  }
  const { app, text } = splitTag(message);
  return { host: nil(host), app, text: unescapeRsyslog(text) };
}

/** Lines that take the RFC 3164 BSD-timestamp path (not RFC 5424, not an RFC 3339 timestamp). */
const isBsdPath = (raw: string) =>
  /^<\d{1,3}>/.test(raw) &&
  Number(/^<(\d{1,3})>/.exec(raw)![1]) <= 191 &&
  !/^<\d{1,3}>[1-9]\d{0,2} /.test(raw) &&
  !/^<\d{1,3}>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d) +/.test(raw);

const word = fc.oneof(
  fc.constantFrom(
    'Nov',
    '25',
    '5',
    '',
    '10:20:30',
    'proxy1',
    'kamailio:',
    'kamailio[55]:',
    'a[b',
    '-',
    '12:',
    '0',
  ),
  fc.string({
    unit: fc.constantFrom('a', '1', ':', '[', ']', '#', '0', '1', '2', '_', '-', '\t'),
    maxLength: 6,
  }),
);
const line = fc
  .tuple(fc.integer({ min: 0, max: 191 }), fc.array(word, { maxLength: 9 }), fc.constantFrom('', ' ', '  '))
  .map(([pri, words, tail]) => `<${pri}>${words.join(' ')}${tail}`);
const realistic = fc
  .tuple(
    fc.constantFrom('Jan', 'Nov', 'Dec'),
    fc.constantFrom(' 5', '25', '5', '  5'),
    fc.constantFrom('10:20:30', '1:2:3'),
    fc.constantFrom('proxy1', '', 'kamailio[55]:', 'kamailio:', 'host.example.com'),
    fc.constantFrom('', 'kamailio: ', '/usr/sbin/kamailio[1234]: ', 'opensips[9]:'),
    fc.string({ maxLength: 30 }),
  )
  .map(([m, d, t, h, tag, text]) => `<13>${m} ${d} ${t} ${h} ${tag}${text}`);

describe('RFC 3164 headers, read by hand', () => {
  it('read exactly what glossy read, for any line on that path', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          line,
          realistic,
          fc.string({ maxLength: 40 }).map((s) => `<13>${s}`),
        ),
        (raw) => {
          fc.pre(isBsdPath(raw));
          // One known difference: glossy put a space after a TAG that ended the line.
          const trim = (r: ReturnType<typeof parseSyslog>) =>
            typeof r === 'number' ? r : { ...r, text: r.text.trimEnd() };
          expect(trim(parseSyslog(raw))).toEqual(trim(glossy3164(raw)));
        },
      ),
      { numRuns: 20_000 },
    );
  });
});
