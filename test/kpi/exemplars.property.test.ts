import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exporter } from '../../src/exporter.js';
import { CALL_ID_MAX } from '../../src/kpi/call-ids.js';
import { startExporter } from '../helpers/exporter.js';
import { chunk, hep3FromChunks, u8, u16, u32 } from '../helpers/hep.js';
import { checkOpenMetrics, promtoolAcceptsOpenMetrics } from '../helpers/openmetrics.js';

const T0_S = 1_795_600_000;

/** A HEPv3 packet around raw SIP bytes, which hep-js (it takes a string) cannot carry. */
function hep(payload: Buffer, captureMs: number): Buffer {
  return hep3FromChunks([
    chunk(0, 0x0001, u8(2)),
    chunk(0, 0x0002, u8(17)),
    chunk(0, 0x0003, Buffer.from([192, 0, 2, 10])),
    chunk(0, 0x0004, Buffer.from([192, 0, 2, 20])),
    chunk(0, 0x0007, u16(5060)),
    chunk(0, 0x0008, u16(5060)),
    chunk(0, 0x0009, u32(Math.floor(captureMs / 1000))),
    chunk(0, 0x000a, u32((captureMs % 1000) * 1000)),
    chunk(0, 0x000b, u8(1)),
    chunk(0, 0x000c, u32(2001)),
    chunk(0, 0x000f, payload),
  ]);
}

function sip(first: string, callId: Uint8Array, fromTag: string, toTag: string): Buffer {
  const head = [
    first,
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKprop',
    `From: <sip:a@example.com>;tag=${fromTag}`,
    `To: <sip:b@example.com>${toTag}`,
    'Call-ID: ',
  ].join('\r\n');
  const tail = ['', 'CSeq: 1 INVITE', 'Content-Length: 0', '', ''].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'latin1'), callId, Buffer.from(tail, 'latin1')]);
}

/** Call-ID bytes as a crafted or broken capture may carry them. */
const callIdBytes = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 300 }),
  fc.uint8Array({ minLength: 9000, maxLength: 12000 }),
  fc.string({ unit: 'binary', maxLength: 400 }).map((s) => new TextEncoder().encode(s)),
  fc
    .array(
      fc.constantFrom(
        '"',
        '\\',
        '\n',
        '\r',
        '\t',
        '\0',
        '\x7f',
        '\u0085',
        'é',
        '😀',
        '\ud800',
        'a',
        ' ',
        '#',
        '}',
        '{',
      ),
      {
        maxLength: 200,
      },
    )
    .map((a) => new TextEncoder().encode(a.join(''))),
  // Invalid UTF-8: lone continuation bytes, truncated and overlong sequences.
  fc
    .array(fc.constantFrom(0x80, 0xbf, 0xc0, 0xc1, 0xe2, 0x82, 0xf0, 0xf5, 0xff, 0x41, 0x22, 0x5c), {
      maxLength: 300,
    })
    .map((a) => Uint8Array.from(a)),
);

let exporter: Exporter;
let now = 0;
let captureMs = T0_S * 1000;

beforeAll(async () => {
  // Started for its HTTP server; the packets go straight into the HEP ingest, on a clock the
  // test drives, so that each call's exemplar is due and every timeout expires on time.
  exporter = await startExporter({
    'hep.listen-address': '',
    'kpi.max-entries': '4096',
    'kpi.max-dialogs': '4096',
  });
  now = performance.now();
});

afterAll(async () => {
  await exporter.stop();
});

describe('Call-ID exemplars from any bytes', () => {
  it('never throw in the handler or the scrape, and always scrape as valid OpenMetrics', async () => {
    const ingest = exporter.source('hep').ingest;
    const url = `http://127.0.0.1:${exporter.httpPort}/metrics`;
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        callIdBytes,
        fc.integer({ min: 0, max: 40_000 }),
        fc.boolean(),
        async (id, delay, answer) => {
          run++;
          const feed = (payload: Buffer, ms: number, at: number) => {
            const p = hep(payload, ms);
            expect(() => ingest.handle(p, 0, p.length, '192.0.2.10', at)).not.toThrow();
          };
          const from = `p${run}`;
          // Past the previous call's INVITE timeout (190 s) and a sweep: it times out now, if unanswered.
          now += 200_000;
          captureMs += 200_000;
          feed(sip('INVITE sip:b@example.com SIP/2.0', id, from, ''), captureMs, now);
          if (answer) feed(sip('SIP/2.0 503 Busy Here', id, from, ';tag=t'), captureMs + delay, now + 1);
          const res = await fetch(url, { headers: { accept: 'application/openmetrics-text;version=1.0.0' } });
          expect(res.status).toBe(200);
          const bytes = new Uint8Array(await res.arrayBuffer());
          expect(checkOpenMetrics(bytes)).toEqual([]);
          const text = new TextDecoder().decode(bytes);
          for (const m of text.matchAll(/# \{call_id="((?:[^"\\]|\\.)*)"\}/g)) {
            expect([...m[1]].length).toBeLessThanOrEqual(CALL_ID_MAX);
          }
          if (run % 5 === 0) promtoolAcceptsOpenMetrics(text);
        },
      ),
      { numRuns: 150 },
    );
    // The runs did reach the exemplars: the attempts ended, and some were named.
    const text = await (await fetch(url, { headers: { accept: 'application/openmetrics-text' } })).text();
    expect(text).toMatch(/sip_exporter_kpi_exemplars_total\{result="taken"\} [1-9]/);
    expect(text).toMatch(/outcome="timeout"\} [1-9]/);
  });
});
