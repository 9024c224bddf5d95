import { lineAlignedUint32Array } from '../count/cache-lines.js';
import { METHOD_LABELS } from '../sip/methods.js';
import {
  AttemptOutcome,
  attemptOutcomeOf,
  DIRECTION_RECEIVED,
  DIRECTION_SENT,
  type KpiMessage,
  type KpiPeerSink,
  type KpiSink,
  LEG_FROM_PEER,
  LEG_TO_PEER,
  REASON_NONE,
  REASON_Q850,
  REASON_SIP,
  RegistrationOutcome,
  SessionCut,
  SrdResult,
} from './types.js';

const INVITE = METHOD_LABELS.indexOf('INVITE');
const REGISTER = METHOD_LABELS.indexOf('REGISTER');
const BYE = METHOD_LABELS.indexOf('BYE');
const CANCEL = METHOD_LABELS.indexOf('CANCEL');

const WAYS = 4;

/*
 * Table kinds. The code shared by the three tables (allocation, sweep) branches on the kind to
 * call each table's own settle: a direct call V8 can inline, where a settle function passed in
 * would make one call site see three targets, per entry, on the hot path.
 */
const K_ATTEMPT = 0;
const K_DIALOG = 1;
const K_LEG = 2;

/*
 * Attempt entry, 8 uint32 words (32 bytes; a bucket of 4 is two cache lines):
 *   0 Call-ID hash, with node and kind (picks the buckets)
 *   1 16 more bits of the Call-ID hash in bits 31..16 | node + 1 in bits 15..0 (never 0 while
 *     the entry is in use)
 *   2 upstream Via branch hash, high half
 *   3 8 more bits of the branch hash in bits 31..24 | 16 bits of the From tag hash in bits
 *     23..8 | flags in bits 7..0
 *   4 CSeq number of the attempt's current request
 *   5 deadline on the expiry clock (ms since origin, modulo 2^32)
 *   6 capture time of the attempt's first request (ms since the capture origin, modulo 2^32)
 *   7 capture time of the current request (after a challenge, the re-sent one)
 * A request finds its attempt by Call-ID (48 bits), node, kind and From tag (16 bits); a
 * response by Call-ID, node, kind and upstream branch (40 bits), with no From tag to read. A
 * false match needs 48 bits of Call-ID hash to agree among the eight entries one key can live
 * in, about 1 in 2^45 per lookup, even where every call has the same branch (a UA that sends
 * none); the From bits only tell apart attempts that share a Call-ID.
 */
const AW = 8;
const STATE = 7;
const OPEN = 1;
/** Answered 401/407 (423 for REGISTER): waiting for the re-sent request. */
const CHALLENGED = 2;
/** Has its outcome; remembered so that late copies and retransmissions are not new attempts. */
const ENDED = 3;
/** Timed out; remembered so that a late final is recognised as such. */
const TIMED_OUT = 4;
const F_REGISTER = 8;
const F_SRD = 16;
const F_PDD = 32;
const F_EXPIRES0 = 64;
/** The upstream branch was taken from a copy the node sent: a received copy may correct it. */
const F_FROM_SENT = 128;
const BRANCH_MASK = 0xff000000 | 0;
const FROM_MASK = 0x00ffff00;

/*
 * Dialog entry, 4 uint32 words (16 bytes; a bucket of 4 is one cache line):
 *   0 key high half, 1 key bits 31..16 | node + 1, 2 deadline (answer + max session duration),
 *   3 capture time of the 200 OK.
 */
const DW = 4;

/*
 * Leg entry (per-peer), 5 uint32 words (20 bytes): one INVITE transaction between the node and
 * one peer, keyed by node, Call-ID, From tag and Via branch:
 *   0 key high half, 1 key bits 31..16 | node + 1, 2 deadline,
 *   3 capture time of the leg's INVITE,
 *   4 the peer's stable id in bits 31..8 | flags in bits 7..0.
 */
const LW = 5;
const L_STATE = 3;
const L_OPEN = 1;
/** Has its outcome (or was a challenge round): remembered so that copies are not new legs. */
const L_ENDED = 2;
/** The node sent the leg's INVITE: the peer is downstream (`to_peer`). */
const L_TO_PEER = 4;
const L_SRD = 8;
const L_PDD = 16;
/** A CANCEL was seen on the leg: with no final by its deadline it ends `cancelled`, not `timeout`. */
const L_CANCELLED = 32;
/** Largest peer id a leg can hold (24 bits); ids past it are not attributed. */
const MAX_LEG_PEER = 0xffffff;

export interface KpiEngineOptions {
  /** Entries of the open-attempt table (INVITE and REGISTER); rounded up to a power of two. */
  maxAttempts?: number;
  /** Entries of the answered-dialog table; rounded up to a power of two. */
  maxDialogs?: number;
  /**
   * Entries of the per-peer leg table; rounded up to a power of two. Allocated on the first leg,
   * so an exporter without peers spends no memory on it.
   */
  maxLegs?: number;
  /** No final response to an INVITE within this: the attempt times out. */
  inviteTimeoutMs?: number;
  /** REGISTER timeout, and the window in which a challenged request may be re-sent. */
  nonInviteTimeoutMs?: number;
  /** How long an ended or timed-out attempt is remembered (to absorb copies, spot late finals). */
  lingerMs?: number;
  /** A dialog with no BYE within this ends as cut (`max_duration`). */
  maxSessionMs?: number;
  /**
   * The expiry sweep visits every bucket holding an attempt that is waiting for its outcome (or
   * for the request re-sent after a challenge) once per this period: timeouts are reported at
   * most this late.
   */
  sweepPeriodMs?: number;
  /**
   * The sweep visits every other attempt bucket, where only ended attempts linger, once per this
   * period; an entry met first by a message or by a new entry's placement is settled then. By
   * default a quarter of lingerMs, between sweepPeriodMs and a minute: an ended attempt's entry
   * is freed at most that long after its linger.
   */
  lingerSweepPeriodMs?: number;
  /**
   * The expiry sweep visits every dialog once per this period. A dialog only expires at
   * maxSessionMs (hours), so by default the sweep comes by every 1% of that, between
   * sweepPeriodMs and a minute: at the default sizes this reads 1 MiB of dialog table a second
   * instead of 64, and a cut is reported at most a minute late in four hours.
   */
  dialogSweepPeriodMs?: number;
  /** Origin of the expiry clock; the first `now` the engine will see or earlier. */
  now?: number;
}

