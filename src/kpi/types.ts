/**
 * What the call-state engine reads from each SIP message, and what it reports.
 *
 * The engine sees numbers only: hashing the Call-ID, tags and Via branch is the caller's job
 * (with the same KeyHasher the dedupe key uses), so one message costs no string and no
 * allocation here. The adapter from the counter's per-message observation is a few lines:
 *
 *   msg.node = obs.node; msg.isRequest = obs.isRequest; msg.method = obs.method;
 *   msg.status = obs.status; msg.cseq = obs.cseq; msg.captureMs = obs.captureMs; msg.now = obs.now;
 *   hasher.begin().bytes(buf, obs.callIdStart, obs.callIdEnd).end();
 *   msg.callIdHi = hasher.hi; msg.callIdLo = hasher.lo;   // and likewise From tag, To tag, branch
 *   msg.hasToTag = obs.toTagEnd > obs.toTagStart; msg.direction = (dst is the node's) ? 1 : ...;
 *   msg.expires0 = ...; msg.reasonProtocol = ...; msg.reasonCause = ...;
 *
 * One KpiMessage object is reused for every message, as the observation is.
 */
export interface KpiMessage {
  /** Node index (src/count/nodes.ts), 0..65534. */
  node: number;
  isRequest: boolean;
  /** Method index (src/sip/methods.ts): the request's method, or a response's CSeq method. */
  method: number;
  /** Status code of a response; ignored for a request. */
  status: number;
  /** CSeq number. */
  cseq: number;
  /** 64-bit hash of the Call-ID, as two uint32 halves. */
  callIdHi: number;
  callIdLo: number;
  /** 64-bit hash of the From tag. */
  fromTagHi: number;
  fromTagLo: number;
  /** True when the To header carries a tag (an in-dialog request, or most responses). */
  hasToTag: boolean;
  /** 64-bit hash of the To tag; 0/0 when there is none. */
  toTagHi: number;
  toTagLo: number;
  /** 64-bit hash of the branch parameter of the top Via header. */
  branchHi: number;
  branchLo: number;
  /**
   * Whether the node received or sent this copy (DIRECTION_*), when the adapter can tell (the
   * HEP destination is one of the node's addresses); DIRECTION_UNKNOWN otherwise. Only used to
   * correct the upstream branch when a capture delivers a proxy's outgoing INVITE before the
   * incoming one.
   */
  direction: number;
  /**
   * Stable id (PeerCounter) of the peer at the other end of this copy: its source when the node
   * received it, its destination when the node sent it; 0 when there is none (no peers
   * configured, direction unknown). Read only for INVITEs, by the per-peer legs.
   */
  peer: number;
  /** Capture time, in milliseconds since the epoch, as the capture agent stamped it (HEP). */
  captureMs: number;
  /** The exporter's monotonic clock in milliseconds (performance.now()): drives expiry only. */
  now: number;
  /** REGISTER with Expires: 0 (or every Contact with expires=0): a de-registration. */
  expires0: boolean;
  /** Protocol of the first Reason header: REASON_NONE, REASON_Q850 or REASON_SIP. */
  reasonProtocol: number;
  /** The Reason header's cause number (meaningful when reasonProtocol is not REASON_NONE). */
  reasonCause: number;
  /**
   * For an engine on another thread: the request's copy key (kpi/copies CopyMemory; int32 bits,
   * the low word odd), by which that thread leaves copies out; 0/0 for none. The engine itself
   * never reads it.
   */
  copyHi: number;
  copyLo: number;
}

export function emptyKpiMessage(): KpiMessage {
  return {
    node: 0,
    isRequest: false,
    method: 0,
    status: 0,
    cseq: 0,
    callIdHi: 0,
    callIdLo: 0,
    fromTagHi: 0,
    fromTagLo: 0,
    hasToTag: false,
    toTagHi: 0,
    toTagLo: 0,
    branchHi: 0,
    branchLo: 0,
    direction: 0,
    peer: 0,
    captureMs: 0,
    now: 0,
    expires0: false,
    reasonProtocol: 0,
    reasonCause: 0,
    copyHi: 0,
    copyLo: 0,
  };
}

export const DIRECTION_UNKNOWN = 0;
export const DIRECTION_RECEIVED = 1;
export const DIRECTION_SENT = 2;

/**
 * Which end of each message is the node and who is at the other, resolved once per message
 * before the KPI adapter reads it (PeerCounter does it from `nodes.self_addresses` and the peers
 * list). `direction` is DIRECTION_*; `peer` as KpiMessage.peer.
 */
export interface MessageEnds {
  readonly direction: number;
  readonly peer: number;
}

/** A leg's direction, as the per-peer families label it: the INVITE came from the peer, or went to it. */
export const LEG_FROM_PEER = 0;
export const LEG_TO_PEER = 1;
export const LEG_DIRECTION_LABELS = ['from_peer', 'to_peer'] as const;

/**
 * Where the engine reports per-peer legs (docs/kpis.md, per peer): one INVITE transaction
 * between the node and one peer, keyed by its Via branch. `peer` is the stable id the message
 * carried, `direction` LEG_FROM_PEER or LEG_TO_PEER. Delays are whole milliseconds: a small
 * integer argument is never boxed, whether or not V8 inlines the call.
 */
