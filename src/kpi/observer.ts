import { KeyHasher } from '../count/key-hasher.js';
import { SOURCE_SYSLOG } from '../count/node-sources.js';
import { KIND_REQUEST, type Observation } from '../count/observation.js';
import { METHOD_LABELS } from '../sip/methods.js';
import { SCAN_DEFER, SCAN_FROM_TAG, SCAN_KPI, SCAN_OPTIONAL } from '../sip/scan.js';
import type { CallIdExemplars } from './call-ids.js';
import { CopyMemory } from './copies.js';
import type { KpiEngine } from './engine.js';
import {
  DIRECTION_RECEIVED,
  DIRECTION_UNKNOWN,
  emptyKpiMessage,
  type KpiMessage,
  type MessageEnds,
} from './types.js';

const INVITE = METHOD_LABELS.indexOf('INVITE');
const REGISTER = METHOD_LABELS.indexOf('REGISTER');
const BYE = METHOD_LABELS.indexOf('BYE');
const CANCEL = METHOD_LABELS.indexOf('CANCEL');
const NOT_FROM = SCAN_OPTIONAL & ~SCAN_FROM_TAG;

/**
 * Whether a copy may be left out: not one the node received (it may be the one that tells the
 * engine which branch is upstream, when the capture brought the sent copy first), nor one naming
 * a peer (each copy of an INVITE between the node and a peer is a leg of its own).
 */
export function skippable(ends: MessageEnds | null): boolean {
  return ends === null || (ends.direction !== DIRECTION_RECEIVED && ends.peer === 0);
}

/** How often the expiry sweep runs: a full sweep of the default tables costs about 10 ms a second. */
export const EXPIRE_INTERVAL_MS = 100;

/**
 * The step from the counter's per-message Observation to the call-state engine: takes the
 * Call-ID hash SipCounter.count made, hashes the tags and top Via branch (with the KeyHasher the
 * dedupe uses, so equal text gives equal keys whatever the source), copies the numbers, and hands
 * one reused KpiMessage to the engine.
 * It must see every copy of a message, so SipCounter calls it before the response dedupe.
 *
 * Syslog observations are not fed: a log line is one side of one message with no capture time
 * and no Via branch, so it cannot tell an attempt's upstream leg from a downstream one. HEP is
 * fed, and so is the raw SIP of a replay or of --demo, which is counted as HEP's payload is.
 *
 * `direction` and `peer` come from `ends`, which SipCounter has resolved for this very message
 * from `nodes.self_addresses` and the peers list (docs/kpis.md, the upstream branch and per peer).
 */
export class KpiObserver {
  /**
   * The optional SIP fields (sip/scan SCAN_*) the engine reads, read only once the engine wants
   * the message: a response to a call it does not follow costs a Call-ID hash and a probe.
   */
  readonly scanFields = SCAN_KPI | SCAN_DEFER;
  private readonly msg: KpiMessage = emptyKpiMessage();
  private readonly hasher = new KeyHasher();
  private timer: NodeJS.Timeout | null = null;
  /** Set by the exporter; without it every copy's direction is unknown and no peer is named. */
  ends: MessageEnds | null = null;
  /**
   * The copies this adapter leaves out (CopyMemory); null when the engine is on another thread,
   * whose own memory then reads each request's copy key from its record.
   */
  readonly copyMemory: CopyMemory | null;

  /**
   * With `callIds` (the metrics' exemplar namer), the observation is lent to it while the engine
   * handles it, and some new INVITEs' Call-IDs are kept for their timeouts (kpi/call-ids.ts).
   */
  constructor(
    readonly engine: KpiEngine,
    private readonly callIds: CallIdExemplars | null = null,
    /**
     * Leave copies out before reading them (CopyMemory); off, every copy goes to the engine. With
     * `engine` on another thread (a KpiRingWriter), each request's copy key goes with it instead.
     */
    skipCopies = true,
  ) {
    this.copyMemory = skipCopies && !engine.remote ? new CopyMemory() : null;
    callIds?.bind(engine);
  }

