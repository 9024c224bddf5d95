import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { Exporter } from '../../src/exporter.js';
import { LANDING_NODES, renderLanding } from '../../src/http/landing.js';
import { startExporter } from '../helpers/exporter.js';
import { hep3 } from '../helpers/hep.js';
import { closeUdp, eventually, sendUdp, tcpConnect, udpSender, write } from '../helpers/net.js';
import { sipResponse } from '../helpers/sip.js';

let exporter: Exporter | null = null;
afterEach(async () => {
  await exporter?.stop();
  exporter = null;
});

/** The cells of the listener table row for one listener name and transport. */
function row(html: string, listener: string, transport: string): string[] {
  for (const tr of html.match(/<tr>.*?<\/tr>/g) ?? []) {
    const cells = [...tr.matchAll(/<td>(.*?)<\/td>/g)].map((m) => m[1]);
    if (cells[0] === listener && cells[1] === transport) return cells;
  }
  throw new Error(`no row for ${listener} ${transport} in ${html}`);
}

describe('landing page', () => {
  it('answers "is anything arriving?" per listener and transport, and names the nodes seen', async () => {
    exporter = await startExporter();
    const http = request(`http://127.0.0.1:${exporter.httpPort}`);
    const empty = (await http.get('/')).text;
    expect(row(empty, 'HEP v1/v2/v3', 'udp').slice(3)).toEqual(['0', 'never']);
    expect(row(empty, 'syslog RFC 3164/5424', 'tcp').slice(3)).toEqual(['0', 'never']);
    expect(empty).toContain('No SIP message counted yet.');

    const s = udpSender();
    const before = Date.now();
    await sendUdp(
      s,
      hep3({ payload: sipResponse({ code: 200, callId: 'l1' }), captureId: 2001 }),
      exporter.source('hep').listener!.udpPort,
    );
    await sendUdp(
      s,
      hep3({ payload: sipResponse({ code: 503, callId: 'l2' }), nodeName: '<b>edge</b>' }),
      exporter.source('hep').listener!.udpPort,
    );
    const tcp = await tcpConnect(exporter.source('syslog').listener!.plain!.tcpPort);
    await write(
      tcp,
      Buffer.from(
        '<142>Nov 25 10:20:30 kam-1 kamailio[1]: NOTICE: acc [acc.c:285]: ACC: transaction answered: timestamp=1;method=BYE;from_tag=a;to_tag=b;call_id=s1;code=200;reason=OK\n',
      ),
    );
    const page = await eventually(
      async () => (await http.get('/')).text,
      (t) => row(t, 'HEP v1/v2/v3', 'udp')[3] === '2' && row(t, 'syslog RFC 3164/5424', 'tcp')[3] === '1',
    );
    tcp.destroy();
    const udp = row(page, 'HEP v1/v2/v3', 'udp');
    const at = Date.parse(/datetime="([^"]+)"/.exec(udp[4])![1]);
    expect(at).toBeGreaterThanOrEqual(before - 1000);
    expect(at).toBeLessThanOrEqual(Date.now());
    expect(udp[4]).toMatch(/\(\d+ s ago\)$/);
    expect(row(page, 'HEP v1/v2/v3', 'tcp').slice(3)).toEqual(['0', 'never']);
    expect(row(page, 'syslog RFC 3164/5424', 'udp').slice(3)).toEqual(['0', 'never']);
    expect(page).toContain('<tr><td>2001</td><td>hep</td><td><code>127.0.0.1</code></td></tr>');
    expect(page).toContain('<tr><td>kam-1</td><td>syslog</td><td><code>127.0.0.1</code></td></tr>');
    // A node name comes from the network and is shown escaped.
    expect(page).toContain('<td>&#60;b&#62;edge&#60;/b&#62;</td>');
    expect(page).not.toContain('<b>edge');
    await closeUdp(s);
  });

  it('lists the first nodes seen and says how many more there are', async () => {
    exporter = await startExporter();
    const s = udpSender();
    const nodes = LANDING_NODES + 12;
    for (let i = 0; i < nodes; i++)
      await sendUdp(
        s,
        hep3({ payload: sipResponse({ code: 200, callId: `n${i}` }), captureId: 5000 + i }),
        exporter.source('hep').listener!.udpPort,
      );
    const http = request(`http://127.0.0.1:${exporter.httpPort}`);
    const page = await eventually(
      async () => (await http.get('/')).text,
      (t) => t.includes('and 12 more'),
    );
    expect(page).toContain('<td>5000</td><td>hep</td>');
    expect(page).toContain(`<td>${5000 + LANDING_NODES - 1}</td><td>hep</td>`);
    expect(page).not.toContain(`<td>${5000 + LANDING_NODES}</td>`);
    expect(page).toContain('and 12 more (all in <code>sip_exporter_node_info</code>)');
    await closeUdp(s);
  });

  it('says how long ago the last packet came in seconds, minutes or hours', () => {
    const now = Date.parse('2026-11-27T10:00:00Z');
    const at = (ms: number) =>
      renderLanding(
        '/metrics',
        [
          {
            name: 'HEP',
            transports: 'udp',
            address: ':9060',
            activity: [{ transport: 'udp', packets: 3, lastPacketAt: now - ms }],
          },
        ],
        { shown: [], total: 0 },
        now,
      );
    expect(row(at(4_000), 'HEP', 'udp')[4]).toContain('2026-11-27T09:59:56.000Z</time> (4 s ago)');
    expect(row(at(600_000), 'HEP', 'udp')[4]).toContain('(10 min ago)');
    expect(row(at(3 * 3_600_000), 'HEP', 'udp')[4]).toContain('(3 h ago)');
  });
});
