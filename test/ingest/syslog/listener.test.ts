import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { exporterPerTest, samples, sampleValue } from '../../helpers/exporter.js';
import {
  closed,
  closeUdp,
  eventually,
  sendUdp,
  tcpConnect,
  tlsWrite,
  udpSender,
  write,
} from '../../helpers/net.js';
import {
  logger,
  makeCertificates,
  type Rsyslogd,
  startRsyslogd,
  syslogTlsFlags,
} from '../../helpers/syslog.js';

const run = exporterPerTest();
const { metrics } = run;
let rsyslogd: Rsyslogd | null = null;
afterEach(async (context) => {
  if (rsyslogd !== null && context.task.result?.state === 'fail') {
    process.stderr.write(`rsyslogd output:\n${rsyslogd.output()}\n`);
  }
  await rsyslogd?.stop();
  rsyslogd = null;
});

const HOST = hostname().split('.')[0];

function responses(text: string): Record<string, number> {
  return samples(text, 'sip_responses_total');
}

const series = (code: number, reason: string, method: string, node: string) =>
  `{code="${code}",class="${String(code)[0]}xx",reason="${reason}",method="${method}",node="${node}"}`;

const acc = (code: number, reason: string, callId: string) =>
  `NOTICE: {1 1 INVITE ${callId}} acc [acc.c:285]: acc_log_request(): ACC: transaction answered: timestamp=1795599837;method=INVITE;from_tag=f;to_tag=t;call_id=${callId};code=${code};reason=${reason}`;
const xlog = (code: number, cseq: number, callId: string) =>
  `NOTICE: <script>: sip_response code=${code} method=INVITE cseq=${cseq} callid=${callId} totag=abc`;

const LINES = [
  acc(486, 'Busy Here', 'l1'),
  acc(486, 'Busy Here', 'l2'),
  xlog(503, 7, 'l3'),
  'an ordinary log line',
  acc(200, 'OK', 'l4'),
];
const EXPECTED = (node: string) => ({
  [series(486, 'Busy Here', 'INVITE', node)]: 2,
  [series(503, 'Service Unavailable', 'INVITE', node)]: 1,
  [series(200, 'OK', 'INVITE', node)]: 1,
});

async function waitForMessages(transport: string, count: number): Promise<string> {
  return eventually(
    metrics,
    (t) =>
      (sampleValue(t, `sip_exporter_packets_received_total{listener="syslog",transport="${transport}"}`) ??
        0) >= count,
    10_000,
  );
}

describe('syslog from util-linux logger', () => {
  for (const [name, args, transport] of [
    ['RFC 3164 over UDP', ['--rfc3164', '-d'], 'udp'],
    ['RFC 5424 over UDP', ['--rfc5424', '-d'], 'udp'],
    ['RFC 5424 over TCP, newline framing', ['--rfc5424', '-T'], 'tcp'],
    ['RFC 3164 over TCP, octet counting', ['--rfc3164', '-T', '--octet-count'], 'tcp'],
  ] as const) {
    it(`counts ${name} exactly`, async () => {
      const exporter = await run.start();
      const port = exporter.source('syslog').listener!.plain!.udpPort;
      await logger(['-n', '127.0.0.1', '-P', String(port), '-t', 'kamailio', ...args], LINES);
      const text = await waitForMessages(transport, LINES.length);
      expect(responses(text)).toEqual(EXPECTED(HOST));
      expect(sampleValue(text, 'sip_exporter_syslog_unmatched_total')).toBe(1);
      expect(sampleValue(text, 'sip_exporter_syslog_matches_total{extractor="kamailio-acc"}')).toBe(3);
      expect(sampleValue(text, 'sip_exporter_syslog_matches_total{extractor="kamailio-xlog"}')).toBe(1);
    });
  }
});

describe('syslog forwarded by a real rsyslogd', () => {
  const asterisk = [
    '<--- Received SIP response (300 bytes) from UDP:192.0.2.5:5060 --->',
    'SIP/2.0 480 Temporarily Unavailable',
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKPj1',
    'Call-ID: ast-1@192.0.2.1',
    'To: <sip:bob@x>;tag=t1',
    'CSeq: 12 INVITE',
    '',
    '',
  ].join('\r\n');

  for (const protocol of ['udp', 'tcp'] as const) {
    it(`over ${protocol.toUpperCase()}${protocol === 'tcp' ? ' with octet counting' : ''}: acc lines, and a multi-line SIP message rsyslog escapes`, async () => {
      const exporter = await run.start();
      const port = exporter.source('syslog').listener!.plain!.udpPort;
      rsyslogd = await startRsyslogd({ port, protocol });
      await logger(['-u', rsyslogd.socket, '-t', 'kamailio'], LINES);
      // One message with line breaks inside, as Asterisk's logger hands it to syslog.
      await logger(['-u', rsyslogd.socket, '-t', 'asterisk', asterisk], []);
      const text = await eventually(
        metrics,
        (t) => Object.values(responses(t)).reduce((a, b) => a + b, 0) >= 5,
        15_000,
      );
      expect(responses(text)).toEqual({
        ...EXPECTED(HOST),
        [series(480, 'Temporarily Unavailable', 'INVITE', HOST)]: 1,
      });
      expect(sampleValue(text, 'sip_exporter_syslog_matches_total{extractor="sip-message"}')).toBe(1);
      expect(
        sampleValue(text, 'sip_exporter_parse_errors_total{listener="syslog",reason="syslog_malformed"}'),
      ).toBe(0);
    });
  }
});

