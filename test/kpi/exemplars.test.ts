import { afterEach, describe, expect, it } from 'vitest';
import type { Exporter } from '../../src/exporter.js';
import { CALL_ID_MAX } from '../../src/kpi/call-ids.js';
import { exporterPerTest } from '../helpers/exporter.js';
import { hep3 } from '../helpers/hep.js';
import { closeUdp, eventually, sendUdp, udpSender } from '../helpers/net.js';
import { checkOpenMetrics, promtoolAcceptsOpenMetrics } from '../helpers/openmetrics.js';

const OPENMETRICS = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const T0 = 1_795_600_000_000;

function message(first: string, method: string, callId: string, toTag?: string): string {
  return [
    first,
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKex1',
    'From: Alice <sip:alice@example.com>;tag=fex1',
    `To: <sip:bob@example.com>${toTag === undefined ? '' : `;tag=${toTag}`}`,
    `Call-ID: ${callId}`,
    `CSeq: 1 ${method}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

const invite = (callId: string) => message('INVITE sip:bob@example.com SIP/2.0', 'INVITE', callId);
const final = (code: number, callId: string) => message(`SIP/2.0 ${code} Phrase`, 'INVITE', callId, 'tex1');

async function scrapeOpenMetrics(exporter: Exporter): Promise<{ text: string; bytes: Uint8Array }> {
  const res = await fetch(`http://127.0.0.1:${exporter.httpPort}/metrics`, {
    headers: { accept: OPENMETRICS },
  });
  expect(res.status).toBe(200);
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { bytes, text: new TextDecoder().decode(bytes) };
}

/** The sample line of `series` (name and labels as written), exemplar included. */
function line(text: string, series: string): string | undefined {
  return text.split('\n').find((l) => l.startsWith(`${series} `));
}

const TS = String.raw`\d{10}\.\d{3}`;

