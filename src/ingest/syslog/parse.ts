import glossy from 'glossy';

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

/**
 * Parses an RFC 5424 or RFC 3164 message. glossy reads the headers; where it falls short this
 * finishes the job: it splits the 3164 TAG and PID off the text (glossy leaves them in), reads
 * the RFC 3339 timestamps rsyslog puts in 3164 lines (glossy takes the time for the host), sees a
 * missing 3164 HOSTNAME, rejects a PRI over 191, drops the BOM of 5424 text and undoes rsyslog's
 * #012-style escapes. Returns null for a message that is not syslog.
 */
export function parseSyslog(raw: string): SyslogMessage | null {
  const pri = PRI.exec(raw);
  if (pri === null || Number(pri[1]) > 191) return null;

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
  if (parsed.type === 'RFC5424') {
    let text = parsed.message ?? '';
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { host: nil(parsed.host), app: nil(parsed.appName), text: unescapeRsyslog(text) };
  }
  if (parsed.type !== 'RFC3164' || parsed.host === undefined || parsed.host === null) return null;
  const host = parsed.host;
  const message = parsed.message ?? '';
  if (looksLikeTag(host)) {
    const { app, text } = splitTag(`${host} ${message}`);
    return { host: null, app, text: unescapeRsyslog(text) };
  }
  const { app, text } = splitTag(message);
  return { host: nil(host), app, text: unescapeRsyslog(text) };
}
