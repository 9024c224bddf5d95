import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LinkType } from '../../src/capture/index.js';
import { demoMessages } from '../../src/demo/source.js';
import { OK } from '../../src/errors.js';
import { SipMessageScan, scanSipMessage } from '../../src/sip/scan.js';
import { ethernet, ipv4, pcap, udp } from '../capture/build.js';

const E = { src: '192.0.2.1', dst: '192.0.2.2', srcPort: 5060, dstPort: 5060 };
const T0 = 1_795_600_000;

/** Call-ID characters (RFC 3261 `word`, without the quote and backslash) */
const WORD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~()<>:/[]?{}";
const callId = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...WORD), minLength: 1, maxLength: 40 }),
    fc.option(fc.string({ unit: fc.constantFrom(...WORD), minLength: 1, maxLength: 20 }), { nil: undefined }),
  )
  .map(([a, b]) => (b === undefined ? a : `${a}@${b}`));

function message(id: string, compact: boolean, body: string): string {
  return [
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1',
    'From: <sip:a@example.com>;tag=1',
    'To: <sip:b@example.com>;tag=2',
    `${compact ? 'i' : 'Call-ID'}: ${id}`,
    'CSeq: 1 INVITE',
    `Content-Length: ${body.length}`,
    '',
    body,
  ].join('\r\n');
}

describe('demo messages, for any Call-IDs and times', () => {
  it('append the pass suffix to each Call-ID and change nothing else, in time order', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            id: callId,
            compact: fc.boolean(),
            body: fc.constantFrom('', 'v=0\r\n'),
            ms: fc.integer({ min: 0, max: 100_000 }),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        (specs) => {
          const records = specs.map((s) => ({
            sec: T0 + Math.floor(s.ms / 1000),
            frac: (s.ms % 1000) * 1000,
            data: ethernet(ipv4(E, 17, udp(E, message(s.id, s.compact, s.body)))),
          }));
          const messages = demoMessages(pcap(records, { linkType: LinkType.ETHERNET }));
          expect(messages.length).toBe(specs.length);
          const first = Math.min(...specs.map((s) => s.ms));
          expect(messages.map((m) => Math.round(m.offsetMs))).toEqual(
            specs.map((s) => s.ms - first).sort((a, b) => a - b),
          );
          const expected = specs.map((s) => message(`${s.id}-demo000000`, s.compact, s.body)).sort();
          expect(messages.map((m) => m.payload.toString('latin1')).sort()).toEqual(expected);
          const scan = new SipMessageScan();
          for (const m of messages) {
            expect(scanSipMessage(m.payload, 0, m.payload.length, scan, 0)).toBe(OK);
            expect(m.payload.toString('latin1', m.passAt, m.passAt + 6)).toBe('000000');
            expect(m.payload.toString('latin1', scan.callIdEnd - 11, scan.callIdEnd)).toBe('-demo000000');
          }
        },
      ),
    );
  });
});