export const KPI_DEFAULTS = {
  // 10,000 calls/s, each held ~15 s in setup and 32 s after its final: ~470,000 live entries.
  maxAttempts: 1 << 20,
  // 10,000 calls/s with a mean hold of 180 s: ~1.8 million dialogs, under half the table.
  maxDialogs: 1 << 22,
  // Two legs a call at a proxy traced in and out (more on failover), held as long as attempts.
  maxLegs: 1 << 21,
  inviteTimeoutMs: 190_000,
  nonInviteTimeoutMs: 32_000,
  lingerMs: 32_000,
  maxSessionMs: 4 * 3600_000,
  sweepPeriodMs: 1000,
} as const;

/** Bytes per entry, for the docs and the memory check. */
export const ATTEMPT_ENTRY_BYTES = AW * 4;
export const DIALOG_ENTRY_BYTES = DW * 4;
export const LEG_ENTRY_BYTES = LW * 4;

/** Counters of the engine's own bounds and dropped input; a self-metric layer reads them. */
export class KpiStats {
  /** Open attempts (no outcome yet) replaced by a new one in a full bucket: no outcome counted. */
  attemptEvictions = 0;
  /** Ended attempts forgotten before their linger ran out (a late copy could start a new attempt). */
  lingerEvictions = 0;
  /** Answered dialogs replaced in a full bucket: ended as cut (`evicted`). */
  dialogEvictions = 0;
  /** Open per-peer legs replaced by a new one in a full bucket: no per-peer outcome counted. */
  legEvictions = 0;
  /** Ended legs forgotten before their linger ran out (a late copy could start a new leg). */
  legLingerEvictions = 0;
  /** Messages refused: node index out of range or capture time not a number. */
  rejected = 0;
  /** Reason headers with a cause outside the valid range. */
  invalidReasons = 0;
  /** Delays not observed because the capture clock went backwards between the two messages. */
  negativeDelays = 0;
  /** BYEs matching no answered dialog (started before the exporter, or already ended). */
  unmatchedByes = 0;
  /** Final responses to attempts that had already timed out. */
  lateFinals = 0;
  /** Dialogs answered and not yet ended, all nodes. */
  activeSessions = 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Whether the engine can read `m` at all: a node index in range and a capture time. */
function acceptable(m: KpiMessage): boolean {
  const node = m.node;
  return node >= 0 && node <= 0xfffe && node === Math.floor(node) && Number.isFinite(m.captureMs);
}

/** Where the engine leaves the key it has just computed. */
interface KeyHolder {
  readonly kHi: number;
  readonly kLo: number;
}

/**
 * A set-associative table with two candidate buckets per key (the less loaded one takes a new
 * key), so that a table half full almost never has to evict a live entry.
 */
class Buckets {
  readonly mask: number;
  readonly t: Uint32Array;
  /**
   * One bit a bucket, set when an entry is placed in it and cleared by the sweep when it finds the
   * bucket empty: a lookup of an unknown key reads this small array instead of two cold buckets
   * of a table of tens of megabytes, and the sweep skips empty buckets without touching them.
   * Int32, not Uint32: a word with bit 31 set then stays an integer to V8, not a double.
   */
  readonly used: Int32Array;
  b1 = 0;
  b2 = 0;
  /** The bucket the expiry sweep visits next. */
  cursor = 0;
  /**
   * For the attempt table, one bit a bucket, set when an attempt there starts waiting for its
   * outcome and cleared by the open sweep when none is left waiting: that sweep, which reports
   * timeouts and must come by every second, then reads these bits and the few buckets they mark,
   * not the whole table, which at 10,000 calls a second is mostly ended attempts in their linger.
   */
  open: Int32Array | null = null;
  /** The bucket the open sweep visits next. */
  openCursor = 0;
  constructor(
    readonly words: number,
    maxEntries: number,
  ) {
    let buckets = 1;
    while (buckets * WAYS < maxEntries) buckets *= 2;
    this.mask = buckets - 1;
    // Attempt and dialog buckets are whole cache lines (two and one): start them at one.
    this.t = lineAlignedUint32Array(buckets * WAYS * words);
    this.used = new Int32Array(Math.ceil(buckets / 32));
  }

  /** Marks the bucket of entry `i` (a word offset) as holding an entry. */
  mark(i: number): void {
    const bucket = Math.floor(i / (WAYS * this.words));
    this.used[bucket >>> 5] |= 1 << (bucket & 31);
  }

  /** Marks the bucket of entry `i` as holding an attempt that waits for its outcome. */
  markOpen(i: number): void {
    const bucket = Math.floor(i / (WAYS * this.words));
    (this.open as Int32Array)[bucket >>> 5] |= 1 << (bucket & 31);
  }

  get capacity(): number {
    return (this.mask + 1) * WAYS;
  }

  /**
   * Sets b1 and b2 (word offsets of the two buckets) for the key `k` holds; returns the entry or
   * -1. The key is read from its holder, not passed: a uint32 above 2^30 passed to a call V8 does
   * not inline is boxed, a heap number per lookup.
   */
  find(k: KeyHolder): number {
    const kHi = k.kHi;
    const kLo = k.kLo;
    const busy = this.pick(kHi);
    if (busy === 0) return -1;
    const stride = WAYS * this.words;
    const t = this.t;
    for (let i = this.b1, end = i + stride; i < end; i += this.words)
      if (t[i + 1] === kLo && t[i] === kHi) return i;
    if (this.b2 !== this.b1)
      for (let i = this.b2, end = i + stride; i < end; i += this.words)
        if (t[i + 1] === kLo && t[i] === kHi) return i;
    return -1;
  }

  /**
   * For the attempt table: the entry with key words `k.kHi`, `k.kLo` and the From tag bits
   * `from` (FROM_MASK) in word 3; -1 if none.
   */
  findFrom(k: KeyHolder, from: number): number {
    const kHi = k.kHi;
    const kLo = k.kLo;
    const busy = this.pick(kHi);
    if (busy === 0) return -1;
    const stride = WAYS * AW;
    const t = this.t;
    if ((busy & 1) !== 0)
      for (let i = this.b1, end = i + stride; i < end; i += AW)
        if (t[i + 1] === kLo && t[i] === kHi && (t[i + 3] & FROM_MASK) === from) return i;
    if ((busy & 2) !== 0 && this.b2 !== this.b1)
      for (let i = this.b2, end = i + stride; i < end; i += AW)
        if (t[i + 1] === kLo && t[i] === kHi && (t[i + 3] & FROM_MASK) === from) return i;
    return -1;
  }

