import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KPI_DEFAULTS, KpiEngine } from '../../src/kpi/engine.js';
import { emptyKpiMessage, type KpiMessage } from '../../src/kpi/types.js';
import { type Msg, RecordingSink, toKpi } from './harness.js';
import { ReferenceEngine } from './model.js';

const BASE = 1_795_000_000_000;
const STATUSES = [
  100, 180, 180, 183, 183, 200, 200, 200, 302, 401, 407, 423, 408, 480, 486, 487, 491, 503, 603, 99, 700,
];

/**
 * Messages over a small universe (three Call-IDs, two branches, two CSeqs), weighted so that
 * responses often meet the request they answer and every path of the engine is taken.
 */
const messageArb = fc
  .record({
    tx: fc.integer({ min: 0, max: 2 }),
    req: fc.boolean(),
    requestMethod: fc.constantFrom('INVITE', 'INVITE', 'INVITE', 'REGISTER', 'BYE', 'BYE', 'ACK', 'CANCEL'),
    responseMethod: fc.constantFrom('INVITE', 'INVITE', 'INVITE', 'REGISTER', 'CANCEL'),
    status: fc.constantFrom(...STATUSES),
    calleeSends: fc.boolean(),
    inDialog: fc.constantFrom(false, false, true),
    branch: fc.constantFrom('b0', 'b0', 'b1'),
    cseq: fc.constantFrom(1, 1, 2),
    step: fc.constantFrom(0, 1, 40, 1000, 20_000, 33_000, 200_000),
    jitter: fc.constantFrom(0, 0, 0, 7, -300),
    expires0: fc.constantFrom(false, false, true),
    dir: fc.constantFrom<'in' | 'out' | undefined>(undefined, 'in', 'out'),
    peer: fc.constantFrom(0, 1, 2),
    reason: fc.option(
      fc.tuple(fc.constantFrom(1 as const, 2 as const), fc.constantFrom(0, 16, 34, 127, 128, 486, 200)),
      {
        nil: undefined,
      },
    ),
  })
  .map(({ tx, req, requestMethod, responseMethod, calleeSends, inDialog, ...rest }) => {
    const method = req ? requestMethod : responseMethod;
    // The callee's BYE carries the tags the other way round.
    const swap = req && method === 'BYE' && calleeSends;
    const hasTo = req ? method === 'BYE' || inDialog : rest.status !== 100 || inDialog;
    return {
      ...rest,
      node: tx === 2 ? 1 : 0,
      callId: `c${tx % 2}`,
      req,
      method,
      fromTag: swap ? 't0' : 'f0',
      toTag: hasTo ? (swap ? 'f0' : 't0') : undefined,
    };
  });

type RawMessage = typeof messageArb extends fc.Arbitrary<infer T> ? T : never;
function timeline(raw: RawMessage[]): Msg[] {
  let now = 0;
  return raw.map(({ step, jitter, ...m }) => {
    now += step;
    return { ...m, now, cap: BASE + now + jitter };
  });
}

/**
 * Feeds `msgs` to an engine and settles it at `end`. With `probe`, each response first goes to
 * quietResponse, as the observer hands it over, and handle() sees only those it does not call quiet.
 */
function runEngine(
  msgs: Msg[],
  end: number,
  options = {},
  peers = false,
  probe = false,
): { events: string[]; engine: KpiEngine; quiet: number } {
  const sink = new RecordingSink();
  const engine = new KpiEngine(
    sink,
    { maxAttempts: 4096, maxDialogs: 4096, maxLegs: 4096, now: 0, ...options },
    peers ? sink : null,
  );
  const message = emptyKpiMessage();
  let quiet = 0;
  for (const m of msgs) {
    const k = toKpi(m, message);
    if (probe && !k.isRequest && engine.quietResponse(k)) quiet++;
    else engine.handle(k);
  }
  engine.expireAll(end);
  return { events: sink.events, engine, quiet };
}

describe('the engine against a Map-based reference', () => {
  it('reports the same events when nothing is evicted', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 60, size: 'max' }), (raw) => {
        const msgs = timeline(raw);
        const end = (msgs.at(-1)?.now ?? 0) + KPI_DEFAULTS.maxSessionMs + 1;
        const { events, engine } = runEngine(msgs, end);
        const model = new ReferenceEngine(KPI_DEFAULTS);
        for (const m of msgs) model.handle(m);
        model.expireAll(end);
        expect(
          engine.stats.attemptEvictions + engine.stats.lingerEvictions + engine.stats.dialogEvictions,
        ).toBe(0);
        expect([...events].sort()).toEqual([...model.events].sort());
        expect(engine.stats.activeSessions).toBe(0);
      }),
      { numRuns: 1000 },
    );
  });

  it('reports the same events, per-peer legs included, when it follows legs', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 60, size: 'max' }), (raw) => {
        const msgs = timeline(raw);
        const end = (msgs.at(-1)?.now ?? 0) + KPI_DEFAULTS.maxSessionMs + 1;
        const { events, engine } = runEngine(msgs, end, {}, true);
        const model = new ReferenceEngine(KPI_DEFAULTS, true);
        for (const m of msgs) model.handle(m);
        model.expireAll(end);
        expect(engine.stats.legEvictions + engine.stats.legLingerEvictions).toBe(0);
        expect([...events].sort()).toEqual([...model.events].sort());
      }),
      { numRuns: 1000 },
    );
  });
});

