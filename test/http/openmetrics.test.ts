import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exporter } from '../../src/exporter.js';
import { startExporter } from '../helpers/exporter.js';
import { hep3 } from '../helpers/hep.js';
import { closeUdp, eventually, sendUdp, udpSender } from '../helpers/net.js';
import { checkOpenMetrics, promtoolAcceptsOpenMetrics } from '../helpers/openmetrics.js';

const PROMETHEUS_2 =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const TEXT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const OM_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

let exporter: Exporter;
let url: string;

async function get(
  accept?: string,
): Promise<{ type: string | null; vary: string | null; bytes: Uint8Array }> {
  const res = await fetch(url, { headers: accept === undefined ? {} : { accept } });
  expect(res.status).toBe(200);
  return {
    type: res.headers.get('content-type'),
    vary: res.headers.get('vary'),
    bytes: new Uint8Array(await res.arrayBuffer()),
  };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
/** The lines that depend on the traffic only, not on the process's own clock and memory. */
const stable = (t: string) =>
  t
    .split('\n')
    .filter(
      (l) => /^(# (HELP|TYPE) )?sip_/.test(l) && !l.includes('timestamp_seconds') && !l.includes('udp_'),
    )
    .join('\n');

beforeAll(async () => {
  exporter = await startExporter({ 'kpi.max-entries': '4096', 'kpi.max-dialogs': '4096' });
  url = `http://127.0.0.1:${exporter.httpPort}/metrics`;
  const s = udpSender();
  const sip = (first: string, toTag: string) =>
    [
      first,
      'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKom1',
      'From: <sip:a@example.com>;tag=om1',
      `To: <sip:b@example.com>${toTag}`,
      'Call-ID: om-1@example.com',
      'CSeq: 1 INVITE',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  await sendUdp(
    s,
    hep3({ payload: sip('INVITE sip:b@example.com SIP/2.0', ''), nodeName: 'edge' }),
    exporter.source('hep').listener!.udpPort,
  );
  await sendUdp(
    s,
    hep3({ payload: sip('SIP/2.0 500 Oops', ';tag=x'), nodeName: 'edge' }),
    exporter.source('hep').listener!.udpPort,
  );
  await closeUdp(s);
  await eventually(
    async () => text((await get(PROMETHEUS_2)).bytes),
    (t) => t.includes('{call_id="om-1@example.com"}'),
  );
});

afterAll(async () => {
  await exporter.stop();
});

describe('/metrics content negotiation', () => {
  it('serves the text format (0.0.4) by default, unchanged by OpenMetrics scrapes in between', async () => {
    const before = await get();
    expect(before.type).toBe(TEXT_TYPE);
    expect(before.vary).toBe('Accept');
    await get(PROMETHEUS_2);
    const after = await get('text/plain;version=0.0.4');
    expect(after.type).toBe(TEXT_TYPE);
    const t = text(after.bytes);
    expect(stable(t)).toBe(stable(text(before.bytes)));
    // The counters keep their _total name in the text format (prom-client's OpenMetrics mode
    // strips it from the shared metric objects for good).
    expect(t).toContain('\nprocess_cpu_seconds_total ');
    expect(t).toContain('\nsip_session_attempts_total{node="edge",outcome="ineffective"} 1\n');
    expect(t).not.toContain('# EOF');
    expect(t).not.toContain('call_id');
  });

  it('serves valid OpenMetrics 1.0 to a scraper that prefers it', async () => {
    const om = await get(PROMETHEUS_2);
    expect(om.type).toBe(OM_TYPE);
    expect(om.vary).toBe('Accept');
    const t = text(om.bytes);
    expect(t.endsWith('\n# EOF\n')).toBe(true);
    expect(t).toContain(
      '# HELP sip_session_attempts Session attempts (initial INVITEs) ended, by the final response sent upstream or timeout (RFC 6076), per node.\n# TYPE sip_session_attempts counter\n',
    );
    expect(t).toContain(
      '# TYPE sip_session_request_delay_seconds histogram\n# UNIT sip_session_request_delay_seconds seconds\n',
    );
    expect(t).toMatch(
      /\nsip_session_attempts_total\{node="edge",outcome="ineffective"\} 1 # \{call_id="om-1@example.com"\} 1 \d+\.\d{3}\n/,
    );
    expect(checkOpenMetrics(om.bytes)).toEqual([]);
    promtoolAcceptsOpenMetrics(t);
  });

  it('has every family of the text format, counters as _total samples under a bare family name', async () => {
    const plain = text((await get()).bytes);
    const om = text((await get(PROMETHEUS_2)).bytes);
    for (const m of plain.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      const [, name, type] = m;
      const family = type === 'counter' ? name.replace(/_total$/, '') : name;
      expect(om).toContain(`\n# TYPE ${family} ${type}\n`);
    }
  });

  it('answers concurrent scrapes of both formats each in its own format', async () => {
    const asks = Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? PROMETHEUS_2 : undefined));
    const answers = await Promise.all(asks.map((accept) => get(accept)));
    answers.forEach((a, i) => {
      const t = text(a.bytes);
      if (asks[i] === undefined) {
        expect(a.type).toBe(TEXT_TYPE);
        expect(t).toContain('\nprocess_cpu_seconds_total ');
        expect(t).not.toContain('# EOF');
      } else {
        expect(a.type).toBe(OM_TYPE);
        expect(checkOpenMetrics(a.bytes)).toEqual([]);
      }
    });
  });
});

describe('the strict OpenMetrics checker these tests rely on', () => {
  const ok =
    '# HELP a_seconds x\n# TYPE a_seconds histogram\n# UNIT a_seconds seconds\na_seconds_bucket{le="1"} 1 # {call_id="c"} 0.5 1795600000.000\na_seconds_bucket{le="+Inf"} 1\na_seconds_count 1\na_seconds_sum 0.5\n# TYPE b counter\nb_total 2 # {call_id="c"} 1\n# EOF\n';
  const check = (t: string) => checkOpenMetrics(new TextEncoder().encode(t));

  it('accepts a valid exposition', () => {
    expect(check(ok)).toEqual([]);
  });

  it.each([
    ['no # EOF', ok.replace('# EOF\n', '')],
    ['an unescaped quote in an exemplar', ok.replace('call_id="c"} 0.5', 'call_id="c"d"} 0.5')],
    ['an exemplar over 128 code points', ok.replace('call_id="c"} 0.5', `call_id="${'c'.repeat(122)}"} 0.5`)],
    ['an exemplar above its bucket', ok.replace('} 0.5 ', '} 1.5 ')],
    ['a counter sample without _total', ok.replace('b_total 2', 'b 2')],
    ['an exemplar on a gauge', ok.replace('# TYPE b counter\nb_total', '# TYPE b gauge\nb')],
    ['_count not the +Inf bucket', ok.replace('a_seconds_count 1', 'a_seconds_count 2')],
    ['a unit that is not the suffix', ok.replace('# UNIT a_seconds seconds', '# UNIT a_seconds bytes')],
    ['NaN spelt Nan', ok.replace('b_total 2', 'b_total Nan')],
    ['a bad escape', ok.replace('call_id="c"} 0.5', 'call_id="\\x"} 0.5')],
  ])('refuses %s', (_why, text) => {
    expect(check(text)).not.toEqual([]);
  });

  it('refuses invalid UTF-8', () => {
    const bytes = new TextEncoder().encode(ok);
    bytes[bytes.indexOf(0x63)] = 0xff;
    expect(checkOpenMetrics(bytes)).toEqual(['not valid UTF-8']);
  });
});
