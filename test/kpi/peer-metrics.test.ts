import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeLabels } from '../../src/count/nodes.js';
import type { Exporter } from '../../src/exporter.js';
import { PeerKpiMetrics } from '../../src/kpi/peer-metrics.js';
import { AttemptOutcome, LEG_FROM_PEER, LEG_TO_PEER, SrdResult } from '../../src/kpi/types.js';
import { SelfMetrics } from '../../src/metrics/self-metrics.js';
import { exporterPerTest, samples, sampleValue } from '../helpers/exporter.js';
import { hep3 } from '../helpers/hep.js';
import { closeUdp, eventually, sendUdp, udpSender } from '../helpers/net.js';

const PROXY = '10.0.0.1';
const CUSTOMER = '203.0.113.5';
const CARRIER_A = '192.0.2.10';
const CARRIER_B = '198.51.100.10';
const PEERS = `
peers:
  - name: carrier-a
    addresses: ["192.0.2.0/24"]
  - name: carrier-b
    addresses: ["198.51.100.0/24"]
  - name: customer-x
    addresses: ["203.0.113.0/24"]
`;
const SELF = `
nodes:
  self_addresses:
    edge-1: ["${PROXY}"]
`;

interface Copy {
  payload: string;
  captureMs: number;
  src: string;
  dst: string;
}

