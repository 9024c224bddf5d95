import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import type { Exporter } from '../src/exporter.js';
import { startExporter } from './helpers/exporter.js';
import { hep3, hep12 } from './helpers/hep.js';
import { closeUdp, eventually, sendUdp, tcpConnect, udpSender, write } from './helpers/net.js';
import { sipRequest, sipResponse } from './helpers/sip.js';

const GOLDEN = join(import.meta.dirname, 'fixtures', 'metrics.golden.prom');

/**
 * Samples that depend on the machine or the moment rather than on the traffic; the UDP receive
 * path and batch count depend on whether the native addon is built and on how datagrams
 * happened to group into reads.
 */
function stable(exposition: string): string {
  return exposition
    .split('\n')
    .filter(
      (line) => line.startsWith('sip_') || line.startsWith('# HELP sip_') || line.startsWith('# TYPE sip_'),
    )
    .filter((line) => !line.includes('sip_exporter_build_info{'))
    .filter((line) => !line.startsWith('sip_exporter_config_last_reload_success_timestamp_seconds '))
    .filter((line) => !/^sip_exporter_udp_(receive_path|batches_total)\{/.test(line))
    .join('\n')
    .concat('\n');
}

let exporter: Exporter | null = null;
afterAll(async () => {
  await exporter?.stop();
});

describe('end to end against a golden exposition', () => {
  it('turns a fixed mix of HEP and syslog traffic into exactly the committed /metrics', async () => {
    exporter = await startExporter({ 'nodes.limit': '3' }, {});
    const { udpPort, tcpPort } = exporter.source('hep').listener!;
    const s = udpSender();
    const udp: Buffer[] = [
      hep3({ payload: sipRequest('INVITE', 'g1'), nodeName: 'edge' }),
      hep3({ payload: sipResponse({ code: 100, callId: 'g1' }), nodeName: 'edge' }),
      hep3({ payload: sipResponse({ code: 503, callId: 'g1', toTag: 'x' }), nodeName: 'edge' }),
      hep3({ payload: sipResponse({ code: 503, callId: 'g1', toTag: 'x' }), nodeName: 'edge' }),
      hep3({
        payload: sipResponse({ code: 401, method: 'REGISTER', callId: 'g2', toTag: 'r' }),
        captureId: 2001,
      }),
      hep3({ payload: sipResponse({ code: 299, method: 'PUBLISH', callId: 'g3' }), captureId: 2001 }),
      hep12(2, sipResponse({ code: 604, callId: 'g4' }), { captureId: 9 }),
      hep3({ payload: sipResponse({ code: 200, method: 'OPTIONS', callId: 'g5' }), nodeName: 'fourth-node' }),
      hep3({ payload: 'a log line', payloadType: 100 }),
      Buffer.from('not hep'),
    ];
    const http = request(`http://127.0.0.1:${exporter.httpPort}`);
    const read = async () => (await http.get('/metrics')).text;
    for (const p of udp) await sendUdp(s, p, udpPort);
    // Series appear in the order first seen, so let the UDP packets land before the TCP one.
    await eventually(read, (t) =>
      t.includes(`sip_exporter_packets_received_total{listener="hep",transport="udp"} ${udp.length}`),
    );
    const tcp = await tcpConnect(tcpPort);
    await write(
      tcp,
      hep3({ payload: sipResponse({ code: 486, callId: 'g6', toTag: 'b' }), nodeName: 'edge' }),
    );
    await eventually(read, (t) =>
      t.includes('sip_exporter_packets_received_total{listener="hep",transport="tcp"} 1'),
    );
    tcp.destroy();
    await eventually(read, (t) => t.includes('sip_exporter_tcp_connections_open{listener="hep"} 0'));
    const syslog = [
      '<142>Nov 25 10:20:30 edge kamailio[1]: NOTICE: acc [acc.c:285]: ACC: transaction answered: timestamp=1;method=BYE;from_tag=a;to_tag=b;call_id=s1;code=200;reason=OK',
      '<13>Nov 25 10:20:30 edge kamailio[1]: not a response',
      'no pri',
    ];
    for (const line of syslog)
      await sendUdp(s, Buffer.from(line), exporter.source('syslog').listener!.plain!.udpPort);
    await eventually(read, (t) =>
      t.includes('sip_exporter_packets_received_total{listener="syslog",transport="udp"} 3'),
    );
    const actual = stable(await read());
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, actual);
    expect(actual).toBe(readFileSync(GOLDEN, 'utf8'));
    await closeUdp(s);
  });
});
