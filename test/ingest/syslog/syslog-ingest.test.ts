import type { Socket } from 'node:net';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { Exporter } from '../../../src/exporter.js';
import {
  buildExtractors,
  DEFAULT_EXTRACTORS,
  type Extractor,
} from '../../../src/ingest/syslog/extractors.js';
import { samples, startExporter } from '../../helpers/exporter.js';
import { closeUdp, eventually, sendUdp, tcpConnect, udpSender, write } from '../../helpers/net.js';

let exporter: Exporter | null = null;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await exporter?.stop();
  exporter = null;
});

async function metrics(): Promise<string> {
  return (await request(`http://127.0.0.1:${exporter!.httpPort}`).get('/metrics').expect(200)).text;
}

const syslogErrors = (text: string) => samples(text, 'sip_exporter_parse_errors_total');
const reason = (r: string) => `{listener="syslog",reason="${r}"}`;

const acc = (code: number, callId: string) =>
  `ACC: transaction answered: method=INVITE;from_tag=f;to_tag=t;call_id=${callId};code=${code};reason=X`;

describe('the per-message guard', () => {
  it('counts a message whose handling throws as syslog_unparseable and goes on with the next', async () => {
    exporter = await startExporter();
    const ingest = exporter.syslogIngest;
    // A fault the parser cannot produce any more, injected where an extractor runs.
    const throwing: Extractor = {
      name: 'throws-on-kaboom',
      extract(text) {
        if (text.includes('KABOOM')) throw new TypeError('injected');
        return null;
      },
    };
    ingest.setExtractors([throwing, ...buildExtractors(DEFAULT_EXTRACTORS)]);
    const s = udpSender();
    const port = exporter.syslog!.plain!.udpPort;
    await sendUdp(s, Buffer.from('<13>Nov 25 10:20:30 h1 kamailio: KABOOM'), port);
    await sendUdp(s, Buffer.from(`<13>Nov 25 10:20:30 h1 kamailio: ${acc(503, 'next')}`), port);
    const c = await tcpConnect(exporter.syslog!.plain!.tcpPort);
    sockets.push(c);
    await write(
      c,
      Buffer.from(`<13>Nov 25 10:20:30 h2 kamailio: KABOOM\n<13>Nov 25 10:20:30 h2 k: ${acc(480, 'a')}\n`),
    );
    const text = await eventually(
      metrics,
      (t) => Object.values(samples(t, 'sip_responses_total')).reduce((a, b) => a + b, 0) >= 2,
      10_000,
    );
    expect(syslogErrors(text)[reason('syslog_unparseable')]).toBe(2);
    expect(samples(text, 'sip_responses_total')).toEqual({
      '{code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="h1"}': 1,
      '{code="480",class="4xx",reason="Temporarily Unavailable",method="INVITE",node="h2"}': 1,
    });
    // The connection that carried the failing message stays open: one bad line is not a bad stream.
    expect(c.destroyed).toBe(false);
    await closeUdp(s);
  });
});
