import glossy from 'glossy';
import { ParseError, type SyslogParseError } from '../../errors.js';

/** What the extractors need from one syslog message. */
export interface SyslogMessage {
  /** HOSTNAME, or null when the message names none */
  host: string | null;
  /** RFC 5424 APP-NAME or the RFC 3164 TAG, or null */
  app: string | null;
  /** the free text, with rsyslog's control-character escapes undone */
  text: string;
}

const PRI = /^<(\d{1,3})>/;
/** An RFC 3339 timestamp where RFC 3164 has its BSD one, as rsyslog's forward formats write. */
const RFC3339_AFTER_PRI = /^<\d{1,3}>(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)) +/;
/** `TAG[pid]: ` or `TAG: ` at the start of RFC 3164 free text. */
const TAG = /^([^\s[\]:]{1,64})(?:\[[^\]\s]{0,32}\])?: ?/;
/** rsyslog writes control characters as # and three octal digits (#012 for LF). */
const RSYSLOG_ESCAPE = /#([0-3][0-7]{2})/g;

function unescapeRsyslog(text: string): string {
  if (!text.includes('#')) return text;
  return text.replace(RSYSLOG_ESCAPE, (whole, octal: string) => {
    const code = Number.parseInt(octal, 8);
    return code < 32 || code === 127 ? String.fromCharCode(code) : whole;
  });
}

function nil(value: string | null | undefined): string | null {
  return value === undefined || value === null || value === '' || value === '-' ? null : value;
}

/** A 3164 HOSTNAME never holds `[` or ends in `:`; when it does, the sender left it out and it is the TAG. */
function looksLikeTag(token: string): boolean {
  return token.endsWith(':') || token.includes('[');
}

function splitTag(text: string): { app: string | null; text: string } {
  const match = TAG.exec(text);
  if (match === null) return { app: null, text };
  return { app: match[1], text: text.slice(match[0].length) };
}

const SP = 0x20;
const QUOTE = 0x22;
const DASH = 0x2d;
const EQUALS = 0x3d;
const LBRACKET = 0x5b;
const BACKSLASH = 0x5c;
const RBRACKET = 0x5d;

/**
 * RFC 5424 TIMESTAMP (section 6.2.3) followed by its SP. Up to 9 fraction digits where the RFC
 * says 6: some senders write nanoseconds, and the time is not used. Upper-case T and Z only.
 */
const TIMESTAMP_5424 = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d) /y;

/**
 * The end of an RFC 5424 header field at `p`: 1 to `max` PRINTUSASCII, which must be followed by
 * SP (every header field is, STRUCTURED-DATA comes after the last). Returns the index of that SP,
 * or -1.
 */
function headerFieldEnd(raw: string, p: number, max: number): number {
  let i = p;
  const limit = Math.min(raw.length, p + max + 1);
  while (i < limit) {
    const c = raw.charCodeAt(i);
    if (c === SP) return i > p ? i : -1;
    if (c < 33 || c > 126) return -1;
    i++;
  }
  return -1;
}

/** The end of an SD-NAME at `p`: 1*32 PRINTUSASCII except `=`, SP, `]` and `"`. Returns -1 if none. */
function sdNameEnd(raw: string, p: number): number {
  let i = p;
  while (i < raw.length) {
    const c = raw.charCodeAt(i);
    if (c < 33 || c > 126 || c === EQUALS || c === RBRACKET || c === QUOTE) break;
    i++;
  }
  return i === p || i - p > 32 ? -1 : i;
}

/**
 * Skips STRUCTURED-DATA at `p` per RFC 5424 section 6.3: NILVALUE, or SD-ELEMENTs back to back,
 * each `[` SD-ID *(SP PARAM-NAME `="` PARAM-VALUE `"`) `]`. Inside a value a backslash escapes the
 * next character (`\"`, `\\`, `\]`; any other pair stands for itself, which skips the same way),
 * so only an unescaped quote ends it and a `]` there ends nothing. Returns the index after the
 * structured data, or -1 when it breaks the grammar. Nothing is kept: no extractor reads it.
 */
function structuredDataEnd(raw: string, p: number): number {
  if (raw.charCodeAt(p) === DASH) return p + 1;
  if (raw.charCodeAt(p) !== LBRACKET) return -1;
  while (raw.charCodeAt(p) === LBRACKET) {
    p = sdNameEnd(raw, p + 1);
    if (p < 0) return -1;
    while (raw.charCodeAt(p) === SP) {
      p = sdNameEnd(raw, p + 1);
      if (p < 0 || raw.charCodeAt(p) !== EQUALS || raw.charCodeAt(p + 1) !== QUOTE) return -1;
      p += 2;
      for (;;) {
        if (p >= raw.length) return -1;
        const c = raw.charCodeAt(p);
        if (c === QUOTE) break;
        p += c === BACKSLASH ? 2 : 1;
      }
      p++;
    }
    if (raw.charCodeAt(p) !== RBRACKET) return -1;
    p++;
  }
  return p;
}

