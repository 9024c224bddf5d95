import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { KeyHasher } from '../../src/count/key-hasher.js';
import { SOURCE_HEP } from '../../src/count/node-sources.js';
import { NodeLabels } from '../../src/count/nodes.js';
import { KIND_REQUEST, KIND_RESPONSE, Observation } from '../../src/count/observation.js';
import { hashCallId } from '../../src/count/sip-counter.js';
import { CallIdExemplars } from '../../src/kpi/call-ids.js';
import { KpiEngine } from '../../src/kpi/engine.js';
import { KpiMetrics } from '../../src/kpi/metrics.js';
import { KpiObserver } from '../../src/kpi/observer.js';
import { openMetrics } from '../../src/metrics/openmetrics.js';
import { METHOD_LABELS } from '../../src/sip/methods.js';

const INVITE = METHOD_LABELS.indexOf('INVITE');
const T0 = 1_795_600_000_000;

function setup() {
  const registry = new Registry();
  const callIds = new CallIdExemplars(190_000);
  const metrics = new KpiMetrics(registry, new NodeLabels(10, new Map(), { value: 0 }), callIds);
  const engine = new KpiEngine(metrics, { maxAttempts: 1024, maxDialogs: 1024, now: 0 });
  const observer = new KpiObserver(engine, callIds);
  const o = new Observation();
  o.listener = SOURCE_HEP;
  /** One INVITE or response to it, as a HEP source fills the observation. */
  const feed = (spec: {
    status?: number;
    callId: Uint8Array | string;
    fromTag?: string;
    toTag?: string;
    ms: number;
    now: number;
  }) => {
    o.kind = spec.status === undefined ? KIND_REQUEST : KIND_RESPONSE;
    o.statusCode = spec.status ?? 0;
    o.method = INVITE;
    o.cseqNumber = 1;
    if (typeof spec.callId === 'string') o.callId.setText(spec.callId);
    else {
      // Inside a larger buffer, as a packet holds it.
      const buf = new Uint8Array(spec.callId.length + 20).fill(0x41);
      buf.set(spec.callId, 10);
      o.callId.setBytes(buf, 10, 10 + spec.callId.length);
    }
    o.fromTag.setText(spec.fromTag ?? 'f1');
    o.toTag.setText(spec.toTag);
    o.viaBranch.setText('z9hG4bKb1');
    o.timeSeconds = Math.floor(spec.ms / 1000);
    o.timeMicroseconds = (spec.ms % 1000) * 1000;
    o.now = spec.now;
    hashCallId(new KeyHasher(), o);
    observer.observe(o);
  };
  const exemplar = async (outcome: string) =>
    new RegExp(`sip_session_attempts_total\\{node="[^"]*",outcome="${outcome}"\\} \\d+(.*)`).exec(
      await openMetrics(registry),
    )?.[1];
  return { callIds, feed, exemplar };
}

const bytes = (s: string) => new TextEncoder().encode(s);