describe('syslog listener bounds', () => {
  it('reads one UDP datagram as one message, line breaks and all', async () => {
    const exporter = await run.start();
    const s = udpSender();
    const sip = 'SIP/2.0 404 Not Found\nCall-ID: u1\nCSeq: 1 REGISTER\nTo: <sip:x>;tag=9\n\n';
    await sendUdp(
      s,
      Buffer.from(`<13>Nov 25 10:20:30 edge-9 asterisk[1]: ${sip}`),
      exporter.source('syslog').listener!.plain!.udpPort,
    );
    await sendUdp(s, Buffer.from('garbage without pri'), exporter.source('syslog').listener!.plain!.udpPort);
    const text = await waitForMessages('udp', 2);
    expect(responses(text)).toEqual({ [series(404, 'Not Found', 'REGISTER', 'edge-9')]: 1 });
    expect(
      sampleValue(text, 'sip_exporter_parse_errors_total{listener="syslog",reason="syslog_malformed"}'),
    ).toBe(1);
    await closeUdp(s);
  });

  it('closes connections that send garbage or oversized frames, and keeps serving others', async () => {
    const exporter = await run.start({ 'syslog.max-frame-size': '1024' });
    const port = exporter.source('syslog').listener!.plain!.tcpPort;
    const badCount = await tcpConnect(port);
    await write(badCount, Buffer.from('12abc <13>x'));
    await closed(badCount);
    const huge = await tcpConnect(port);
    await write(huge, Buffer.from('99999999 <13>'));
    await closed(huge);
    const long = await tcpConnect(port);
    await write(long, Buffer.alloc(2000, 0x41)).catch(() => undefined);
    await closed(long);
    const good = await tcpConnect(port);
    await write(good, Buffer.from(`<13>Nov 25 10:20:30 edge-1 kamailio: ${acc(502, 'Bad Gateway', 'g1')}\n`));
    const text = await waitForMessages('tcp', 1);
    expect(responses(text)).toEqual({ [series(502, 'Bad Gateway', 'INVITE', 'edge-1')]: 1 });
    expect(samples(text, 'sip_exporter_parse_errors_total')).toMatchObject({
      '{listener="syslog",reason="syslog_bad_octet_count"}': 1,
      '{listener="syslog",reason="syslog_frame_too_large"}': 2,
    });
    expect(
      sampleValue(text, 'sip_exporter_tcp_connections_closed_total{listener="syslog",reason="parse_error"}'),
    ).toBe(3);
    good.destroy();
  });

  it('counts a matched line with an impossible code as an error, not a response', async () => {
    const exporter = await run.start();
    const s = udpSender();
    await sendUdp(
      s,
      Buffer.from(`<13>Nov 25 10:20:30 h k: ${acc(999, 'Nope', 'x')}`),
      exporter.source('syslog').listener!.plain!.udpPort,
    );
    const text = await waitForMessages('udp', 1);
    expect(responses(text)).toEqual({});
    expect(
      sampleValue(text, 'sip_exporter_parse_errors_total{listener="syslog",reason="syslog_bad_status_code"}'),
    ).toBe(1);
    await closeUdp(s);
  });
});

describe('syslog over TLS (RFC 5425)', () => {
  it('reads octet-counted messages over TLS and, when asked, requires a client certificate', async () => {
    const pki = await makeCertificates();
    const exporter = await run.start({
      ...syslogTlsFlags(pki),
      'syslog.tls.client-ca-file': pki.ca,
    });
    const port = exporter.source('syslog').listener!.tlsPort;
    const ca = readFileSync(pki.ca);
    const send = (withCert: boolean) =>
      new Promise<void>((resolve, reject) => {
        const socket = tlsConnect(
          {
            host: '127.0.0.1',
            port,
            servername: 'localhost',
            ca,
            ...(withCert ? { cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) } : {}),
          },
          () => {
            const msg = `<134>1 2026-11-25T10:20:30Z tls-edge kamailio - - - ${acc(603, 'Decline', withCert ? 'ok' : 'no')}`;
            socket.end(`${Buffer.byteLength(msg)} ${msg}`);
          },
        );
        socket.on('error', reject);
        socket.on('close', () => resolve());
        socket.resume();
      });
    await send(true);
    const text = await waitForMessages('tls', 1);
    expect(responses(text)).toEqual({ [series(603, 'Decline', 'INVITE', 'tls-edge')]: 1 });
    await expect(send(false)).rejects.toThrow();
    expect(responses(await metrics())).toEqual({ [series(603, 'Decline', 'INVITE', 'tls-edge')]: 1 });
  });
});