  /**
   * For the attempt table: the entries with key words `k.kHi`, `k.kLo` and the upstream branch of
   * `m` (its top Via branch, BRANCH_MASK bits of the low half), in `into` (at most 8); returns
   * how many.
   */
  findBranch(k: KeyHolder, m: KpiMessage, into: Int32Array): number {
    const kHi = k.kHi;
    const kLo = k.kLo;
    const branchHi = m.branchHi >>> 0;
    const branchLo = m.branchLo & BRANCH_MASK;
    const busy = this.pick(kHi);
    const stride = WAYS * AW;
    const t = this.t;
    let n = 0;
    for (let pass = 0; pass < 2; pass++) {
      if ((busy & (pass + 1)) === 0 || (pass === 1 && this.b2 === this.b1)) continue;
      for (let i = pass === 0 ? this.b1 : this.b2, end = i + stride; i < end; i += AW)
        if (
          t[i + 1] === kLo &&
          t[i] === kHi &&
          t[i + 2] === branchHi &&
          (t[i + 3] & BRANCH_MASK) === branchLo
        )
          into[n++] = i;
    }
    return n;
  }

  /** Whether an entry in use has the key half `k.kHi`, in either of the buckets find() would read. */
  holds(k: KeyHolder): boolean {
    const kHi = k.kHi;
    const busy = this.pick(kHi);
    const stride = WAYS * this.words;
    const t = this.t;
    if ((busy & 1) !== 0)
      for (let i = this.b1, end = i + stride; i < end; i += this.words)
        if (t[i] === kHi && t[i + 1] !== 0) return true;
    if ((busy & 2) !== 0)
      for (let i = this.b2, end = i + stride; i < end; i += this.words)
        if (t[i] === kHi && t[i + 1] !== 0) return true;
    return false;
  }

  /**
   * Sets b1 and b2 to the word offsets of the two buckets of key half `kHi` (both from kHi alone,
   * so that holds() can probe for an attempt by its Call-ID part); returns which of them the
   * bucket bits mark as holding an entry (1 the first, 2 the second).
   */
  private pick(kHi: number): number {
    const mask = this.mask;
    const b1 = kHi & mask;
    let b2 = Math.imul(kHi, 0x9e3779b1);
    b2 = ((b2 >>> 16) | (b2 << 16)) & mask;
    if (b2 === b1) b2 = (b1 ^ 1) & mask;
    const stride = WAYS * this.words;
    this.b1 = b1 * stride;
    this.b2 = b2 * stride;
    const used = this.used;
    return ((used[b1 >>> 5] >>> (b1 & 31)) & 1) | (((used[b2 >>> 5] >>> (b2 & 31)) & 1) << 1);
  }
}

/**
 * The call-state engine: from the SIP messages one or more nodes send and receive (HEP
 * capture), it finds session and registration attempts, their single outcome, their delays,
 * and the duration of answered dialogs, and reports them to a KpiSink. Pure: it reads no clock
 * after construction, sets no timer and touches no metric; `now` comes with each message, and
 * `expire(now)` may be called from a timer so that a source that goes silent still times out.
 *
 * Memory is fixed at construction (the per-peer leg table once, on the first leg); each message
 * costs a lookup in at most two buckets of one table (two for an INVITE or its response when
 * legs are followed) plus a slice of the expiry sweep, and allocates nothing. See docs/kpis.md.
 *
 * With a KpiPeerSink, each INVITE transaction between the node and a peer (a leg: one Via
 * branch, named by the message's `peer` and `direction`) is also followed on its own, apart from
 * the attempt, and reported there: what the node family counts once per call, the legs count
 * once per branch, so a failover's 503 is charged to the carrier that sent it.
 */
export class KpiEngine {
  readonly stats = new KpiStats();
  private readonly attempts: Buckets;
  private readonly dialogs: Buckets;
  /** Per-peer legs: null until the first message with a peer and a direction. */
  private legs: Buckets | null = null;
  private readonly maxLegs: number;
  private readonly inviteTimeout: number;
  private readonly nonInviteTimeout: number;
  private readonly linger: number;
  private readonly maxSession: number;
  private readonly sweepPeriod: number;
  private readonly lingerSweepPeriod: number;
  private readonly dialogSweepPeriod: number;
  private readonly origin: number;
  private captureOrigin = Number.NaN;
  /** The key last computed, which the tables read in place (KeyHolder); not for callers. */
  kHi = 0;
  kLo = 0;
  /** An attempt key's From tag bits (FROM_MASK), beside kHi and kLo. */
  kFrom = 0;
  /** The attempts a response's branch names (findBranch): a bucket pair holds 8 entries. */
  private readonly found = new Int32Array(2 * WAYS);
  private lastSweep = Number.NaN;
  private attemptSweepDebt = 0;
  private lingerSweepDebt = 0;
  private dialogSweepDebt = 0;
  /**
   * While the sink handles a report that expiry made (a timeout, an unanswered challenge), the
   * table key of that attempt; 0/0 otherwise (a live key's low word is never 0). With
   * attemptKeyOf, it lets a sink find what it kept per attempt, such as an exemplar's Call-ID.
   */
  expiringKeyHi = 0;
  expiringKeyLo = 0;
  private legSweepDebt = 0;

  constructor(
    private readonly sink: KpiSink,
    options: KpiEngineOptions = {},
    /** Per-peer legs are followed only with this sink, and only for messages that name a peer. */
    private readonly peerSink: KpiPeerSink | null = null,
  ) {
    const o = { ...KPI_DEFAULTS, ...options };
    for (const [name, value] of Object.entries(o))
      if (name !== 'now' && !(typeof value === 'number' && value >= 1 && value < 2 ** 31))
        throw new RangeError(`KPI option ${name} must be between 1 and 2^31`);
    this.attempts = new Buckets(AW, o.maxAttempts);
    this.attempts.open = new Int32Array(this.attempts.used.length);
    this.dialogs = new Buckets(DW, o.maxDialogs);
    this.maxLegs = o.maxLegs;
    this.inviteTimeout = Math.floor(o.inviteTimeoutMs);
    this.nonInviteTimeout = Math.floor(o.nonInviteTimeoutMs);
    this.linger = Math.floor(o.lingerMs);
    this.maxSession = Math.floor(o.maxSessionMs);
    this.sweepPeriod = o.sweepPeriodMs;
    this.lingerSweepPeriod =
      options.lingerSweepPeriodMs ?? Math.max(o.sweepPeriodMs, Math.min(o.lingerMs / 4, 60_000));
    this.dialogSweepPeriod =
      options.dialogSweepPeriodMs ?? Math.max(o.sweepPeriodMs, Math.min(o.maxSessionMs / 100, 60_000));
    this.origin = options.now ?? performance.now();
  }

  get attemptCapacity(): number {
    return this.attempts.capacity;
  }

  get dialogCapacity(): number {
    return this.dialogs.capacity;
  }

