import { describe, expect, it } from 'vitest';
import { KPI_DEFAULTS, KpiEngine, type KpiEngineOptions, LEG_ENTRY_BYTES } from '../../src/kpi/engine.js';
import { emptyKpiMessage } from '../../src/kpi/types.js';
import { type Msg, RecordingSink, toKpi } from './harness.js';

/** Peer ids as PeerCounter would give them. */
const CUSTOMER = 7;
const CARRIER_A = 1;
const CARRIER_B = 2;

function setup(options: KpiEngineOptions = {}, peers = true) {
  const sink = new RecordingSink();
  const engine = new KpiEngine(
    sink,
    { maxAttempts: 256, maxDialogs: 256, maxLegs: 256, now: 0, ...options },
    peers ? sink : null,
  );
  const message = emptyKpiMessage();
  const send = (...msgs: Msg[]) => {
    for (const m of msgs) engine.handle(toKpi(m, message));
  };
  return { sink, engine, send };
}

const CALL = { callId: 'leg-call@10.0.0.1', fromTag: 'caller-tag' };
const BASE = 1_795_000_000_000;
/** The INVITE the proxy received from the customer on branch `up`. */
const inviteIn = (branch: string, t: number, cseq = 1): Msg => ({
  ...CALL,
  req: true,
  method: 'INVITE',
  branch,
  cseq,
  cap: BASE + t,
  now: t,
  dir: 'in',
  peer: CUSTOMER,
});
/** The INVITE the proxy sent to `peer` on its own branch. */
const inviteOut = (branch: string, peer: number, t: number, cseq = 1): Msg => ({
  ...inviteIn(branch, t, cseq),
  dir: 'out',
  peer,
});
/** A response on `branch`: from a carrier (in), or relayed to the customer (out). */
const reply = (
  status: number,
  branch: string,
  t: number,
  dir: 'in' | 'out',
  peer: number,
  cseq = 1,
): Msg => ({
  ...CALL,
  req: false,
  method: 'INVITE',
  status,
  toTag: status === 100 ? undefined : `tag-${branch}`,
  branch,
  cseq,
  cap: BASE + t,
  now: t,
  dir,
  peer,
});
const cancel = (branch: string, t: number, peer: number): Msg => ({
  ...inviteOut(branch, peer, t),
  method: 'CANCEL',
});

const legs = (events: string[]) => events.filter((e) => e.startsWith('leg'));
const node = (events: string[]) => events.filter((e) => !e.startsWith('leg'));

