import { describe, expect, it } from 'vitest';
import { KeyHasher } from '../../src/count/key-hasher.js';
import {
  ATTEMPT_ENTRY_BYTES,
  DIALOG_ENTRY_BYTES,
  KPI_DEFAULTS,
  KpiEngine,
  type KpiEngineOptions,
} from '../../src/kpi/engine.js';
import { emptyKpiMessage } from '../../src/kpi/types.js';
import { type Msg, RecordingSink, toKpi } from './harness.js';

function setup(options: KpiEngineOptions = {}) {
  const sink = new RecordingSink();
  const engine = new KpiEngine(sink, { maxAttempts: 256, maxDialogs: 256, now: 0, ...options });
  const message = emptyKpiMessage();
  const send = (...msgs: Msg[]) => {
    for (const m of msgs) engine.handle(toKpi(m, message));
  };
  return { sink, engine, send };
}

const CALL = { callId: 'call-1@10.0.0.1', fromTag: 'caller-tag' };
/** A request or response of CALL at time t (ms, both clocks). */
const invite = (branch: string, t: number, cseq = 1, extra: Partial<Msg> = {}): Msg => ({
  ...CALL,
  req: true,
  method: 'INVITE',
  branch,
  cseq,
  cap: 1_795_000_000_000 + t,
  now: t,
  ...extra,
});
const reply = (status: number, branch: string, t: number, cseq = 1, extra: Partial<Msg> = {}): Msg => ({
  ...CALL,
  req: false,
  method: 'INVITE',
  status,
  toTag: status === 100 ? undefined : 'callee-tag',
  branch,
  cseq,
  cap: 1_795_000_000_000 + t,
  now: t,
  ...extra,
});
const bye = (t: number, extra: Partial<Msg> = {}): Msg => ({
  ...CALL,
  toTag: 'callee-tag',
  req: true,
  method: 'BYE',
  branch: `bye-${t}`,
  cseq: 2,
  cap: 1_795_000_000_000 + t,
  now: t,
  ...extra,
});

describe('session attempt outcomes', () => {
  const cases: Array<[number, string]> = [
    [200, 'answered'],
    [202, 'answered'],
    [302, 'redirected'],
    [486, 'busy'],
    [600, 'busy'],
    [603, 'declined'],
    [480, 'unavailable'],
    [487, 'cancelled'],
    [408, 'ineffective'],
    [500, 'ineffective'],
    [503, 'ineffective'],
    [504, 'ineffective'],
    [404, 'failed'],
    [403, 'failed'],
    [502, 'failed'],
    [606, 'failed'],
  ];
  it.each(cases)('a final %i ends the attempt as %s', (status, outcome) => {
    const { sink, send } = setup();
    send(invite('z9hG4bK-u', 0), reply(status, 'z9hG4bK-u', 250));
    const events = sink.take();
    expect(events.filter((e) => e.startsWith('attempt'))).toEqual([`attempt 0 ${outcome}`]);
    if (status >= 400) expect(events).toContain('srd 0 failure 0.25');
    if (status < 300) expect(events).toContain('srd 0 success 0.25');
    if (status >= 300 && status < 400) expect(events.some((e) => e.startsWith('srd'))).toBe(false);
    expect(events.includes('session-start 0')).toBe(status < 300);
  });
});

