import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DedupeWindow } from '../../../src/count/dedupe.js';
import { SOURCE_SYSLOG } from '../../../src/count/node-sources.js';
import { NodeLabels } from '../../../src/count/nodes.js';
import { KIND_RESPONSE, TIME_ARRIVAL } from '../../../src/count/observation.js';
import { SipCounter } from '../../../src/count/sip-counter.js';
import { OK } from '../../../src/errors.js';
import { HepIngest } from '../../../src/ingest/hep/hep-ingest.js';
import {
  buildExtractors,
  DEFAULT_EXTRACTORS,
  type Extractor,
} from '../../../src/ingest/syslog/extractors.js';
import { SyslogIngest } from '../../../src/ingest/syslog/syslog-ingest.js';
import { SelfMetrics } from '../../../src/metrics/self-metrics.js';
import { exporterPerTest, samples, sampleValue } from '../../helpers/exporter.js';
import { hep3 } from '../../helpers/hep.js';
import { closeUdp, eventually, sendUdp, tcpConnect, tlsWrite, udpSender, write } from '../../helpers/net.js';
import { recordObservations } from '../../helpers/observation.js';
import { sipResponse } from '../../helpers/sip.js';
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

describe('the observation the syslog ingest fills', () => {
  function observeSyslog() {
    const registry = new Registry();
    const self = new SelfMetrics(registry);
    const nodes = new NodeLabels(10, new Map(), self.nodeOverflow.cell({}));
    const counter = new SipCounter(registry, nodes, new DedupeWindow(32_000, 1024), self);
    const seen = recordObservations(counter);
    const extractors = buildExtractors([
      ...DEFAULT_EXTRACTORS,
      { name: 'sbc', regex: String.raw`status=(?<code>\d+) id=(?<callid>\S+) host=(?<node>\S+)` },
    ]);
    const ingest = new SyslogIngest(counter, self, extractors);
    const hep = new HepIngest(counter, self, { maxInflatedSize: 65536 });
    return { ingest, hep, seen, registry };
  }

  const logged = (lines: string[]) => `<13>Nov 25 10:20:30 pbx1 asterisk[321]: ${lines.join('#015#012')}`;

  it('reads a logged SIP message through the step HEP takes, From tag and Via branch included', () => {
    const { ingest, seen } = observeSyslog();
    const line = logged([
      'SIP/2.0 486 Busy Here',
      'Via: SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKPj1',
      'Call-ID: ast-77@192.0.2.1',
      'From: <sip:alice@x>;tag=f-ast',
      'To: <sip:bob@x>;tag=t-ast',
      'CSeq: 31 INVITE',
      '',
      '',
    ]);
    ingest.handle(Buffer.from(line), '192.0.2.7', 77);
    expect(seen).toMatchObject([
      {
        node: 'pbx1',
        kind: KIND_RESPONSE,
        code: 486,
        method: 'INVITE',
        cseq: 31,
        callId: 'ast-77@192.0.2.1',
        fromTag: 'f-ast',
        toTag: 't-ast',
        viaBranch: 'z9hG4bKPj1',
        now: 77,
        source: '',
        destination: '',
        ports: [0, 0],
        transport: 0,
        listener: SOURCE_SYSLOG,
      },
    ]);
    expect(seen[0].time[2]).toBe(TIME_ARRIVAL);
  });

  it('takes text fields from the other extractors, and the node from a named group', () => {
    const { ingest, seen } = observeSyslog();
    ingest.handle(
      Buffer.from(
        '<142>Nov 25 10:20:30 proxy1 kamailio[1]: ACC: transaction answered: timestamp=1;method=BYE;from_tag=a;to_tag=b;call_id=acc-1;code=200;reason=OK',
      ),
      '192.0.2.7',
      1,
    );
    ingest.handle(Buffer.from('<13>Nov 25 10:20:30 h1 sbc: status=503 id=sbc-1 host=sbc-7'), '192.0.2.7', 2);
    expect(seen).toMatchObject([
      {
        node: 'proxy1',
        code: 200,
        method: 'BYE',
        cseq: -1,
        callId: 'acc-1',
        toTag: 'b',
        fromTag: '',
        viaBranch: '',
      },
      { node: 'sbc-7', code: 503, method: '', cseq: -1, callId: 'sbc-1', toTag: '', listener: SOURCE_SYSLOG },
    ]);
  });

  it('gives a response traced over HEP and logged by the same node one dedupe key', async () => {
    const { ingest, hep, registry } = observeSyslog();
    const response = sipResponse({ code: 480, callId: 'both-1', cseq: 5, toTag: 'tb' });
    const packet = hep3({ payload: response, nodeName: 'pbx1' });
    expect(hep.handle(packet, 0, packet.length, '192.0.2.7', 0)).toBe(OK);
    ingest.handle(Buffer.from(logged(response.split('\r\n'))), '192.0.2.7', 1);
    const text = await registry.metrics();
    expect(samples(text, 'sip_responses_total')).toEqual({
      '{code="480",class="4xx",reason="Temporarily Unavailable",method="INVITE",node="pbx1"}': 1,
    });
    expect(samples(text, 'sip_exporter_dedupe_hits_total')['{kind="response"}']).toBe(1);
  });
});