/** A realistic call at a proxy traced in and out, with one of the outcomes, as messages. */
interface CallSpec {
  node: number;
  final: number | 'none';
  provisional: boolean;
  challenge: boolean;
  failover: boolean;
  start: number;
  setup: number;
  hold: number;
}
const callArb = fc.record({
  node: fc.integer({ min: 0, max: 3 }),
  final: fc.constantFrom<number | 'none'>(200, 302, 404, 408, 480, 486, 487, 500, 503, 600, 603, 'none'),
  provisional: fc.boolean(),
  challenge: fc.boolean(),
  failover: fc.boolean(),
  start: fc.integer({ min: 0, max: 60_000 }),
  setup: fc.integer({ min: 10, max: 30_000 }),
  hold: fc.integer({ min: 1000, max: 600_000 }),
});

function callMessages(c: CallSpec, n: number): Msg[] {
  const id = { node: c.node, callId: `call-${n}`, fromTag: `from-${n}` };
  const out: Msg[] = [];
  const at = (t: number, m: Omit<Msg, 'now' | 'cap' | 'callId' | 'fromTag'>) =>
    out.push({ ...id, ...m, now: c.start + t, cap: BASE + c.start + t });
  let cseq = 1;
  let up = `up-${n}`;
  let t = 0;
  // Received from the customer, sent to carrier A, then (failover) to carrier B; responses the
  // other way. Without a peer sink the engine ignores dir-and-peer beyond the upstream branch.
  const fromCustomer = { dir: 'in' as const, peer: CUSTOMER };
  const toCustomer = { dir: 'out' as const, peer: CUSTOMER };
  let carrier = CARRIER_A;
  at(t, { req: true, method: 'INVITE', branch: up, cseq, ...fromCustomer });
  at(t + 1, { req: true, method: 'INVITE', branch: `down-${n}`, cseq, dir: 'out', peer: carrier });
  if (c.challenge) {
    at(t + 5, { req: false, method: 'INVITE', status: 407, toTag: 'px', branch: up, cseq, ...toCustomer });
    cseq = 2;
    up = `up2-${n}`;
    t += 50;
    at(t, { req: true, method: 'INVITE', branch: up, cseq, ...fromCustomer });
    at(t + 1, { req: true, method: 'INVITE', branch: `down2-${n}`, cseq, dir: 'out', peer: carrier });
  }
  let down = c.challenge ? `down2-${n}` : `down-${n}`;
  if (c.failover) {
    at(t + 3, {
      req: false,
      method: 'INVITE',
      status: 503,
      toTag: 'a',
      branch: down,
      cseq,
      dir: 'in',
      peer: carrier,
    });
    down = `carrier-b-${n}`;
    carrier = CARRIER_B;
    at(t + 4, { req: true, method: 'INVITE', branch: down, cseq, dir: 'out', peer: carrier });
  }
  const fromCarrier = { dir: 'in' as const, peer: carrier };
  at(t + 2, { req: false, method: 'INVITE', status: 100, branch: up, cseq, ...toCustomer });
  if (c.provisional) {
    at(t + c.setup / 2, {
      req: false,
      method: 'INVITE',
      status: 180,
      toTag: 'b',
      branch: down,
      cseq,
      ...fromCarrier,
    });
    at(t + c.setup / 2 + 1, {
      req: false,
      method: 'INVITE',
      status: 180,
      toTag: 'b',
      branch: up,
      cseq,
      ...toCustomer,
    });
  }
  if (c.final !== 'none') {
    at(t + c.setup, {
      req: false,
      method: 'INVITE',
      status: c.final,
      toTag: 'b',
      branch: down,
      cseq,
      ...fromCarrier,
    });
    at(t + c.setup + 1, {
      req: false,
      method: 'INVITE',
      status: c.final,
      toTag: 'b',
      branch: up,
      cseq,
      ...toCustomer,
    });
    if (c.final === 200) {
      at(t + c.setup + 1 + c.hold, {
        req: true,
        method: 'BYE',
        toTag: 'b',
        branch: `bye-${n}`,
        cseq: cseq + 1,
      });
      at(t + c.setup + 2 + c.hold, {
        req: true,
        method: 'BYE',
        toTag: 'b',
        branch: `bye-out-${n}`,
        cseq: cseq + 1,
      });
    }
  }
  return out;
}

