import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import type { Exporter } from '../src/exporter.js';
import { samples, sampleValue, startExporter } from './helpers/exporter.js';
import { hep3 } from './helpers/hep.js';
import { closeUdp, eventually, sendUdp, udpSender } from './helpers/net.js';
import { sipResponse } from './helpers/sip.js';

let exporter: Exporter | null = null;
afterEach(async () => {
  await exporter?.stop();
  exporter = null;
});

const flags = {
  'web.listen-address': '127.0.0.1:0',
  'hep.listen-address': '127.0.0.1:0',
  'syslog.listen-address': '127.0.0.1:0',
  'log.level': 'silent',
};

describe('reloading the configuration while running', () => {
  it('applies the auth key, extractors and node names at once, and lists what needs a restart', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sre-reload-')), 'config.yml');
    writeFileSync(file, 'nodes:\n  names:\n    "1": first\n');
    exporter = await startExporter({}, { file });
    const http = request(`http://127.0.0.1:${exporter.httpPort}`);
    const s = udpSender();
    const { udpPort } = exporter.hep!;
    await sendUdp(
      s,
      hep3({ payload: sipResponse({ code: 200, callId: 'a' }), captureId: 1, nodeName: '' }),
      udpPort,
    );
    await eventually(
      async () => (await http.get('/metrics')).text,
      (t) => sampleValue(t, 'sip_exporter_packets_received_total{listener="hep",transport="udp"}') === 1,
    );

    writeFileSync(
      file,
      'hep:\n  auth_key: k2\nnodes:\n  names:\n    "2": second\nsyslog:\n  extractors: [sip-message]\ndedupe:\n  window: 5s\n',
    );
    const restart = exporter.reload(loadConfig({ file, flags }));
    expect(restart).toEqual(['dedupe.window']);
    expect(exporter.config.dedupe.window).toBe(32_000);
    expect(exporter.config.hep.auth_key).toBe('k2');

    await sendUdp(
      s,
      hep3({ payload: sipResponse({ code: 486, callId: 'b' }), captureId: 2, nodeName: '' }),
      udpPort,
    );
    await sendUdp(
      s,
      hep3({ payload: sipResponse({ code: 487, callId: 'c' }), captureId: 2, nodeName: '', authKey: 'k2' }),
      udpPort,
    );
    await sendUdp(
      s,
      Buffer.from(
        '<13>Nov 25 10:20:30 h k: ACC: transaction answered: timestamp=1;method=INVITE;call_id=x;code=404;reason=x',
      ),
      exporter.syslog!.plain!.udpPort,
    );
    const text = await eventually(
      async () => (await http.get('/metrics')).text,
      (t) => sampleValue(t, 'sip_exporter_syslog_unmatched_total') === 1,
    );
    expect(samples(text, 'sip_responses_total')).toEqual({
      '{code="200",class="2xx",reason="OK",method="INVITE",node="first"}': 1,
      '{code="487",class="4xx",reason="Request Terminated",method="INVITE",node="second"}': 1,
    });
    expect(sampleValue(text, 'sip_exporter_auth_failures_total{listener="hep"}')).toBe(1);
    expect(samples(text, 'sip_exporter_syslog_matches_total')).toEqual({
      '{extractor="kamailio-acc"}': 0,
      '{extractor="opensips-acc"}': 0,
      '{extractor="kamailio-xlog"}': 0,
      '{extractor="sip-message"}': 0,
    });
    await closeUdp(s);
  });
});
