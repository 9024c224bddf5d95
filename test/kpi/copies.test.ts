import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyHasher } from '../../src/count/key-hasher.js';
import { SOURCE_HEP } from '../../src/count/node-sources.js';
import { Observation } from '../../src/count/observation.js';
import { hashCallId } from '../../src/count/sip-counter.js';
import { COPY_WINDOW_MS } from '../../src/kpi/copies.js';
import { KpiEngine } from '../../src/kpi/engine.js';
import { KpiObserver } from '../../src/kpi/observer.js';
import {
  DIRECTION_RECEIVED,
  DIRECTION_SENT,
  DIRECTION_UNKNOWN,
  type MessageEnds,
} from '../../src/kpi/types.js';
import { SipMessageScan, scanSipMessage } from '../../src/sip/scan.js';
import { RecordingSink } from './harness.js';

/** One SIP message as a capture agent hands it over, with the ends the counter resolved. */
interface Wire {
  text: string;
  now: number;
  direction?: number;
  peer?: number;
}

interface Leg {
  callId: string;
  from: string;
  to?: string;
  branch: string;
  cseq: number;
}

function sip(first: string, method: string, leg: Leg): string {
  return [
    first,
    `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=${leg.branch}`,
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKcaller',
    `From: "Alice" <sip:alice@example.com>;tag=${leg.from}`,
    `To: <sip:bob@example.com>${leg.to === undefined ? '' : `;tag=${leg.to}`}`,
    `Call-ID: ${leg.callId}`,
    `CSeq: ${leg.cseq} ${method}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}
const req = (method: string, leg: Leg) => sip(`${method} sip:bob@example.com SIP/2.0`, method, leg);
const res = (code: number, method: string, leg: Leg) => sip(`SIP/2.0 ${code} Phrase`, method, leg);

const copies = (o: KpiObserver) => o.copyMemory?.copies ?? 0;

/** An engine and an observer that feeds it, as the exporter builds them, recording what it reports. */
function rig(skipCopies = true) {
  const sink = new RecordingSink();
  const engine = new KpiEngine(sink, { maxAttempts: 4096, maxDialogs: 4096, maxLegs: 4096, now: 0 }, sink);
  const observer = new KpiObserver(engine, null, skipCopies);
  const ends = { direction: DIRECTION_UNKNOWN, peer: 0 };
  observer.ends = ends as MessageEnds;
  const scan = new SipMessageScan();
  const o = new Observation();
  const hasher = new KeyHasher();
  let handled = 0;
  const handle = engine.handle.bind(engine);
  engine.handle = (m) => {
    handled++;
    handle(m);
  };
  const feed = (w: Wire) => {
    const buf = Buffer.from(w.text);
    expect(scanSipMessage(buf, 0, buf.length, scan, observer.scanFields)).toBe(0);
    o.setSip(scan, buf);
    o.listener = SOURCE_HEP;
    o.node = 0;
    o.now = w.now;
    o.setCaptureTime(1_795_600_000 + Math.floor(w.now / 1000), Math.round((w.now % 1000) * 1000));
    hashCallId(hasher, o);
    ends.direction = w.direction ?? DIRECTION_UNKNOWN;
    ends.peer = w.peer ?? 0;
    observer.observe(o);
  };
  return { sink, engine, observer, feed, handled: () => handled };
}

/** A call at a proxy traced in and out: every message as received, then as sent. */
function tracedCall(callId: string, t: number, dirs = false): Wire[] {
  const up: Leg = { callId, from: 'f1', branch: 'z9hG4bKup', cseq: 1 };
  const down: Leg = { ...up, branch: 'z9hG4bKdown' };
  const pair = (a: string, b: string, ms: number): Wire[] => [
    { text: a, now: t + ms, direction: dirs ? DIRECTION_RECEIVED : undefined },
    { text: b, now: t + ms + 1, direction: dirs ? DIRECTION_SENT : undefined },
  ];
  const answered = { to: 't1' };
  const bye: Leg = { ...up, ...answered, branch: 'z9hG4bKbye1', cseq: 2 };
  return [
    ...pair(req('INVITE', up), req('INVITE', down), 0),
    ...pair(res(180, 'INVITE', { ...down, ...answered }), res(180, 'INVITE', { ...up, ...answered }), 100),
    ...pair(res(200, 'INVITE', { ...down, ...answered }), res(200, 'INVITE', { ...up, ...answered }), 900),
    ...pair(req('BYE', bye), req('BYE', { ...bye, branch: 'z9hG4bKbye2' }), 30_000),
  ];
}

describe('copies of a request are recognised before they are read', () => {
  it('hands a proxy’s outgoing INVITE and BYE copies to nobody, and counts no BYE unmatched', () => {
    for (const dirs of [false, true]) {
      const r = rig();
      for (const w of tracedCall('a@example.com', 0, dirs)) r.feed(w);
      // INVITE, 180, 180, 200, 200 and BYE: the two outgoing copies are left out.
      expect(r.handled()).toBe(6);
      expect(copies(r.observer)).toBe(2);
      expect(r.engine.stats.unmatchedByes).toBe(0);
      // Measured on the upstream branch: the copies the proxy sent, 1 ms after it received them.
      expect(r.sink.take()).toEqual([
        'srd 0 success 0.101',
        'pdd 0 0.101',
        'attempt 0 answered',
        'session-start 0',
        'session-end 0 29.099',
      ]);
    }
  });

  it('hands over a copy the node received, a copy naming a peer, and one past the window', () => {
    const invite: Leg = { callId: 'b@example.com', from: 'f1', branch: 'z9hG4bKup', cseq: 1 };
    const out = { ...invite, branch: 'z9hG4bKdown' };
    const cases: Array<[string, Wire]> = [
      ['received', { text: req('INVITE', invite), now: 1, direction: DIRECTION_RECEIVED }],
      ['peer', { text: req('INVITE', out), now: 1, direction: DIRECTION_SENT, peer: 3 }],
      ['late', { text: req('INVITE', out), now: COPY_WINDOW_MS + 1 }],
      ['other From', { text: req('INVITE', { ...out, from: 'f2' }), now: 1 }],
      ['other CSeq', { text: req('INVITE', { ...out, cseq: 2 }), now: 1 }],
    ];
    for (const [name, copy] of cases) {
      const r = rig();
      r.feed({ text: req('INVITE', invite), now: 0, direction: DIRECTION_SENT });
      r.feed(copy);
      expect([name, r.handled()]).toEqual([name, 2]);
      expect([name, copies(r.observer)]).toEqual([name, 0]);
    }
  });

  it('reports exactly what the engine reports when every copy is handed over', () => {
    // Calls of a few Call-IDs and From tags, copies and retransmissions, responses on either
    // branch, BYEs from either side, in any order and at any spacing: leaving copies out
    // changes no KPI, only the BYEs the engine would have counted as matching no dialog.
    const leg = fc.record({
      callId: fc.constantFrom('c1@x', 'c2@x'),
      from: fc.constantFrom('f1', 'f2'),
      to: fc.option(fc.constantFrom('t1', 't2'), { nil: undefined }),
      branch: fc.constantFrom('z9hG4bKa', 'z9hG4bKb', 'z9hG4bKc'),
      cseq: fc.integer({ min: 1, max: 3 }),
    });
    const wire = fc.record({
      kind: fc.constantFrom('INVITE', 'REGISTER', 'BYE', 'CANCEL', 180, 200, 486, 407),
      leg,
      gap: fc.constantFrom(0, 1, 50, COPY_WINDOW_MS, 40_000),
      direction: fc.constantFrom(DIRECTION_UNKNOWN, DIRECTION_RECEIVED, DIRECTION_SENT),
      peer: fc.constantFrom(0, 0, 2),
    });
    fc.assert(
      fc.property(fc.array(wire, { maxLength: 40 }), (wires) => {
        const on = rig(true);
        const off = rig(false);
        let now = 0;
        for (const w of wires) {
          now += w.gap;
          const { kind, leg: l } = w;
          const text =
            typeof kind === 'number'
              ? res(kind, kind === 407 && l.to === undefined ? 'REGISTER' : 'INVITE', {
                  ...l,
                  to: l.to ?? 'tt',
                })
              : req(kind, kind === 'BYE' ? { ...l, to: l.to ?? 't1' } : l);
          const m: Wire = { text, now, direction: w.direction, peer: w.peer };
          on.feed(m);
          off.feed(m);
        }
        on.engine.expireAll(now + 10 * 3600_000);
        off.engine.expireAll(now + 10 * 3600_000);
        expect(on.sink.take().sort()).toEqual(off.sink.take().sort());
        expect(on.engine.stats.unmatchedByes).toBeLessThanOrEqual(off.engine.stats.unmatchedByes);
        expect(on.handled() + copies(on.observer)).toBe(off.handled());
      }),
      { numRuns: 500 },
    );
  });
});