  /** Attempt entries in use, ended ones in their linger included: a walk of the whole table. */
  get attemptsInUse(): number {
    const t = this.attempts.t;
    let n = 0;
    for (let i = 1; i < t.length; i += AW) if (t[i] !== 0) n++;
    return n;
  }

  /** On this thread: an adapter feeding it leaves copies out itself (kpi/copies). */
  get remote(): boolean {
    return false;
  }

  /**
   * Whether per-peer legs are followed (from the first leg on): a leg is keyed by the From tag
   * too, so every response's From tag must then be read for the engine.
   */
  get followsLegs(): boolean {
    return this.legs !== null;
  }

  /** Entries of the leg table; 0 until the first leg allocates it. */
  get legCapacity(): number {
    return this.legs?.capacity ?? 0;
  }

  /** Bytes held by the tables and their bucket bitmaps (the leg table once allocated). */
  get memoryBytes(): number {
    const bytes = (b: Buckets | null) => (b === null ? 0 : b.t.byteLength + b.used.byteLength);
    return bytes(this.attempts) + bytes(this.dialogs) + bytes(this.legs);
  }

  /** The table key handle() files m's attempt under (INVITE, or REGISTER), in keyHi and keyLo. */
  attemptKeyOf(m: KpiMessage): void {
    this.attemptKey(m, m.method === REGISTER ? F_REGISTER : 0);
  }

  get keyHi(): number {
    return this.kHi;
  }

  get keyLo(): number {
    return this.kLo;
  }

  private rel(now: number): number {
    return Math.floor(now - this.origin) >>> 0;
  }

  /** Reads one message. Never throws on any field values. */
  handle(m: KpiMessage): void {
    if (!acceptable(m)) {
      this.stats.rejected++;
      return;
    }
    const now = Number.isFinite(m.now) ? m.now : this.origin;
    this.expire(now);
    const rel = this.rel(now);
    if (Number.isNaN(this.captureOrigin)) this.captureOrigin = Math.floor(m.captureMs);
    const cap = Math.round(m.captureMs - this.captureOrigin) >>> 0;
    const method = m.method;
    if (m.isRequest) {
      if (method === INVITE) {
        // A To tag marks an in-dialog request: a re-INVITE is no attempt.
        if (!m.hasToTag) {
          this.request(m, 0, rel, cap);
          if (this.peerSink !== null && m.peer > 0 && m.peer <= MAX_LEG_PEER) this.legRequest(m, rel, cap);
        }
      } else if (method === REGISTER) this.request(m, F_REGISTER, rel, cap);
      else if (method === BYE && m.hasToTag) this.bye(m, rel, cap);
      else if (method === CANCEL && this.legs !== null) this.legCancel(m, rel);
    } else if (method === INVITE) {
      this.response(m, 0, rel, cap);
      if (this.legs !== null) this.legResponse(m, rel, cap);
    } else if (method === REGISTER) this.response(m, F_REGISTER, rel, cap);
  }

  /**
   * An attempt's key: Call-ID, node and kind in kHi (which also picks the buckets, so that
   * quietResponse can tell from the Call-ID alone that no attempt is open) and kLo, and the From
   * tag's 16 bits in kFrom, as word 3 holds them.
   */
  private attemptKey(m: KpiMessage, kind: number): void {
    const salt = this.attemptKeyHi(m, kind);
    this.kLo = this.attemptKeyLo(m, salt);
    this.kFrom = fmix(m.fromTagHi ^ fmix(m.fromTagLo ^ salt)) & FROM_MASK;
  }

  /** The low word of an attempt's key: 16 more bits of the Call-ID hash, and the node. */
  private attemptKeyLo(m: KpiMessage, salt: number): number {
    return ((fmix(m.callIdLo ^ Math.imul(salt, 0x9e3779b1)) & 0xffff0000) | (m.node + 1)) >>> 0;
  }

  /**
   * For a response, before its From tag, To tag, Via branch and Reason are read: whether handle()
   * would do nothing with it but advance expiry, because no attempt of its Call-ID, node and kind
   * is in the table and no per-peer legs are followed. Reads node, method, callIdHi, callIdLo,
   * captureMs and now. When it returns true it has done what handle() would have done.
   */
  quietResponse(m: KpiMessage): boolean {
    // handle() counts what it rejects.
    if (this.legs !== null || !acceptable(m)) return false;
    const method = m.method;
    if (method !== INVITE && method !== REGISTER) return false;
    this.expire(Number.isFinite(m.now) ? m.now : this.origin);
    this.attemptKeyHi(m, method === INVITE ? 0 : F_REGISTER);
    return !this.attempts.holds(this);
  }

  /** Sets kHi, the half of an attempt's key from Call-ID, node and kind; returns their salt. */
  private attemptKeyHi(m: KpiMessage, kind: number): number {
    const salt = m.node * 4 + (kind === 0 ? 1 : 2);
    this.kHi = fmix((m.callIdHi ^ fmix(salt)) >>> 0);
    return salt;
  }

  /** The dialog's key is the same whichever side sends the BYE: the two tags are combined. */
  private dialogKey(m: KpiMessage): void {
    const salt = m.node * 4 + 3;
    const tagHi = (m.fromTagHi ^ m.toTagHi) >>> 0;
    const tagLo = (m.fromTagLo ^ m.toTagLo) >>> 0;
    this.kHi = fmix((m.callIdHi ^ fmix(tagLo ^ fmix(salt))) >>> 0);
    this.kLo =
      ((fmix(m.callIdLo ^ fmix(tagHi ^ Math.imul(salt, 0x9e3779b1))) & 0xffff0000) | (m.node + 1)) >>> 0;
  }