describe('a proxy traced in and out', () => {
  it('counts one answered attempt, SRD and PDD from the upstream leg, and the BYE duration', () => {
    const { sink, engine, send } = setup();
    send(
      invite('up', 0), // received from the caller
      invite('down', 2), // the proxy's copy to the callee: its own Via branch on top
      reply(100, 'up', 3),
      invite('up', 500), // retransmission in and out
      invite('down', 502),
      reply(180, 'down', 300),
      reply(180, 'up', 301),
      reply(200, 'down', 2000),
      reply(200, 'up', 2001),
      reply(200, 'up', 2500), // retransmitted 200
      { ...invite('ack', 2100), method: 'ACK', toTag: 'callee-tag' },
      bye(62_001),
      bye(62_003, { branch: 'bye-out' }),
    );
    expect(sink.take()).toEqual([
      'srd 0 success 0.301',
      'pdd 0 0.301',
      'attempt 0 answered',
      'session-start 0',
      'session-end 0 60',
    ]);
    expect(engine.stats.unmatchedByes).toBe(1);
    expect(engine.stats.activeSessions).toBe(0);
  });

  it('counts a failover (503 from carrier A, 200 from carrier B) as one answered attempt', () => {
    const { sink, send } = setup();
    send(
      invite('up', 0),
      invite('to-a', 1),
      reply(503, 'to-a', 40),
      invite('to-b', 41),
      reply(183, 'to-b', 900),
      reply(183, 'up', 901),
      reply(200, 'to-b', 5000),
      reply(200, 'up', 5001),
    );
    expect(sink.take()).toEqual([
      'srd 0 success 0.901',
      'pdd 0 0.901',
      'attempt 0 answered',
      'session-start 0',
    ]);
  });

  it('a capture that delivers the outgoing INVITE first is corrected by the direction hint', () => {
    const { sink, send } = setup();
    send(
      invite('to-a', 1, 1, { dir: 'out' }),
      invite('up', 0, 1, { dir: 'in' }),
      reply(503, 'to-a', 40),
      invite('to-b', 41, 1, { dir: 'out' }),
      reply(200, 'to-b', 500),
      reply(200, 'up', 501),
    );
    expect(sink.take()).toEqual(['srd 0 success 0.501', 'attempt 0 answered', 'session-start 0']);
  });

  it('without the hint, the first copy seen is taken as upstream (the documented limit)', () => {
    const { sink, send } = setup();
    send(
      invite('to-a', 1),
      invite('up', 0),
      reply(503, 'to-a', 40),
      invite('to-b', 41),
      reply(200, 'up', 501),
    );
    expect(sink.take()).toEqual(['srd 0 failure 0.039', 'attempt 0 ineffective']);
  });

  it('the callee may send the BYE: the dialog is found from either side', () => {
    const { sink, send } = setup();
    send(invite('up', 0), reply(200, 'up', 1000));
    send(bye(31_000, { fromTag: 'callee-tag', toTag: 'caller-tag' }));
    expect(sink.take()).toContain('session-end 0 30');
  });
});

describe('challenges', () => {
  it('an INVITE re-sent after a 407 continues the attempt; SRD runs from the re-sent INVITE', () => {
    const { sink, send } = setup();
    send(
      invite('u1', 0),
      reply(407, 'u1', 20),
      { ...invite('u1', 25), method: 'ACK' },
      invite('u2', 100, 2),
      invite('d2', 101, 2),
      reply(180, 'd2', 600, 2),
      reply(180, 'u2', 601, 2),
      reply(200, 'u2', 3000, 2),
    );
    expect(sink.take()).toEqual([
      'srd 0 success 0.501',
      'pdd 0 0.501',
      'attempt 0 answered',
      'session-start 0',
    ]);
  });

  it('a challenge never answered ends the attempt as failed after the non-INVITE timeout', () => {
    const { sink, engine, send } = setup();
    send(invite('u1', 0), reply(401, 'u1', 20));
    engine.expireAll(20 + 31_999);
    expect(sink.take()).toEqual([]);
    engine.expireAll(20 + 32_000);
    expect(sink.take()).toEqual(['attempt 0 failed']);
  });
});

describe('responses found by their branch', () => {
  it('tells apart two calls whose Call-IDs share a 32-bit hash, every call on the same branch', () => {
    // A UA that sends the same branch on every call (or none) leaves only the Call-ID to tell
    // attempts apart: the entry keeps 48 bits of its hash, so a pair that agrees in 32 bits (a
    // few hundred thousand live attempts hold dozens) must still be two attempts.
    const hasher = new KeyHasher();
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; pair === undefined; i++) {
      const id = `k${i}@example.com`;
      hasher.begin().string(id).end();
      const other = seen.get(hasher.hi);
      if (other !== undefined) pair = [other, id];
      else seen.set(hasher.hi, id);
    }
    const { sink, send } = setup({ maxAttempts: 1, maxDialogs: 4 });
    const [a, b] = pair;
    const call = (callId: string) => ({ callId, fromTag: 'f' });
    send(
      invite('same', 0, 1, call(a)),
      invite('same', 10, 1, call(b)),
      reply(486, 'same', 100, 1, call(b)),
      reply(200, 'same', 200, 1, call(a)),
    );
    expect(sink.take()).toEqual([
      'srd 0 failure 0.09',
      'attempt 0 busy',
      'srd 0 success 0.2',
      'attempt 0 answered',
      'session-start 0',
    ]);
  });
});