describe('Call-ID exemplars on the call KPIs, scraped as OpenMetrics', () => {
  const ctx = exporterPerTest();
  const sockets: ReturnType<typeof udpSender>[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) await closeUdp(s);
  });

  async function send(exporter: Exporter, packets: Buffer[]): Promise<void> {
    const s = udpSender();
    sockets.push(s);
    for (const p of packets) await sendUdp(s, p, exporter.source('hep').listener!.udpPort);
  }

  it('puts the Call-ID on the SRD bucket the delay fell in and on the attempt outcome, exactly', async () => {
    const exporter = await ctx.start({ 'kpi.max-entries': '4096', 'kpi.max-dialogs': '4096' });
    const callId = 'a84b4c76e66710@pc33.example.com';
    await send(exporter, [
      hep3({ payload: invite(callId), nodeName: 'edge', captureMs: T0 }),
      hep3({ payload: final(503, callId), nodeName: 'edge', captureMs: T0 + 300 }),
    ]);
    const { text, bytes } = await eventually(
      () => scrapeOpenMetrics(exporter),
      (r) => r.text.includes('outcome="ineffective"} 1'),
    );
    const before = Date.now() / 1000;
    const bucket = line(
      text,
      'sip_session_request_delay_seconds_bucket{node="edge",result="failure",le="0.5"}',
    );
    expect(bucket).toMatch(
      new RegExp(String.raw`^\S+ 1 # \{call_id="a84b4c76e66710@pc33\.example\.com"\} 0\.3 (${TS})$`),
    );
    const ts = Number(/ (\S+)$/.exec(bucket!)![1]);
    expect(Math.abs(ts - before)).toBeLessThan(10);
    // Only the bucket the observation fell in carries it; the cumulative ones above do not.
    expect(line(text, 'sip_session_request_delay_seconds_bucket{node="edge",result="failure",le="1"}')).toBe(
      'sip_session_request_delay_seconds_bucket{node="edge",result="failure",le="1"} 1',
    );
    expect(line(text, 'sip_session_attempts_total{node="edge",outcome="ineffective"}')).toMatch(
      new RegExp(String.raw`^\S+ 1 # \{call_id="a84b4c76e66710@pc33\.example\.com"\} 1 ${TS}$`),
    );
    // Outcomes nobody looks up carry none.
    expect(line(text, 'sip_session_attempts_total{node="edge",outcome="answered"}')).toBe(
      'sip_session_attempts_total{node="edge",outcome="answered"} 0',
    );
    expect(line(text, 'sip_exporter_kpi_exemplars_total{result="taken"}')).toBe(
      'sip_exporter_kpi_exemplars_total{result="taken"} 2',
    );
    expect(checkOpenMetrics(bytes)).toEqual([]);
    promtoolAcceptsOpenMetrics(text);
  });

  it('escapes quotes and backslashes and cuts a long Call-ID to the 128-character label limit', async () => {
    const exporter = await ctx.start({ 'kpi.max-entries': '4096', 'kpi.max-dialogs': '4096' });
    const quoted = 'q"uo\\te@example.com';
    const long = `${'x'.repeat(300)}@example.com`;
    await send(exporter, [
      hep3({ payload: invite(quoted), nodeName: 'edge', captureMs: T0 }),
      hep3({ payload: final(404, quoted), nodeName: 'edge', captureMs: T0 + 20 }),
      hep3({ payload: invite(long), nodeName: 'core', captureMs: T0 }),
      hep3({ payload: final(404, long), nodeName: 'core', captureMs: T0 + 20 }),
    ]);
    const { text, bytes } = await eventually(
      () => scrapeOpenMetrics(exporter),
      (r) => r.text.includes('{node="core",outcome="failed"} 1'),
    );
    expect(line(text, 'sip_session_attempts_total{node="edge",outcome="failed"}')).toMatch(
      new RegExp(String.raw`^\S+ 1 # \{call_id="q\\"uo\\\\te@example\.com"\} 1 ${TS}$`),
    );
    expect(line(text, 'sip_session_attempts_total{node="core",outcome="failed"}')).toMatch(
      new RegExp(String.raw`^\S+ 1 # \{call_id="x{${CALL_ID_MAX}}"\} 1 ${TS}$`),
    );
    expect(CALL_ID_MAX + 'call_id'.length).toBe(128);
    expect(line(text, 'sip_exporter_kpi_exemplars_total{result="truncated"}')).toBe(
      'sip_exporter_kpi_exemplars_total{result="truncated"} 2',
    );
    expect(checkOpenMetrics(bytes)).toEqual([]);
    promtoolAcceptsOpenMetrics(text);
  });

  it('names the Call-ID of an INVITE that timed out, which only the engine saw end', async () => {
    const exporter = await ctx.start({
      'kpi.max-entries': '4096',
      'kpi.max-dialogs': '4096',
      'kpi.invite-timeout': '1s',
    });
    await send(exporter, [hep3({ payload: invite('lost@example.com'), nodeName: 'edge', captureMs: T0 })]);
    // The expiry timer ends it, a second (and a sweep) later, with no message in flight.
    const { text, bytes } = await eventually(
      () => scrapeOpenMetrics(exporter),
      (r) => r.text.includes('outcome="timeout"} 1'),
      8000,
    );
    expect(line(text, 'sip_session_attempts_total{node="edge",outcome="timeout"}')).toMatch(
      new RegExp(String.raw`^\S+ 1 # \{call_id="lost@example\.com"\} 1 ${TS}$`),
    );
    expect(checkOpenMetrics(bytes)).toEqual([]);
  });

  it('gives no exemplar when a timed-out attempt was not remembered, and counts it', async () => {
    const exporter = await ctx.start({
      'hep.listen-address': '',
      'kpi.max-entries': '4096',
      'kpi.max-dialogs': '4096',
    });
    const ingest = exporter.source('hep').ingest;
    const feed = (payload: string, captureMs: number, now: number) => {
      const p = hep3({ payload, nodeName: 'edge', captureMs });
      ingest.handle(p, 0, p.length, '192.0.2.10', now);
    };
    // Two INVITEs at the same instant: the memory keeps one Call-ID per invite timeout / 8192 ms,
    // so the second is not kept. The first is answered; the second times out unnamed.
    const now = performance.now();
    feed(invite('kept@example.com'), T0, now);
    feed(invite('forgotten@example.com').replace('fex1', 'fex2'), T0 + 1, now);
    feed(final(200, 'kept@example.com'), T0 + 100, now + 1);
    // Past the 190 s default timeout and a full sweep, on the clock the engine is given.
    feed(final(180, 'other@example.com'), T0 + 200_000, now + 192_000);
    const { text, bytes } = await scrapeOpenMetrics(exporter);
    expect(line(text, 'sip_session_attempts_total{node="edge",outcome="timeout"}')).toBe(
      'sip_session_attempts_total{node="edge",outcome="timeout"} 1',
    );
    expect(line(text, 'sip_exporter_kpi_exemplars_total{result="unnamed"}')).toBe(
      'sip_exporter_kpi_exemplars_total{result="unnamed"} 1',
    );
    expect(text).not.toContain('forgotten');
    expect(checkOpenMetrics(bytes)).toEqual([]);
  });

  it('leaves the text format (0.0.4) without exemplars', async () => {
    const exporter = await ctx.start({ 'kpi.max-entries': '4096', 'kpi.max-dialogs': '4096' });
    await send(exporter, [
      hep3({ payload: invite('plain@example.com'), nodeName: 'edge', captureMs: T0 }),
      hep3({ payload: final(486, 'plain@example.com'), nodeName: 'edge', captureMs: T0 + 40 }),
    ]);
    await eventually(
      () => scrapeOpenMetrics(exporter),
      (r) => r.text.includes('{call_id="plain@example.com"}'),
    );
    const res = await fetch(`http://127.0.0.1:${exporter.httpPort}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    expect(text).toContain('sip_session_attempts_total{node="edge",outcome="busy"} 1\n');
    expect(text).not.toContain('call_id');
    expect(text).not.toContain(' # ');
  });
});
