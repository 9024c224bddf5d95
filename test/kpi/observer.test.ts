import { afterAll, describe, expect, it } from 'vitest';
import type { Exporter } from '../../src/exporter.js';
import { exporterPerTest, samples, sampleValue } from '../helpers/exporter.js';
import { hep3 } from '../helpers/hep.js';
import { closeUdp, eventually, sendUdp, udpSender } from '../helpers/net.js';

/** One leg of a call as a capture agent sees it: the fields the KPIs key on. */
interface Leg {
  callId: string;
  fromTag: string;
  toTag?: string;
  branch: string;
  cseq: number;
  /** further header lines (Reason, Expires) */
  extra?: string[];
}

function headers(method: string, leg: Leg): string[] {
  const to = leg.toTag === undefined ? '<sip:bob@example.com>' : `<sip:bob@example.com>;tag=${leg.toTag}`;
  return [
    `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=${leg.branch}`,
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKcaller0',
    `From: Alice <sip:alice@example.com>;tag=${leg.fromTag}`,
    `To: ${to}`,
    `Call-ID: ${leg.callId}`,
    `CSeq: ${leg.cseq} ${method}`,
    ...(leg.extra ?? []),
    'Content-Length: 0',
    '',
    '',
  ];
}

function request(method: string, leg: Leg): string {
  return [`${method} sip:bob@example.com SIP/2.0`, 'Max-Forwards: 70', ...headers(method, leg)].join('\r\n');
}

function response(code: number, method: string, leg: Leg): string {
  return [`SIP/2.0 ${code} Phrase`, ...headers(method, leg)].join('\r\n');
}

/** Capture times of the calls below, each call in its own minute so none overlaps another. */
const T0 = 1_795_600_000_000;
const at = (call: number, ms: number) => T0 + call * 60_000 + ms;

/**
 * Complete calls as HEPv3 packets with capture times, in the order a capture agent sends them.
 * The delays are chosen away from bucket bounds except where a bound itself is the point.
 */