describe('per-peer legs at a stateful proxy', () => {
  it('failover: one answered attempt at the node, A ineffective and B answered per peer', () => {
    const { sink, send } = setup();
    send(
      inviteIn('up', 0),
      inviteOut('to-a', CARRIER_A, 2),
      reply(100, 'up', 3, 'out', CUSTOMER),
      reply(100, 'to-a', 10, 'in', CARRIER_A),
      reply(503, 'to-a', 100, 'in', CARRIER_A),
      inviteOut('to-b', CARRIER_B, 120),
      reply(180, 'to-b', 400, 'in', CARRIER_B),
      reply(180, 'up', 401, 'out', CUSTOMER),
      reply(200, 'to-b', 690, 'in', CARRIER_B),
      reply(200, 'up', 700, 'out', CUSTOMER),
    );
    const events = sink.take();
    expect(node(events)).toEqual([
      'srd 0 success 0.401',
      'pdd 0 0.401',
      'attempt 0 answered',
      'session-start 0',
    ]);
    expect(legs(events)).toEqual([
      'leg-srd 0 1 to_peer failure 0.098',
      'leg 0 1 to_peer ineffective',
      'leg-srd 0 2 to_peer success 0.28',
      'leg-pdd 0 2 to_peer 0.28',
      'leg-srd 0 7 from_peer success 0.401',
      'leg-pdd 0 7 from_peer 0.401',
      'leg 0 2 to_peer answered',
      'leg 0 7 from_peer answered',
    ]);
  });

  it('forking: two branches ringing, one answers, the other is cancelled with a 487', () => {
    const { sink, send } = setup();
    send(
      inviteIn('up', 0),
      inviteOut('b1', CARRIER_A, 1),
      inviteOut('b2', CARRIER_B, 1),
      reply(180, 'b1', 100, 'in', CARRIER_A),
      reply(180, 'up', 101, 'out', CUSTOMER),
      reply(183, 'b2', 150, 'in', CARRIER_B),
      reply(183, 'up', 151, 'out', CUSTOMER),
      reply(200, 'b2', 900, 'in', CARRIER_B),
      reply(200, 'up', 901, 'out', CUSTOMER),
      cancel('b1', 902, CARRIER_A),
      { ...reply(200, 'b1', 910, 'in', CARRIER_A), method: 'CANCEL' },
      reply(487, 'b1', 950, 'in', CARRIER_A),
    );
    const events = sink.take();
    expect(events.filter((e) => e.startsWith('attempt'))).toEqual(['attempt 0 answered']);
    expect(legs(events)).toEqual([
      'leg-srd 0 1 to_peer success 0.099',
      'leg-pdd 0 1 to_peer 0.099',
      'leg-srd 0 7 from_peer success 0.101',
      'leg-pdd 0 7 from_peer 0.101',
      'leg-srd 0 2 to_peer success 0.149',
      'leg-pdd 0 2 to_peer 0.149',
      'leg 0 2 to_peer answered',
      'leg 0 7 from_peer answered',
      'leg 0 1 to_peer cancelled',
    ]);
  });

  it('a cancelled branch that never answers the CANCEL ends cancelled after the non-INVITE timeout', () => {
    const { sink, send, engine } = setup();
    send(
      inviteIn('up', 0),
      inviteOut('b1', CARRIER_A, 1),
      inviteOut('b2', CARRIER_B, 1),
      reply(180, 'b1', 100, 'in', CARRIER_A),
      reply(200, 'b2', 900, 'in', CARRIER_B),
      reply(200, 'up', 901, 'out', CUSTOMER),
      cancel('b1', 902, CARRIER_A),
    );
    sink.take();
    engine.expireAll(902 + KPI_DEFAULTS.nonInviteTimeoutMs - 1);
    expect(legs(sink.take())).toEqual([]);
    engine.expireAll(902 + KPI_DEFAULTS.nonInviteTimeoutMs);
    expect(legs(sink.take())).toEqual(['leg 0 1 to_peer cancelled']);
  });

  it('a branch that never answers times out from its own INVITE, while the node fails over', () => {
    const { sink, send, engine } = setup();
    send(
      inviteIn('up', 0),
      inviteOut('to-a', CARRIER_A, 1),
      // No answer from A; the proxy's own timer moves on to B, which sends no 408 on the wire.
      inviteOut('to-b', CARRIER_B, 5001),
      reply(200, 'to-b', 5500, 'in', CARRIER_B),
      reply(200, 'up', 5501, 'out', CUSTOMER),
    );
    expect(legs(sink.take())).toEqual([
      'leg-srd 0 2 to_peer success 0.499',
      'leg 0 2 to_peer answered',
      'leg-srd 0 7 from_peer success 5.501',
      'leg 0 7 from_peer answered',
    ]);
    engine.expire(1 + KPI_DEFAULTS.inviteTimeoutMs - 1);
    engine.expireAll(1 + KPI_DEFAULTS.inviteTimeoutMs - 1);
    expect(legs(sink.take())).toEqual([]);
    // From the sweep alone, within one sweep period: nothing else arrives.
    for (let t = 1 + KPI_DEFAULTS.inviteTimeoutMs; t <= 1 + KPI_DEFAULTS.inviteTimeoutMs + 1000; t += 100)
      engine.expire(t);
    expect(sink.take()).toEqual(['leg 0 1 to_peer timeout']);
  });

  it('a challenge on a branch is a round, not an outcome: the re-sent INVITE is the leg that counts', () => {
    const { sink, send } = setup();
    send(
      inviteIn('up', 0),
      inviteOut('to-a', CARRIER_A, 1),
      reply(407, 'to-a', 50, 'in', CARRIER_A),
      reply(407, 'up', 51, 'out', CUSTOMER),
      inviteIn('up2', 200, 2),
      inviteOut('to-a2', CARRIER_A, 201, 2),
      reply(200, 'to-a2', 700, 'in', CARRIER_A, 2),
      reply(200, 'up2', 701, 'out', CUSTOMER, 2),
    );
    const events = sink.take();
    expect(events.filter((e) => e.startsWith('attempt') || e.startsWith('srd'))).toEqual([
      'srd 0 success 0.501',
      'attempt 0 answered',
    ]);
    expect(legs(events)).toEqual([
      'leg-srd 0 1 to_peer success 0.499',
      'leg 0 1 to_peer answered',
      'leg-srd 0 7 from_peer success 0.501',
      'leg 0 7 from_peer answered',
    ]);
  });

  it('copies and retransmissions of a leg, and late finals, count once', () => {
    const { sink, send } = setup();
    const twice = (m: Msg) => [m, m];
    send(
      ...twice(inviteIn('up', 0)),
      ...twice(inviteOut('to-a', CARRIER_A, 2)),
      ...twice(reply(486, 'to-a', 300, 'in', CARRIER_A)),
      ...twice(reply(486, 'up', 301, 'out', CUSTOMER)),
      reply(200, 'to-a', 400, 'in', CARRIER_A),
    );
    expect(legs(sink.take())).toEqual([
      'leg-srd 0 1 to_peer failure 0.298',
      'leg 0 1 to_peer busy',
      'leg-srd 0 7 from_peer failure 0.301',
      'leg 0 7 from_peer busy',
    ]);
  });

  it('a user agent traced alone has one leg, in the direction of its INVITE', () => {
    const { sink, send } = setup();
    send(inviteOut('ua', CARRIER_B, 0), reply(603, 'ua', 80, 'in', CARRIER_B));
    expect(sink.take()).toEqual([
      'srd 0 failure 0.08',
      'attempt 0 declined',
      'leg-srd 0 2 to_peer failure 0.08',
      'leg 0 2 to_peer declined',
    ]);
  });

  it('follows no leg without a peer, a direction, or a peer sink; the node events stay the same', () => {
    const flow = (peer: number, dir: 'in' | 'out' | undefined): Msg[] => [
      { ...inviteIn('up', 0), peer, dir: dir === undefined ? undefined : 'in' },
      { ...inviteOut('to-a', peer, 2), dir: dir === undefined ? undefined : 'out' },
      { ...reply(503, 'to-a', 100, 'in', peer), dir },
      { ...reply(503, 'up', 101, 'out', peer), dir },
    ];
    const runWith = (msgs: Msg[], peers: boolean) => {
      const { sink, send, engine } = setup({}, peers);
      send(...msgs);
      engine.expireAll(10_000_000);
      return { events: sink.take(), legCapacity: engine.legCapacity };
    };
    const withPeers = runWith(flow(CARRIER_A, 'in'), true);
    expect(legs(withPeers.events)).toHaveLength(4);
    for (const [msgs, peers] of [
      [flow(0, 'in'), true],
      [flow(CARRIER_A, undefined), true],
      [flow(CARRIER_A, 'in'), false],
    ] as const) {
      const other = runWith(msgs, peers);
      expect(legs(other.events)).toEqual([]);
      expect(other.events).toEqual(node(withPeers.events));
      // The table is allocated on the first leg only.
      expect(other.legCapacity).toBe(0);
    }
  });
});

