/**
 * Just enough SIP to find messages in captured bytes: whether a payload starts with a SIP start
 * line, and where a message ends on a stream (RFC 3261 section 18.3: headers up to the blank line,
 * then Content-Length bytes of body). No strings, no regex: these run once per packet.
 */

/** How far to look for the end of a start line; real ones are far shorter. */
const START_LINE_LIMIT = 2048;

const S = 0x53;
const I = 0x49;
const P = 0x50;
const SLASH = 0x2f;
const TWO = 0x32;
const DOT = 0x2e;
const ZERO = 0x30;
const SPACE = 0x20;
const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
const TAB = 0x09;

function isSipVersion(buf: Uint8Array, at: number): boolean {
  return (
    buf[at] === S &&
    buf[at + 1] === I &&
    buf[at + 2] === P &&
    buf[at + 3] === SLASH &&
    buf[at + 4] === TWO &&
    buf[at + 5] === DOT &&
    buf[at + 6] === ZERO
  );
}

export const START_LINE_SIP = 1;
export const START_LINE_NOT_SIP = 0;
/** The bytes so far could begin a SIP start line but end before it does (a stream cut early). */
export const START_LINE_UNDECIDED = -1;

const SIP_VERSION_SPACE = [S, I, P, SLASH, TWO, DOT, ZERO, SPACE];

/**
 * Whether buf[start, end) begins with a SIP status line ("SIP/2.0 ") or a request line
 * ("METHOD uri SIP/2.0" then CRLF), or cannot tell yet because it stops inside the line.
 */
export function startLine(buf: Uint8Array, start: number, end: number): number {
  const n = Math.min(end - start, 8);
  let k = 0;
  while (k < n && buf[start + k] === SIP_VERSION_SPACE[k]) k++;
  if (k === 8) return START_LINE_SIP;
  if (k === n) return START_LINE_UNDECIDED;
  const limit = Math.min(end, start + START_LINE_LIMIT);
  // A request method is an uppercase token (extension methods included) followed by a space.
  let i = start;
  while (i < limit && buf[i] >= 0x41 && buf[i] <= 0x5a) i++;
  if (i === limit)
    return limit === end && end - start < START_LINE_LIMIT ? START_LINE_UNDECIDED : START_LINE_NOT_SIP;
  if (i === start || buf[i] !== SPACE) return START_LINE_NOT_SIP;
  for (; i < limit; i++) {
    if (buf[i] === LF) {
      const lineEnd = buf[i - 1] === CR ? i - 1 : i;
      return lineEnd - 8 > start && buf[lineEnd - 8] === SPACE && isSipVersion(buf, lineEnd - 7)
        ? START_LINE_SIP
        : START_LINE_NOT_SIP;
    }
  }
  return limit === end && end - start < START_LINE_LIMIT ? START_LINE_UNDECIDED : START_LINE_NOT_SIP;
}

/** True when buf[start, end) begins with a whole SIP start line. */
export function looksLikeSip(buf: Uint8Array, start: number, end: number): boolean {
  return startLine(buf, start, end) === START_LINE_SIP;
}

/** Index just after the CRLFCRLF ending the headers of the message at `start`, or -1 if not there yet. */
export function findHeaderEnd(buf: Uint8Array, start: number, end: number): number {
  for (let i = start + 3; i < end; i++) {
    if (buf[i] === LF && buf[i - 1] === CR && buf[i - 2] === LF && buf[i - 3] === CR) return i + 1;
  }
  return -1;
}

/** Content-Length was not given: RFC 3261 makes it mandatory on streams; we read it as 0. */
export const NO_CONTENT_LENGTH = -1;
/** Content-Length is not a number (or an absurd one): the stream cannot be framed. */
export const BAD_CONTENT_LENGTH = -2;

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

const CONTENT_LENGTH = Uint8Array.from('content-length', (c) => c.charCodeAt(0));

/**
 * The Content-Length (or compact "l") header value of the header block buf[start, headerEnd), or
 * NO_CONTENT_LENGTH / BAD_CONTENT_LENGTH.
 */
export function contentLength(buf: Uint8Array, start: number, headerEnd: number): number {
  let i = start;
  // Skip the start line.
  while (i < headerEnd && buf[i] !== LF) i++;
  i++;
  while (i < headerEnd) {
    let nameEnd = -1;
    const c0 = lower(buf[i]);
    if (c0 === 0x6c) {
      let j = i + 1;
      while (j < headerEnd && (buf[j] === SPACE || buf[j] === TAB)) j++;
      if (buf[j] === COLON) nameEnd = j;
    }
    if (nameEnd < 0 && c0 === 0x63 && i + CONTENT_LENGTH.length < headerEnd) {
      let k = 0;
      while (k < CONTENT_LENGTH.length && lower(buf[i + k]) === CONTENT_LENGTH[k]) k++;
      if (k === CONTENT_LENGTH.length) {
        let j = i + k;
        while (j < headerEnd && (buf[j] === SPACE || buf[j] === TAB)) j++;
        if (buf[j] === COLON) nameEnd = j;
      }
    }
    if (nameEnd >= 0) {
      let j = nameEnd + 1;
      while (j < headerEnd && (buf[j] === SPACE || buf[j] === TAB)) j++;
      let value = 0;
      let digits = 0;
      while (j < headerEnd && buf[j] >= 0x30 && buf[j] <= 0x39) {
        value = value * 10 + (buf[j] - 0x30);
        digits++;
        j++;
      }
      while (j < headerEnd && (buf[j] === SPACE || buf[j] === TAB)) j++;
      if (digits === 0 || digits > 9 || (buf[j] !== CR && buf[j] !== LF)) return BAD_CONTENT_LENGTH;
      return value;
    }
    while (i < headerEnd && buf[i] !== LF) i++;
    i++;
  }
  return NO_CONTENT_LENGTH;
}