describe('CallIdExemplars', () => {
  it('names a timeout swept during another call by the memory, never by the message in hand', async () => {
    const { callIds, feed, exemplar } = setup();
    feed({ callId: bytes('first@example.com'), ms: T0, now: 0 });
    // Within the memory's pace: not remembered.
    feed({ callId: bytes('second@example.com'), fromTag: 'f2', ms: T0 + 1, now: 1 });
    // Past the 190 s timeout: both time out while this 180 of a third call is handled.
    feed({ status: 180, callId: bytes('third@example.com'), toTag: 't3', ms: T0 + 200_000, now: 200_000 });
    expect(await exemplar('timeout')).toMatch(/^ # \{call_id="first@example.com"\} 1 \d+\.\d{3}$/);
    expect(callIds.stats.taken).toBe(1);
  });

  it('keeps one Call-ID per pace whatever the instant, even one whose sum with the pace rounds', async () => {
    // (1005.921577 + 190000 / 8192) - 190000 / 8192 is a hair above 1005.921577 in doubles.
    expect(1005.921577 + 190_000 / 8192 - 190_000 / 8192).toBeGreaterThan(1005.921577);
    await fc.assert(
      fc.asyncProperty(fc.double({ min: 0, max: 1e10, noNaN: true }), async (now) => {
        const { callIds, feed, exemplar } = setup();
        feed({ callId: bytes('first@example.com'), ms: T0, now });
        feed({ callId: bytes('second@example.com'), fromTag: 'f2', ms: T0 + 1, now });
        const later = now + 200_000;
        feed({ status: 180, callId: bytes('third@example.com'), toTag: 't3', ms: T0 + 200_000, now: later });
        expect(await exemplar('timeout')).toMatch(/^ # \{call_id="first@example.com"\} 1 \d+\.\d{3}$/);
        expect([callIds.stats.taken, callIds.stats.unnamed]).toEqual([1, 1]);
      }),
      { numRuns: 200, examples: [[1005.921577]] },
    );
  });

  it('keeps a long Call-ID whole up to a UTF-8 boundary and counts it as truncated', async () => {
    const { callIds, feed, exemplar } = setup();
    // 1 + 2 * 100 bytes: 128 bytes would split an é, so 127 are kept.
    feed({ callId: bytes(`x${'é'.repeat(100)}`), ms: T0, now: 0 });
    feed({
      status: 180,
      callId: bytes('other@example.com'),
      fromTag: 'f9',
      toTag: 't',
      ms: T0 + 200_000,
      now: 200_000,
    });
    expect(await exemplar('timeout')).toMatch(new RegExp(`^ # \\{call_id="x${'é'.repeat(63)}"\\} 1 `));
    expect(callIds.stats.truncated).toBe(1);
  });

  it('names an unanswered challenge, which fails in the sweep', async () => {
    const { feed, exemplar } = setup();
    feed({ callId: bytes('challenged@example.com'), ms: T0, now: 0 });
    feed({ status: 407, callId: bytes('challenged@example.com'), toTag: 'p', ms: T0 + 10, now: 10 });
    // The challenge waits 32 s for the re-sent INVITE.
    feed({ callId: bytes('later@example.com'), fromTag: 'f5', ms: T0 + 40_000, now: 40_000 });
    expect(await exemplar('failed')).toMatch(/^ # \{call_id="challenged@example.com"\} 1 /);
  });

  it('reads a Call-ID given as text as well as bytes', async () => {
    const { feed, exemplar } = setup();
    feed({ callId: 'text@example.com', ms: T0, now: 0 });
    feed({ status: 404, callId: 'text@example.com', toTag: 't', ms: T0 + 5, now: 5 });
    expect(await exemplar('failed')).toMatch(/^ # \{call_id="text@example.com"\} 1 /);
    feed({ callId: 'timed@example.com', fromTag: 'f7', ms: T0 + 10, now: 10_000 });
    feed({ status: 180, callId: 'x@example.com', fromTag: 'f8', toTag: 't', ms: T0 + 300_000, now: 300_000 });
    expect(await exemplar('timeout')).toMatch(/^ # \{call_id="timed@example.com"\} 1 /);
  });

  it('takes at most one exemplar a second per series', async () => {
    const { callIds, feed } = setup();
    for (let i = 0; i < 50; i++) {
      feed({ callId: bytes(`c${i}@example.com`), fromTag: `f${i}`, ms: T0 + i * 100, now: i * 100 });
      feed({
        status: 404,
        callId: bytes(`c${i}@example.com`),
        fromTag: `f${i}`,
        toTag: 't',
        ms: T0 + i * 100 + 50,
        now: i * 100 + 50,
      });
    }
    // 5 s of calls: one failed-outcome and one SRD-bucket exemplar a second, first at 0.
    expect(callIds.stats.taken).toBe(10);
  });
});