  private request(m: KpiMessage, kind: number, rel: number, cap: number): void {
    this.attemptKey(m, kind);
    const a = this.attempts;
    let i = a.findFrom(this, this.kFrom);
    if (i >= 0 && !this.settleAttempt(i, rel)) i = -1;
    const cseq = m.cseq >>> 0;
    const t = a.t;
    if (i >= 0) {
      const w = t[i + 3];
      const state = w & STATE;
      if (state === OPEN || state === CHALLENGED) {
        // Same or lower CSeq: a retransmission, or the node's own outgoing copy (its own Via
        // branch on top): the branch first seen stays the upstream one, unless it came from a
        // copy the node sent (the capture reordered the two) and this one was received.
        if (cseq <= t[i + 4]) {
          if (cseq === t[i + 4] && (w & F_FROM_SENT) !== 0 && m.direction === DIRECTION_RECEIVED) {
            t[i + 2] = m.branchHi >>> 0;
            t[i + 3] = ((m.branchLo & BRANCH_MASK) | (w & (FROM_MASK | 0xff) & ~F_FROM_SENT)) >>> 0;
            // The received copy is the request as the caller sent it: measure from it.
            if (((cap - t[i + 7]) | 0) < 0) {
              if (t[i + 6] === t[i + 7]) t[i + 6] = cap;
              t[i + 7] = cap;
            }
          }
          return;
        }
        // A re-send after a challenge: the same attempt, now measured from this request.
        t[i + 2] = m.branchHi >>> 0;
        t[i + 3] =
          ((m.branchLo & BRANCH_MASK) |
            (w & FROM_MASK) |
            (w & ~STATE & 0xff & ~F_EXPIRES0 & ~F_FROM_SENT) |
            OPEN |
            (m.expires0 ? F_EXPIRES0 : 0) |
            (m.direction === DIRECTION_SENT ? F_FROM_SENT : 0)) >>>
          0;
        t[i + 4] = cseq;
        t[i + 5] = (rel + (kind === 0 ? this.inviteTimeout : this.nonInviteTimeout)) >>> 0;
        t[i + 7] = cap;
        // The bucket's open bit is still set: a challenged attempt counts as waiting.
        return;
      }
      // Ended: a late copy of its request, or (higher CSeq) a new attempt reusing Call-ID and
      // From tag, as a REGISTER refresh or a redirected INVITE does.
      if (cseq <= t[i + 4]) return;
    } else {
      i = this.alloc(K_ATTEMPT, this.attempts, rel);
    }
    t[i] = this.kHi;
    t[i + 1] = this.kLo;
    t[i + 2] = m.branchHi >>> 0;
    t[i + 3] =
      ((m.branchLo & BRANCH_MASK) |
        this.kFrom |
        OPEN |
        kind |
        (m.expires0 ? F_EXPIRES0 : 0) |
        (m.direction === DIRECTION_SENT ? F_FROM_SENT : 0)) >>>
      0;
    t[i + 4] = cseq;
    t[i + 5] = (rel + (kind === 0 ? this.inviteTimeout : this.nonInviteTimeout)) >>> 0;
    t[i + 6] = cap;
    t[i + 7] = cap;
    a.markOpen(i);
  }

  /**
   * A response is the attempt's when its top Via branch is the attempt's upstream branch: the
   * branch names the transaction (RFC 3261 17.1.3 matches a response to its client transaction
   * by it), so the attempt is found by Call-ID, node and branch, and the From tag is not needed.
   * A response on any other branch (downstream, or to a request the attempt no longer waits on)
   * finds none and does nothing here; per-peer legs follow downstream branches.
   */
  private response(m: KpiMessage, kind: number, rel: number, cap: number): void {
    const status = m.status;
    if (!(status >= 100 && status <= 699)) return;
    this.kLo = this.attemptKeyLo(m, this.attemptKeyHi(m, kind));
    const a = this.attempts;
    const found = this.found;
    const n = a.findBranch(this, m, found);
    // One attempt on that branch, once the others are settled: two attempts of one Call-ID that
    // share a branch (a UA that breaks RFC 3261's unique branch) leave the response unread, as
    // neither can be told from the other without their From tags.
    let i = -1;
    for (let k = 0; k < n; k++) {
      if (!this.settleAttempt(found[k], rel)) continue;
      if (i >= 0) return;
      i = found[k];
    }
    if (i < 0) return;
    const t = a.t;
    const w = t[i + 3];
    const state = w & STATE;
    if (state === TIMED_OUT) {
      if (status >= 200) {
        this.stats.lateFinals++;
        t[i + 3] = ((w & ~STATE) | ENDED) >>> 0;
        this.sink.onLateFinal(m.node, m.method);
      }
      return;
    }
    // Ended, or a response to an earlier (challenged) request of the attempt. A copy or
    // retransmission of the challenge itself.
    if (state === ENDED || m.cseq >>> 0 !== t[i + 4] || state === CHALLENGED) return;
    if (kind === 0) this.inviteResponse(i, w, m, status, rel, cap);
    else this.registerResponse(i, w, m, status, rel, cap);
  }

  private inviteResponse(
    i: number,
    w: number,
    m: KpiMessage,
    status: number,
    rel: number,
    cap: number,
  ): void {
    const t = this.attempts.t;
    const node = m.node;
    const ms = (cap - t[i + 7]) | 0;
    if (status < 200) {
      // 100 says only that the next hop got the request: no status indication.
      if (status === 100) return;
      let f = w;
      if ((w & F_SRD) === 0) {
        f |= F_SRD;
        this.delay(node, ms, SrdResult.SUCCESS, 0);
      }
      if ((status === 180 || status === 183) && (w & F_PDD) === 0) {
        f |= F_PDD;
        this.delay(node, ms, 0, 1);
      }
      t[i + 3] = f >>> 0;
      return;
    }
    if (status === 401 || status === 407) {
      t[i + 3] = ((w & ~STATE) | CHALLENGED) >>> 0;
      t[i + 5] = (rel + this.nonInviteTimeout) >>> 0;
      return;
    }
    const outcome = attemptOutcomeOf(status);
    if ((w & F_SRD) === 0) {
      if (status < 300) this.delay(node, ms, SrdResult.SUCCESS, 0);
      else if (status >= 400) this.delay(node, ms, SrdResult.FAILURE, 0);
    }
    t[i + 3] = ((w & ~STATE) | ENDED | F_SRD) >>> 0;
    t[i + 5] = (rel + this.linger) >>> 0;
    this.ended(i);
    this.sink.onAttemptEnd(node, outcome);
    this.reason(m);
    if (outcome === AttemptOutcome.ANSWERED) this.openDialog(m, rel, cap);
  }

  private registerResponse(
    i: number,
    w: number,
    m: KpiMessage,
    status: number,
    rel: number,
    cap: number,
  ): void {
    if (status < 200) return;
    const t = this.attempts.t;
    if (status === 401 || status === 407 || status === 423) {
      t[i + 3] = ((w & ~STATE) | CHALLENGED) >>> 0;
      t[i + 5] = (rel + this.nonInviteTimeout) >>> 0;
      return;
    }
    t[i + 3] = ((w & ~STATE) | ENDED) >>> 0;
    t[i + 5] = (rel + this.linger) >>> 0;
    this.ended(i);
    const node = m.node;
    if ((w & F_EXPIRES0) !== 0) {
      this.sink.onDeregistrationEnd(
        node,
        status < 300 ? RegistrationOutcome.REGISTERED : RegistrationOutcome.FAILED,
      );
      return;
    }
    if (status < 300) {
      this.delay(node, (cap - t[i + 6]) | 0, 0, 2);
      this.sink.onRegistrationEnd(node, RegistrationOutcome.REGISTERED);
    } else this.sink.onRegistrationEnd(node, RegistrationOutcome.FAILED);
  }

