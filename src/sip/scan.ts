import { OK, type Ok, ParseError, type SipParseError } from '../errors.js';
import { METHOD_LABELS, METHOD_UNKNOWN, methodIndex } from './methods.js';

const METHOD_BYE = METHOD_LABELS.indexOf('BYE');
const METHOD_CANCEL = METHOD_LABELS.indexOf('CANCEL');
const METHOD_INVITE = METHOD_LABELS.indexOf('INVITE');
const METHOD_REGISTER = METHOD_LABELS.indexOf('REGISTER');

export const SIP_REQUEST = 1;
export const SIP_RESPONSE = 2;

/**
 * Optional fields, read only when asked for: walking a From or Via value costs about as much as
 * the rest of the scan, so the hot path reads them only for a measurement that needs them.
 * Start line, CSeq, Call-ID and To tag are always read.
 */
export const SCAN_FROM_TAG = 1;
export const SCAN_VIA_BRANCH = 2;
export const SCAN_ALL = SCAN_FROM_TAG | SCAN_VIA_BRANCH;
/**
 * The first Reason header's protocol and cause, read only from a BYE or a 3xx-6xx final to an
 * INVITE (the only messages whose Reason the call KPIs report: a 2xx answers, it releases
 * nothing), so other messages, 2xx above all, still stop scanning as soon as the rest is found:
 * a Reason can stand anywhere, so looking for it means walking every header line.
 */
export const SCAN_REASON = 4;
/** Whether an Expires header says 0, read only from a REGISTER (a de-registration). */
export const SCAN_EXPIRES = 8;
/**
 * Narrows From tag and Via branch to the messages the call-state engine reads (kpi/observer):
 * initial INVITEs, REGISTERs and their responses but 100, CANCELs (which end per-peer legs), and
 * in-dialog BYEs (From tag only).
 * With KPIs on, the rest of a call (100, ACK, re-INVITE, responses to BYE, OPTIONS) would
 * otherwise pay a second walk over its headers for fields nobody reads.
 */
export const SCAN_KPI_MESSAGES = 16;
/**
 * Leaves finding and reading the optional fields asked for to readDeferredFields, for a consumer
 * that learns only later whether it needs them: the call KPIs
 * need a response's From tag and Via branch only when its Call-ID belongs to an attempt they
 * follow, and a replayed capture, or a tap on a busy trunk, is mostly other calls' responses.
 */
export const SCAN_DEFER = 32;
/** Every optional field the scanner can read (without the narrowing and deferring bits). */
export const SCAN_OPTIONAL = SCAN_ALL | SCAN_REASON | SCAN_EXPIRES;
/** Every field the call-state engine reads, from the messages it reads them from. */
export const SCAN_KPI = SCAN_ALL | SCAN_REASON | SCAN_EXPIRES | SCAN_KPI_MESSAGES;
/** Reason protocols as SipMessageScan.reasonProtocol gives them (the same values as kpi/types REASON_*). */
export const SCAN_REASON_NONE = 0;
export const SCAN_REASON_Q850 = 1;
export const SCAN_REASON_SIP = 2;
/** A cause with more digits than this is no valid cause; it reads as -1. */
const MAX_CAUSE_DIGITS = 4;
/**
 * Header lines a scan records for the optional fields (SipMessageScan.lines): more than the
 * walk goes through before it has Call-ID, CSeq and To in all but unusual messages, whose later
 * lines are then walked again when a field is looked for.
 */
const MAX_RECORDED_LINES = 32;

/**
 * What the scanner found in one SIP message. Offsets point into the scanned buffer, so nothing
 * is copied; one instance is reused for every message.
 */
export class SipMessageScan {
  kind = 0;
  statusCode = 0;
  /** the request method for a request, else METHOD_UNKNOWN */
  requestMethod = METHOD_UNKNOWN;
  /** the method named in CSeq, else METHOD_UNKNOWN */
  cseqMethod = METHOD_UNKNOWN;
  /** -1 when there is no readable CSeq number */
  cseqNumber = -1;
  callIdStart = -1;
  callIdEnd = -1;
  toTagStart = -1;
  toTagEnd = -1;
  fromTagStart = -1;
  fromTagEnd = -1;
  /** the `branch` parameter of the first value of the first Via header */
  viaBranchStart = -1;
  viaBranchEnd = -1;
  /** SCAN_REASON_*: the protocol of the first Reason header, when SCAN_REASON asked for it */
  reasonProtocol = SCAN_REASON_NONE;
  /** its `cause` parameter; -1 when absent or not a number */
  reasonCause = -1;
  /** an Expires header with the value 0, when SCAN_EXPIRES asked for it */
  expiresZero = false;
  /**
   * With SCAN_DEFER, the optional fields (SCAN_* bits) this message may want and that are not
   * read yet; readDeferredFields looks for them (locateField) and reads them. Below, where each
   * value stands once located (start, and the end of its line).
   */
  deferred = 0;
  /** Of the optional fields, those whose place (below) is known, by SCAN_* bit. */
  located = 0;
  viaAt = 0;
  viaStop = 0;
  fromAt = 0;
  fromStop = 0;
  reasonAt = 0;
  reasonStop = 0;
  expiresAt = 0;
  expiresStop = 0;
  /**
   * With optional fields asked for, the header lines the walk went through as [start, stop)
   * pairs (stop at the line's LF, folded lines included), at most MAX_RECORDED_LINES, in order:
   * an optional field is looked for there once it is wanted, and the walk itself pays one store
   * a line for it.
   */
  readonly lines = new Int32Array(MAX_RECORDED_LINES * 2);
  lineCount = 0;
  /** Where the search for an optional field goes on past the recorded lines: the first line not recorded. */
  resumeAt = 0;
  /** The message's end and last LF (lastLineFeed), for that search. */
  end = 0;
  lastLf = -1;

