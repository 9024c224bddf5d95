import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildExtractors,
  DEFAULT_EXTRACTORS,
  type Extractor,
} from '../../../src/ingest/syslog/extractors.js';
import { exporterPerTest, samples, sampleValue } from '../../helpers/exporter.js';
import { closeUdp, eventually, sendUdp, tcpConnect, tlsWrite, udpSender, write } from '../../helpers/net.js';
import { makeCertificates, syslogTlsFlags } from '../../helpers/syslog.js';

const run = exporterPerTest();
const { metrics, sockets } = run;

const syslogErrors = (text: string) => samples(text, 'sip_exporter_parse_errors_total');
const reason = (r: string) => `{listener="syslog",reason="${r}"}`;

const acc = (code: number, callId: string) =>
  `ACC: transaction answered: method=INVITE;from_tag=f;to_tag=t;call_id=${callId};code=${code};reason=X`;

/**
 * Lines that made glossy throw a TypeError out of the socket handler, taking the process down: a
 * TIMESTAMP holding a `T` that is no date, and RFC 5848 signature elements without the params
 * glossy assumes.
 */
const BAD_TIMESTAMPS = ['<134>1 xT h a - - - x', '<134>1 T h a - - - x', '<134>1 2026-01-01T - a - - - x'];
const SIGNATURE_ELEMENTS = ['<134>1 - h a - - [ssign x="1"] m', '<134>1 - h a - - [ssign-cert x="1"] m'];
const GOOD = `<134>1 2026-11-25T10:20:30Z after-bad kamailio - - - ${acc(486, 'survivor')}`;

async function expectSurvived(transport: string): Promise<void> {
  const text = await eventually(
    metrics,
    (t) =>
      (sampleValue(t, `sip_exporter_packets_received_total{listener="syslog",transport="${transport}"}`) ??
        0) >= 6,
    10_000,
  );
  expect(samples(text, 'sip_responses_total')).toEqual({
    '{code="486",class="4xx",reason="Busy Here",method="INVITE",node="after-bad"}': 1,
  });
  // Each bad timestamp is one coded error; signature elements are valid structured data.
  expect(syslogErrors(text)[reason('syslog_malformed')]).toBe(BAD_TIMESTAMPS.length);
  expect(syslogErrors(text)[reason('syslog_unparseable')]).toBe(0);
  expect(sampleValue(text, 'sip_exporter_syslog_unmatched_total')).toBe(SIGNATURE_ELEMENTS.length);
}

describe('a syslog line that once threw does not take the exporter down', () => {
  it('over UDP', async () => {
    const exporter = await run.start();
    const s = udpSender();
    for (const line of [...BAD_TIMESTAMPS, ...SIGNATURE_ELEMENTS, GOOD]) {
      await sendUdp(s, Buffer.from(line), exporter.source('syslog').listener!.plain!.udpPort);
    }
    await expectSurvived('udp');
    await closeUdp(s);
  });

  it('over TCP with newline framing, on one connection', async () => {
    const exporter = await run.start();
    const c = await tcpConnect(exporter.source('syslog').listener!.plain!.tcpPort);
    sockets.push(c);
    await write(c, Buffer.from(`${[...BAD_TIMESTAMPS, ...SIGNATURE_ELEMENTS, GOOD].join('\n')}\n`));
    await expectSurvived('tcp');
    expect(c.destroyed).toBe(false);
  });

  it('over TCP with octet counting, on one connection', async () => {
    const exporter = await run.start();
    const c = await tcpConnect(exporter.source('syslog').listener!.plain!.tcpPort);
    sockets.push(c);
    const frames = [...BAD_TIMESTAMPS, ...SIGNATURE_ELEMENTS, GOOD].map(
      (l) => `${Buffer.byteLength(l)} ${l}`,
    );
    await write(c, Buffer.from(frames.join('')));
    await expectSurvived('tcp');
    expect(c.destroyed).toBe(false);
  });

  it('over TLS with octet counting, on one connection', async () => {
    const pki = await makeCertificates();
    const exporter = await run.start(syslogTlsFlags(pki));
    const frames = [...BAD_TIMESTAMPS, ...SIGNATURE_ELEMENTS, GOOD].map(
      (l) => `${Buffer.byteLength(l)} ${l}`,
    );
    const c = await tlsWrite(
      exporter.source('syslog').listener!.tlsPort,
      readFileSync(pki.ca),
      frames.join(''),
    );
    sockets.push(c);
    await expectSurvived('tls');
    expect(c.destroyed).toBe(false);
  });
});

describe('RFC 5424 structured data', () => {
  it('counts a line with structured data whose MSG has words ending in ] (once swallowed as SD)', async () => {
    const exporter = await run.start();
    const s = udpSender();
    const line = `<134>1 2026-11-25T10:20:30Z sd-edge kamailio 7 - [origin ip="192.0.2.1"][x@1 v="a\\]b"] NOTICE: [acc] ${acc(486, 'sd1')} [done]`;
    await sendUdp(s, Buffer.from(line), exporter.source('syslog').listener!.plain!.udpPort);
    await sendUdp(
      s,
      Buffer.from('<134>1 - sd-edge kamailio - - [x@1 v="open] ACC: x'),
      exporter.source('syslog').listener!.plain!.udpPort,
    );
    const text = await eventually(
      metrics,
      (t) =>
        (sampleValue(t, 'sip_exporter_packets_received_total{listener="syslog",transport="udp"}') ?? 0) >= 2,
      10_000,
    );
    expect(samples(text, 'sip_responses_total')).toEqual({
      '{code="486",class="4xx",reason="Busy Here",method="INVITE",node="sd-edge"}': 1,
    });
    expect(syslogErrors(text)[reason('syslog_bad_structured_data')]).toBe(1);
    await closeUdp(s);
  });
});

describe('the per-message guard', () => {
  it('counts a message whose handling throws as syslog_unparseable and goes on with the next', async () => {
    const exporter = await run.start();
    const ingest = exporter.source('syslog').ingest;
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
    const port = exporter.source('syslog').listener!.plain!.udpPort;
    await sendUdp(s, Buffer.from('<13>Nov 25 10:20:30 h1 kamailio: KABOOM'), port);
    await sendUdp(s, Buffer.from(`<13>Nov 25 10:20:30 h1 kamailio: ${acc(503, 'next')}`), port);
    const c = await tcpConnect(exporter.source('syslog').listener!.plain!.tcpPort);
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
