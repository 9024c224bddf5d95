import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { exporterPerTest, samples, sampleValue } from '../../helpers/exporter.js';
import type { Presented } from '../../helpers/https.js';
import { eventually } from '../../helpers/net.js';
import { makeCertificates, syslogTlsFlags } from '../../helpers/syslog.js';

const run = exporterPerTest();
const { metrics } = run;

const acc = (host: string) => {
  const msg = `<134>1 2026-11-25T10:20:30Z ${host} kamailio - - - ACC: transaction answered: timestamp=1;method=INVITE;from_tag=f;to_tag=t;call_id=${host};code=486;reason=Busy Here`;
  return `${Buffer.byteLength(msg)} ${msg}`;
};

/** Connects, sends one octet-counted message once the handshake is done, and waits for the close. */
function send(
  port: number,
  host: string,
  client: { ca: Buffer; cert?: Buffer; key?: Buffer },
): Promise<void> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...client }, () =>
      socket.end(acc(host)),
    );
    // A refusal shows as an error on this side (an alert, or a reset) or as a plain close; the
    // exporter's metrics say which it was.
    socket.on('error', () => {});
    socket.on('close', () => resolve());
    socket.resume();
  });
}

const series = (host: string) =>
  `{code="486",class="4xx",reason="Busy Here",method="INVITE",node="${host.replace(/ /g, '-')}"}`;

describe('syslog over TLS and client certificates', () => {
  for (const [name, requireCerts, counted] of [
    ['without client_ca_file takes every client', false, ['none', 'right CA', 'other CA']],
    ['with client_ca_file takes only certificates from that CA', true, ['right CA']],
  ] as const) {
    it(name, async () => {
      const pki = await makeCertificates();
      const other = await makeCertificates();
      const exporter = await run.start({
        ...syslogTlsFlags(pki),
        ...(requireCerts ? { 'syslog.tls.client-ca-file': pki.ca } : {}),
      });
      const port = exporter.source('syslog').listener!.tlsPort;
      const ca = readFileSync(pki.ca);
      const clients: Record<Presented, { ca: Buffer; cert?: Buffer; key?: Buffer }> = {
        none: { ca },
        'right CA': { ca, cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) },
        'other CA': { ca, cert: readFileSync(other.clientCert), key: readFileSync(other.clientKey) },
      };
      const expected: Record<string, number> = {};
      let refused = 0;
      for (const [host, client] of Object.entries(clients) as Array<
        [Presented, (typeof clients)[Presented]]
      >) {
        const taken = (counted as readonly string[]).includes(host);
        await send(port, host.replace(/ /g, '-'), client);
        if (taken) expected[series(host)] = 1;
        else refused++;
        const text = await eventually(
          metrics,
          (t) =>
            (sampleValue(
              t,
              'sip_exporter_tcp_connections_closed_total{listener="syslog",reason="socket_error"}',
            ) ?? 0) === refused &&
            (sampleValue(t, 'sip_exporter_packets_received_total{listener="syslog",transport="tls"}') ??
              0) === Object.keys(expected).length,
        );
        expect({ host, responses: samples(text, 'sip_responses_total') }).toEqual({
          host,
          responses: expected,
        });
        expect(
          sampleValue(text, 'sip_exporter_tcp_connections_total{listener="syslog",result="accepted"}'),
        ).toBe(Object.keys(expected).length);
      }
      expect(refused).toBe(3 - counted.length);
    });
  }
});