function calls(): Array<{ payload: string; captureMs: number }> {
  const out: Array<{ payload: string; captureMs: number }> = [];
  const add = (captureMs: number, payload: string) => out.push({ payload, captureMs });

  // 1: answered after 100 and 180 (PDD and SRD 0.3 s), BYE 45 s after the 200 OK.
  const c1: Leg = { callId: 'c1@example.com', fromTag: 'f1', branch: 'z9hG4bK1', cseq: 1 };
  const c1t = { ...c1, toTag: 't1' };
  add(at(1, 0), request('INVITE', c1));
  add(at(1, 10), response(100, 'INVITE', c1));
  add(at(1, 300), response(180, 'INVITE', c1t));
  add(at(1, 1500), response(200, 'INVITE', c1t));
  add(at(1, 1510), request('ACK', { ...c1t, branch: 'z9hG4bK1a' }));
  add(at(1, 46_500), request('BYE', { ...c1t, branch: 'z9hG4bK1b', cseq: 2 }));
  add(at(1, 46_520), response(200, 'BYE', { ...c1t, branch: 'z9hG4bK1b', cseq: 2 }));

  // 2: busy with no provisional: an SRD failure of 1.2 s, and a release cause.
  const c2: Leg = { callId: 'c2@example.com', fromTag: 'f2', branch: 'z9hG4bK2', cseq: 1 };
  add(at(2, 0), request('INVITE', c2));
  add(at(2, 1200), response(486, 'INVITE', { ...c2, toTag: 't2', extra: ['Reason: Q.850;cause=17'] }));

  // 3: challenged, re-sent 100 ms later, 180 50 ms after that: SRD and PDD from the re-sent INVITE.
  const c3: Leg = { callId: 'c3@example.com', fromTag: 'f3', branch: 'z9hG4bK3', cseq: 1 };
  add(at(3, 0), request('INVITE', c3));
  add(at(3, 20), response(407, 'INVITE', { ...c3, toTag: 'proxy' }));
  add(at(3, 30), request('ACK', c3));
  const c3b = { ...c3, branch: 'z9hG4bK3b', cseq: 2 };
  add(at(3, 100), request('INVITE', c3b));
  add(at(3, 150), response(180, 'INVITE', { ...c3b, toTag: 't3' }));
  add(at(3, 2000), response(200, 'INVITE', { ...c3b, toTag: 't3' }));

  // 4: ringing 200 ms, then cancelled by the caller.
  const c4: Leg = { callId: 'c4@example.com', fromTag: 'f4', branch: 'z9hG4bK4', cseq: 1 };
  add(at(4, 0), request('INVITE', c4));
  add(at(4, 200), response(180, 'INVITE', { ...c4, toTag: 't4' }));
  add(at(4, 3000), request('CANCEL', c4));
  add(at(4, 3010), response(200, 'CANCEL', { ...c4, toTag: 't4' }));
  add(at(4, 3020), response(487, 'INVITE', { ...c4, toTag: 't4' }));

  // 5: a proxy traced in and out fails over from a 503 to a 200: one answered attempt, measured
  // on the upstream branch (SRD 0.7 s), with every copy retransmitted once. BYE 10 s later.
  const up: Leg = { callId: 'c5@example.com', fromTag: 'f5', branch: 'z9hG4bK5up', cseq: 1 };
  const down1 = { ...up, branch: 'z9hG4bK5d1' };
  const down2 = { ...up, branch: 'z9hG4bK5d2' };
  for (const copy of [0, 1]) {
    add(at(5, copy), request('INVITE', up));
    add(at(5, 2 + copy), request('INVITE', down1));
  }
  add(at(5, 100), response(503, 'INVITE', { ...down1, toTag: 'a' }));
  add(at(5, 110), request('ACK', down1));
  add(at(5, 120), request('INVITE', down2));
  add(at(5, 690), response(200, 'INVITE', { ...down2, toTag: 't5' }));
  add(at(5, 700), response(200, 'INVITE', { ...up, toTag: 't5' }));
  add(at(5, 700), response(200, 'INVITE', { ...up, toTag: 't5' }));
  const bye = {
    ...up,
    toTag: 't5',
    branch: 'z9hG4bK5bye',
    cseq: 2,
    extra: ['Reason: Q.850 ;cause=16;text="x"'],
  };
  add(at(5, 10_700), request('BYE', bye));
  add(at(5, 10_710), response(200, 'BYE', bye));

  // 6: a registration challenged, then registered: RRD 80 ms from the first REGISTER.
  const r1: Leg = { callId: 'r1@example.com', fromTag: 'fr1', branch: 'z9hG4bKr1', cseq: 1 };
  add(at(6, 0), request('REGISTER', r1));
  add(at(6, 10), response(401, 'REGISTER', { ...r1, toTag: 'reg' }));
  add(at(6, 50), request('REGISTER', { ...r1, branch: 'z9hG4bKr1b', cseq: 2 }));
  add(at(6, 80), response(200, 'REGISTER', { ...r1, branch: 'z9hG4bKr1b', cseq: 2, toTag: 'reg' }));

  // 7: a de-registration, counted apart.
  const r2: Leg = {
    callId: 'r2@example.com',
    fromTag: 'fr2',
    branch: 'z9hG4bKr2',
    cseq: 1,
    extra: ['Expires: 0'],
  };
  add(at(7, 0), request('REGISTER', r2));
  add(at(7, 30), response(200, 'REGISTER', { ...r2, toTag: 'reg' }));

  // 8: never answered: times out on the exporter's own clock (--kpi.invite-timeout).
  add(at(8, 0), request('INVITE', { callId: 'c8@example.com', fromTag: 'f8', branch: 'z9hG4bK8', cseq: 1 }));
  // 9: a re-INVITE of call 3's dialog is no attempt.
  add(at(9, 0), request('INVITE', { ...c3b, toTag: 't3', branch: 'z9hG4bK9', cseq: 3 }));
  add(at(9, 20), response(200, 'INVITE', { ...c3b, toTag: 't3', branch: 'z9hG4bK9', cseq: 3 }));
  return out;
}

const run = exporterPerTest();
const socket = udpSender();
afterAll(() => closeUdp(socket));

async function send(e: Exporter, packets: Array<{ payload: string; captureMs: number }>): Promise<void> {
  const port = e.source('hep').listener!.udpPort;
  const before = e.source('hep').ingest.stats.requests.value + e.source('hep').ingest.stats.responses.value;
  for (const p of packets) await sendUdp(socket, hep3({ payload: p.payload, captureMs: p.captureMs }), port);
  await eventually(
    () => e.source('hep').ingest.stats.requests.value + e.source('hep').ingest.stats.responses.value,
    (n) => n === before + packets.length,
  );
}

const NODE = 'node="2001"';