  reset(): void {
    this.kind = 0;
    this.statusCode = 0;
    this.requestMethod = METHOD_UNKNOWN;
    this.cseqMethod = METHOD_UNKNOWN;
    this.cseqNumber = -1;
    this.callIdStart = -1;
    this.callIdEnd = -1;
    this.toTagStart = -1;
    this.toTagEnd = -1;
    this.fromTagStart = -1;
    this.fromTagEnd = -1;
    this.viaBranchStart = -1;
    this.viaBranchEnd = -1;
    this.reasonProtocol = SCAN_REASON_NONE;
    this.reasonCause = -1;
    this.expiresZero = false;
    this.deferred = 0;
    this.located = 0;
    this.lineCount = 0;
  }

  /** The method a response answers is the one in its CSeq; a request names its own. */
  get method(): number {
    return this.kind === SIP_REQUEST && this.requestMethod !== METHOD_UNKNOWN
      ? this.requestMethod
      : this.cseqMethod;
  }
}

const CR = 13;
const LF = 10;
const SP = 32;
const HT = 9;
const COLON = 58;
const SEMI = 59;
const EQUALS = 61;
const LT = 60;
const GT = 62;
const DASH = 45;
const COMMA = 44;
const QUOTE = 34;
const BACKSLASH = 92;

function isDigit(b: number): boolean {
  return b >= 48 && b <= 57;
}

function isWhite(b: number): boolean {
  return b === SP || b === HT;
}

