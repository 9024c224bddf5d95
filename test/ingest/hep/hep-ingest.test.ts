import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DedupeWindow } from '../../../src/count/dedupe.js';
import { SOURCE_HEP } from '../../../src/count/node-sources.js';
import { NodeLabels } from '../../../src/count/nodes.js';
import { KIND_REQUEST, KIND_RESPONSE, TIME_ARRIVAL, TIME_CAPTURE } from '../../../src/count/observation.js';
import { SipCounter } from '../../../src/count/sip-counter.js';
import { OK } from '../../../src/errors.js';
import { HepIngest } from '../../../src/ingest/hep/hep-ingest.js';
import { SelfMetrics } from '../../../src/metrics/self-metrics.js';
import { SCAN_ALL } from '../../../src/sip/scan.js';
import { exporterPerTest, samples } from '../../helpers/exporter.js';
import { hep3, hep12 } from '../../helpers/hep.js';
import { closeUdp, eventually, sendUdp, tcpConnect, udpSender, write } from '../../helpers/net.js';
import { recordObservations } from '../../helpers/observation.js';
import { sipRequest, sipResponse } from '../../helpers/sip.js';

const run = exporterPerTest();
const { metrics } = run;

const packets = (text: string) =>
  samples(text, 'sip_exporter_packets_received_total')['{listener="hep",transport="udp"}'] +
  samples(text, 'sip_exporter_packets_received_total')['{listener="hep",transport="tcp"}'];

describe('the per-packet guard', () => {
  it('counts a packet whose handling throws as hep_internal, keeps the TCP stream, and goes on', async () => {
    const exporter = await run.start();
    const counter = exporter.counter;
    const real = counter.count;
    // A fault no packet should cause, injected in the counter the ingest hands every packet to.
    let failing = true;
    counter.count = function (this: typeof counter, ...args: Parameters<typeof real>) {
      if (failing) throw new TypeError('injected');
      return real.apply(this, args);
    };
    const udp = udpSender();
    const port = exporter.source('hep').listener!.udpPort;
    const tcp = await tcpConnect(exporter.source('hep').listener!.tcpPort);
    try {
      await sendUdp(udp, hep3({ payload: sipResponse({ code: 486, callId: 'u1' }), nodeName: 'n' }), port);
      await write(tcp, hep3({ payload: sipResponse({ code: 486, callId: 't1' }), nodeName: 'n' }));
      let text = await eventually(metrics, (t) => packets(t) >= 2, 10_000);
      expect(samples(text, 'sip_exporter_parse_errors_total')['{listener="hep",reason="hep_internal"}']).toBe(
        2,
      );

      failing = false;
      await sendUdp(udp, hep3({ payload: sipResponse({ code: 503, callId: 'u2' }), nodeName: 'n' }), port);
      await write(tcp, hep3({ payload: sipResponse({ code: 503, callId: 't2' }), nodeName: 'n' }));
      text = await eventually(metrics, (t) => packets(t) >= 4, 10_000);
      expect(Object.entries(samples(text, 'sip_responses_total'))).toEqual([
        ['{code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="n"}', 2],
      ]);
      expect(tcp.destroyed).toBe(false);
    } finally {
      tcp.destroy();
      await closeUdp(udp);
    }
  });
});

/** A HEP ingest whose counter records what it is handed. */
function observeHep(scanFields: number) {
  const registry = new Registry();
  const self = new SelfMetrics(registry);
  const nodes = new NodeLabels(10, new Map(), self.nodeOverflow.cell({}));
  const counter = new SipCounter(registry, nodes, new DedupeWindow(32_000, 1024), self);
  // As a measurement that reads the From tag and Via branch would declare.
  Object.assign(counter, { scanFields });
  const seen = recordObservations(counter);
  return { ingest: new HepIngest(counter, self, { maxInflatedSize: 65536 }), seen, registry };
}

describe('the observation the HEP ingest fills', () => {
  it('carries the SIP fields, the capture time, the addresses and the listener of a HEPv3 packet', () => {
    const { ingest, seen } = observeHep(SCAN_ALL);
    const packet = hep3({
      payload: sipResponse({ code: 486, callId: 'obs-1', cseq: 7, toTag: 'tt' }),
      nodeName: 'edge',
    });
    expect(ingest.handle(packet, 0, packet.length, '203.0.113.5', 4242.5)).toBe(OK);
    expect(seen).toEqual([
      {
        node: 'edge',
        kind: KIND_RESPONSE,
        code: 486,
        method: 'INVITE',
        cseq: 7,
        callId: 'obs-1',
        fromTag: '1928301774',
        toTag: 'tt',
        viaBranch: 'z9hG4bK776asdhds',
        time: [1_795_600_000, 123_456, TIME_CAPTURE],
        now: 4242.5,
        source: '192.0.2.10',
        destination: '192.0.2.20',
        ports: [5060, 5060],
        transport: 17,
        listener: SOURCE_HEP,
      },
    ]);
  });

  it('reads From and Via only when the counter asks for them', () => {
    const { ingest, seen } = observeHep(0);
    const packet = hep3({ payload: sipRequest('BYE', 'obs-2', 3), nodeName: 'edge' });
    expect(ingest.handle(packet, 0, packet.length, '203.0.113.5', 1)).toBe(OK);
    expect(seen[0]).toMatchObject({
      kind: KIND_REQUEST,
      method: 'BYE',
      callId: 'obs-2',
      fromTag: '',
      viaBranch: '',
    });
  });

  it('takes the HEPv2 header time, and the arrival time when the packet has none (HEPv1)', () => {
    const { ingest, seen } = observeHep(SCAN_ALL);
    const v2 = hep12(2, sipResponse({ code: 200, callId: 'v2' }), { seconds: 1_795_600_123, micros: 42 });
    expect(ingest.handle(v2, 0, v2.length, '192.0.2.10', 10)).toBe(OK);
    const v1 = hep12(1, sipResponse({ code: 200, callId: 'v1' }));
    const now = performance.now();
    expect(ingest.handle(v1, 0, v1.length, '192.0.2.10', now)).toBe(OK);
    expect(seen[0]).toMatchObject({
      time: [1_795_600_123, 42, TIME_CAPTURE],
      ports: [5060, 5062],
      source: '192.0.2.10',
    });
    const [seconds, micros, source] = seen[1].time;
    expect(source).toBe(TIME_ARRIVAL);
    expect(Math.abs(seconds * 1000 + micros / 1000 - (performance.timeOrigin + now))).toBeLessThan(1);
    expect(Math.abs(seconds * 1000 - Date.now())).toBeLessThan(60_000);
  });
});
