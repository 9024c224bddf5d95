import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { call, Lab, runCallMix, startCallees, startExporter, startKamailio } from '../../lab/lab.js';
import { freePort, readText, requireProgram, waitFor } from '../../lab/processes.js';
import { startPrometheus } from '../../lab/prometheus.js';
import { UAS_RING_UNTIL_CANCEL, uacCancel, uasSlow } from '../../lab/sipp.js';
import { parseSippRtt, parseSippScreen, sippRttFile } from '../../lab/sipp-report.js';
import { samples, sampleValue } from '../helpers/exporter.js';

/** Calls per outcome. */
const CALLS = 5;
const LAB_TIMEOUT = 180_000;
/**
 * The slow callee's pauses: INVITE to 180, then 180 to 200. The ring lands in the (1, 2.5] delay
 * bucket, a second clear of the calls that ring at once, so a stalled sipp or Kamailio on a loaded
 * machine cannot move a call across.
 */
const RING_MS = 1500;
const ANSWER_MS = 900;
/** How long sipp holds each call to the slow callee before its BYE. */
const HOLD_MS = 2000;
/**
 * The exporter's INVITE timeout in this lab: far under Kamailio's own fr_inv_timer (120 s by
 * default), so an attempt that outlasts it ends as `timeout` at the exporter, not as a 408 from
 * the proxy (which would count as `ineffective`).
 */
const INVITE_TIMEOUT_MS = 5000;
/** How long the two cancelling callers let the never-answering callee ring: under and over the timeout. */
const CANCEL_EARLY_MS = 500;
const CANCEL_LATE_MS = 8000;
/** sipp writes each call's INVITE-to-487 time (response time 1 of uacCancel) to a file. */
const RTT = ['-trace_rtt', '-rtt_freq', '1'];

const lab = new Lab();

afterAll(async () => {
  await lab.stop();
});

/** A sipp callee on a free port of 127.0.0.1 with the scenario `xml`; resolves with its port. */
async function startCallee(name: string, xml: string): Promise<number> {
  const sipp = requireProgram('sipp', 'sip-tester');
  const port = await freePort();
  writeFileSync(join(lab.dir, `${name}.xml`), xml);
  lab.start(name, sipp, [
    '-sf',
    join(lab.dir, `${name}.xml`),
    '-i',
    '127.0.0.1',
    '-p',
    String(port),
    '-nostdin',
    '-trace_err',
  ]);
  return port;
}

afterEach((context) => {
  if (context.task.result?.state === 'fail')
    process.stderr.write(`lab directory ${lab.dir}\n${lab.logs()}\n`);
});

const NODE = 'node="2001"';

