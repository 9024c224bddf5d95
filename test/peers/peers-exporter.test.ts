import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { exporterPerTest, samples } from '../helpers/exporter.js';
import { hep3 } from '../helpers/hep.js';
import { closeUdp, eventually, sendUdp, udpSender } from '../helpers/net.js';
import { sipRequest, sipResponse } from '../helpers/sip.js';

const PROXY = '10.0.0.1';
const CONFIG = `
peers:
  - name: carrier-a
    addresses: ["192.0.2.0/24"]
  - name: customer-x
    addresses: ["203.0.113.0/24"]
nodes:
  self_addresses:
    edge-1: ["${PROXY}"]
`;

const run = exporterPerTest();
const sockets: ReturnType<typeof udpSender>[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) await closeUdp(s);
});

function configFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sre-peers-')), 'config.yml');
  writeFileSync(file, text);
  return file;
}

const FROM_A_503 =
  '{peer="carrier-a",direction="from_peer",code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="edge-1"}';
const TO_X_503 =
  '{peer="customer-x",direction="to_peer",code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="edge-1"}';

describe('peers over HEP to a running exporter', () => {
  it('shows a 503 from a carrier with its name, once per direction, and its retransmission', async () => {
    const file = configFile(CONFIG);
    const exporter = await run.start({}, { file });
    const port = exporter.source('hep').listener!.udpPort;
    const udp = udpSender();
    sockets.push(udp);
    const r503 = sipResponse({ code: 503, callId: 'peer-1@x', toTag: 't' });
    const copy = (srcIp: string, dstIp: string) => hep3({ payload: r503, nodeName: 'edge-1', srcIp, dstIp });
    // In from the carrier, out to the customer (two trace copies), then the carrier retransmits.
    await sendUdp(udp, copy('192.0.2.10', PROXY), port);
    await sendUdp(udp, copy(PROXY, '203.0.113.5'), port);
    await sendUdp(udp, copy('192.0.2.10', PROXY), port);
    await sendUdp(
      udp,
      hep3({ payload: sipRequest('OPTIONS', 'ka@x'), nodeName: 'edge-1', srcIp: PROXY, dstIp: '198.18.0.1' }),
      port,
    );
    const text = await eventually(
      () => run.metrics(),
      (t) =>
        samples(t, 'sip_peer_requests_total')[
          '{peer="other",direction="to_peer",method="OPTIONS",node="edge-1"}'
        ] === 1,
    );
    expect(samples(text, 'sip_peer_responses_total')).toEqual({ [FROM_A_503]: 1, [TO_X_503]: 1 });
    expect(samples(text, 'sip_peer_retransmissions_total')).toEqual({
      '{peer="carrier-a",direction="from_peer",method="INVITE",node="edge-1"}': 1,
    });
    expect(samples(text, 'sip_responses_total')).toEqual({
      '{code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="edge-1"}': 1,
    });

    // A reload that reorders the list and adds a peer keeps carrier-a's series and count.
    writeFileSync(
      file,
      `${CONFIG.replace('peers:\n', 'peers:\n  - name: carrier-b\n    addresses: ["198.18.0.0/15"]\n')}`,
    );
    expect(
      exporter.reload(
        loadConfig({
          file,
          flags: {
            'web.listen-address': '127.0.0.1:0',
            'hep.listen-address': '127.0.0.1:0',
            'syslog.listen-address': '127.0.0.1:0',
          },
        }),
      ),
    ).toEqual([]);
    await sendUdp(
      udp,
      hep3({
        payload: sipResponse({ code: 503, callId: 'peer-2@x', toTag: 't' }),
        nodeName: 'edge-1',
        srcIp: '192.0.2.11',
        dstIp: PROXY,
      }),
      port,
    );
    await sendUdp(
      udp,
      hep3({
        payload: sipRequest('OPTIONS', 'ka2@x'),
        nodeName: 'edge-1',
        srcIp: PROXY,
        dstIp: '198.18.0.1',
      }),
      port,
    );
    const after = await eventually(
      () => run.metrics(),
      (t) =>
        samples(t, 'sip_peer_requests_total')[
          '{peer="carrier-b",direction="to_peer",method="OPTIONS",node="edge-1"}'
        ] === 1,
    );
    expect(samples(after, 'sip_peer_responses_total')).toEqual({ [FROM_A_503]: 2, [TO_X_503]: 1 });
  });

  it('refuses a bad peers list at load, naming the entry', () => {
    const file = configFile('peers:\n  - name: carrier-a\n    addresses: ["192.0.2.1/24"]\n');
    expect(() => loadConfig({ file })).toThrow(
      /peers\[0\] \(carrier-a\): addresses\[0\] "192\.0\.2\.1\/24" has bits set past/,
    );
    const self = configFile('nodes:\n  self_addresses:\n    edge-1: ["proxy.example.com"]\n');
    expect(() => loadConfig({ file: self })).toThrow(
      /nodes\.self_addresses\.edge-1: self_addresses\[0\] "proxy\.example\.com"/,
    );
  });
});