  /** which: 0 SRD, 1 PDD, 2 RRD. A negative delay means the capture clock stepped back. */
  private delay(node: number, ms: number, result: number, which: number): void {
    if (ms < 0) {
      this.stats.negativeDelays++;
      return;
    }
    if (which === 0) this.sink.onSrd(node, result, ms / 1000);
    else if (which === 1) this.sink.onPdd(node, ms / 1000);
    else this.sink.onRrd(node, ms / 1000);
  }

  private reason(m: KpiMessage): void {
    const protocol = m.reasonProtocol;
    if (protocol === REASON_NONE) return;
    const cause = m.reasonCause;
    if (
      (protocol === REASON_Q850 && cause >= 1 && cause <= 127 && cause === Math.floor(cause)) ||
      (protocol === REASON_SIP && cause >= 300 && cause <= 699 && cause === Math.floor(cause))
    )
      this.sink.onReleaseCause(m.node, protocol, cause);
    else this.stats.invalidReasons++;
  }

  /**
   * Moves an attempt past every deadline that `rel` has passed, reporting what that ends.
   * Returns false when the entry is free afterwards. Each step starts from the previous
   * deadline, not from `rel`, so the result does not depend on when the sweep comes by.
   */
  private settleAttempt(i: number, rel: number): boolean {
    const t = this.attempts.t;
    for (;;) {
      const deadline = t[i + 5];
      if (((rel - deadline) | 0) < 0) return true;
      const w = t[i + 3];
      const state = w & STATE;
      const node = (t[i + 1] & 0xffff) - 1;
      if (state === OPEN || state === CHALLENGED) {
        // An unanswered challenge is the attempt's last word: it failed.
        const timedOut = state === OPEN;
        t[i + 3] = ((w & ~STATE) | (timedOut ? TIMED_OUT : ENDED)) >>> 0;
        t[i + 5] = (deadline + this.linger) >>> 0;
        this.expiringKeyHi = t[i];
        this.expiringKeyLo = t[i + 1];
        if ((w & F_REGISTER) === 0)
          this.sink.onAttemptEnd(node, timedOut ? AttemptOutcome.TIMEOUT : AttemptOutcome.FAILED);
        else {
          const outcome = timedOut ? RegistrationOutcome.TIMEOUT : RegistrationOutcome.FAILED;
          if ((w & F_EXPIRES0) !== 0) this.sink.onDeregistrationEnd(node, outcome);
          else this.sink.onRegistrationEnd(node, outcome);
        }
        this.expiringKeyLo = 0;
      } else {
        t[i + 1] = 0;
        return false;
      }
    }
  }

  private openDialog(m: KpiMessage, rel: number, cap: number): void {
    this.dialogKey(m);
    const d = this.dialogs;
    // Already there: a second answered attempt on the same Call-ID and tags; keep the first.
    const found = d.find(this);
    if (found >= 0 && this.settleDialog(found, rel)) return;
    const i = this.alloc(K_DIALOG, d, rel);
    const t = d.t;
    t[i] = this.kHi;
    t[i + 1] = this.kLo;
    t[i + 2] = (rel + this.maxSession) >>> 0;
    t[i + 3] = cap;
    this.stats.activeSessions++;
    this.sink.onSessionStart(m.node);
  }

  private bye(m: KpiMessage, rel: number, cap: number): void {
    this.dialogKey(m);
    const d = this.dialogs;
    const i = d.find(this);
    if (i < 0 || !this.settleDialog(i, rel)) {
      this.stats.unmatchedByes++;
      return;
    }
    const t = d.t;
    t[i + 1] = 0;
    this.stats.activeSessions--;
    const ms = (cap - t[i + 3]) | 0;
    if (ms < 0) {
      this.stats.negativeDelays++;
      this.sink.onSessionCut(m.node, SessionCut.CLOCK_STEP);
    } else this.sink.onSessionEnd(m.node, ms / 1000);
    this.reason(m);
  }

  private settleDialog(i: number, rel: number): boolean {
    const t = this.dialogs.t;
    if (((rel - t[i + 2]) | 0) < 0) return true;
    const node = (t[i + 1] & 0xffff) - 1;
    t[i + 1] = 0;
    this.stats.activeSessions--;
    this.sink.onSessionCut(node, SessionCut.MAX_DURATION);
    return false;
  }

  /** A leg's key: the attempt's fields and the Via branch, which names one transaction. */
  private legKey(m: KpiMessage): void {
    const salt = m.node * 4;
    this.kHi = fmix((m.callIdHi ^ fmix(m.branchLo ^ fmix(m.fromTagLo ^ fmix(salt)))) >>> 0);
    this.kLo =
      ((fmix(m.callIdLo ^ fmix(m.branchHi ^ fmix(m.fromTagHi ^ Math.imul(salt, 0x9e3779b1)))) & 0xffff0000) |
        (m.node + 1)) >>>
      0;
  }

  /**
   * An initial INVITE the node received from a peer or sent to one: a leg, unless it is a copy
   * or retransmission of one already open. A leg whose direction is not known cannot be
   * attributed (both ends or neither are the node's own) and is not followed.
   */
  private legRequest(m: KpiMessage, rel: number, cap: number): void {
    const direction = m.direction;
    if (direction !== DIRECTION_RECEIVED && direction !== DIRECTION_SENT) return;
    if (this.legs === null) this.legs = new Buckets(LW, this.maxLegs);
    this.legKey(m);
    const l = this.legs;
    let i = l.find(this);
    if (i >= 0 && this.settleLeg(i, rel)) return;
    i = this.alloc(K_LEG, l, rel);
    const t = l.t;
    t[i] = this.kHi;
    t[i + 1] = this.kLo;
    t[i + 2] = (rel + this.inviteTimeout) >>> 0;
    t[i + 3] = cap;
    t[i + 4] = ((m.peer << 8) | L_OPEN | (direction === DIRECTION_SENT ? L_TO_PEER : 0)) >>> 0;
  }

  /** The open leg of the branch `m` names, settled to `rel`; -1 when there is none. */
  private openLeg(m: KpiMessage, rel: number): number {
    this.legKey(m);
    const l = this.legs as Buckets;
    const i = l.find(this);
    if (i < 0 || !this.settleLeg(i, rel)) return -1;
    return (l.t[i + 4] & L_STATE) === L_OPEN ? i : -1;
  }

