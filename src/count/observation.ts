import { METHOD_UNKNOWN } from '../sip/methods.js';
import {
  locateField,
  readDeferredFields,
  SCAN_FROM_TAG,
  SCAN_OPTIONAL,
  SIP_REQUEST,
  SIP_RESPONSE,
  type SipMessageScan,
} from '../sip/scan.js';
import type { KeyHasher } from './key-hasher.js';

export const KIND_REQUEST = SIP_REQUEST;
export const KIND_RESPONSE = SIP_RESPONSE;

/** The capture time is the arrival time: the source knows no better. */
export const TIME_ARRIVAL = 0;
/** The capture time is what the capture agent stamped (HEP chunks 0x0009/0x000a, the HEPv2 header). */
export const TIME_CAPTURE = 1;

const NO_BYTES = new Uint8Array(0);

/**
 * A text field of an observation: a byte range into a buffer the source holds (no copy, as the
 * HEP path needs), or a string (as a regex extractor produces). Empty is absent, and so is a
 * range with end <= start (the scanner's -1, -1). Read it with KeyHasher.text on the hot path;
 * toString() is for tests and cold paths.
 */
export class TextRef {
  buf: Uint8Array = NO_BYTES;
  start = 0;
  end = 0;
  text: string | null = null;

  /** No branch here: this runs for every field of every HEP message. */
  setBytes(buf: Uint8Array, start: number, end: number): void {
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.text = null;
  }

  setText(text: string | undefined): void {
    if (text === undefined || text === '') {
      this.clear();
      return;
    }
    this.buf = NO_BYTES;
    this.start = 0;
    this.end = 0;
    this.text = text;
  }

  clear(): void {
    // The buffer reference is dropped too, so a cleared field keeps no packet alive.
    this.buf = NO_BYTES;
    this.start = 0;
    this.end = 0;
    this.text = null;
  }

  /** Units of the field: bytes of a range, UTF-16 units of a string; 0 when absent. */
  get length(): number {
    if (this.text !== null) return this.text.length;
    return this.end > this.start ? this.end - this.start : 0;
  }

  /** Bytes decode as Latin-1, the inverse of how KeyHasher.string reads a string. */
  toString(): string {
    if (this.text !== null) return this.text;
    let s = '';
    if (this.start < 0) return s;
    for (let i = this.start; i < this.end; i++) s += String.fromCharCode(this.buf[i]);
    return s;
  }
}

/**
 * One SIP message as a source saw it: everything a measurement may read, filled by every source
 * (HEP, syslog, a future capture-file reader) and handed to SipCounter.count. A source owns one
 * instance and refills it for each message, so observing allocates nothing; a consumer must not
 * keep it (or its byte ranges) past the call.
 *
 * Text fields point into the source's buffers where they can. Numeric fields use -1 (or 0 where
 * noted) for "not known".
 */
export class Observation {
  /** node index from NodeLabels */
  node = 0;
  /** KIND_REQUEST or KIND_RESPONSE */
  kind = 0;
  /** 100-699 for a response, 0 for a request */
  statusCode = 0;
  /** method index (sip/methods): a request's own, a response's CSeq method; METHOD_UNKNOWN if none */
  method = METHOD_UNKNOWN;
  /** -1 when there is no readable CSeq number */
  cseqNumber = -1;
  readonly callId = new TextRef();
  /**
   * The Call-ID's 64-bit hash (KeyHasher over its text; 0, 0 without one), set by
   * SipCounter.count before any measurement reads the observation (count/sip-counter hashCallId):
   * the dedupe key and the call KPIs both start from it, so a message's Call-ID is hashed once.
   * Int32 bits (`>>> 0` gives KeyHasher's uint32).
   */
  callIdHi = 0;
  callIdLo = 0;
  readonly fromTag = new TextRef();
  readonly toTag = new TextRef();
  /** the branch parameter of the top Via */
  readonly viaBranch = new TextRef();

  /** the first Reason header (SCAN_REASON_* of sip/scan, and its cause or -1), when the scan read it */
  reasonProtocol = 0;
  reasonCause = -1;
  /** Expires: 0, when the scan read it */
  expiresZero = false;

  /** capture time, Unix seconds and microseconds; see timeSource */
  timeSeconds = 0;
  timeMicroseconds = 0;
  /** TIME_CAPTURE or TIME_ARRIVAL */
  timeSource = TIME_ARRIVAL;
  /**
   * The clock that drives expiry (the dedupe window), in ms: the monotonic clock for a live
   * source, the capture time for a source that replays a capture, so a replay expires as it
   * happened.
   */
  now = 0;

