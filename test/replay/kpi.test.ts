import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { LinkType } from '../../src/capture/index.js';
import { loadConfig } from '../../src/config/load.js';
import { SWEEP_PERIOD_MS } from '../../src/replay/kpi.js';
import { formatTable, summarize, writeOpenMetrics } from '../../src/replay/output.js';
import { replayFiles } from '../../src/replay/replay.js';
import { ethernet, ipv4, type Record as PcapRecord, pcap, udp } from '../capture/build.js';
import { requirePeer } from '../helpers/peers.js';

const dir = mkdtempSync(join(tmpdir(), 'sre-replay-kpi-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_795_600_000;
const CALLER = { src: '192.0.2.1', dst: '192.0.2.2', srcPort: 5060, dstPort: 5060 };
const PROXY = { src: '192.0.2.2', dst: '192.0.2.1', srcPort: 5060, dstPort: 5060 };

interface Leg {
  callId: string;
  fromTag: string;
  branch: string;
}

function request(method: string, leg: Leg, cseq: number, toTag = '', extra: string[] = []): string {
  return [
    `${method} sip:bob@example.com SIP/2.0`,
    `Via: SIP/2.0/UDP 192.0.2.1:5060;branch=${leg.branch}`,
    'Max-Forwards: 70',
    `From: <sip:alice@example.com>;tag=${leg.fromTag}`,
    `To: <sip:bob@example.com>${toTag === '' ? '' : `;tag=${toTag}`}`,
    `Call-ID: ${leg.callId}`,
    `CSeq: ${cseq} ${method}`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

function response(code: number, reason: string, method: string, leg: Leg, cseq: number, toTag = ''): string {
  return [
    `SIP/2.0 ${code} ${reason}`,
    `Via: SIP/2.0/UDP 192.0.2.1:5060;branch=${leg.branch}`,
    `From: <sip:alice@example.com>;tag=${leg.fromTag}`,
    `To: <sip:bob@example.com>${toTag === '' ? '' : `;tag=${toTag}`}`,
    `Call-ID: ${leg.callId}`,
    `CSeq: ${cseq} ${method}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** A message at T0 + `ms` of capture time, caller to proxy (a request) or back (a response). */
function at(ms: number, message: string): PcapRecord {
  const e = message.startsWith('SIP/2.0') ? PROXY : CALLER;
  return {
    sec: T0 + Math.floor(ms / 1000),
    frac: (ms % 1000) * 1000,
    data: ethernet(ipv4(e, 17, udp(e, message))),
  };
}

const leg = (name: string): Leg => ({
  callId: `${name}@192.0.2.1`,
  fromTag: `f-${name}`,
  branch: `z9hG4bK-${name}`,
});
const answered = leg('answered');
const busy = leg('busy');
const cancelled = leg('cancelled');
const lost = leg('lost');
const register = leg('register');
const register2: Leg = { ...register, branch: 'z9hG4bK-register-2' };
const late = leg('late');
const open = leg('open');

/**
 * Calls with known outcomes and delays, as a proxy's interface sees them (ms of capture time):
 * answered (180 after 100 ms, 200 after 2 s, BYE after 5 s), busy (486 after 300 ms),
 * cancelled (180 after 20 ms, 487), one whose INVITE is never answered (100 only; times out with
 * a 10 s INVITE timeout), a REGISTER challenged with a 401 and then registered (150 ms from the
 * first REGISTER), a late answer (200 after 700 ms), and an INVITE the capture ends on (open), after an OPTIONS that is no attempt.
 */
const RECORDS: PcapRecord[] = [
  at(0, request('INVITE', answered, 1)),
  at(10, response(100, 'Trying', 'INVITE', answered, 1)),
  at(100, response(180, 'Ringing', 'INVITE', answered, 1, 'b1')),
  at(1000, request('INVITE', busy, 1)),
  at(1300, response(486, 'Busy Here', 'INVITE', busy, 1, 'b2')),
  at(2000, response(200, 'OK', 'INVITE', answered, 1, 'b1')),
  at(2000, request('INVITE', cancelled, 1)),
  at(2020, response(180, 'Ringing', 'INVITE', cancelled, 1, 'b3')),
  at(2500, request('CANCEL', cancelled, 1)),
  at(2510, response(200, 'OK', 'CANCEL', cancelled, 1, 'b3')),
  at(2520, response(487, 'Request Terminated', 'INVITE', cancelled, 1, 'b3')),
  at(3000, request('INVITE', lost, 1)),
  at(3005, response(100, 'Trying', 'INVITE', lost, 1)),
  at(4000, request('REGISTER', register, 1, '', ['Expires: 300'])),
  at(4010, response(401, 'Unauthorized', 'REGISTER', register, 1, 'r1')),
  at(4100, request('REGISTER', register2, 2, '', ['Expires: 300'])),
  at(4150, response(200, 'OK', 'REGISTER', register2, 2, 'r1')),
  at(7000, request('BYE', { ...answered, branch: 'z9hG4bK-bye' }, 2, 'b1')),
  at(7010, response(200, 'OK', 'BYE', { ...answered, branch: 'z9hG4bK-bye' }, 2, 'b1')),
  at(15_000, request('INVITE', late, 1)),
  at(15_700, response(200, 'OK', 'INVITE', late, 1, 'b4')),
  at(30_000, request('OPTIONS', leg('ping'), 1)),
  at(34_900, request('INVITE', open, 1)),
  at(34_910, response(100, 'Trying', 'INVITE', open, 1)),
];

function capture(): string {
  const path = join(dir, 'calls.pcap');
  writeFileSync(path, pcap(RECORDS, { linkType: LinkType.ETHERNET }));
  return path;
}

const flags = { 'kpi.invite-timeout': '10s' };

describe('replay call KPIs', () => {
  it('counts each attempt once by outcome, on capture time, and reports the one left open apart', async () => {
    const result = await replayFiles([capture()], { config: loadConfig({ flags, env: {} }) });
    const [kpi, ...others] = summarize(result).kpis;
    expect(others).toEqual([]);
    expect(kpi.node).toBe('replay');
    expect(kpi.attempts).toEqual({
      answered: 2,
      redirected: 0,
      busy: 1,
      declined: 0,
      unavailable: 0,
      cancelled: 1,
      ineffective: 0,
      failed: 0,
      timeout: 1,
    });
    expect(kpi.attemptsTotal).toBe(5);
    expect(kpi.openAttempts).toBe(1);
    expect(kpi.asr).toBeCloseTo(2 / 5);
    expect(kpi.ser).toBeCloseTo(2 / 5);
    expect(kpi.seer).toBeCloseTo(3 / 5);
    expect(kpi.isa).toBeCloseTo(1 / 5);
    expect(kpi.ner).toBeCloseTo(3 / 5);
    expect(kpi.registrations).toEqual({ registered: 1, failed: 0, timeout: 0 });
    expect(kpi.openRegistrations).toBe(0);
    expect(kpi.rrd.count).toBe(1);
    expect(kpi.sessions).toEqual({
      active: 1,
      ended: 1,
      cut: { max_duration: 0, evicted: 0, clock_step: 0 },
    });
    expect(kpi.srd.success.count).toBe(3);
    expect(kpi.srd.failure.count).toBe(1);
    expect(kpi.pdd.count).toBe(2);
  });

  it('puts SRD, PDD and RRD in the buckets of their capture-time delays', async () => {
    const result = await replayFiles([capture()], { config: loadConfig({ flags, env: {} }) });
    const f = result.kpi!.metrics.families;
    const buckets = (name: string, result?: string) => {
      const h = f.histograms.find((x) => x.name === name)!;
      const s = h.allSeries.find((x) => result === undefined || x.labels.result === result)!;
      const out: Record<string, number> = {};
      h.buckets.forEach((b, i) => {
        if (s.cell.counts[i] > 0) out[String(b)] = s.cell.counts[i];
      });
      return { out, sum: s.cell.sum };
    };
    // 20 ms (cancelled, its 180), 100 ms (answered, its 180), 700 ms (late, its 200)
    expect(buckets('sip_session_request_delay_seconds', 'success')).toEqual({
      out: { '0.025': 1, '0.1': 1, '1': 1 },
      sum: expect.closeTo(0.82, 6),
    });
    expect(buckets('sip_session_request_delay_seconds', 'failure')).toEqual({
      out: { '0.5': 1 },
      sum: expect.closeTo(0.3, 6),
    });
    expect(buckets('sip_post_dial_delay_seconds')).toEqual({
      out: { '0.025': 1, '0.1': 1 },
      sum: expect.closeTo(0.12, 6),
    });
    expect(buckets('sip_registration_request_delay_seconds')).toEqual({
      out: { '0.25': 1 },
      sum: expect.closeTo(0.15, 6),
    });
    expect(buckets('sip_session_duration_seconds')).toEqual({ out: { '5': 1 }, sum: expect.closeTo(5, 6) });
    const table = formatTable(summarize(result), result);
    expect(table).toContain('Session attempts by outcome (call KPIs)');
    expect(table).toMatch(/^replay\s+5\s+40\.0%\s+40\.0%\s+60\.0%\s+20\.0%\s+60\.0%/m);
  });

  it('with the default 190 s INVITE timeout, the unanswered INVITE is still open at the end', async () => {
    const result = await replayFiles([capture()], { config: loadConfig({ env: {} }) });
    const [kpi] = summarize(result).kpis;
    expect(kpi.attempts.timeout).toBe(0);
    expect(kpi.attemptsTotal).toBe(4);
    expect(kpi.openAttempts).toBe(2);
  });

  it('builds no engine with --kpi.enabled=false', async () => {
    const result = await replayFiles([capture()], {
      config: loadConfig({ flags: { 'kpi.enabled': 'false' }, env: {} }),
    });
    expect(result.kpi).toBeNull();
    expect(summarize(result).kpis).toEqual([]);
  });

  it('samples the KPI families at each step in OpenMetrics that promtool backfills', async () => {
    const promtool = requirePeer('promtool', 'prometheus');
    const result = await replayFiles([capture()], { config: loadConfig({ flags, env: {} }), stepMs: 5000 });
    let text = '';
    const stream = new Writable({
      write(chunk, _enc, done) {
        text += chunk.toString();
        done();
      },
    });
    await writeOpenMetrics(result, stream);
    expect(text).toContain('# TYPE sip_session_attempts counter');
    expect(text).toContain('# TYPE sip_session_request_delay_seconds histogram');
    expect(text).toContain('# TYPE sip_sessions_active gauge');
    const om = join(dir, 'kpi.om');
    writeFileSync(om, text);
    const blocks = join(dir, 'kpi-blocks');
    execFileSync(promtool, ['tsdb', 'create-blocks-from', 'openmetrics', om, blocks], { stdio: 'pipe' });
    mkdirSync(join(blocks, 'wal'));
    const dump = (match: string) => {
      const out = execFileSync(promtool, ['tsdb', 'dump', '--match', match, '--min-time', '0', blocks], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 1 << 26,
      });
      // The last sample of each series, by its labels.
      const last = new Map<string, number>();
      for (const line of out.split('\n')) {
        const m = /^(\{.*\}) (\S+) (\d+)$/.exec(line);
        if (m !== null) last.set(m[1], Number(m[2]));
      }
      return last;
    };
    const outcomes = new Map(
      [...dump('sip_session_attempts_total')].map(([labels, v]) => [/outcome="(\w+)"/.exec(labels)![1], v]),
    );
    expect(outcomes.get('answered')).toBe(2);
    expect(outcomes.get('timeout')).toBe(1);
    const srd = [...dump('sip_session_request_delay_seconds_bucket{result="success"}')]
      .map(([labels, v]) => [/le="([^"]+)"/.exec(labels)![1], v] as const)
      .filter(([le]) => ['0.01', '0.025', '0.1', '1', '+Inf'].includes(le));
    expect(Object.fromEntries(srd)).toEqual({ '0.01': 0, '0.025': 1, '0.1': 2, '1': 3, '+Inf': 3 });
    // The timeout is due 10 s of capture time after its INVITE (at 13 s) and is reported by the
    // sweep at most one sweep period later: never in a sample before 13 s, always from 28 s on.
    const samples = execFileSync(
      promtool,
      ['tsdb', 'dump', '--match', 'sip_session_attempts_total{outcome="timeout"}', '--min-time', '0', blocks],
      { encoding: 'utf8' },
    )
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.split(' ').slice(-2).map(Number));
    const origin = result.timeline!.origin;
    expect(samples.length).toBe(result.steps);
    for (const [value, ms] of samples) {
      if (ms - origin <= 13_000) expect(value, `at ${ms - origin} ms`).toBe(0);
      if (ms - origin > 13_000 + SWEEP_PERIOD_MS) expect(value, `at ${ms - origin} ms`).toBe(1);
    }
  });
});
