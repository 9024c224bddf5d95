import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { call, Lab, runCallMix, startCallees, startExporter, startKamailio } from '../../lab/lab.js';
import { freePort, readText, requireProgram, waitFor } from '../../lab/processes.js';
import { uasSlow } from '../../lab/sipp.js';
import { parseSippScreen } from '../../lab/sipp-report.js';
import { samples, sampleValue } from '../helpers/exporter.js';

/** Calls per outcome. */
const CALLS = 5;
const LAB_TIMEOUT = 150_000;
/** The slow callee's pauses: INVITE to 180, then 180 to 200. */
const RING_MS = 300;
const ANSWER_MS = 900;
/** How long sipp holds each call to the slow callee before its BYE. */
const HOLD_MS = 2000;

const lab = new Lab();

afterAll(async () => {
  await lab.stop();
});

afterEach((context) => {
  if (context.task.result?.state === 'fail')
    process.stderr.write(`lab directory ${lab.dir}\n${lab.logs()}\n`);
});

const NODE = 'node="2001"';

describe('lab: call KPIs from Kamailio traced over HEP, against what sipp did', () => {
  it(
    'counts each sipp call once by outcome, and places the known pauses and hold in their SRD, PDD and duration buckets',
    async () => {
      const callees = await startCallees(lab);
      const sipp = requireProgram('sipp', 'sip-tester');
      const slow = await freePort();
      writeFileSync(join(lab.dir, 'uas-slow.xml'), uasSlow(RING_MS, ANSWER_MS));
      lab.start('sipp-uas-slow', sipp, [
        '-sf',
        join(lab.dir, 'uas-slow.xml'),
        '-i',
        '127.0.0.1',
        '-p',
        String(slow),
        '-nostdin',
        '-trace_err',
      ]);
      // A short REGISTER timeout: the mix's REGISTER is challenged and never re-sent, so its
      // attempt ends as failed once the challenge has waited this long.
      const exporter = await startExporter(lab, 'kpi-exporter', ['--kpi.non-invite-timeout', '2s']);
      const kamailio = await startKamailio(
        lab,
        'kpi-kamailio',
        { ...callees, slow },
        {
          hep: { port: exporter.hepPort, transport: 'udp', version: 3, captureId: 2001 },
          acc: false,
          xlog: false,
        },
      );
      const received = await runCallMix(lab, kamailio.port, CALLS, 'kpi');
      // sipp's built-in caller holds an answered call for -d ms, then sends the BYE.
      const slowCode = await call(
        lab,
        'kpi-uac-slow',
        kamailio.port,
        { builtIn: 'uac' },
        'slow',
        CALLS,
        '127.0.0.1',
        '127.0.0.1',
        ['-d', String(HOLD_MS)],
      );
      const slowReport = parseSippScreen(readText(join(lab.dir, 'kpi-uac-slow.log')));
      expect([slowCode, slowReport.successful]).toEqual([0, CALLS]);
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
          return sampleValue(text, `sip_registration_attempts_total{${NODE},outcome="failed"}`) === CALLS;
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
        [`{${NODE},outcome="cancelled"}`]: 0,
        [`{${NODE},outcome="ineffective"}`]: CALLS,
        [`{${NODE},outcome="failed"}`]: CALLS,
        [`{${NODE},outcome="timeout"}`]: 0,
      });
      expect(sampleValue(text, `sip_registration_attempts_total{${NODE},outcome="registered"}`)).toBe(0);
      // SRD success: the answering callee rings at once (under 250 ms on loopback); the slow
      // one after its pause, so in (0.25, 0.5]. The 180 is also the PDD.
      const srd = (result: string, le: string) =>
        sampleValue(text, `sip_session_request_delay_seconds_bucket{${NODE},result="${result}",le="${le}"}`);
      expect([srd('success', '0.25'), srd('success', '0.5'), srd('success', '+Inf')]).toEqual([
        CALLS,
        2 * CALLS,
        2 * CALLS,
      ]);
      const pdd = (le: string) => sampleValue(text, `sip_post_dial_delay_seconds_bucket{${NODE},le="${le}"}`);
      expect([pdd('0.25'), pdd('0.5'), pdd('+Inf')]).toEqual([CALLS, 2 * CALLS, 2 * CALLS]);
      // 486, 603, 404 and 503 came with no provisional but Kamailio's 100: failure observations.
      expect(srd('failure', '+Inf')).toBe(4 * CALLS);
      // Every answered call was hung up by sipp's BYE through the proxy: none is left active. The
      // answering callee's calls last no time (sipp's default hold is 0), the slow callee's the
      // hold sipp was given: in (1, 5].
      const duration = (le: string) =>
        sampleValue(text, `sip_session_duration_seconds_bucket{${NODE},le="${le}"}`);
      expect([duration('1'), duration('5'), duration('+Inf')]).toEqual([CALLS, 2 * CALLS, 2 * CALLS]);
      expect(sampleValue(text, `sip_sessions_active{${NODE}}`)).toBe(0);
      expect(sampleValue(text, 'sip_exporter_kpi_late_finals_total{method="INVITE"}')).toBe(0);
    },
    LAB_TIMEOUT,
  );
});