  /**
   * The SIP message's own addresses as the source reports them. A byte range is the raw address
   * (4 bytes IPv4, 16 bytes IPv6, network order, as HEP carries it); a string is text (as a syslog
   * extractor's named group would give). Ports are 0 when not known.
   */
  readonly sourceAddress = new TextRef();
  readonly destinationAddress = new TextRef();
  sourcePort = 0;
  destinationPort = 0;
  /**
   * The peer the message came from, by its configured name, for a source that names it rather
   * than giving its address (a syslog extractor's `peer` group); it takes the place of
   * sourceAddress. Empty when not given.
   */
  readonly sourcePeer = new TextRef();
  /** IP protocol number of the SIP transport (17 UDP, 6 TCP, 132 SCTP); 0 when not known */
  transport = 0;
  /** which source the message came from: SOURCE_HEP, SOURCE_SYSLOG (count/node-sources) */
  listener = 0;
  /**
   * The scan whose optional fields (From tag, Via branch, Reason, Expires) are located but not
   * read yet (sip/scan SCAN_DEFER), and the buffer it read: readDeferred reads them on demand.
   */
  private deferredScan: SipMessageScan | null = null;
  private deferredBuf: Buffer | null = null;

  /**
   * The step from a scanned SIP message to an observation, shared by every source that reads SIP
   * itself (HEP payloads, syslog's sip-message extractor): sets the SIP fields from the scan of
   * buf. Leaves node, times, addresses and listener to the source.
   */
  setSip(scan: SipMessageScan, buf: Buffer): void {
    this.kind = scan.kind;
    this.statusCode = scan.statusCode;
    this.method = scan.method;
    this.cseqNumber = scan.cseqNumber;
    this.callId.setBytes(buf, scan.callIdStart, scan.callIdEnd);
    this.toTag.setBytes(buf, scan.toTagStart, scan.toTagEnd);
    this.setOptional(scan, buf);
    if (scan.deferred !== 0) {
      this.deferredScan = scan;
      this.deferredBuf = buf;
    } else if (this.deferredScan !== null) this.dropDeferred();
  }

  /**
   * Reads the optional fields the scan left for later (SCAN_DEFER), of those `fields` (sip/scan
   * SCAN_* bits) names, if any: a consumer that reads fromTag, viaBranch, reason* or expiresZero
   * calls this first. The others stay deferred, for a later call. Valid during the count only, as
   * the rest of the observation is: the source reuses its scan for the next message.
   */
  readDeferred(fields = SCAN_OPTIONAL): void {
    const scan = this.deferredScan;
    if (scan === null) return;
    const buf = this.deferredBuf!;
    readDeferredFields(buf, scan, fields);
    if (scan.deferred === 0) this.dropDeferred();
    this.setOptional(scan, buf);
  }

  /**
   * Mixes the From header into `h` without reading its tag: the bytes of its value as located
   * when its reading is deferred (sip/scan SCAN_DEFER), else the tag as read. Two copies of one
   * message hash alike when their From headers are byte for byte the same, which is all a
   * consumer that looks for copies may rely on: the two spellings of one header hash apart.
   */
  hashFrom(h: KeyHasher): void {
    const scan = this.deferredScan;
    if (
      scan !== null &&
      (scan.deferred & SCAN_FROM_TAG) !== 0 &&
      locateField(this.deferredBuf!, scan, SCAN_FROM_TAG)
    )
      h.uint32(1).bytes(this.deferredBuf!, scan.fromAt, scan.fromStop);
    else h.uint32(2).text(this.fromTag);
  }

  /** The optional fields (sip/scan SCAN_*) as the scan of buf has them. */
  private setOptional(scan: SipMessageScan, buf: Uint8Array): void {
    this.fromTag.setBytes(buf, scan.fromTagStart, scan.fromTagEnd);
    this.viaBranch.setBytes(buf, scan.viaBranchStart, scan.viaBranchEnd);
    this.reasonProtocol = scan.reasonProtocol;
    this.reasonCause = scan.reasonCause;
    this.expiresZero = scan.expiresZero;
  }

  /** Forgets a deferred scan, for a source that fills the SIP fields without one. */
  dropDeferred(): void {
    this.deferredScan = null;
    this.deferredBuf = null;
  }

  /** The capture time as the source's capture agent stamped it. */
  setCaptureTime(seconds: number, microseconds: number): void {
    this.timeSeconds = seconds;
    this.timeMicroseconds = microseconds;
    this.timeSource = TIME_CAPTURE;
  }

  /** The capture time as the arrival time, from a wall clock in ms since the Unix epoch. */
  setArrivalTime(wallMs: number): void {
    // Whole microseconds first: they stay exact in a double until the year 2255.
    const micros = Math.round(wallMs * 1000);
    const seconds = Math.floor(micros / 1_000_000);
    this.timeSeconds = seconds;
    this.timeMicroseconds = micros - seconds * 1_000_000;
    this.timeSource = TIME_ARRIVAL;
  }

  /** Forgets the peer fields, for a source that knows none of them. */
  clearPeers(): void {
    this.sourceAddress.clear();
    this.destinationAddress.clear();
    this.sourcePort = 0;
    this.destinationPort = 0;
    this.sourcePeer.clear();
    this.transport = 0;
  }
}