/** RFC 3261 `token` characters (alphanumerics and -.!%*_+`'~), which is what a method is made of. */
const TOKEN_CHARS = new Uint8Array(256);
for (const c of "-.!%*_+`'~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TOKEN_CHARS[c.charCodeAt(0)] = 1;

/** One table load: a method is read from every message, a chain of range compares cost more. */
function isTokenChar(b: number): boolean {
  return TOKEN_CHARS[b] === 1;
}

/**
 * Index of the LF ending the line at pos, or end when the message ends first. Buffer#indexOf
 * is memchr: skipping a 100-byte Via line costs one call instead of a hundred byte compares.
 * But it has no end: past the message it would read on through the rest of the buffer, which for
 * a batched UDP read is 16 MiB of other datagrams' slots, and a message crafted without an LF
 * would cost a scan of all that. So it is called only for a line that an LF ends inside the
 * message: `lastLf` is the message's last LF (lastLineFeed), -1 when it has none.
 */
function lineEnd(buf: Buffer, pos: number, end: number, lastLf: number): number {
  return pos > lastLf ? end : buf.indexOf(LF, pos);
}

/**
 * Where the header that starts at `pos` ends (its last line's LF, or `end`): a header may be
 * folded onto following lines that start with white space. The one rule for both walks over the
 * header lines, the scan's and locateField's.
 */
function headerEnd(buf: Buffer, pos: number, end: number, lastLf: number): number {
  let stop = lineEnd(buf, pos, end, lastLf);
  while (stop + 1 < end && isWhite(buf[stop + 1])) stop = lineEnd(buf, stop + 1, end, lastLf);
  return stop;
}

/**
 * The last LF in buf[start, end), or -1: walked back from the end in JS, which for a message that
 * ends with CRLF, as SIP messages do, is one compare.
 */
function lastLineFeed(buf: Uint8Array, start: number, end: number): number {
  let i = end - 1;
  while (i >= start && buf[i] !== LF) i--;
  return i;
}

/** End of the line's content: before a trailing CR and white space. */
function trimEnd(buf: Uint8Array, start: number, stop: number): number {
  while (stop > start && (buf[stop - 1] === CR || isWhite(buf[stop - 1]))) stop--;
  return stop;
}

function matchesSipVersion(buf: Uint8Array, p: number): boolean {
  // "SIP/2.0", case-insensitive as ABNF literals are.
  return (
    (buf[p] | 0x20) === 115 &&
    (buf[p + 1] | 0x20) === 105 &&
    (buf[p + 2] | 0x20) === 112 &&
    buf[p + 3] === 47 &&
    buf[p + 4] === 50 &&
    buf[p + 5] === 46 &&
    buf[p + 6] === 48
  );
}

const HEADER_OTHER = 0;
const HEADER_CALL_ID = 1;
const HEADER_CSEQ = 2;
const HEADER_TO = 3;

/** Which of the headers we read the name buf[start, stop) is; names are case-insensitive. */
function headerKind(buf: Uint8Array, start: number, stop: number): number {
  const length = stop - start;
  const first = buf[start] | 0x20;
  if (length === 1) {
    if (first === 105) return HEADER_CALL_ID; // i
    if (first === 116) return HEADER_TO; // t
    return HEADER_OTHER;
  }
  if (length === 2) return first === 116 && (buf[start + 1] | 0x20) === 111 ? HEADER_TO : HEADER_OTHER;
  if (first !== 99) return HEADER_OTHER; // c
  if (length === 4) {
    return (buf[start + 1] | 0x20) === 115 &&
      (buf[start + 2] | 0x20) === 101 &&
      (buf[start + 3] | 0x20) === 113
      ? HEADER_CSEQ
      : HEADER_OTHER;
  }
  if (length === 7) {
    return (buf[start + 1] | 0x20) === 97 &&
      (buf[start + 2] | 0x20) === 108 &&
      (buf[start + 3] | 0x20) === 108 &&
      buf[start + 4] === DASH &&
      (buf[start + 5] | 0x20) === 105 &&
      (buf[start + 6] | 0x20) === 100
      ? HEADER_CALL_ID
      : HEADER_OTHER;
  }
  return HEADER_OTHER;
}

function readCSeq(buf: Uint8Array, p: number, stop: number, out: SipMessageScan): void {
  let n = 0;
  let digits = 0;
  while (p < stop && isDigit(buf[p])) {
    // Past 10 digits it is no valid CSeq (max 2**31 - 1); keep scanning but stop growing.
    if (digits < 10) n = n * 10 + (buf[p] - 48);
    digits++;
    p++;
  }
  if (digits === 0 || digits > 10) return;
  out.cseqNumber = n;
  p = skip(buf, p, stop, C_WHITE | C_LINE);
  const methodStart = p;
  while (p < stop && isTokenChar(buf[p])) p++;
  out.cseqMethod = methodIndex(buf, methodStart, p);
}

// Byte classes for the parameter scans below: one table load per byte instead of a chain of
// compares, which halves the cost of walking a From or Via value.
const C_WHITE = 1; // SP, HT
const C_LINE = 2; // CR, LF (inside a folded value)
const C_SEMI = 4;
const C_COMMA = 8;
const C_QUOTE = 16;
const C_LT = 32;
const C_GT = 64;
const C_BACKSLASH = 128;
const BYTE_CLASS = new Uint8Array(256);
BYTE_CLASS[SP] = C_WHITE;
BYTE_CLASS[HT] = C_WHITE;
BYTE_CLASS[CR] = C_LINE;
BYTE_CLASS[LF] = C_LINE;
BYTE_CLASS[SEMI] = C_SEMI;
BYTE_CLASS[COMMA] = C_COMMA;
BYTE_CLASS[QUOTE] = C_QUOTE;
BYTE_CLASS[LT] = C_LT;
BYTE_CLASS[GT] = C_GT;
BYTE_CLASS[BACKSLASH] = C_BACKSLASH;

/** Skips bytes of the given classes; returns the first other position, or stop. */
function skip(buf: Uint8Array, p: number, stop: number, classes: number): number {
  while (p < stop && (BYTE_CLASS[buf[p]] & classes) !== 0) p++;
  return p;
}

/** Skips bytes not of the given classes; returns the first position of one of them, or stop. */
function skipUntil(buf: Uint8Array, p: number, stop: number, classes: number): number {
  while (p < stop && (BYTE_CLASS[buf[p]] & classes) === 0) p++;
  return p;
}

/**
 * Finds the `tag` header parameter of a To value. A `;tag=` inside <...> belongs to the URI, and
 * one inside a quoted string (a display name, a parameter value) to that string: quoted strings
 * are skipped whole, as readViaBranch does. Buffer#indexOf has no end, and a value without `>`
 * would send it through the rest of the buffer (see lineEnd): it is called only where a `>` is
 * known to stop it (readTagBackward); the forward walk to the closing `>` stays a JS loop.
 * Exported for its property test; the scanner is the API.
 */
export function readToTag(buf: Uint8Array, p: number, stop: number, out: SipMessageScan): void {
  if (!readTagBackward(buf, p, stop, out)) readTagForwards(buf, p, stop, out);
}

/**
 * readToTag's reader for any value, walking it from the start: the reference readTagBackward
 * must agree with (exported for that property test).
 */
export function readTagForwards(buf: Uint8Array, p: number, stop: number, out: SipMessageScan): void {
  let q = skipUntil(buf, p, stop, C_LT | C_SEMI | C_QUOTE);
  while (q < stop && buf[q] === QUOTE)
    q = skipUntil(buf, skipQuoted(buf, q, stop), stop, C_LT | C_SEMI | C_QUOTE);
  if (q < stop && buf[q] === LT) p = skipUntil(buf, q + 1, stop, C_GT);
  else p = q;
  for (;;) {
    p = skipUntil(buf, p, stop, C_SEMI | C_QUOTE);
    if (p >= stop) return;
    if (buf[p] === QUOTE) {
      p = skipQuoted(buf, p, stop);
      continue;
    }
    p = skip(buf, p + 1, stop, C_WHITE);
    if (
      p + 3 <= stop &&
      (buf[p] | 0x20) === 116 &&
      (buf[p + 1] | 0x20) === 97 &&
      (buf[p + 2] | 0x20) === 103
    ) {
      let v = skip(buf, p + 3, stop, C_WHITE);
      if (v < stop && buf[v] === EQUALS) {
        v = skip(buf, v + 1, stop, C_WHITE);
        const tagStart = v;
        v = skipUntil(buf, v, stop, C_SEMI | C_LINE | C_WHITE);
        if (v > tagStart) {
          out.toTagStart = tagStart;
          out.toTagEnd = v;
        }
        return;
      }
    }
  }
}

/** Bytes that make readTagBackward leave a value to readToTag's forward walk. */
const C_NOT_PLAIN = C_WHITE | C_LINE | C_QUOTE | C_LT;

/**
 * readToTag's answer for a value of the usual shape, `[display name] <uri>;param;tag=x`, found
 * from the end: it walks back over the parameters only, and one memchr confirms that the first
 * `>` after the `<` is the one the walk stopped at (the `>` there bounds that memchr). Walking the
 * URI, the longest part of the value, is what this saves. Parameters are `;`-separated segments
 * after that `>`; the first that is `tag=` decides, as forwards: its value (to the next `;`), or
 * no tag when the value is empty. Returns false, having set nothing, for any other value: white
 * space, a line break, a quote or a `<` after the last `>`, no `>`, or a `<` that is not the
 * first delimiter forwards. readToTag then walks it forwards, and a property test holds the two
 * equal on values made to trip this one.
 */
function readTagBackward(buf: Uint8Array, p: number, stop: number, out: SipMessageScan): boolean {
  let tagStart = -1;
  let tagEnd = -1;
  let segmentEnd = stop;
  let q = stop - 1;
  for (; q >= p; q--) {
    const b = buf[q];
    const c = BYTE_CLASS[b];
    if (c === 0) continue;
    if ((c & C_GT) !== 0) break;
    if ((c & C_NOT_PLAIN) !== 0) return false;
    if (b === SEMI) {
      // The segment buf[q + 1, segmentEnd): a `tag=` one further left wins.
      if (
        q + 4 < segmentEnd &&
        buf[q + 4] === EQUALS &&
        (buf[q + 1] | 0x20) === 116 &&
        (buf[q + 2] | 0x20) === 97 &&
        (buf[q + 3] | 0x20) === 103
      ) {
        tagStart = q + 5;
        tagEnd = segmentEnd;
      }
      segmentEnd = q;
    }
  }
  if (q < p) return false;
  // The first `<` forwards, display names skipped as readToTag skips them; memchr from there
  // finds a `>` at q at the latest.
  let lt = skipUntil(buf, p, q, C_LT | C_SEMI | C_QUOTE);
  while (lt < q && buf[lt] === QUOTE) lt = skipUntil(buf, skipQuoted(buf, lt, q), q, C_LT | C_SEMI | C_QUOTE);
  if (lt >= q || buf[lt] !== LT || (buf as Buffer).indexOf(GT, lt + 1) !== q) return false;
  if (tagEnd > tagStart) {
    out.toTagStart = tagStart;
    out.toTagEnd = tagEnd;
  }
  return true;
}

/**
 * Finds the `branch` parameter of the first value of a Via header and sets its range in out. Values are separated by commas; only the first one is read.
 * A quoted parameter value may hold `;` or `,`, so quoted strings are skipped whole.
 */
function readViaBranch(buf: Uint8Array, p: number, stop: number, out: SipMessageScan): void {
  for (;;) {
    p = skipUntil(buf, p, stop, C_SEMI | C_COMMA | C_QUOTE);
    if (p >= stop) return;
    const b = buf[p];
    if (b === COMMA) return;
    if (b === QUOTE) {
      p++;
      for (;;) {
        p = skipUntil(buf, p, stop, C_QUOTE | C_BACKSLASH);
        if (p >= stop) return;
        if (buf[p] === QUOTE) break;
        p += 2;
      }
      p++;
      continue;
    }
    p = skip(buf, p + 1, stop, C_WHITE | C_LINE);
    if (
      p + 6 <= stop &&
      (buf[p] | 0x20) === 98 && // b
      (buf[p + 1] | 0x20) === 114 && // r
      (buf[p + 2] | 0x20) === 97 && // a
      (buf[p + 3] | 0x20) === 110 && // n
      (buf[p + 4] | 0x20) === 99 && // c
      (buf[p + 5] | 0x20) === 104 // h
    ) {
      let v = skip(buf, p + 6, stop, C_WHITE | C_LINE);
      if (v < stop && buf[v] === EQUALS) {
        v = skip(buf, v + 1, stop, C_WHITE | C_LINE);
        const branchStart = v;
        v = skipUntil(buf, v, stop, C_SEMI | C_COMMA | C_WHITE | C_LINE);
        if (v > branchStart) {
          out.viaBranchStart = branchStart;
          out.viaBranchEnd = v;
        }
        return;
      }
    }
  }
}

/** Skips a quoted string starting at buf[p] (a QUOTE); returns the position after it, or stop. */
function skipQuoted(buf: Uint8Array, p: number, stop: number): number {
  p++;
  for (;;) {
    p = skipUntil(buf, p, stop, C_QUOTE | C_BACKSLASH);
    if (p >= stop) return stop;
    if (buf[p] === QUOTE) return p + 1;
    p += 2;
  }
}

/**
 * Reads the protocol and `cause` parameter of the first value of a Reason header (RFC 3326:
 * `Q.850;cause=16;text="..."`). A protocol other than Q.850 and SIP leaves the scan without a
 * reason; a cause that is no number of at most four digits reads as -1, which the engine counts
 * as invalid.
 */
function readReason(buf: Uint8Array, p: number, stop: number, out: SipMessageScan): void {
  const protoStart = p;
  p = skipUntil(buf, p, stop, C_SEMI | C_COMMA | C_WHITE | C_LINE);
  const length = p - protoStart;
  let protocol = SCAN_REASON_NONE;
  if (
    length === 5 &&
    (buf[protoStart] | 0x20) === 113 && // q
    buf[protoStart + 1] === 46 && // .
    buf[protoStart + 2] === 56 && // 8
    buf[protoStart + 3] === 53 && // 5
    buf[protoStart + 4] === 48 // 0
  )
    protocol = SCAN_REASON_Q850;
  else if (
    length === 3 &&
    (buf[protoStart] | 0x20) === 115 && // s
    (buf[protoStart + 1] | 0x20) === 105 && // i
    (buf[protoStart + 2] | 0x20) === 112 // p
  )
    protocol = SCAN_REASON_SIP;
  if (protocol === SCAN_REASON_NONE) return;
  out.reasonProtocol = protocol;
  for (;;) {
    p = skipUntil(buf, p, stop, C_SEMI | C_COMMA | C_QUOTE);
    if (p >= stop || buf[p] === COMMA) return;
    if (buf[p] === QUOTE) {
      p = skipQuoted(buf, p, stop);
      continue;
    }
    p = skip(buf, p + 1, stop, C_WHITE | C_LINE);
    if (
      p + 5 <= stop &&
      (buf[p] | 0x20) === 99 && // c
      (buf[p + 1] | 0x20) === 97 && // a
      (buf[p + 2] | 0x20) === 117 && // u
      (buf[p + 3] | 0x20) === 115 && // s
      (buf[p + 4] | 0x20) === 101 // e
    ) {
      let v = skip(buf, p + 5, stop, C_WHITE | C_LINE);
      if (v >= stop || buf[v] !== EQUALS) continue;
      v = skip(buf, v + 1, stop, C_WHITE | C_LINE);
      let n = 0;
      let digits = 0;
      for (; v < stop && isDigit(buf[v]); v++, digits++)
        if (digits < MAX_CAUSE_DIGITS) n = n * 10 + (buf[v] - 48);
      const after = skip(buf, v, stop, C_WHITE | C_LINE);
      const ends = after >= stop || buf[after] === SEMI || buf[after] === COMMA;
      out.reasonCause = digits > 0 && digits <= MAX_CAUSE_DIGITS && ends ? n : -1;
      return;
    }
  }
}

/** Sets expiresZero when an Expires value is a number equal to 0 (`0`, `00`, with white space). */
function readExpires(buf: Uint8Array, p: number, stop: number, out: SipMessageScan): void {
  let q = p;
  while (q < stop && buf[q] === 48) q++;
  out.expiresZero = q > p && skip(buf, q, stop, C_WHITE | C_LINE) >= stop;
}

const fromScratch = new SipMessageScan();

/**
 * Which optional fields the call KPIs can want, from the start line alone: a response's method
 * and a request's To tag are not known yet.
 */
function kpiFieldsFromStart(out: SipMessageScan): number {
  if (out.kind === SIP_RESPONSE) return out.statusCode === 100 ? 0 : ~0;
  const method = out.requestMethod;
  if (method === METHOD_REGISTER || method === METHOD_INVITE || method === METHOD_CANCEL) return ~0;
  // A request whose method is unknown is read by its CSeq method, known only later.
  if (method === METHOD_UNKNOWN) return ~0;
  return method === METHOD_BYE ? ~SCAN_VIA_BRANCH : 0;
}

/**
 * Which optional fields a response can want once its CSeq method is known: Reason only from a
 * 3xx-6xx final to an INVITE, and with the KPI narrowing nothing from a response to other than
 * INVITE or REGISTER.
 */
function responseFields(out: SipMessageScan, optional: number): number {
  const method = out.cseqMethod;
  if ((optional & SCAN_KPI_MESSAGES) !== 0 && method !== METHOD_INVITE && method !== METHOD_REGISTER)
    return 0;
  return out.statusCode >= 300 && method === METHOD_INVITE ? ~SCAN_EXPIRES : ~(SCAN_EXPIRES | SCAN_REASON);
}

/** Which optional fields the call-state engine reads from this message (see SCAN_KPI_MESSAGES). */
function kpiFields(out: SipMessageScan): number {
  const method = out.method;
  if (out.kind === SIP_RESPONSE)
    return (method === METHOD_INVITE || method === METHOD_REGISTER) && out.statusCode !== 100 ? ~0 : 0;
  if (method === METHOD_REGISTER || method === METHOD_CANCEL) return ~0;
  if (method === METHOD_INVITE) return out.toTagEnd > out.toTagStart ? 0 : ~0;
  // An in-dialog BYE is matched to its dialog by Call-ID and tags; its Via branch is never read.
  if (method === METHOD_BYE && out.toTagEnd > out.toTagStart) return ~SCAN_VIA_BRANCH;
  return 0;
}

/**
 * Which optional header (SCAN_FROM_TAG, SCAN_VIA_BRANCH, SCAN_REASON, SCAN_EXPIRES) the name
 * buf[p, nameStop) is; 0 for any other. Only names starting with f, v, r or e can be one.
 */
function optionalField(buf: Uint8Array, p: number, nameStop: number): number {
  const length = nameStop - p;
  const first = buf[p] | 0x20;
  if (first === 102) {
    // f, From
    return length === 1 ||
      (length === 4 &&
        (buf[p + 1] | 0x20) === 114 &&
        (buf[p + 2] | 0x20) === 111 &&
        (buf[p + 3] | 0x20) === 109)
      ? SCAN_FROM_TAG
      : 0;
  }
  if (first === 118) {
    // v, Via
    return length === 1 || (length === 3 && (buf[p + 1] | 0x20) === 105 && (buf[p + 2] | 0x20) === 97)
      ? SCAN_VIA_BRANCH
      : 0;
  }
  if (first === 114) {
    // Reason (no compact form; `r` is Refer-To)
    return length === 6 &&
      (buf[p + 1] | 0x20) === 101 &&
      (buf[p + 2] | 0x20) === 97 &&
      (buf[p + 3] | 0x20) === 115 &&
      (buf[p + 4] | 0x20) === 111 &&
      (buf[p + 5] | 0x20) === 110
      ? SCAN_REASON
      : 0;
  }
  if (first === 101) {
    // Expires (no compact form; `e` is Content-Encoding)
    return length === 7 &&
      (buf[p + 1] | 0x20) === 120 &&
      (buf[p + 2] | 0x20) === 112 &&
      (buf[p + 3] | 0x20) === 105 &&
      (buf[p + 4] | 0x20) === 114 &&
      (buf[p + 5] | 0x20) === 101 &&
      (buf[p + 6] | 0x20) === 115
      ? SCAN_EXPIRES
      : 0;
  }
  return 0;
}

/**
 * The optional field a header line can be by its first letter, lower-cased (v Via, f From,
 * r Reason, e Expires): a line whose field is not (or no longer) looked for costs one load.
 */
const FIELD_BY_LETTER = new Uint8Array(256);
FIELD_BY_LETTER[118] = SCAN_VIA_BRANCH;
FIELD_BY_LETTER[102] = SCAN_FROM_TAG;
FIELD_BY_LETTER[114] = SCAN_REASON;
FIELD_BY_LETTER[101] = SCAN_EXPIRES;

/** Each optional field's header name, lower case, by its SCAN_* bit. */
const FIELD_NAMES: Uint8Array[] = [];
FIELD_NAMES[SCAN_VIA_BRANCH] = Buffer.from('via');
FIELD_NAMES[SCAN_FROM_TAG] = Buffer.from('from');
FIELD_NAMES[SCAN_REASON] = Buffer.from('reason');
FIELD_NAMES[SCAN_EXPIRES] = Buffer.from('expires');
const NOT_QUICK = -2;

/**
 * Where the value of the header line at buf[p] starts when its name is spelled the usual way,
 * `Via:`, `From:`, `Reason:`, `Expires:` (any case) or compact `v:`/`f:`, immediately followed by
 * the colon; NOT_QUICK for any other line (white space before the colon, another name with the
 * same first letter), which nameEnd, optionalField and valueStart then read. `field` is what the
 * first letter makes the line's candidate (FIELD_BY_LETTER).
 */
function quickValueStart(buf: Uint8Array, p: number, stop: number, field: number): number {
  let v: number;
  if (p + 1 < stop && buf[p + 1] === COLON && (field === SCAN_VIA_BRANCH || field === SCAN_FROM_TAG))
    v = p + 2;
  else {
    const name = FIELD_NAMES[field];
    const length = name.length;
    if (p + length >= stop || buf[p + length] !== COLON) return NOT_QUICK;
    for (let i = 1; i < length; i++) if ((buf[p + i] | 0x20) !== name[i]) return NOT_QUICK;
    v = p + length + 1;
  }
  while (v < stop && isWhite(buf[v])) v++;
  return v;
}

/** Where a header name starting at buf[p] ends: at the colon or white space, or at stop. */
function nameEnd(buf: Uint8Array, p: number, stop: number): number {
  let q = p + 1;
  while (q < stop && buf[q] !== COLON && !isWhite(buf[q])) q++;
  return q;
}

/**
 * Where the value of a header line whose name ends at buf[nameStop] starts, past the colon; -1
 * without a colon.
 */
function valueStart(buf: Uint8Array, nameStop: number, stop: number): number {
  let v = nameStop;
  while (v < stop && isWhite(buf[v])) v++;
  if (v >= stop || buf[v] !== COLON) return -1;
  v++;
  while (v < stop && isWhite(buf[v])) v++;
  return v;
}

/**
 * Reads a From tag as a To tag is read, into a scratch scan of the same shape: the To reader stays
 * exactly the one the hot path has always run, and its stores see one class only.
 */
function readFromTag(buf: Buffer, v: number, stop: number, out: SipMessageScan): void {
  fromScratch.toTagStart = -1;
  fromScratch.toTagEnd = -1;
  readToTag(buf, v, stop, fromScratch);
  out.fromTagStart = fromScratch.toTagStart;
  out.fromTagEnd = fromScratch.toTagEnd;
}

/**
 * Reads the start line and the CSeq, Call-ID and To headers of the SIP message in buf[start, end),
 * and the From and top Via headers as `optional` (SCAN_* bits) asks, without making a string.
 * Returns OK or a ParseError id. The walk stops at the first empty line (the body is never read)
 * or as soon as CSeq, Call-ID and To are found; an optional header is then looked for in the lines
 * it went through and, past them, to the end of the headers (locateField), now or, with
 * SCAN_DEFER, once it is read. Of each header only the first occurrence counts.
 */
export function scanSipMessage(
  buf: Buffer,
  start: number,
  end: number,
  out: SipMessageScan,
  optional = SCAN_ALL,
): SipParseError | Ok {
  out.reset();
  let p = start;
  // Keep-alive CRLFs may precede a message on a stream.
  while (p < end && (buf[p] === CR || buf[p] === LF)) p++;
  const lastLf = lastLineFeed(buf, p, end);
  const firstLineEnd = lineEnd(buf, p, end, lastLf);
  const firstLineStop = trimEnd(buf, p, firstLineEnd);

  if (firstLineStop - p >= 11 && matchesSipVersion(buf, p) && isWhite(buf[p + 7])) {
    let q = p + 8;
    while (q < firstLineStop && isWhite(buf[q])) q++;
    const codeStart = q;
    while (q < firstLineStop && isDigit(buf[q])) q++;
    if (q - codeStart !== 3 || (q < firstLineStop && !isWhite(buf[q]))) return ParseError.SIP_BAD_STATUS_CODE;
    const code = (buf[codeStart] - 48) * 100 + (buf[codeStart + 1] - 48) * 10 + (buf[codeStart + 2] - 48);
    if (code < 100 || code > 699) return ParseError.SIP_BAD_STATUS_CODE;
    out.kind = SIP_RESPONSE;
    out.statusCode = code;
  } else {
    let q = p;
    while (q < firstLineStop && isTokenChar(buf[q])) q++;
    if (q === p || q >= firstLineStop || !isWhite(buf[q])) return ParseError.SIP_BAD_START_LINE;
    if (
      firstLineStop - q < 10 ||
      !matchesSipVersion(buf, firstLineStop - 7) ||
      !isWhite(buf[firstLineStop - 8])
    ) {
      return ParseError.SIP_BAD_START_LINE;
    }
    out.kind = SIP_REQUEST;
    out.requestMethod = methodIndex(buf, p, q);
  }

  const headersStart = firstLineEnd + 1;
  let found = 0;
  // The optional fields this message can want, by its start line. The walk does not look for
  // them: it records the lines it goes through, and a field is looked for there (then on past
  // them) once it is wanted (locateField). So the walk stops, as it does without optional fields,
  // once it has Call-ID, CSeq and To, and what it costs for them is a store a line; a message
  // found not to need a field (a response to a BYE, a copy the call KPIs leave out, a 180's From)
  // costs no search for it. Reason and Expires can only be wanted from the messages chosen here.
  let want = optional & SCAN_OPTIONAL;
  if ((optional & SCAN_KPI_MESSAGES) !== 0) want &= kpiFieldsFromStart(out);
  if (out.kind === SIP_RESPONSE) {
    want &= ~SCAN_EXPIRES;
    if (out.statusCode < 300) want &= ~SCAN_REASON;
  } else {
    if (out.requestMethod !== METHOD_BYE) want &= ~SCAN_REASON;
    if (out.requestMethod !== METHOD_REGISTER) want &= ~SCAN_EXPIRES;
  }
  const lines = out.lines;
  // Twice the lines recorded while recording, else -1 (nothing wanted, or every slot taken).
  let recorded = want !== 0 ? 0 : -1;
  let unrecorded = -1;
  p = headersStart;
  while (p < end && found !== 7) {
    const first = buf[p];
    if (first === CR || first === LF) break; // empty line: the body follows
    const stop = headerEnd(buf, p, end, lastLf);
    if (recorded >= 0) {
      if (recorded < lines.length) {
        lines[recorded] = p;
        lines[recorded + 1] = stop;
        recorded += 2;
      } else {
        unrecorded = p;
        recorded = -1;
      }
    }
    // Only Call-ID/i, CSeq and To/t matter; most lines (Via, From, Route...) end here.
    const lower = first | 0x20;
    if (lower === 99 || lower === 105 || lower === 116) {
      const nameStop = nameEnd(buf, p, stop);
      const kind = headerKind(buf, p, nameStop);
      if (kind !== HEADER_OTHER) {
        let v = nameStop;
        while (v < stop && isWhite(buf[v])) v++;
        if (v < stop && buf[v] === COLON) {
          v++;
          while (v < stop && isWhite(buf[v])) v++;
          const valueStop = trimEnd(buf, v, stop);
          if (kind === HEADER_CSEQ && (found & 1) === 0) {
            found |= 1;
            readCSeq(buf, v, valueStop, out);
          } else if (kind === HEADER_CALL_ID && (found & 2) === 0) {
            found |= 2;
            out.callIdStart = v;
            out.callIdEnd = valueStop;
          } else if (kind === HEADER_TO && (found & 4) === 0) {
            found |= 4;
            readToTag(buf, v, valueStop, out);
          }
        }
      }
    }
    p = stop + 1;
  }
  if (want === 0) return OK;
  // A response's method is its CSeq's, known only now: it may need no optional field at all.
  let deferred = want;
  if ((optional & SCAN_KPI_MESSAGES) !== 0) deferred &= kpiFields(out);
  if (out.kind === SIP_RESPONSE) deferred &= responseFields(out, optional);
  if (deferred === 0) return OK;
  out.deferred = deferred;
  out.lineCount = unrecorded >= 0 ? lines.length >> 1 : recorded >> 1;
  out.resumeAt = unrecorded >= 0 ? unrecorded : p;
  out.end = end;
  out.lastLf = lastLf;
  // Read now unless asked to defer: the same reader either way.
  if ((optional & SCAN_DEFER) === 0) readDeferredFields(buf, out);
  return OK;
}

/**
 * Where the value of the optional field `field` (one SCAN_* bit) starts on the header line
 * buf[p, stop), whose first letter is that field's (FIELD_BY_LETTER); -1 when the line is
 * another header (Feature-Caps for an `f`, say) or has no colon.
 */
function fieldValueStart(buf: Uint8Array, p: number, stop: number, field: number): number {
  const v = quickValueStart(buf, p, stop, field);
  if (v !== NOT_QUICK) return v;
  const nameStop = nameEnd(buf, p, stop);
  return optionalField(buf, p, nameStop) === field ? valueStart(buf, nameStop, stop) : -1;
}

/** Notes where the value of optional field `field` stands: from v to the end of its line. */
function place(out: SipMessageScan, field: number, v: number, stop: number): void {
  out.located |= field;
  if (field === SCAN_VIA_BRANCH) {
    out.viaAt = v;
    out.viaStop = stop;
  } else if (field === SCAN_FROM_TAG) {
    out.fromAt = v;
    out.fromStop = stop;
  } else if (field === SCAN_REASON) {
    out.reasonAt = v;
    out.reasonStop = stop;
  } else {
    out.expiresAt = v;
    out.expiresStop = stop;
  }
}

/**
 * Finds the first header line of the optional field `field` (one SCAN_* bit) in the message a
 * scan `out` of `buf` walked with that field wanted, and notes its place (viaAt and viaStop,
 * ...); returns false when the message has none. Looks through the lines the walk recorded, then
 * walks on from the first one it did not record to the end of the headers. Once found, a field
 * is not looked for again.
 */
export function locateField(buf: Uint8Array, out: SipMessageScan, field: number): boolean {
  if ((out.located & field) !== 0) return true;
  const lines = out.lines;
  for (let k = 0, n = out.lineCount * 2; k < n; k += 2) {
    const p = lines[k];
    if (FIELD_BY_LETTER[buf[p] | 0x20] !== field) continue;
    const v = fieldValueStart(buf, p, lines[k + 1], field);
    if (v >= 0) {
      place(out, field, v, lines[k + 1]);
      return true;
    }
  }
  const end = out.end;
  const lastLf = out.lastLf;
  let p = out.resumeAt;
  while (p < end) {
    const first = buf[p];
    if (first === CR || first === LF) break;
    const stop = headerEnd(buf as Buffer, p, end, lastLf);
    if (FIELD_BY_LETTER[first | 0x20] === field) {
      const v = fieldValueStart(buf, p, stop, field);
      if (v >= 0) {
        place(out, field, v, stop);
        return true;
      }
    }
    p = stop + 1;
  }
  return false;
}

/**
 * Reads the optional fields a SCAN_DEFER scan of `buf` left for later (out.deferred), of those
 * `fields` (SCAN_* bits) names, as the scan would have read them at once; clears their bits in
 * out.deferred. A field the message does not have stays absent. `buf` must be the buffer that
 * scan read.
 */
export function readDeferredFields(buf: Buffer, out: SipMessageScan, fields = SCAN_OPTIONAL): void {
  const deferred = out.deferred & fields;
  out.deferred ^= deferred;
  if ((deferred & SCAN_VIA_BRANCH) !== 0 && locateField(buf, out, SCAN_VIA_BRANCH))
    readViaBranch(buf, out.viaAt, trimEnd(buf, out.viaAt, out.viaStop), out);
  if ((deferred & SCAN_FROM_TAG) !== 0 && locateField(buf, out, SCAN_FROM_TAG))
    readFromTag(buf, out.fromAt, trimEnd(buf, out.fromAt, out.fromStop), out);
  if ((deferred & SCAN_REASON) !== 0 && locateField(buf, out, SCAN_REASON))
    readReason(buf, out.reasonAt, trimEnd(buf, out.reasonAt, out.reasonStop), out);
  if ((deferred & SCAN_EXPIRES) !== 0 && locateField(buf, out, SCAN_EXPIRES))
    readExpires(buf, out.expiresAt, trimEnd(buf, out.expiresAt, out.expiresStop), out);
}