export interface KpiPeerSink {
  /** A leg ended, once, with one of AttemptOutcome. */
  onLegEnd(node: number, peer: number, direction: number, outcome: number): void;
  /** Session request delay on the leg, one at most, in ms; result is SrdResult. */
  onLegSrd(node: number, peer: number, direction: number, result: number, ms: number): void;
  /** Post-dial delay on the leg, in ms: its INVITE to the first 180 or 183 on its branch. */
  onLegPdd(node: number, peer: number, direction: number, ms: number): void;
}

export const REASON_NONE = 0;
export const REASON_Q850 = 1;
export const REASON_SIP = 2;
/** Label values for the release-cause `protocol` label, by REASON_* index. */
export const REASON_PROTOCOL_LABELS = ['', 'q850', 'sip'] as const;

/** Session attempt outcomes, a closed set (index = value). */
export const AttemptOutcome = {
  ANSWERED: 0,
  REDIRECTED: 1,
  BUSY: 2,
  DECLINED: 3,
  UNAVAILABLE: 4,
  CANCELLED: 5,
  INEFFECTIVE: 6,
  FAILED: 7,
  TIMEOUT: 8,
} as const;
export const ATTEMPT_OUTCOME_LABELS = [
  'answered',
  'redirected',
  'busy',
  'declined',
  'unavailable',
  'cancelled',
  'ineffective',
  'failed',
  'timeout',
] as const;

export const RegistrationOutcome = { REGISTERED: 0, FAILED: 1, TIMEOUT: 2 } as const;
export const REGISTRATION_OUTCOME_LABELS = ['registered', 'failed', 'timeout'] as const;

export const SrdResult = { SUCCESS: 0, FAILURE: 1 } as const;
export const SRD_RESULT_LABELS = ['success', 'failure'] as const;

/** Why a dialog ended without a BYE whose time could be measured. */
export const SessionCut = { MAX_DURATION: 0, EVICTED: 1, CLOCK_STEP: 2 } as const;
export const SESSION_CUT_LABELS = ['max_duration', 'evicted', 'clock_step'] as const;

/**
 * Where the engine reports. Every argument is a number, so a metrics layer can resolve its
 * cells once (by node and label index) and never allocate per call.
 */
export interface KpiSink {
  /** An INVITE attempt ended, once, with one of AttemptOutcome. */
  onAttemptEnd(node: number, outcome: number): void;
  /** Session request delay (RFC 6076 4.3), one per attempt at most; result is SrdResult. */
  onSrd(node: number, result: number, seconds: number): void;
  /** Post-dial delay: the same INVITE to the first 180 or 183. */
  onPdd(node: number, seconds: number): void;
  /** A REGISTER attempt (not a de-registration) ended with one of RegistrationOutcome. */
  onRegistrationEnd(node: number, outcome: number): void;
  /** A de-registration (Expires: 0) ended: counted apart from registrations. */
  onDeregistrationEnd(node: number, outcome: number): void;
  /** Registration request delay (RFC 6076 4.1): first REGISTER of the attempt to its 2xx. */
  onRrd(node: number, seconds: number): void;
  /** A dialog was answered: the active-sessions gauge goes up by one. */
  onSessionStart(node: number): void;
  /** A dialog ended with a BYE: its duration (RFC 6076 4.5); the gauge goes down by one. */
  onSessionEnd(node: number, seconds: number): void;
  /** A dialog ended without a measurable BYE (SessionCut); the gauge goes down by one. */
  onSessionCut(node: number, reason: number): void;
  /** A Reason header on an attempt's final response or a dialog's BYE, within the valid range. */
  onReleaseCause(node: number, protocol: number, cause: number): void;
  /** A final response for an attempt that had already timed out (method: INVITE or REGISTER). */
  onLateFinal(node: number, method: number): void;
}

/** A sink that drops everything: for callers that want the engine's counters only. */
export const NULL_KPI_SINK: KpiSink = {
  onAttemptEnd() {},
  onSrd() {},
  onPdd() {},
  onRegistrationEnd() {},
  onDeregistrationEnd() {},
  onRrd() {},
  onSessionStart() {},
  onSessionEnd() {},
  onSessionCut() {},
  onReleaseCause() {},
  onLateFinal() {},
};

/** Maps a final status code (>= 200) of an INVITE to its outcome. */
export function attemptOutcomeOf(status: number): number {
  if (status < 300) return AttemptOutcome.ANSWERED;
  if (status < 400) return AttemptOutcome.REDIRECTED;
  switch (status) {
    case 486:
    case 600:
      return AttemptOutcome.BUSY;
    case 603:
      return AttemptOutcome.DECLINED;
    case 480:
      return AttemptOutcome.UNAVAILABLE;
    case 487:
      return AttemptOutcome.CANCELLED;
    case 408:
    case 500:
    case 503:
    case 504:
      return AttemptOutcome.INEFFECTIVE;
    default:
      return AttemptOutcome.FAILED;
  }
}