  observe(o: Observation): void {
    if (o.listener === SOURCE_SYSLOG) return;
    const method = o.method;
    const isRequest = o.kind === KIND_REQUEST;
    const hasToTag = o.toTag.length > 0;
    // What the engine reads at all: INVITE and REGISTER requests and their responses but 100
    // (no status indication), BYEs in a dialog, and CANCELs (which end per-peer legs). The rest
    // (ACK, responses to BYE, re-INVITEs) is skipped before any hashing;
    // the expiry timer keeps the sweep going without them. The scanner reads From and Via only
    // from these messages (SCAN_KPI_MESSAGES in sip/scan): keep the two in step; a property test
    // in test/sip/scan-kpi.test.ts fails when they part.
    if (isRequest) {
      if (method === INVITE) {
        if (hasToTag) return;
      } else if (method !== REGISTER && method !== CANCEL && !(method === BYE && hasToTag)) return;
    } else if ((method !== INVITE && method !== REGISTER) || o.statusCode === 100) return;
    const ends = this.ends;
    const m = this.msg;
    const h = this.hasher;
    m.copyHi = 0;
    m.copyLo = 0;
    if (isRequest && method !== CANCEL && o.cseqNumber >= 0) {
      this.copyKey(o);
      const memory = this.copyMemory;
      if (memory === null) {
        m.copyHi = h.hi | 0;
        m.copyLo = h.lo | 1;
      } else if (memory.isCopy(h.hi | 0, h.lo | 1, o.now, skippable(ends), method === BYE)) return;
    }
    m.node = o.node;
    m.isRequest = isRequest;
    m.method = method;
    m.status = o.statusCode;
    m.cseq = Math.max(o.cseqNumber, 0);
    // Hashed once for this message by SipCounter.count, which also keys the dedupe by it.
    m.callIdHi = o.callIdHi >>> 0;
    m.callIdLo = o.callIdLo >>> 0;
    m.direction = ends === null ? DIRECTION_UNKNOWN : ends.direction;
    m.peer = ends === null ? 0 : ends.peer;
    m.captureMs = o.timeSeconds * 1000 + o.timeMicroseconds / 1000;
    m.now = o.now;
    // The From tag keys attempts, dialogs and legs, but a response finds its attempt by its Via
    // branch (engine.response): it is read from requests, from a 2xx that answers an INVITE (the
    // dialog's key), and from every response once per-peer legs are followed.
    let from = true;
    if (!isRequest) {
      if (this.engine.quietResponse(m)) return;
      from = (method === INVITE && o.statusCode >= 200 && o.statusCode < 300) || this.engine.followsLegs;
    }
    if (from) {
      o.readDeferred();
      h.begin().text(o.fromTag).end();
      m.fromTagHi = h.hi;
      m.fromTagLo = h.lo;
    } else {
      o.readDeferred(NOT_FROM);
      m.fromTagHi = 0;
      m.fromTagLo = 0;
    }
    m.hasToTag = hasToTag;
    // The To tag keys a dialog only: it is read from a BYE and from a 2xx that answers an INVITE.
    if (hasToTag && (isRequest || (method === INVITE && o.statusCode >= 200 && o.statusCode < 300))) {
      h.begin().text(o.toTag).end();
      m.toTagHi = h.hi;
      m.toTagLo = h.lo;
    } else {
      m.toTagHi = 0;
      m.toTagLo = 0;
    }
    if (isRequest && method === BYE) {
      // A BYE is matched to its dialog by Call-ID and tags; its branch is never read.
      m.branchHi = 0;
      m.branchLo = 0;
    } else {
      h.begin().text(o.viaBranch).end();
      m.branchHi = h.hi;
      m.branchLo = h.lo;
    }
    m.expires0 = o.expiresZero;
    m.reasonProtocol = o.reasonProtocol;
    m.reasonCause = o.reasonCause;
    const ids = this.callIds;
    if (ids === null) {
      this.engine.handle(m);
      return;
    }
    ids.current = o;
    ids.now = o.now;
    this.engine.handle(m);
    // The observation is the source's, refilled for the next message: never kept past here.
    ids.current = null;
    if (isRequest && method === INVITE) ids.remember(o, m);
  }

  /**
   * Hashes the key by which a request (an initial INVITE, a REGISTER or an in-dialog BYE) is a
   * copy of one handed over before (CopyMemory): node, method, Call-ID, CSeq and the From
   * header's bytes, so that only byte-identical copies of one request share it.
   */
  private copyKey(o: Observation): void {
    const h = this.hasher;
    h.begin()
      .uint32(o.method | (o.node << 8))
      .uint32(o.callIdHi)
      .uint32(o.callIdLo)
      .uint32(o.cseqNumber);
    o.hashFrom(h);
    h.end();
  }

  /**
   * Starts the expiry timer, so that attempts and dialogs of a node that goes silent still time
   * out. Unref'd: it never keeps the process alive on its own.
   */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => {
      const now = performance.now();
      if (this.callIds !== null) this.callIds.now = now;
      this.engine.expire(now);
    }, EXPIRE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }
}