describe('leg table bounds', () => {
  it('is allocated on the first leg, 20 bytes an entry, rounded up to a power of two', () => {
    const { engine, send } = setup({ maxLegs: 1000 });
    const before = engine.memoryBytes;
    expect(engine.legCapacity).toBe(0);
    send(inviteOut('x', CARRIER_A, 0));
    expect(engine.legCapacity).toBe(1024);
    expect(engine.memoryBytes - before).toBe(1024 * LEG_ENTRY_BYTES + 1024 / 4 / 8);
    expect(LEG_ENTRY_BYTES).toBe(20);
  });

  it('evicts an ended leg before an open one, and counts each', () => {
    const { engine, send, sink } = setup({ maxLegs: 8 });
    const call = (n: string) => ({ callId: `c-${n}` });
    // Two buckets of 4: every key can use all 8 entries. 8 open legs, then 4 of them answered.
    for (let n = 0; n < 8; n++) send({ ...inviteOut(`b${n}`, CARRIER_A, n), ...call(`b${n}`) });
    for (let n = 0; n < 4; n++) send({ ...reply(486, `b${n}`, 100 + n, 'in', CARRIER_A), ...call(`b${n}`) });
    const s = engine.stats;
    // Four new legs take the places of the four ended ones, then one more evicts an open one.
    for (let n = 0; n < 4; n++) send({ ...inviteOut(`x${n}`, CARRIER_A, 200 + n), ...call(`x${n}`) });
    expect([s.legLingerEvictions, s.legEvictions]).toEqual([4, 0]);
    send({ ...inviteOut('x4', CARRIER_A, 300), ...call('x4') });
    expect([s.legLingerEvictions, s.legEvictions]).toEqual([4, 1]);
    engine.expireAll(10_000_000);
    const ends = sink.take().filter((e) => e.startsWith('leg '));
    // 13 legs: 4 busy, 8 timed out, and the one evicted open, which is never reported.
    expect(ends.filter((e) => e.endsWith('busy'))).toHaveLength(4);
    expect(ends.filter((e) => e.endsWith('timeout'))).toHaveLength(8);
  });
});