describe('lab: call KPIs from Kamailio traced over HEP, against what sipp did', () => {
  it(
    'counts each sipp call once by outcome, cancelled and timed out too; places the known pauses and hold in their SRD, PDD and duration buckets; the recording rules give the ratios the counts imply',
    async () => {
      const callees = await startCallees(lab);
      const slow = await startCallee('sipp-uas-slow', uasSlow(RING_MS, ANSWER_MS));
      const ring = await startCallee('sipp-uas-ring', UAS_RING_UNTIL_CANCEL);
      // A short REGISTER timeout: the mix's REGISTER is challenged and never re-sent, so its
      // attempt ends as failed once the challenge has waited this long.
      const exporter = await startExporter(lab, 'kpi-exporter', [
        '--kpi.non-invite-timeout',
        '2s',
        '--kpi.invite-timeout',
        `${INVITE_TIMEOUT_MS / 1000}s`,
      ]);
      const prometheus = await startPrometheus(lab.dir, [exporter.web]);
      lab.adopt(prometheus.process);
      await waitFor('the first scrape', async () => (await prometheus.query('up')).length === 1, 30_000);
      const kamailio = await startKamailio(
        lab,
        'kpi-kamailio',
        { ...callees, slow, ring },
        {
          hep: { port: exporter.hepPort, transport: 'udp', version: 3, captureId: 2001 },
          acc: false,
          xlog: false,
        },
      );
      // The late cancellers call first: their 180s are the node's first reports, which bring its
      // series at 0, and no attempt of theirs ends before the INVITE timeout. Prometheus scrapes
      // the zeros meanwhile, so every ratio below is over series that start at 0 (checked at the end).
      const late = call(
        lab,
        'kpi-uac-cancel-late',
        kamailio.port,
        { xml: uacCancel(CANCEL_LATE_MS) },
        'ring',
        CALLS,
        '127.0.0.1',
        '127.0.0.1',
        RTT,
      );
      await waitFor(
        "Prometheus to scrape the node's attempt series",
        async () => (await prometheus.query('sip_session_attempts_total{node="2001"}')).length === 9,
        15_000,
      );
      const received = await runCallMix(lab, kamailio.port, CALLS, 'kpi');
      // sipp's built-in caller holds an answered call for -d ms, then sends the BYE. The early
      // cancellers hang up while it rings.
      const [slowCode, earlyCode, lateCode] = await Promise.all([
        call(
          lab,
          'kpi-uac-slow',
          kamailio.port,
          { builtIn: 'uac' },
          'slow',
          CALLS,
          '127.0.0.1',
          '127.0.0.1',
          ['-d', String(HOLD_MS)],
        ),
        call(
          lab,
          'kpi-uac-cancel-early',
          kamailio.port,
          { xml: uacCancel(CANCEL_EARLY_MS) },
          'ring',
          CALLS,
          '127.0.0.1',
          '127.0.0.1',
          RTT,
        ),
        late,
      ]);
      const report = (name: string) => parseSippScreen(readText(join(lab.dir, `${name}.log`)));
      expect(
        ['kpi-uac-slow', 'kpi-uac-cancel-early', 'kpi-uac-cancel-late'].map((n) => report(n).successful),
      ).toEqual([CALLS, CALLS, CALLS]);
      expect([slowCode, earlyCode, lateCode]).toEqual([0, 0, 0]);
      // sipp's own INVITE-to-487 time sorts each cancelled call: a 487 within the INVITE timeout
      // ends the attempt as cancelled; past it, the attempt has timed out first and the 487 is a
      // late final. Every time is far from the line, so that the exporter's clock (which starts
      // at the traced INVITE, a moment after sipp's) cannot sort a call otherwise.
      const rtts = ['kpi-uac-cancel-early', 'kpi-uac-cancel-late'].flatMap((n) =>
        parseSippRtt(readText(sippRttFile(lab.dir, n))),
      );
      expect(rtts.length).toBe(2 * CALLS);
      expect(rtts.filter((ms) => Math.abs(ms - INVITE_TIMEOUT_MS) < 1000)).toEqual([]);
      const cancelled = rtts.filter((ms) => ms < INVITE_TIMEOUT_MS).length;
      const timedOut = rtts.filter((ms) => ms > INVITE_TIMEOUT_MS).length;
      expect([cancelled, timedOut]).toEqual([CALLS, CALLS]);
      // What sipp saw, per outcome: the reference for the attempts below.
      expect(received.get('INVITE 200')).toBe(CALLS);
      expect(received.get('INVITE 486')).toBe(CALLS);
      expect(received.get('INVITE 603')).toBe(CALLS);
      expect(received.get('INVITE 404')).toBe(CALLS);
      expect(received.get('INVITE 503')).toBe(CALLS);
      expect(received.get('REGISTER 401')).toBe(CALLS);

      let text = '';
      await waitFor(
        'the challenged registrations to end',
        async () => {
          text = await exporter.metrics();
          return (
            sampleValue(text, `sip_registration_attempts_total{${NODE},outcome="failed"}`) === CALLS &&
            sampleValue(text, `sip_session_attempts_total{${NODE},outcome="timeout"}`) === timedOut
          );
        },
        30_000,
      );
      await kamailio.process.stop();

      expect(samples(text, 'sip_session_attempts_total')).toEqual({
        [`{${NODE},outcome="answered"}`]: 2 * CALLS,
        [`{${NODE},outcome="redirected"}`]: 0,
        [`{${NODE},outcome="busy"}`]: CALLS,
        [`{${NODE},outcome="declined"}`]: CALLS,
        [`{${NODE},outcome="unavailable"}`]: 0,
        [`{${NODE},outcome="cancelled"}`]: cancelled,
        [`{${NODE},outcome="ineffective"}`]: CALLS,
        [`{${NODE},outcome="failed"}`]: CALLS,
        [`{${NODE},outcome="timeout"}`]: timedOut,
      });
      expect(sampleValue(text, `sip_registration_attempts_total{${NODE},outcome="registered"}`)).toBe(0);
      // SRD success: the answering and the never-answering callee ring at once (well under 1 s on
      // loopback), the slow one after its pause, so in (1, 2.5]. A cancelled or timed-out
      // call rang first, so it is a success observation too (RFC 6076 4.3). The 180 is the PDD.
      const srd = (result: string, le: string) =>
        sampleValue(text, `sip_session_request_delay_seconds_bucket{${NODE},result="${result}",le="${le}"}`);
      expect([srd('success', '1'), srd('success', '2.5'), srd('success', '+Inf')]).toEqual([
        3 * CALLS,
        4 * CALLS,
        4 * CALLS,
      ]);
      const pdd = (le: string) => sampleValue(text, `sip_post_dial_delay_seconds_bucket{${NODE},le="${le}"}`);
      expect([pdd('1'), pdd('2.5'), pdd('+Inf')]).toEqual([3 * CALLS, 4 * CALLS, 4 * CALLS]);
      // 486, 603, 404 and 503 came with no provisional but Kamailio's 100: failure observations.
      expect(srd('failure', '+Inf')).toBe(4 * CALLS);
      // Every answered call was hung up by sipp's BYE through the proxy: none is left active. The
      // answering callee's calls last no time (sipp's default hold is 0), the slow callee's the
      // hold sipp was given: in (1, 5].
      const duration = (le: string) =>
        sampleValue(text, `sip_session_duration_seconds_bucket{${NODE},le="${le}"}`);
      expect([duration('1'), duration('5'), duration('+Inf')]).toEqual([CALLS, 2 * CALLS, 2 * CALLS]);
      expect(sampleValue(text, `sip_sessions_active{${NODE}}`)).toBe(0);
      // The 487 of each timed-out attempt came after its outcome: counted apart, nothing else.
      expect(sampleValue(text, 'sip_exporter_kpi_late_finals_total{method="INVITE"}')).toBe(timedOut);

      // The shipped recording rules, evaluated by Prometheus over what it scraped, give the
      // ratios these counts imply (docs/kpis.md). Exact, not close: every series of the node
      // started at 0 in Prometheus (checked below), so rate() extrapolates none of them and
      // numerator and denominator scale alike.
      const attempts = (outcome: string) =>
        sampleValue(text, `sip_session_attempts_total{${NODE},outcome="${outcome}"}`) ?? Number.NaN;
      const all = Object.values(samples(text, 'sip_session_attempts_total')).reduce((a, b) => a + b, 0);
      const notRedirected = all - attempts('redirected');
      const effective = ['answered', 'busy', 'declined', 'unavailable'].reduce((n, o) => n + attempts(o), 0);
      const registrations = samples(text, 'sip_registration_attempts_total');
      const registrationsFailed =
        (registrations[`{${NODE},outcome="failed"}`] ?? 0) +
        (registrations[`{${NODE},outcome="timeout"}`] ?? 0);
      const expected: Record<string, number> = {
        'sip_node:session_asr:ratio5m': attempts('answered') / all,
        'sip_node:session_ser:ratio5m': attempts('answered') / notRedirected,
        'sip_node:session_seer:ratio5m': effective / notRedirected,
        'sip_node:session_isa:ratio5m': (attempts('ineffective') + attempts('timeout')) / all,
        'sip_node:session_ner:ratio5m': effective / all,
        'sip_node:registration_ira:ratio5m':
          registrationsFailed / Object.values(registrations).reduce((a, b) => a + b, 0),
      };
      const fromRules = async () => {
        const got: Record<string, number> = {};
        for (const record of Object.keys(expected)) {
          const result = await prometheus.query(`${record}{node="2001"}`);
          got[record] = result.length === 1 ? Number(result[0].value[1]) : Number.NaN;
        }
        return got;
      };
      const close = (got: Record<string, number>) =>
        Object.keys(expected).every((k) => Math.abs(got[k] - expected[k]) < 1e-9);
      // The rules catch up within a scrape and an evaluation (1 s each).
      await waitFor(
        'the recording rules to evaluate the final counts',
        async () => close(await fromRules()),
        30_000,
      ).catch(() => undefined);
      const got = await fromRules();
      for (const k of Object.keys(expected)) expect([k, got[k]]).toEqual([k, expect.closeTo(expected[k], 9)]);
      // For a counter, the lowest sample is the first: 0 for every series of the node.
      const first = await prometheus.query('min_over_time(sip_session_attempts_total{node="2001"}[1h])');
      expect(first.map((r) => [r.metric.outcome, Number(r.value[1])])).toEqual(
        first.map((r) => [r.metric.outcome, 0]),
      );
      expect(first.length).toBe(9);
    },
    LAB_TIMEOUT,
  );
});
