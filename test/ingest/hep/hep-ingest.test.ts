import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { Exporter } from '../../../src/exporter.js';
import { samples, startExporter } from '../../helpers/exporter.js';
import { hep3 } from '../../helpers/hep.js';
import { closeUdp, eventually, sendUdp, tcpConnect, udpSender, write } from '../../helpers/net.js';
import { sipResponse } from '../../helpers/sip.js';

let exporter: Exporter | null = null;
afterEach(async () => {
  await exporter?.stop();
  exporter = null;
});

async function metrics(): Promise<string> {
  return (await request(`http://127.0.0.1:${exporter!.httpPort}`).get('/metrics').expect(200)).text;
}

const packets = (text: string) =>
  samples(text, 'sip_exporter_packets_received_total')['{listener="hep",transport="udp"}'] +
  samples(text, 'sip_exporter_packets_received_total')['{listener="hep",transport="tcp"}'];

describe('the per-packet guard', () => {
  it('counts a packet whose handling throws as hep_internal, keeps the TCP stream, and goes on', async () => {
    exporter = await startExporter();
    const counter = exporter.counter;
    const real = counter.count;
    // A fault no packet should cause, injected in the counter the ingest hands every packet to.
    let failing = true;
    counter.count = function (this: typeof counter, ...args: Parameters<typeof real>) {
      if (failing) throw new TypeError('injected');
      return real.apply(this, args);
    };
    const udp = udpSender();
    const port = exporter.hep!.udpPort;
    const tcp = await tcpConnect(exporter.hep!.tcpPort);
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
