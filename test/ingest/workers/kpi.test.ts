import type { Socket as UdpSocket } from 'node:dgram';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Exporter } from '../../../src/exporter.js';
import { udpBatchAvailability } from '../../../src/ingest/udp-batch.js';
import { samples, sampleValue, scrape, startExporter } from '../../helpers/exporter.js';
import { hep3 } from '../../helpers/hep.js';
import { closeUdp, eventually, sendUdp, udpSender } from '../../helpers/net.js';

/**
 * The call KPIs with several ingest workers: one call's messages, and the two copies of each,
 * come from different source ports and so reach different workers, which write them to the
 * engine independently. The KPIs must come out as one thread reading everything makes them.
 */
const BATCH = udpBatchAvailability().available;
const PORTS = 12;
const senders: UdpSocket[] = Array.from({ length: PORTS }, () => udpSender());
afterAll(async () => {
  for (const s of senders) await closeUdp(s);
});
const running: Exporter[] = [];
afterEach(async () => {
  for (const e of running.splice(0)) await e.stop();
});

function message(
  startLine: string,
  method: string,
  call: number,
  opts: { toTag?: boolean; branch: string; cseq: number; extra?: string[] },
): string {
  const to = opts.toTag ? `<sip:bob@example.com>;tag=t${call}` : '<sip:bob@example.com>';
  return [
    startLine,
    `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=${opts.branch}`,
    `From: Alice <sip:alice@example.com>;tag=f${call}`,
    `To: ${to}`,
    `Call-ID: kpi-${call}@example.com`,
    `CSeq: ${opts.cseq} ${method}`,
    ...(opts.extra ?? []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

const T0 = 1_795_600_000_000;

/** Calls answered (and hung up), busy, and cancelled, in capture order. */
function callPackets(calls: number): Buffer[] {
  const out: Buffer[] = [];
  for (let c = 0; c < calls; c++) {
    const t = T0 + c * 10_000;
    const add = (ms: number, payload: string) =>
      out.push(hep3({ payload, captureMs: t + ms, nodeName: 'proxy' }));
    const invite = { branch: `z9hG4bK${c}`, cseq: 1 };
    add(0, message('INVITE sip:bob@example.com SIP/2.0', 'INVITE', c, invite));
    add(10, message('SIP/2.0 100 Trying', 'INVITE', c, invite));
    add(300 + c, message('SIP/2.0 180 Ringing', 'INVITE', c, { ...invite, toTag: true }));
    if (c % 3 === 0) {
      add(
        900,
        message('SIP/2.0 486 Busy Here', 'INVITE', c, {
          ...invite,
          toTag: true,
          extra: ['Reason: Q.850;cause=17'],
        }),
      );
      add(910, message('ACK sip:bob@example.com SIP/2.0', 'ACK', c, { ...invite, toTag: true }));
    } else {
      add(1500, message('SIP/2.0 200 OK', 'INVITE', c, { ...invite, toTag: true }));
      add(
        1510,
        message('ACK sip:bob@example.com SIP/2.0', 'ACK', c, {
          branch: `z9hG4bK${c}a`,
          cseq: 1,
          toTag: true,
        }),
      );
      const bye = { branch: `z9hG4bK${c}b`, cseq: 2, toTag: true };
      add(4000 + c * 3, message('BYE sip:bob@example.com SIP/2.0', 'BYE', c, bye));
      add(4010 + c * 3, message('SIP/2.0 200 OK', 'BYE', c, bye));
    }
  }
  return out;
}

const KPI_FAMILIES = [
  'sip_session_attempts_total',
  'sip_session_request_delay_seconds_bucket',
  'sip_session_request_delay_seconds_count',
  'sip_post_dial_delay_seconds_bucket',
  'sip_session_duration_seconds_bucket',
  'sip_session_duration_seconds_count',
  'sip_sessions_active',
  'sip_sessions_cut_total',
  'sip_release_causes_total',
  'sip_exporter_kpi_late_finals_total',
  'sip_exporter_kpi_dropped_total',
  'sip_exporter_kpi_evictions_total',
  'sip_responses_total',
  'sip_requests_total',
];

/** Sends every packet twice from two ports, in order, and returns the KPI samples once all are in. */
async function kpis(workers: string, calls: number): Promise<Record<string, Record<string, number>>> {
  const e = await startExporter({ 'ingest.workers': workers });
  running.push(e);
  const port = e.source('hep').listener!.udpPort;
  const packets = callPackets(calls);
  for (let i = 0; i < packets.length; i++) {
    await sendUdp(senders[i % PORTS], packets[i], port);
    await sendUdp(senders[(i + 7) % PORTS], packets[i], port);
  }
  const text = await eventually(
    () => scrape(e),
    (t) =>
      sampleValue(t, 'sip_exporter_packets_received_total{listener="hep",transport="udp"}') ===
        2 * packets.length &&
      Object.values(samples(t, 'sip_session_attempts_total')).reduce((a, b) => a + b, 0) === calls,
  );
  const out: Record<string, Record<string, number>> = {};
  for (const family of KPI_FAMILIES) out[family] = samples(text, family);
  return out;
}

describe('call KPIs with ingest workers', () => {
  it('come out as one ingest thread makes them, whichever worker reads each copy', async () => {
    const calls = 120;
    const one = await kpis('1', calls);
    const two = await kpis('2', calls);
    if (BATCH) expect(running[1].workers?.count).toBe(2);
    // What one thread makes is itself right: every call ended once, by its own outcome.
    const ended = Object.entries(one.sip_session_attempts_total).filter(([, n]) => n > 0);
    expect(Object.fromEntries(ended)).toEqual({
      '{node="proxy",outcome="answered"}': 80,
      '{node="proxy",outcome="busy"}': 40,
    });
    expect(one.sip_session_duration_seconds_count).toEqual({ '{node="proxy"}': 80 });
    expect(one.sip_sessions_active).toEqual({ '{node="proxy"}': 0 });
    expect(two).toEqual(one);
  });
});
