import type { Observation } from '../count/observation.js';
import { EXEMPLAR_LABELS_MAX, type ExemplarSlot, exemplarLabelValue } from '../metrics/exemplar.js';
import type { KpiEngine } from './engine.js';
import type { KpiMessage } from './types.js';

/** The exemplar label that names a call, as Homer and the SIP headers call it. */
export const CALL_ID_LABEL = 'call_id';
/** Code points left for the value once the label name is counted: 121. */
export const CALL_ID_MAX = EXEMPLAR_LABELS_MAX - CALL_ID_LABEL.length;
/** A series takes a new exemplar at most once per this, on the KPI clock. */
export const EXEMPLAR_INTERVAL_MS = 1000;
/** Slots of the Call-ID memory for attempts that end by expiry. */
export const CALL_ID_SLOTS = 8192;
/** Bytes a slot keeps: more than CALL_ID_MAX ASCII characters, the only kind a real Call-ID has. */
const SLOT_BYTES = 128;
/** A code point is at most 4 bytes: past this, the bytes cannot reach the label. */
const MAX_DECODE_BYTES = CALL_ID_MAX * 4;
/** In a slot's length: the Call-ID was longer than the slot. */
const CUT = 0x8000;

/** What happened to the exemplars the KPI families were due to take. */
export class CallIdExemplarStats {
  /** Exemplars set. */
  taken = 0;
  /** Of those, with a Call-ID cut to fit the label limit. */
  truncated = 0;
  /** Due, but the Call-ID was not known (an attempt ended by expiry that the memory lost). */
  unnamed = 0;
}

/**
 * Names the call behind a KPI report, for the exemplars of the session families, without the
 * engine (which sees hashes only) or the hot path paying for it.
 *
 * A report the engine makes while handling a message (a final response ending an attempt, the
 * response that fixes the session request delay) is about that message's call: the observer
 * lends the observation for the duration of engine.handle, and its Call-ID bytes are decoded
 * only when a series is due for an exemplar (once per EXEMPLAR_INTERVAL_MS).
 *
 * A report that expiry makes (a timeout, an unanswered challenge) comes long after the last
 * message, with only the attempt's table key. For those, the Call-IDs of some new INVITEs are
 * copied into a direct-mapped memory keyed by that key: at most one every invite timeout /
 * CALL_ID_SLOTS ms, the rate at which an entry most often outlives its attempt's timeout, so
 * the copy costs nothing at any call rate, and one timeout in many can be named, which is all
 * an exemplar needs. When the slot was overwritten there is no exemplar: never a hash in its
 * place. Memory: CALL_ID_SLOTS * (SLOT_BYTES + 10) bytes, fixed.
 */
export class CallIdExemplars {
  /** The observation the engine is handling, lent by the observer during engine.handle. */
  current: Observation | null = null;
  /** The KPI clock (ms), as the engine last saw it: paces the exemplars. */
  now = 0;
  readonly stats = new CallIdExemplarStats();
  private engine: KpiEngine | null = null;
  /** Two words per slot: the attempt's key; a low word of 0 is an empty slot. */
  private readonly keys = new Uint32Array(CALL_ID_SLOTS * 2);
  /** Bytes kept per slot, with CUT when the Call-ID was longer. */
  private readonly lengths = new Uint16Array(CALL_ID_SLOTS);
  private readonly bytes = new Uint8Array(CALL_ID_SLOTS * SLOT_BYTES);
  private readonly rememberEveryMs: number;
  /** when the memory last kept a Call-ID, on the expiry clock */
  private lastRemember = Number.NEGATIVE_INFINITY;
  /** Never fatal: invalid UTF-8 becomes U+FFFD. A leading BOM is kept, as the call sent it. */
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  private readonly encoder = new TextEncoder();

  constructor(inviteTimeoutMs: number) {
    this.rememberEveryMs = inviteTimeoutMs / CALL_ID_SLOTS;
  }