  /**
   * A response on a leg's branch. The rules are the attempt's, on one transaction: SRD and PDD
   * from the leg's INVITE, the first final is the outcome. A 401/407 is a challenge round, not an
   * outcome: the INVITE re-sent with credentials has a branch of its own, a new leg.
   */
  private legResponse(m: KpiMessage, rel: number, cap: number): void {
    const status = m.status;
    if (!(status > 100 && status <= 699)) return;
    const i = this.openLeg(m, rel);
    if (i < 0) return;
    const t = (this.legs as Buckets).t;
    const w = t[i + 4];
    const node = m.node;
    const peer = w >>> 8;
    const direction = (w & L_TO_PEER) !== 0 ? LEG_TO_PEER : LEG_FROM_PEER;
    const ms = (cap - t[i + 3]) | 0;
    const sink = this.peerSink as KpiPeerSink;
    if (status < 200) {
      let f = w;
      if ((w & L_SRD) === 0) {
        f |= L_SRD;
        if (ms < 0) this.stats.negativeDelays++;
        else sink.onLegSrd(node, peer, direction, SrdResult.SUCCESS, ms);
      }
      if ((status === 180 || status === 183) && (w & L_PDD) === 0) {
        f |= L_PDD;
        if (ms < 0) this.stats.negativeDelays++;
        else sink.onLegPdd(node, peer, direction, ms);
      }
      t[i + 4] = f >>> 0;
      return;
    }
    t[i + 4] = ((w & ~L_STATE) | L_ENDED) >>> 0;
    t[i + 2] = (rel + this.linger) >>> 0;
    if (status === 401 || status === 407) return;
    if ((w & L_SRD) === 0 && (status < 300 || status >= 400)) {
      if (ms < 0) this.stats.negativeDelays++;
      else sink.onLegSrd(node, peer, direction, status < 300 ? SrdResult.SUCCESS : SrdResult.FAILURE, ms);
    }
    sink.onLegEnd(node, peer, direction, attemptOutcomeOf(status));
  }

  /**
   * A CANCEL carries the branch of the INVITE it cancels. A leg cancelled and never answered
   * (no 487) ends `cancelled` once the non-INVITE timeout has passed, not `timeout`: the node
   * or the caller stopped waiting for the peer, which the peer's ISA must not count.
   */
  private legCancel(m: KpiMessage, rel: number): void {
    const i = this.openLeg(m, rel);
    if (i < 0) return;
    const t = (this.legs as Buckets).t;
    const w = t[i + 4];
    t[i + 4] = (w | L_CANCELLED) >>> 0;
    const deadline = (rel + this.nonInviteTimeout) >>> 0;
    if (((deadline - t[i + 2]) | 0) < 0) t[i + 2] = deadline;
  }

  /** As settleAttempt, for a leg: an open leg past its deadline ends `timeout` (or `cancelled`). */
  private settleLeg(i: number, rel: number): boolean {
    const t = (this.legs as Buckets).t;
    for (;;) {
      const deadline = t[i + 2];
      if (((rel - deadline) | 0) < 0) return true;
      const w = t[i + 4];
      if ((w & L_STATE) === L_OPEN) {
        t[i + 4] = ((w & ~L_STATE) | L_ENDED) >>> 0;
        t[i + 2] = (deadline + this.linger) >>> 0;
        (this.peerSink as KpiPeerSink).onLegEnd(
          (t[i + 1] & 0xffff) - 1,
          w >>> 8,
          (w & L_TO_PEER) !== 0 ? LEG_TO_PEER : LEG_FROM_PEER,
          (w & L_CANCELLED) !== 0 ? AttemptOutcome.CANCELLED : AttemptOutcome.TIMEOUT,
        );
      } else {
        t[i + 1] = 0;
        return false;
      }
    }
  }

  /** Settles entry `i` of the table of `kind`; false when the entry is free afterwards. */
  private settle(kind: number, i: number, rel: number): boolean {
    if (kind === K_ATTEMPT) return this.settleAttempt(i, rel);
    if (kind === K_DIALOG) return this.settleDialog(i, rel);
    return this.settleLeg(i, rel);
  }

  /**
   * Whether entry `i` (in use, settled) only lingers, its outcome known: such an entry is
   * evicted before any open one. A dialog has no outcome to wait for, so its rank is its deadline.
   */
  private lingers(kind: number, t: Uint32Array, i: number): boolean {
    if (kind === K_ATTEMPT) {
      const state = t[i + 3] & STATE;
      return state === ENDED || state === TIMED_OUT;
    }
    if (kind === K_DIALOG) return true;
    return (t[i + 4] & L_STATE) === L_ENDED;
  }

  /** Counts and reports the eviction of entry `i`, which is in use, of the table of `kind`. */
  private evict(kind: number, t: Uint32Array, i: number): void {
    if (kind === K_ATTEMPT) {
      const state = t[i + 3] & STATE;
      if (state === ENDED || state === TIMED_OUT) this.stats.lingerEvictions++;
      else this.stats.attemptEvictions++;
    } else if (kind === K_DIALOG) {
      // The oldest dialog goes: it is the likeliest to have ended unseen.
      this.stats.dialogEvictions++;
      this.stats.activeSessions--;
      const node = (t[i + 1] & 0xffff) - 1;
      t[i + 1] = 0;
      this.sink.onSessionCut(node, SessionCut.EVICTED);
    } else if ((t[i + 4] & L_STATE) === L_ENDED) this.stats.legLingerEvictions++;
    else this.stats.legEvictions++;
  }

  /**
   * An entry for the key last found in `b` (b1, b2 set by find): a free one in the emptier of
   * the two buckets, else the victim: a lingering entry before an open one, then the one closest
   * to its deadline.
   */
  private alloc(kind: number, b: Buckets, rel: number): number {
    const t = b.t;
    const words = b.words;
    const stride = WAYS * words;
    const deadline = kind === K_ATTEMPT ? 5 : 2;
    let free1 = 0;
    let first1 = -1;
    let free2 = 0;
    let first2 = -1;
    for (let pass = 0; pass < 2; pass++) {
      const base = pass === 0 ? b.b1 : b.b2;
      if (pass === 1 && base === b.b1) break;
      for (let i = base; i < base + stride; i += words) {
        // An entry not yet due costs no call.
        if (t[i + 1] !== 0 && ((rel - t[i + deadline]) | 0) >= 0) this.settle(kind, i, rel);
        if (t[i + 1] !== 0) continue;
        if (pass === 0) {
          if (free1++ === 0) first1 = i;
        } else if (free2++ === 0) first2 = i;
      }
    }
    if (free1 > 0 && free1 >= free2) {
      b.mark(first1);
      return first1;
    }
    if (free2 > 0) {
      b.mark(first2);
      return first2;
    }
    // Both buckets full (and settled): the victim is a lingering entry before an open one, then
    // the one closest to its deadline.
    let victim = -1;
    let victimRank = Number.POSITIVE_INFINITY;
    for (let pass = 0; pass < 2; pass++) {
      const base = pass === 0 ? b.b1 : b.b2;
      if (pass === 1 && base === b.b1) break;
      for (let i = base; i < base + stride; i += words) {
        const rank = ((t[i + deadline] - rel) | 0) + (this.lingers(kind, t, i) ? 0 : 2 ** 32);
        if (rank < victimRank) {
          victimRank = rank;
          victim = i;
        }
      }
    }
    this.evict(kind, t, victim);
    return victim;
  }