describe('forking', () => {
  it('two provisional and two final responses downstream: one attempt, one SRD, one PDD', () => {
    const { sink, send } = setup();
    send(
      invite('up', 0),
      invite('b1', 1),
      invite('b2', 1),
      reply(180, 'b1', 100, 1, { toTag: 't1' }),
      reply(180, 'up', 101, 1, { toTag: 't1' }),
      reply(183, 'b2', 150, 1, { toTag: 't2' }),
      reply(183, 'up', 151, 1, { toTag: 't2' }),
      reply(486, 'b1', 2000, 1, { toTag: 't1' }),
      reply(200, 'b2', 3000, 1, { toTag: 't2' }),
      reply(200, 'up', 3001, 1, { toTag: 't2' }),
    );
    expect(sink.take()).toEqual([
      'srd 0 success 0.101',
      'pdd 0 0.101',
      'attempt 0 answered',
      'session-start 0',
    ]);
  });

  it('a 180 then a 486 upstream is busy with a success SRD', () => {
    const { sink, send } = setup();
    send(invite('up', 0), reply(180, 'up', 400), reply(486, 'up', 9000));
    expect(sink.take()).toEqual(['srd 0 success 0.4', 'pdd 0 0.4', 'attempt 0 busy']);
  });
});

describe('CANCEL and re-INVITE', () => {
  it('CANCEL then 487 is cancelled; the CANCEL and its 200 are not the outcome', () => {
    const { sink, send } = setup();
    send(
      invite('up', 0),
      reply(180, 'up', 200),
      { ...invite('up', 5000), method: 'CANCEL' },
      { ...reply(200, 'up', 5001), method: 'CANCEL' },
      reply(487, 'up', 5002),
    );
    expect(sink.take()).toEqual(['srd 0 success 0.2', 'pdd 0 0.2', 'attempt 0 cancelled']);
  });

  it('a re-INVITE is no attempt, and its responses change nothing', () => {
    const { sink, send } = setup();
    send(invite('up', 0), reply(200, 'up', 1000));
    sink.take();
    send(
      invite('re', 10_000, 2, { toTag: 'callee-tag' }),
      reply(100, 're', 10_001, 2),
      reply(491, 're', 10_002, 2),
      invite('re2', 60_000, 3, { toTag: 'callee-tag' }),
      reply(200, 're2', 60_100, 3),
    );
    expect(sink.take()).toEqual([]);
  });
});

describe('timeouts', () => {
  it('an INVITE with no final within the INVITE timeout times out, from the sweep alone', () => {
    const { sink, engine, send } = setup();
    send(invite('up', 0), reply(180, 'up', 100));
    sink.take();
    for (let t = 1000; t < KPI_DEFAULTS.inviteTimeoutMs; t += 1000) engine.expire(t);
    expect(sink.take()).toEqual([]);
    for (let t = KPI_DEFAULTS.inviteTimeoutMs; t <= KPI_DEFAULTS.inviteTimeoutMs + 2000; t += 500)
      engine.expire(t);
    expect(sink.take()).toEqual(['attempt 0 timeout']);
    // A final after the timeout is counted apart, once, and opens no dialog.
    send(reply(200, 'up', 200_000), reply(200, 'up', 200_500));
    expect(sink.take()).toEqual(['late 0 5']);
    expect(engine.stats.lateFinals).toBe(1);
    expect(engine.stats.activeSessions).toBe(0);
  });

  it('the sweep that reports timeouts visits only buckets with an attempt waiting; ended ones are freed on a slower pass', () => {
    // A table of 1,024 buckets: most of it lingering attempts, a few waiting for their outcome.
    const { sink, engine, send } = setup({
      maxAttempts: 4096,
      inviteTimeoutMs: 5000,
      lingerMs: 8000,
      sweepPeriodMs: 1000,
      lingerSweepPeriodMs: 4000,
    });
    for (let n = 0; n < 1000; n++)
      send(invite('up', n, 1, { callId: `ended-${n}` }), reply(486, 'up', n, 1, { callId: `ended-${n}` }));
    for (let n = 0; n < 20; n++) send(invite('up', 1000, 1, { callId: `waiting-${n}` }));
    sink.take();
    expect(engine.attemptsInUse).toBe(1020);
    // Timeouts: within one sweep period of the deadline (1,000 + 5,000 ms), however the passes fall.
    for (let t = 1000; t < 6000; t += 100) engine.expire(t);
    expect(sink.take()).toEqual([]);
    for (let t = 6000; t <= 7000; t += 100) engine.expire(t);
    expect(sink.take()).toEqual(Array(20).fill('attempt 0 timeout'));
    // Every entry's linger has ended by 7,000 + 8,000 ms (the ended ones' by 8,999); the slower
    // pass frees them within its period after that, with nothing else arriving.
    for (let t = 7100; t <= 15_000 + 4000; t += 100) engine.expire(t);
    expect(engine.attemptsInUse).toBe(0);
    expect(sink.take()).toEqual([]);
  });

  it('the timeout is an option', () => {
    const { sink, engine, send } = setup({ inviteTimeoutMs: 5000 });
    send(invite('up', 0));
    engine.expireAll(5000);
    expect(sink.take()).toEqual(['attempt 0 timeout']);
  });
});