/** A message of the one call below, with `branch` on top of the caller's Via. */
function sip(startLine: string, method: string, branch: string, toTag?: string): string {
  return [
    startLine,
    `Via: SIP/2.0/UDP ${PROXY}:5060;branch=${branch}`,
    'Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKcaller',
    'From: <sip:alice@example.com>;tag=alice',
    `To: <sip:bob@example.com>${toTag === undefined ? '' : `;tag=${toTag}`}`,
    'Call-ID: failover@example.com',
    `CSeq: 1 ${method}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}
const T0 = 1_795_700_000_000;
const invite = (branch: string, t: number, src: string, dst: string): Copy => ({
  payload: sip('INVITE sip:bob@example.com SIP/2.0', 'INVITE', branch),
  captureMs: T0 + t,
  src,
  dst,
});
const reply = (code: number, branch: string, t: number, src: string, dst: string): Copy => ({
  payload: sip(`SIP/2.0 ${code} Phrase`, 'INVITE', branch, code === 100 ? undefined : `tag-${branch}`),
  captureMs: T0 + t,
  src,
  dst,
});

/**
 * A stateful proxy fails over: carrier A answers 503, carrier B rings and answers, and the
 * proxy relays 180 and 200 to the customer. The capture agent delivers the proxy's INVITE to A
 * before the INVITE it received, which only the node's own addresses can put right.
 */
const FAILOVER: Copy[] = [
  invite('z9hG4bKa', 2, PROXY, CARRIER_A),
  invite('z9hG4bKup', 0, CUSTOMER, PROXY),
  reply(100, 'z9hG4bKup', 3, PROXY, CUSTOMER),
  reply(503, 'z9hG4bKa', 100, CARRIER_A, PROXY),
  invite('z9hG4bKb', 120, PROXY, CARRIER_B),
  reply(180, 'z9hG4bKb', 400, CARRIER_B, PROXY),
  reply(180, 'z9hG4bKup', 401, PROXY, CUSTOMER),
  reply(200, 'z9hG4bKb', 690, CARRIER_B, PROXY),
  reply(200, 'z9hG4bKup', 700, PROXY, CUSTOMER),
];

const run = exporterPerTest();
const socket = udpSender();
afterAll(() => closeUdp(socket));

function configFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sre-peer-kpis-')), 'config.yml');
  writeFileSync(file, text);
  return file;
}

async function send(e: Exporter, copies: Copy[]): Promise<string> {
  const port = e.source('hep').listener!.udpPort;
  for (const c of copies)
    await sendUdp(
      socket,
      hep3({ payload: c.payload, captureMs: c.captureMs, nodeName: 'edge-1', srcIp: c.src, dstIp: c.dst }),
      port,
    );
  return eventually(
    () => run.metrics(),
    (t) => Object.values(samples(t, 'sip_session_attempts_total')).reduce((a, b) => a + b, 0) === 1,
  );
}

const NODE = 'node="edge-1"';

describe('per-peer call KPIs from HEP through /metrics', () => {
  it('a failover is one answered attempt at the node, A ineffective and B answered per peer', async () => {
    const text = await send(await run.start({}, { file: configFile(PEERS + SELF) }), FAILOVER);
    expect(sampleValue(text, `sip_session_attempts_total{${NODE},outcome="answered"}`)).toBe(1);
    expect(sampleValue(text, `sip_session_attempts_total{${NODE},outcome="ineffective"}`)).toBe(0);
    // The node's SRD runs from the INVITE it received, however late its copy came.
    expect(sampleValue(text, `sip_session_request_delay_seconds_sum{${NODE},result="success"}`)).toBeCloseTo(
      0.401,
      6,
    );
    const attempts = Object.entries(samples(text, 'sip_peer_session_attempts_total')).filter(
      ([, v]) => v > 0,
    );
    expect(Object.fromEntries(attempts)).toEqual({
      [`{${NODE},peer="carrier-a",direction="to_peer",outcome="ineffective"}`]: 1,
      [`{${NODE},peer="carrier-b",direction="to_peer",outcome="answered"}`]: 1,
      [`{${NODE},peer="customer-x",direction="from_peer",outcome="answered"}`]: 1,
    });
    const srd = samples(text, 'sip_peer_session_request_delay_seconds_bucket');
    const at = (peer: string, direction: string, result: string, le: string) =>
      srd[`{${NODE},peer="${peer}",direction="${direction}",result="${result}",le="${le}"}`];
    // A: 503 after 98 ms; B: 180 after 280 ms; the customer: 180 after 401 ms.
    expect(['0.05', '0.1', '+Inf'].map((le) => at('carrier-a', 'to_peer', 'failure', le))).toEqual([0, 1, 1]);
    expect(at('carrier-a', 'to_peer', 'success', '+Inf')).toBe(0);
    expect(['0.25', '0.5', '+Inf'].map((le) => at('carrier-b', 'to_peer', 'success', le))).toEqual([0, 1, 1]);
    expect(['0.25', '0.5', '+Inf'].map((le) => at('customer-x', 'from_peer', 'success', le))).toEqual([
      0, 1, 1,
    ]);
    expect(
      sampleValue(text, `sip_peer_post_dial_delay_seconds_sum{${NODE},peer="carrier-b",direction="to_peer"}`),
    ).toBeCloseTo(0.28, 6);
    expect(sampleValue(text, 'sip_exporter_kpi_evictions_total{table="legs"}')).toBe(0);
  });

  it('own addresses alone (no peers) correct the reordered copies; no per-peer series', async () => {
    const text = await send(await run.start({}, { file: configFile(SELF) }), FAILOVER);
    expect(sampleValue(text, `sip_session_attempts_total{${NODE},outcome="answered"}`)).toBe(1);
    expect(samples(text, 'sip_peer_session_attempts_total')).toEqual({});
  });

  it('without own addresses, the reordered pair is read as the documented limit says', async () => {
    // The proxy's INVITE to A came first, so its branch is taken as upstream and A's 503 ends
    // the attempt: what `nodes.self_addresses` is there to prevent. Nor can a leg be attributed.
    const text = await send(await run.start({}, { file: configFile(PEERS) }), FAILOVER);
    expect(sampleValue(text, `sip_session_attempts_total{${NODE},outcome="ineffective"}`)).toBe(1);
    expect(sampleValue(text, `sip_session_attempts_total{${NODE},outcome="answered"}`)).toBe(0);
    expect(samples(text, 'sip_peer_session_attempts_total')).toEqual({});
  });
});

describe('PeerKpiMetrics series bound', () => {
  it('folds rows past --metrics.max-series into node="other", histograms with them, and counts it', async () => {
    const registry = new Registry();
    const self = new SelfMetrics(registry);
    const nodes = new NodeLabels(10, new Map(), self.nodeOverflow.cell({}));
    const [n1, n2, n3, n4] = ['edge-1', 'edge-2', 'edge-3', 'edge-4'].map((n) => nodes.fromText(n));
    // Two rows of 9 outcomes fit in 18 series.
    const metrics = new PeerKpiMetrics(registry, nodes, self, { maxSeries: 18 });
    metrics.names = { nameOf: (id) => ['', 'carrier-a', 'carrier-b'][id] };
    metrics.onLegEnd(n1, 1, LEG_TO_PEER, AttemptOutcome.ANSWERED);
    metrics.onLegEnd(n2, 1, LEG_TO_PEER, AttemptOutcome.ANSWERED);
    metrics.onLegEnd(n3, 1, LEG_TO_PEER, AttemptOutcome.INEFFECTIVE);
    metrics.onLegSrd(n3, 1, LEG_TO_PEER, SrdResult.FAILURE, 200);
    metrics.onLegEnd(n4, 1, LEG_TO_PEER, AttemptOutcome.ANSWERED);
    metrics.onLegSrd(n4, 1, LEG_TO_PEER, SrdResult.SUCCESS, 300);
    metrics.onLegPdd(n4, 2, LEG_FROM_PEER, 300);
    const text = await registry.metrics();
    const nonZero = (name: string) =>
      Object.fromEntries(Object.entries(samples(text, name)).filter(([, v]) => v > 0));
    expect(nonZero('sip_peer_session_attempts_total')).toEqual({
      '{node="edge-1",peer="carrier-a",direction="to_peer",outcome="answered"}': 1,
      '{node="edge-2",peer="carrier-a",direction="to_peer",outcome="answered"}': 1,
      '{node="other",peer="carrier-a",direction="to_peer",outcome="ineffective"}': 1,
      '{node="other",peer="carrier-a",direction="to_peer",outcome="answered"}': 1,
    });
    expect(nonZero('sip_peer_session_request_delay_seconds_count')).toEqual({
      '{node="other",peer="carrier-a",direction="to_peer",result="failure"}': 1,
      '{node="other",peer="carrier-a",direction="to_peer",result="success"}': 1,
    });
    expect(nonZero('sip_peer_post_dial_delay_seconds_count')).toEqual({
      '{node="other",peer="carrier-b",direction="from_peer"}': 1,
    });
    // Folded rows: one per peer and direction, however many nodes (9 + 9 series on top of 18).
    expect(sampleValue(text, 'sip_exporter_series{metric="sip_peer_session_attempts_total"}')).toBe(36);
    expect(
      sampleValue(text, 'sip_exporter_series_overflow_total{metric="sip_peer_session_attempts_total"}'),
    ).toBe(2);
  });
});