  /**
   * Settles the entries in use in bucket `bucket` of `b`, a table of `kind`, unless it is marked
   * empty; marks it empty when none is left.
   */
  private settleBucket(kind: number, b: Buckets, bucket: number, rel: number): void {
    const used = b.used;
    const bit = 1 << (bucket & 31);
    if ((used[bucket >>> 5] & bit) === 0) return;
    const t = b.t;
    const words = b.words;
    const from = bucket * WAYS * words;
    // The deadline word, read here so that an entry not yet due costs no call.
    const due = kind === K_ATTEMPT ? 5 : 2;
    let left = 0;
    for (let i = from, to = from + WAYS * words; i < to; i += words) {
      if (t[i + 1] === 0) continue;
      if (((rel - t[i + due]) | 0) >= 0 && !this.settle(kind, i, rel)) continue;
      left++;
    }
    if (left === 0) used[bucket >>> 5] &= ~bit;
  }

  /**
   * Settles the attempt bucket `bucket` unless no attempt there waits for its outcome; clears its
   * open bit when none is left waiting.
   */
  private settleOpenBucket(bucket: number, rel: number): void {
    const a = this.attempts;
    const open = a.open as Int32Array;
    const bit = 1 << (bucket & 31);
    if ((open[bucket >>> 5] & bit) === 0) return;
    this.settleBucket(K_ATTEMPT, a, bucket, rel);
    const t = a.t;
    for (let i = bucket * WAYS * AW, to = i + WAYS * AW; i < to; i += AW) {
      if (t[i + 1] === 0) continue;
      const state = t[i + 3] & STATE;
      if (state === OPEN || state === CHALLENGED) return;
    }
    open[bucket >>> 5] &= ~bit;
  }

  /**
   * After the attempt at entry `i` got its outcome: clears its bucket's open bit when no attempt
   * there waits any more, so that the open sweep does not come back to a bucket whose lines the
   * message just had in cache only to find nothing to do (at a steady call rate, most attempts
   * end long before the sweep comes by).
   */
  private ended(i: number): void {
    const a = this.attempts;
    const t = a.t;
    const stride = WAYS * AW;
    const bucket = Math.floor(i / stride);
    for (let j = bucket * stride, to = j + stride; j < to; j += AW) {
      if (t[j + 1] === 0) continue;
      const state = t[j + 3] & STATE;
      if (state === OPEN || state === CHALLENGED) return;
    }
    (a.open as Int32Array)[bucket >>> 5] &= ~(1 << (bucket & 31));
  }

  /** As sweep(), over the attempt buckets the open bits mark; 32 unmarked ones cost one load. */
  private sweepOpen(debt: number, rel: number): number {
    const a = this.attempts;
    const buckets = a.mask + 1;
    const n = Math.floor(debt * buckets);
    if (n <= 0) return debt;
    const open = a.open as Int32Array;
    let cursor = a.openCursor;
    for (let k = n; k > 0; ) {
      if ((cursor & 31) === 0 && k >= 32 && open[cursor >>> 5] === 0) {
        cursor = (cursor + 32) & a.mask;
        k -= 32;
        continue;
      }
      this.settleOpenBucket(cursor, rel);
      cursor = (cursor + 1) & a.mask;
      k--;
    }
    a.openCursor = cursor;
    return debt - n / buckets;
  }

  /** Settles every bucket of `b` that holds an entry. */
  private settleAll(kind: number, b: Buckets, rel: number): void {
    const used = b.used;
    for (let w = 0; w < used.length; w++) {
      if (used[w] === 0) continue;
      for (let bit = 0; bit < 32; bit++) this.settleBucket(kind, b, w * 32 + bit, rel);
    }
  }

  /**
   * Visits as many buckets of `b` from its cursor on as the sweep debt (a fraction of the
   * table) covers; returns the debt left.
   */
  private sweep(kind: number, b: Buckets, debt: number, rel: number): number {
    const buckets = b.mask + 1;
    const n = Math.floor(debt * buckets);
    if (n <= 0) return debt;
    let cursor = b.cursor;
    for (let k = n; k > 0; k--) {
      this.settleBucket(kind, b, cursor, rel);
      cursor = (cursor + 1) & b.mask;
    }
    b.cursor = cursor;
    return debt - n / buckets;
  }

  /**
   * Advances the expiry sweep to `now`: each table is visited at a rate that covers it once per
   * sweep period, so timeouts are reported at most one period late and the cost per call is
   * proportional to the time elapsed, not to the table size. Safe to call from a timer.
   */
  expire(now: number): void {
    if (!Number.isFinite(now)) return;
    if (Number.isNaN(this.lastSweep) || now < this.lastSweep) {
      this.lastSweep = now;
      return;
    }
    const elapsed = now - this.lastSweep;
    if (elapsed < 1) return;
    this.lastSweep = now;
    const rel = this.rel(now);
    this.attemptSweepDebt = Math.min(1, this.attemptSweepDebt + elapsed / this.sweepPeriod);
    this.lingerSweepDebt = Math.min(1, this.lingerSweepDebt + elapsed / this.lingerSweepPeriod);
    this.dialogSweepDebt = Math.min(1, this.dialogSweepDebt + elapsed / this.dialogSweepPeriod);
    this.legSweepDebt = Math.min(1, this.legSweepDebt + elapsed / this.sweepPeriod);
    this.attemptSweepDebt = this.sweepOpen(this.attemptSweepDebt, rel);
    this.lingerSweepDebt = this.sweep(K_ATTEMPT, this.attempts, this.lingerSweepDebt, rel);
    this.dialogSweepDebt = this.sweep(K_DIALOG, this.dialogs, this.dialogSweepDebt, rel);
    if (this.legs !== null) this.legSweepDebt = this.sweep(K_LEG, this.legs, this.legSweepDebt, rel);
  }

  /** Settles every entry against `now` at once (tests, and a clean shutdown report). */
  expireAll(now: number): void {
    const rel = this.rel(now);
    this.settleAll(K_ATTEMPT, this.attempts, rel);
    this.settleAll(K_DIALOG, this.dialogs, rel);
    if (this.legs !== null) this.settleAll(K_LEG, this.legs, rel);
  }
}