describe('eviction', () => {
  it('a full attempt table evicts, counts it, and reports no outcome for the evicted attempt', () => {
    const { sink, engine, send } = setup({ maxAttempts: 4 });
    expect(engine.attemptCapacity).toBe(4);
    for (let n = 0; n < 5; n++) send(invite('up', n, 1, { callId: `c${n}` }));
    expect(engine.stats.attemptEvictions).toBe(1);
    engine.expireAll(1_000_000);
    expect(sink.take().filter((e) => e === 'attempt 0 timeout')).toHaveLength(4);
  });

  it('an ended attempt is evicted before an open one', () => {
    const { engine, send } = setup({ maxAttempts: 4 });
    send(invite('up', 0, 1, { callId: 'done' }), reply(486, 'up', 1, 1, { callId: 'done' }));
    for (let n = 0; n < 4; n++) send(invite('up', 10 + n, 1, { callId: `c${n}` }));
    expect(engine.stats.lingerEvictions).toBe(1);
    expect(engine.stats.attemptEvictions).toBe(0);
  });

  it('a full dialog table ends the oldest dialog as evicted, out of the duration histogram', () => {
    const { sink, engine, send } = setup({ maxDialogs: 4 });
    for (let n = 0; n < 5; n++)
      send(
        invite('up', n * 10, 1, { callId: `c${n}` }),
        reply(200, 'up', n * 10 + 1, 1, { callId: `c${n}` }),
      );
    expect(engine.stats.dialogEvictions).toBe(1);
    expect(engine.stats.activeSessions).toBe(4);
    expect(sink.take().filter((e) => e.startsWith('session-cut'))).toEqual(['session-cut 0 evicted']);
    send(bye(1000, { callId: 'c0' }));
    expect(engine.stats.unmatchedByes).toBe(1);
  });
});

describe('registrations', () => {
  const reg = (branch: string, t: number, cseq: number, extra: Partial<Msg> = {}): Msg => ({
    ...invite(branch, t, cseq),
    method: 'REGISTER',
    callId: 'reg-1',
    ...extra,
  });
  const regReply = (
    status: number,
    branch: string,
    t: number,
    cseq: number,
    extra: Partial<Msg> = {},
  ): Msg => ({
    ...reply(status, branch, t, cseq),
    method: 'REGISTER',
    callId: 'reg-1',
    ...extra,
  });

  it('challenge then 200: one registration, RRD from the first REGISTER', () => {
    const { sink, send } = setup();
    send(reg('r1', 0, 1), regReply(401, 'r1', 10, 1), reg('r2', 50, 2), regReply(200, 'r2', 80, 2));
    expect(sink.take()).toEqual(['rrd 0 0.08', 'register 0 registered']);
  });

  it('423 continues too; a re-send after 32 s is a new attempt', () => {
    const { sink, send } = setup();
    send(reg('r1', 0, 1), regReply(423, 'r1', 10, 1));
    send(reg('r2', 40_000, 2));
    expect(sink.take()).toEqual(['register 0 failed']);
    send(regReply(200, 'r2', 40_020, 2));
    expect(sink.take()).toEqual(['rrd 0 0.02', 'register 0 registered']);
  });

  it('a refresh reusing Call-ID and From tag later is a new attempt', () => {
    const { sink, send } = setup();
    send(reg('r1', 0, 1), regReply(200, 'r1', 10, 1));
    send(reg('r2', 600_000, 2), regReply(200, 'r2', 600_030, 2));
    expect(sink.take()).toEqual([
      'rrd 0 0.01',
      'register 0 registered',
      'rrd 0 0.03',
      'register 0 registered',
    ]);
  });

  it('403 fails, no answer times out at the non-INVITE timeout, 1xx is ignored', () => {
    const { sink, engine, send } = setup();
    send(reg('r1', 0, 1), regReply(100, 'r1', 5, 1), regReply(403, 'r1', 10, 1));
    send(reg('x', 100, 1, { callId: 'reg-2' }));
    engine.expireAll(100 + 32_000);
    expect(sink.take()).toEqual(['register 0 failed', 'register 0 timeout']);
  });

  it('a registrar proxy traced out before in: RRD runs from the received REGISTER', () => {
    const { sink, send } = setup();
    send(reg('down', 5, 1, { dir: 'out' }), reg('up', 0, 1, { dir: 'in' }));
    send(regReply(200, 'down', 60, 1), regReply(200, 'up', 61, 1));
    expect(sink.take()).toEqual(['rrd 0 0.061', 'register 0 registered']);
  });

  it('a de-registration is counted apart, with no RRD', () => {
    const { sink, send } = setup();
    send(reg('r1', 0, 1, { expires0: true }), regReply(200, 'r1', 10, 1));
    expect(sink.take()).toEqual(['deregister 0 registered']);
  });
});

