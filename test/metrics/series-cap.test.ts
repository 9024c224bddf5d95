import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { Exporter } from '../../src/exporter.js';
import { samples, startExporter } from '../helpers/exporter.js';
import { hep3 } from '../helpers/hep.js';
import { closeUdp, eventually, sendUdp, udpSender } from '../helpers/net.js';
import { sipResponse } from '../helpers/sip.js';

let exporter: Exporter | null = null;
afterEach(async () => {
  await exporter?.stop();
  exporter = null;
});

describe('series cap over real HEP', () => {
  it('folds crafted code and method combinations past --metrics.max-series into overflow series', async () => {
    exporter = await startExporter({ 'metrics.max-series': '5', 'dedupe.window': '0' });
    const s = udpSender();
    const port = exporter.source('hep').listener!.udpPort;
    const methods = ['INVITE', 'BYE', 'REGISTER', 'OPTIONS'];
    let sent = 0;
    // 40 distinct (code, method) pairs from two nodes: 80 would-be series against a cap of 5.
    for (let code = 400; code < 410; code++) {
      for (const method of methods) {
        for (const node of ['edge-1', 'edge-2']) {
          await sendUdp(
            s,
            hep3({ payload: sipResponse({ code, method, callId: `c${sent}` }), nodeName: node }),
            port,
          );
          sent++;
        }
      }
    }
    await sendUdp(s, hep3({ payload: sipResponse({ code: 503, callId: 'late' }), nodeName: 'edge-1' }), port);
    sent++;
    const http = request(`http://127.0.0.1:${exporter.httpPort}`);
    const text = await eventually(
      async () => (await http.get('/metrics')).text,
      (t) => t.includes(`sip_exporter_sip_messages_total{listener="hep",kind="response"} ${sent}`),
    );
    const responses = samples(text, 'sip_responses_total');
    const regular = Object.keys(responses).filter((k) => !k.includes('code="other"'));
    expect(regular).toHaveLength(5);
    expect(responses['{code="other",class="4xx",reason="other",method="other",node="edge-1"}']).toBe(37);
    expect(responses['{code="other",class="4xx",reason="other",method="other",node="edge-2"}']).toBe(38);
    expect(responses['{code="other",class="5xx",reason="other",method="other",node="edge-1"}']).toBe(1);
    expect(Object.values(responses).reduce((a, b) => a + b, 0)).toBe(sent);
    expect(samples(text, 'sip_exporter_series')['{metric="sip_responses_total"}']).toBe(8);
    expect(samples(text, 'sip_exporter_series_overflow_total')['{metric="sip_responses_total"}']).toBe(
      sent - 5,
    );
    await closeUdp(s);
  });
});