describe("every product's line over every transport", () => {
  const crlf = (lines: string[]) => lines.join('\r\n');
  /** Each product's real line; multi-line ones as rsyslog escapes them for newline framing. */
  const products = (escaped: boolean) => {
    const nl = (text: string) => (escaped ? text.replace(/\r/g, '#015').replace(/\n/g, '#012') : text);
    return [
      `<142>Nov 25 10:20:30 kam-1 /usr/sbin/kamailio[1]: NOTICE: {1 1 INVITE k1} acc [acc.c:285]: acc_log_request(): ${acc(486, 'Busy Here', 'k1').replace(/^.*ACC:/, 'ACC:')}`,
      '<133>Nov 25 10:20:30 osips-1 /usr/sbin/opensips[9]: NOTICE:ACC: transaction answered: timestamp=1;created=1;setuptime=0;method=BYE;from_tag=a;to_tag=b;call_id=o1;code=481;reason=Call/Transaction Does Not Exist',
      `<141>1 2026-11-25T10:20:30Z kam-2 kamailio 7 - - NOTICE: <script>: sip_response code=503 method=REGISTER cseq=3 callid=x1 totag=<null>`,
      `<13>Nov 25 10:20:30 pbx-1 asterisk[3]: ${nl(crlf(['<--- Received SIP response (300 bytes) from UDP:192.0.2.5:5060 --->', 'SIP/2.0 480 Temporarily Unavailable', 'Call-ID: a1', 'To: <sip:b@x>;tag=t', 'CSeq: 4 INVITE', '', '']))}`,
      `<134>1 2026-11-25T10:20:30Z fs-1 freeswitch - - - ${nl(['recv 300 bytes from udp/[192.0.2.9]:5060 at 10:20:30.1:', '   ----', '   SIP/2.0 603 Decline', '   Call-ID: f1', '   CSeq: 8 INVITE', '   ----'].join('\n'))}`,
    ];
  };
  const expected = {
    [series(486, 'Busy Here', 'INVITE', 'kam-1')]: 1,
    [series(481, 'Call/Transaction Does Not Exist', 'BYE', 'osips-1')]: 1,
    [series(503, 'Service Unavailable', 'REGISTER', 'kam-2')]: 1,
    [series(480, 'Temporarily Unavailable', 'INVITE', 'pbx-1')]: 1,
    [series(603, 'Decline', 'INVITE', 'fs-1')]: 1,
  };
  const octets = (lines: string[]) => Buffer.from(lines.map((l) => `${Buffer.byteLength(l)} ${l}`).join(''));

  it('UDP, one datagram a message', async () => {
    const exporter = await run.start();
    const s = udpSender();
    for (const line of products(false))
      await sendUdp(s, Buffer.from(line), exporter.source('syslog').listener!.plain!.udpPort);
    expect(responses(await waitForMessages('udp', 5))).toEqual(expected);
    await closeUdp(s);
  });

  it('TCP with newline framing (multi-line messages escaped) and with octet counting', async () => {
    const exporter = await run.start();
    const port = exporter.source('syslog').listener!.plain!.tcpPort;
    const a = await tcpConnect(port);
    await write(a, Buffer.from(`${products(true).join('\n')}\n`));
    const b = await tcpConnect(port);
    await write(b, octets(products(false)));
    const text = await waitForMessages('tcp', 10);
    // The same lines twice from the same nodes: those with Call-ID and CSeq are one response each
    // (dedupe), acc lines carry no CSeq and count every time.
    expect(responses(text)).toEqual({
      ...expected,
      [series(486, 'Busy Here', 'INVITE', 'kam-1')]: 2,
      [series(481, 'Call/Transaction Does Not Exist', 'BYE', 'osips-1')]: 2,
    });
    expect(sampleValue(text, 'sip_exporter_dedupe_hits_total{kind="response"}')).toBe(3);
    a.destroy();
    b.destroy();
  });

  it('TLS with octet counting', async () => {
    const pki = await makeCertificates();
    const exporter = await run.start(syslogTlsFlags(pki));
    const socket = await tlsWrite(
      exporter.source('syslog').listener!.tlsPort,
      readFileSync(pki.ca),
      octets(products(false)),
    );
    expect(responses(await waitForMessages('tls', 5))).toEqual(expected);
    socket.destroy();
  });
});
