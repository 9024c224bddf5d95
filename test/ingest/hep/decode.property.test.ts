import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DedupeWindow } from '../../../src/count/dedupe.js';
import { NodeLabels } from '../../../src/count/nodes.js';
import { SipCounter } from '../../../src/count/sip-counter.js';
import { decodeHep, HepPacket } from '../../../src/ingest/hep/decode.js';
import { HepIngest } from '../../../src/ingest/hep/hep-ingest.js';
import { SelfMetrics } from '../../../src/metrics/self-metrics.js';
import { SipMessageScan, scanSipMessage } from '../../../src/sip/scan.js';
import { hep3, hep12 } from '../../helpers/hep.js';
import { REALISTIC_200_OK, sipRequest, sipResponse } from '../../helpers/sip.js';

function newIngest(): HepIngest {
  const registry = new Registry();
  const self = new SelfMetrics(registry);
  const nodes = new NodeLabels(10, new Map(), self.nodeOverflow.cell({}));
  const counter = new SipCounter(registry, nodes, new DedupeWindow(32_000, 1000), self);
  return new HepIngest(counter, self, { maxInflatedSize: 65536 });
}

const seeds = [
  hep3({ payload: REALISTIC_200_OK, nodeName: 'edge' }),
  hep3({ payload: sipRequest('INVITE'), authKey: 'k' }),
  hep12(1, sipResponse({ code: 486 })),
  hep12(2, sipResponse({ code: 503 }), { ipv6: true, captureId: 9 }),
];

/** A real packet with some bytes overwritten, cut short, or both. */
const mutated = fc
  .record({
    seed: fc.constantFrom(...seeds),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ seed, edits, cut }) => {
    const buf = Buffer.from(seed);
    for (const [at, value] of edits) buf[at % buf.length] = value;
    return cut === undefined ? buf : buf.subarray(0, cut % (buf.length + 1));
  });

const anyBytes = fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a));

describe('decoders never throw', () => {
  it('decodeHep returns an id for random, truncated and mutated packets', () => {
    const packet = new HepPacket();
    fc.assert(
      fc.property(fc.oneof(anyBytes, mutated), (buf) => {
        const error = decodeHep(buf, 0, buf.length, packet);
        expect(Number.isInteger(error)).toBe(true);
        if (error === 0) {
          expect(packet.payloadStart).toBeGreaterThanOrEqual(0);
          expect(packet.payloadEnd).toBeLessThanOrEqual(buf.length);
          expect(packet.payloadStart).toBeLessThan(packet.payloadEnd);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('scanSipMessage keeps every offset inside the message', () => {
    const scan = new SipMessageScan();
    const sipish = fc
      .array(
        fc.constantFrom(
          'SIP/2.0 ',
          '200',
          ' OK',
          '\r\n',
          '\n',
          'CSeq: ',
          '1 ',
          'INVITE',
          'To: <sip:x>',
          ';tag=',
          'i: ',
          'x',
          ' ',
          '\t',
          ':',
          'SIP/2.0',
        ),
        { maxLength: 40 },
      )
      .map((parts) => Buffer.from(parts.join('')));
    fc.assert(
      fc.property(fc.oneof(anyBytes, sipish), fc.nat(), (buf, cut) => {
        const end = buf.length === 0 ? 0 : cut % (buf.length + 1);
        const error = scanSipMessage(buf, 0, end, scan);
        expect(Number.isInteger(error)).toBe(true);
        for (const [s, e] of [
          [scan.callIdStart, scan.callIdEnd],
          [scan.toTagStart, scan.toTagEnd],
        ]) {
          if (s >= 0) {
            expect(s).toBeLessThanOrEqual(e);
            expect(e).toBeLessThanOrEqual(end);
          }
        }
        if (error === 0 && scan.kind === 2) {
          expect(scan.statusCode).toBeGreaterThanOrEqual(100);
          expect(scan.statusCode).toBeLessThanOrEqual(699);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('the whole ingest path counts every packet as a message, an error or an ignored type', () => {
    const ingest = newIngest();
    fc.assert(
      fc.property(fc.array(fc.oneof(anyBytes, mutated), { maxLength: 50 }), (packets) => {
        for (const buf of packets) ingest.handle(buf, 0, buf.length, '192.0.2.1', Date.now());
      }),
      { numRuns: 300 },
    );
    const stats = ingest.stats;
    const errors = stats.parseErrors.reduce((sum, cell) => sum + (cell?.value ?? 0), 0);
    expect(errors).toBeGreaterThan(0);
    expect(stats.responses.value + stats.requests.value).toBeGreaterThan(0);
  });
});