describe('sessions', () => {
  it('a dialog with no BYE ends at the maximum session duration, out of the histogram', () => {
    const { sink, engine, send } = setup({ maxSessionMs: 60_000 });
    send(invite('up', 0), reply(200, 'up', 10));
    engine.expireAll(60_009);
    expect(engine.stats.activeSessions).toBe(1);
    engine.expireAll(60_010);
    expect(sink.take()).toEqual([
      'srd 0 success 0.01',
      'attempt 0 answered',
      'session-start 0',
      'session-cut 0 max_duration',
    ]);
    expect(engine.stats.activeSessions).toBe(0);
  });

  it('nodes are apart: the same call at two nodes is two attempts', () => {
    const { sink, send } = setup();
    send(
      invite('up', 0),
      invite('up', 1, 1, { node: 1 }),
      reply(200, 'up', 10),
      reply(486, 'up', 11, 1, { node: 1 }),
    );
    expect(sink.take().filter((e) => e.startsWith('attempt'))).toEqual([
      'attempt 0 answered',
      'attempt 1 busy',
    ]);
  });
});

describe('release causes', () => {
  it('takes the Reason of the final response and of the BYE, bounded to valid causes', () => {
    const { sink, engine, send } = setup();
    send(invite('up', 0), reply(503, 'up', 10, 1, { reason: [1, 34] }));
    send(invite('up', 0, 1, { callId: 'c2' }), reply(200, 'up', 10, 1, { callId: 'c2' }));
    send(bye(5000, { callId: 'c2', reason: [1, 16] }));
    send(invite('up', 0, 1, { callId: 'c3' }), reply(486, 'up', 10, 1, { callId: 'c3', reason: [2, 486] }));
    expect(sink.take().filter((e) => e.startsWith('cause'))).toEqual([
      'cause 0 q850 34',
      'cause 0 q850 16',
      'cause 0 sip 486',
    ]);
    for (const [n, reason] of (
      [
        [1, 0],
        [1, 128],
        [2, 200],
        [2, 700],
        [1, 3.5],
      ] as Array<[1 | 2, number]>
    ).entries())
      send(invite('up', 0, 1, { callId: `bad${n}` }), reply(404, 'up', 1, 1, { callId: `bad${n}`, reason }));
    expect(sink.take().some((e) => e.startsWith('cause'))).toBe(false);
    expect(engine.stats.invalidReasons).toBe(5);
  });
});

describe('clocks', () => {
  it('a capture clock stepping back drops the delay and counts it; the attempt still ends', () => {
    const { sink, engine, send } = setup();
    send(
      invite('up', 10_000),
      { ...reply(180, 'up', 10_100), cap: 1_795_000_000_000 + 9000 },
      reply(200, 'up', 12_000),
    );
    expect(sink.take()).toEqual(['attempt 0 answered', 'session-start 0']);
    // Both the SRD and the PDD of that 180 are dropped.
    expect(engine.stats.negativeDelays).toBe(2);
    send({ ...bye(20_000), cap: 1_795_000_000_000 + 11_000 });
    expect(sink.take()).toEqual(['session-cut 0 clock_step']);
  });

  it('refuses a node out of range or a capture time that is not a number, without throwing', () => {
    const { engine, send } = setup();
    send(
      invite('up', 0, 1, { node: -1 }),
      invite('up', 0, 1, { node: 65_535 }),
      invite('up', 0, 1, { node: 1.5 }),
      invite('up', Number.NaN),
    );
    expect(engine.stats.rejected).toBe(4);
  });
});

describe('memory', () => {
  it('is fixed at construction: 32 bytes an attempt, 16 a dialog', () => {
    const engine = new KpiEngine(new RecordingSink(), { now: 0 });
    expect(ATTEMPT_ENTRY_BYTES).toBe(32);
    expect(DIALOG_ENTRY_BYTES).toBe(16);
    // 32 and 16 bytes an entry, and a bit for each bucket of four.
    const bitmaps = (KPI_DEFAULTS.maxAttempts + KPI_DEFAULTS.maxDialogs) / 4 / 8;
    expect(engine.memoryBytes).toBe(KPI_DEFAULTS.maxAttempts * 32 + KPI_DEFAULTS.maxDialogs * 16 + bitmaps);
  });
});