describe('call KPIs from HEP through /metrics', () => {
  it('counts each attempt once by outcome, and places every delay and duration in its bucket', async () => {
    const e = await run.start({ 'kpi.invite-timeout': '2s' });
    await send(e, calls());
    // The unanswered INVITE ends on the expiry timer, within the timeout plus one sweep period.
    const text = await eventually(
      () => run.metrics(),
      (t) => sampleValue(t, `sip_session_attempts_total{${NODE},outcome="timeout"}`) === 1,
      8000,
    );
    expect(samples(text, 'sip_session_attempts_total')).toEqual({
      [`{${NODE},outcome="answered"}`]: 3,
      [`{${NODE},outcome="redirected"}`]: 0,
      [`{${NODE},outcome="busy"}`]: 1,
      [`{${NODE},outcome="declined"}`]: 0,
      [`{${NODE},outcome="unavailable"}`]: 0,
      [`{${NODE},outcome="cancelled"}`]: 1,
      [`{${NODE},outcome="ineffective"}`]: 0,
      [`{${NODE},outcome="failed"}`]: 0,
      [`{${NODE},outcome="timeout"}`]: 1,
    });
    // SRD success: 0.05 (challenged call, from the re-sent INVITE), 0.2, 0.3, 0.7 (failover).
    const srd = samples(text, 'sip_session_request_delay_seconds_bucket');
    const bucket = (result: string, le: string) => srd[`{${NODE},result="${result}",le="${le}"}`];
    expect(['0.025', '0.05', '0.1', '0.25', '0.5', '1', '+Inf'].map((le) => bucket('success', le))).toEqual([
      0, 1, 1, 2, 3, 4, 4,
    ]);
    expect(sampleValue(text, `sip_session_request_delay_seconds_sum{${NODE},result="success"}`)).toBeCloseTo(
      1.25,
      6,
    );
    // SRD failure: the 486 after 1.2 s.
    expect(['1', '2.5', '+Inf'].map((le) => bucket('failure', le))).toEqual([0, 1, 1]);
    // PDD: 0.05, 0.2, 0.3; the failover call had no 180.
    const pdd = samples(text, 'sip_post_dial_delay_seconds_bucket');
    expect(['0.025', '0.05', '0.25', '0.5', '+Inf'].map((le) => pdd[`{${NODE},le="${le}"}`])).toEqual([
      0, 1, 2, 3, 3,
    ]);
    // RRD: 80 ms over the challenge round; the de-registration gives none.
    expect(sampleValue(text, `sip_registration_request_delay_seconds_count{${NODE}}`)).toBe(1);
    expect(sampleValue(text, `sip_registration_request_delay_seconds_bucket{${NODE},le="0.05"}`)).toBe(0);
    expect(sampleValue(text, `sip_registration_request_delay_seconds_bucket{${NODE},le="0.1"}`)).toBe(1);
    expect(sampleValue(text, `sip_registration_attempts_total{${NODE},outcome="registered"}`)).toBe(1);
    expect(sampleValue(text, `sip_registration_attempts_total{${NODE},outcome="failed"}`)).toBe(0);
    expect(sampleValue(text, `sip_deregistration_attempts_total{${NODE},outcome="registered"}`)).toBe(1);
    // Durations: 45 s and 10 s; call 3 is still up (its re-INVITE changed nothing).
    const dur = samples(text, 'sip_session_duration_seconds_bucket');
    expect(['5', '15', '30', '60', '+Inf'].map((le) => dur[`{${NODE},le="${le}"}`])).toEqual([0, 1, 1, 2, 2]);
    expect(sampleValue(text, `sip_session_duration_seconds_sum{${NODE}}`)).toBeCloseTo(55, 6);
    expect(sampleValue(text, `sip_sessions_active{${NODE}}`)).toBe(1);
    expect(samples(text, 'sip_release_causes_total')).toEqual({
      [`{${NODE},protocol="q850",cause="17"}`]: 1,
      [`{${NODE},protocol="q850",cause="16"}`]: 1,
    });
    // Response counting is unchanged by the KPIs: the failover's 503 and the copies still count.
    expect(sampleValue(text, 'sip_exporter_kpi_late_finals_total{method="INVITE"}')).toBe(0);
    expect(sampleValue(text, 'sip_exporter_kpi_evictions_total{table="attempts"}')).toBe(0);
  });

  it('counts a final that comes after its attempt timed out as late, not as an outcome', async () => {
    const e = await run.start({ 'kpi.invite-timeout': '1s' });
    const leg: Leg = { callId: 'late@example.com', fromTag: 'fl', branch: 'z9hG4bKlate', cseq: 1 };
    await send(e, [{ payload: request('INVITE', leg), captureMs: T0 }]);
    await eventually(
      () => run.metrics(),
      (t) => sampleValue(t, `sip_session_attempts_total{${NODE},outcome="timeout"}`) === 1,
      8000,
    );
    await send(e, [{ payload: response(200, 'INVITE', { ...leg, toTag: 'x' }), captureMs: T0 + 5000 }]);
    const text = await run.metrics();
    expect(sampleValue(text, 'sip_exporter_kpi_late_finals_total{method="INVITE"}')).toBe(1);
    expect(sampleValue(text, `sip_session_attempts_total{${NODE},outcome="answered"}`)).toBe(0);
    expect(sampleValue(text, `sip_sessions_active{${NODE}}`)).toBe(0);
  });

  it('keeps no call state and no KPI series with --kpi.enabled=false, and counts responses as before', async () => {
    const e = await run.start({ 'kpi.enabled': 'false' });
    expect(e.kpi).toBeNull();
    await send(e, calls().slice(0, 7));
    const text = await run.metrics();
    expect(samples(text, 'sip_session_attempts_total')).toEqual({});
    expect(samples(text, 'sip_session_request_delay_seconds_bucket')).toEqual({});
    expect(
      sampleValue(
        text,
        'sip_responses_total{code="200",class="2xx",reason="OK",method="INVITE",node="2001"}',
      ),
    ).toBe(1);
  });
});