/**
 * Parses RFC 5424 from `p`, just past `<PRI>VERSION SP`, field by field per section 6. Only the
 * fields the extractors need are kept; the others are checked against the grammar and skipped.
 */
function parse5424(raw: string, p: number): SyslogMessage | SyslogParseError {
  if (raw.charCodeAt(p) === DASH && raw.charCodeAt(p + 1) === SP) p += 2;
  else {
    TIMESTAMP_5424.lastIndex = p;
    if (!TIMESTAMP_5424.test(raw)) return ParseError.SYSLOG_MALFORMED;
    p = TIMESTAMP_5424.lastIndex;
  }
  const hostEnd = headerFieldEnd(raw, p, 255);
  if (hostEnd < 0) return ParseError.SYSLOG_MALFORMED;
  const host = raw.slice(p, hostEnd);
  const appEnd = headerFieldEnd(raw, hostEnd + 1, 48);
  if (appEnd < 0) return ParseError.SYSLOG_MALFORMED;
  const app = raw.slice(hostEnd + 1, appEnd);
  const procIdEnd = headerFieldEnd(raw, appEnd + 1, 128);
  if (procIdEnd < 0) return ParseError.SYSLOG_MALFORMED;
  const msgIdEnd = headerFieldEnd(raw, procIdEnd + 1, 32);
  if (msgIdEnd < 0) return ParseError.SYSLOG_MALFORMED;
  const sdEnd = structuredDataEnd(raw, msgIdEnd + 1);
  if (sdEnd < 0) return ParseError.SYSLOG_BAD_STRUCTURED_DATA;
  let text = '';
  if (sdEnd < raw.length) {
    // MSG is whatever follows one SP, `[` and `]` included; anything else glued to the SD is not SD.
    if (raw.charCodeAt(sdEnd) !== SP) return ParseError.SYSLOG_BAD_STRUCTURED_DATA;
    text = raw.slice(raw.charCodeAt(sdEnd + 1) === 0xfeff ? sdEnd + 2 : sdEnd + 1);
  }
  return { host: nil(host), app: nil(app), text: unescapeRsyslog(text) };
}

/** `<PRI>` then NONZERO-DIGIT 0*2DIGIT SP: RFC 5424. Returns the index after that SP, or -1. */
function versionEnd(raw: string, p: number): number {
  const first = raw.charCodeAt(p);
  if (first < 0x31 || first > 0x39) return -1;
  for (let i = p + 1; i < p + 4; i++) {
    const c = raw.charCodeAt(i);
    if (c === SP) return i + 1;
    if (c < 0x30 || c > 0x39) return -1;
  }
  return -1;
}

/**
 * Parses an RFC 5424 or RFC 3164 message. RFC 5424 is read here, per the RFC's grammar, so that
 * structured data ends where the grammar says (not at the last word ending in `]`) and no header
 * can make a parser throw. For RFC 3164 glossy reads the header and this finishes the job: it
 * splits the TAG and PID off the text (glossy leaves them in), reads the RFC 3339 timestamps
 * rsyslog puts in 3164 lines (glossy takes the time for the host), sees a missing HOSTNAME and
 * rejects a PRI over 191. The text of either loses rsyslog's #012-style escapes. Returns the
 * message, or the ParseError id saying why it is not one.
 */
export function parseSyslog(raw: string): SyslogMessage | SyslogParseError {
  const pri = PRI.exec(raw);
  if (pri === null || Number(pri[1]) > 191) return ParseError.SYSLOG_MALFORMED;

  const version = versionEnd(raw, pri[0].length);
  if (version >= 0) return parse5424(raw, version);

  const rfc3339 = RFC3339_AFTER_PRI.exec(raw);
  if (rfc3339 !== null) {
    const rest = raw.slice(rfc3339[0].length);
    const space = rest.indexOf(' ');
    const first = space < 0 ? rest : rest.slice(0, space);
    if (looksLikeTag(first)) {
      const { app, text } = splitTag(rest);
      return { host: null, app, text: unescapeRsyslog(text) };
    }
    const { app, text } = splitTag(space < 0 ? '' : rest.slice(space + 1));
    return { host: nil(first), app, text: unescapeRsyslog(text) };
  }

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