const OUTCOME: Record<string, string> = {
  200: 'answered',
  302: 'redirected',
  404: 'failed',
  408: 'ineffective',
  480: 'unavailable',
  486: 'busy',
  487: 'cancelled',
  500: 'ineffective',
  503: 'ineffective',
  600: 'busy',
  603: 'declined',
  none: 'timeout',
};

const CUSTOMER = 9;
const CARRIER_A = 1;
const CARRIER_B = 2;

function schedule(calls: CallSpec[]): Msg[] {
  return calls.flatMap((c, n) => callMessages(c, n)).sort((a, b) => a.now - b.now);
}

describe('realistic calls at a proxy traced in and out', () => {
  it('each attempt ends exactly once, with the upstream final, whatever the interleaving', () => {
    fc.assert(
      fc.property(fc.array(callArb, { minLength: 1, maxLength: 40, size: 'max' }), (calls) => {
        const msgs = schedule(calls);
        const { events, engine } = runEngine(msgs, 10_000_000);
        const got = events.filter((e) => e.startsWith('attempt')).sort();
        const want = calls.map((c) => `attempt ${c.node} ${OUTCOME[String(c.final)]}`).sort();
        expect(got).toEqual(want);
        const srd = events.filter((e) => e.startsWith('srd'));
        const wantSrd = calls.filter(
          (c) => c.provisional || (c.final !== 'none' && (c.final === 200 || c.final >= 400)),
        );
        expect(srd).toHaveLength(wantSrd.length);
        expect(events.filter((e) => e.startsWith('pdd'))).toHaveLength(
          calls.filter((c) => c.provisional).length,
        );
        const answered = calls.filter((c) => c.final === 200);
        expect(
          events
            .filter((e) => e.startsWith('session-end'))
            .map((e) => Number(e.split(' ')[2]))
            .sort(),
        ).toEqual(answered.map((c) => c.hold / 1000).sort());
        expect(engine.stats.activeSessions).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('retransmitting any messages changes nothing', () => {
    fc.assert(
      fc.property(
        fc.array(callArb, { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (calls, picks) => {
          const msgs = schedule(calls);
          const repeated = [...msgs];
          // A copy right after the original, within the same millisecond of both clocks.
          for (const p of picks.sort((a, b) => b - a)) {
            const i = p % msgs.length;
            repeated.splice(i + 1, 0, repeated[i]);
          }
          // Branch finals are reported per copy (the peer layer dedupes them with the branch in
          // its key); everything else is reported once.
          const once = runEngine(msgs, 10_000_000, {}, true).events;
          const again = runEngine(repeated, 10_000_000, {}, true).events;
          const isBranch = (e: string) => e.startsWith('branch');
          expect(again.filter((e) => !isBranch(e))).toEqual(once.filter((e) => !isBranch(e)));
          expect(new Set(again.filter(isBranch))).toEqual(new Set(once.filter(isBranch)));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('per-peer legs of realistic calls', () => {
  const isLeg = (e: string) => e.startsWith('leg');
  it('leave the node events as they are, count each leg once at most, and give the customer the node outcome', () => {
    fc.assert(
      fc.property(fc.array(callArb, { minLength: 1, maxLength: 40, size: 'max' }), (calls) => {
        const msgs = schedule(calls);
        const off = runEngine(msgs, 10_000_000).events;
        const on = runEngine(msgs, 10_000_000, {}, true).events;
        // Peers on or off: the node families see exactly the same.
        expect(on.filter((e) => !isLeg(e))).toEqual(off);
        expect(off.filter(isLeg)).toEqual([]);
        const ends = on.filter((e) => e.startsWith('leg '));
        // Never more leg outcomes than branches the node sent or received an INVITE on.
        const branches = new Set(
          msgs.filter((m) => m.req && m.method === 'INVITE').map((m) => `${m.node}|${m.callId}|${m.branch}`),
        );
        expect(ends.length).toBeLessThanOrEqual(branches.size);
        // The customer's legs end as the node's attempts do (a challenge round is not an outcome).
        const fromCustomer = ends.filter((e) => e.includes(' from_peer ')).map((e) => e.split(' ')[4]);
        const nodeOutcomes = on.filter((e) => e.startsWith('attempt')).map((e) => e.split(' ')[2]);
        expect(fromCustomer.sort()).toEqual(nodeOutcomes.sort());
        // Carriers: one leg a target (a failover adds carrier B; a challenge leaves A's first
        // leg unanswered, so it times out), each with its own final.
        const toCarriers = ends.filter((e) => e.includes(' to_peer '));
        expect(toCarriers).toHaveLength(
          calls.reduce((sum, c) => sum + 1 + (c.failover ? 1 : 0) + (c.challenge ? 1 : 0), 0),
        );
        expect(
          toCarriers.filter(
            (e) => e.startsWith(`leg `) && e.includes(` ${CARRIER_A} `) && e.endsWith('ineffective'),
          ).length,
        ).toBeGreaterThanOrEqual(calls.filter((c) => c.failover).length);
      }),
      { numRuns: 200 },
    );
  });
});

describe('the probe that spares a response to a call the engine does not follow its field reads', () => {
  const same = (msgs: Msg[], end: number, options = {}, peers = false) => {
    const all = runEngine(msgs, end, options, peers);
    const probed = runEngine(msgs, end, options, peers, true);
    expect(probed.events).toEqual(all.events);
    expect(probed.engine.stats).toEqual(all.engine.stats);
    return probed.quiet;
  };

  it('changes nothing the engine reports, in big tables and tiny ones, on any messages', () => {
    let quiet = 0;
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 60, size: 'max' }), (raw) => {
        const msgs = timeline(raw);
        const end = (msgs.at(-1)?.now ?? 0) + KPI_DEFAULTS.maxSessionMs + 1;
        quiet += same(msgs, end);
        quiet += same(msgs, end, { maxAttempts: 4, maxDialogs: 4 });
      }),
      { numRuns: 1000 },
    );
    // The probe did call responses quiet: the equality above is not that of two full runs.
    expect(quiet).toBeGreaterThan(100);
  });

  it('changes nothing on realistic calls, and leaves per-peer legs to handle()', () => {
    fc.assert(
      fc.property(fc.array(callArb, { minLength: 1, maxLength: 40, size: 'max' }), (calls) => {
        const msgs = schedule(calls);
        same(msgs, 10_000_000);
        same(msgs, 10_000_000, { maxAttempts: 8, maxDialogs: 4 });
        same(msgs, 10_000_000, {}, true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('tiny tables', () => {
  it('evict with every loss counted, and keep the active-session count true', () => {
    fc.assert(
      fc.property(fc.array(callArb, { minLength: 1, maxLength: 40, size: 'max' }), (calls) => {
        const { events, engine } = runEngine(schedule(calls), 10_000_000, { maxAttempts: 8, maxDialogs: 4 });
        const s = engine.stats;
        const outcomes = events.filter((e) => e.startsWith('attempt')).length;
        expect(outcomes).toBeGreaterThanOrEqual(calls.length - s.attemptEvictions);
        expect(outcomes).toBeLessThanOrEqual(calls.length + s.lingerEvictions);
        const started = events.filter((e) => e.startsWith('session-start')).length;
        const ended = events.filter((e) => e.startsWith('session-end') || e.startsWith('session-cut')).length;
        expect(started - ended).toBe(s.activeSessions);
        expect(s.activeSessions).toBe(0);
        expect(events.filter((e) => e === 'session-cut 0 evicted' || e.endsWith(' evicted')).length).toBe(
          s.dialogEvictions,
        );
      }),
      { numRuns: 200 },
    );
  });
});

describe('bad input', () => {
  it('never throws, whatever the numbers', () => {
    const num = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(Number.NaN, -1, 2 ** 32, 2 ** 53));
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            node: num,
            isRequest: fc.boolean(),
            method: num,
            status: num,
            cseq: num,
            callIdHi: num,
            callIdLo: num,
            fromTagHi: num,
            fromTagLo: num,
            hasToTag: fc.boolean(),
            toTagHi: num,
            toTagLo: num,
            branchHi: num,
            branchLo: num,
            direction: num,
            peer: num,
            captureMs: num,
            now: num,
            expires0: fc.boolean(),
            reasonProtocol: num,
            reasonCause: num,
            copyHi: num,
            copyLo: num,
          }),
          { maxLength: 50 },
        ),
        (msgs: KpiMessage[]) => {
          const sink = new RecordingSink();
          const engine = new KpiEngine(sink, { maxAttempts: 8, maxDialogs: 8, maxLegs: 8, now: 0 }, sink);
          for (const m of msgs) engine.handle(m);
          engine.expire(Number.NaN);
          engine.expireAll(1e12);
          expect(engine.stats.activeSessions).toBeGreaterThanOrEqual(0);
        },
      ),
    );
  });
});