  /** The engine whose expiry reports (expiringKeyHi/Lo) this names; set by the observer. */
  bind(engine: KpiEngine): void {
    this.engine = engine;
  }

  /**
   * Sets `slot`'s exemplar to the call the engine is reporting, if the slot is due and the call
   * can be named. Called from the sink for every report that may carry one: cheap unless due.
   */
  offer(slot: ExemplarSlot, value: number): void {
    const now = this.now;
    if (!slot.due(now, EXEMPLAR_INTERVAL_MS)) return;
    const labels = this.labels();
    if (labels === null) {
      // Not marked as taken: the next report on this series tries again.
      this.stats.unnamed++;
      return;
    }
    slot.set(labels, value, Date.now(), now);
    this.stats.taken++;
  }

  /**
   * After engine.handle of an initial INVITE: keeps its Call-ID for a later timeout, when the
   * memory's pace allows (see the class comment).
   */
  remember(o: Observation, m: KpiMessage): void {
    const now = o.now;
    // A clock that went back re-arms at once rather than stalling until it catches up. Compared
    // with the time kept, not with a deadline less the pace: (now + pace) - pace can come out a
    // hair above now, and a second INVITE in the same instant would then be kept too.
    if (now >= this.lastRemember && now < this.lastRemember + this.rememberEveryMs) return;
    const ref = o.callId;
    const engine = this.engine;
    if (engine === null || ref.length === 0) return;
    this.lastRemember = now;
    engine.attemptKeyOf(m);
    const hi = engine.keyHi;
    const slot = hi & (CALL_ID_SLOTS - 1);
    this.keys[slot * 2] = hi;
    this.keys[slot * 2 + 1] = engine.keyLo;
    const at = slot * SLOT_BYTES;
    const bytes = this.bytes;
    let n: number;
    let cut: boolean;
    if (ref.text !== null) {
      const { read, written } = this.encoder.encodeInto(ref.text, bytes.subarray(at, at + SLOT_BYTES));
      n = written;
      cut = read < ref.text.length;
    } else {
      const src = ref.buf;
      const start = ref.start;
      const length = ref.end - start;
      n = Math.min(length, SLOT_BYTES);
      cut = length > SLOT_BYTES;
      // Cut before a character the slot cannot hold whole (at most 3 continuation bytes back).
      if (cut) for (let k = 0; k < 3 && n > 0 && (src[start + n] & 0xc0) === 0x80; k++) n--;
      for (let i = 0; i < n; i++) bytes[at + i] = src[start + i];
    }
    this.lengths[slot] = n | (cut ? CUT : 0);
  }

  /** The `call_id="…"` label set for the report being made, or null when the call is unknown. */
  private labels(): string | null {
    const engine = this.engine;
    if (engine !== null && engine.expiringKeyLo !== 0) {
      const hi = engine.expiringKeyHi;
      const slot = hi & (CALL_ID_SLOTS - 1);
      if (this.keys[slot * 2 + 1] !== engine.expiringKeyLo || this.keys[slot * 2] !== hi) return null;
      const length = this.lengths[slot];
      const at = slot * SLOT_BYTES;
      const text = this.decoder.decode(this.bytes.subarray(at, at + (length & ~CUT)));
      return this.render(text, (length & CUT) !== 0);
    }
    const o = this.current;
    if (o === null) return null;
    const ref = o.callId;
    if (ref.text !== null) return this.render(ref.text, false);
    if (!(ref.end > ref.start)) return null;
    const end = Math.min(ref.end, ref.start + MAX_DECODE_BYTES);
    return this.render(this.decoder.decode(ref.buf.subarray(ref.start, end)), end < ref.end);
  }

  private render(text: string, cut: boolean): string | null {
    if (text === '') return null;
    const { value, truncated } = exemplarLabelValue(text, CALL_ID_MAX);
    if (truncated || cut) this.stats.truncated++;
    return `${CALL_ID_LABEL}="${value}"`;
  }
}
