import { deflateSync, gzipSync, unzipSync } from 'node:zlib';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DedupeWindow } from '../../../src/count/dedupe.js';
import { NodeLabels } from '../../../src/count/nodes.js';
import { SipCounter } from '../../../src/count/sip-counter.js';
import { OK, PARSE_ERROR_INFO } from '../../../src/errors.js';
import { decodeHep, HepPacket } from '../../../src/ingest/hep/decode.js';
import { HepIngest } from '../../../src/ingest/hep/hep-ingest.js';
import { SelfMetrics } from '../../../src/metrics/self-metrics.js';
import { SIP_RESPONSE, SipMessageScan, scanSipMessage } from '../../../src/sip/scan.js';
import { chunk, hep3, hep3FromChunks, hep12, u8, u32 } from '../../helpers/hep.js';
import { REALISTIC_200_OK, sipRequest, sipResponse } from '../../helpers/sip.js';

const AUTH_KEY = 'k';
const MAX_INFLATED = 4096;

function newIngestWithRegistry(): { ingest: HepIngest; registry: Registry } {
  const registry = new Registry();
  const self = new SelfMetrics(registry);
  const nodes = new NodeLabels(10, new Map(), self.nodeOverflow.cell({}));
  // Room for every key the runs make, and a fixed clock: no eviction or expiry blurs hit or miss.
  const counter = new SipCounter(registry, nodes, new DedupeWindow(32_000, 1 << 16, 0), self);
  return { ingest: new HepIngest(counter, self, { maxInflatedSize: MAX_INFLATED }), registry };
}

/** A HEPv3 packet whose SIP payload is compressed (chunk 0x0010), as HOMER agents can send it. */
function compressed(body: Buffer, authKey?: string): Buffer {
  return hep3FromChunks([
    chunk(0, 0x0001, u8(2)),
    chunk(0, 0x000b, u8(1)),
    chunk(0, 0x000c, u32(77)),
    ...(authKey === undefined ? [] : [chunk(0, 0x000e, Buffer.from(authKey))]),
    chunk(0, 0x0010, body),
  ]);
}

const seeds = [
  hep3({ payload: REALISTIC_200_OK, nodeName: 'edge' }),
  hep3({ payload: sipRequest('INVITE'), authKey: AUTH_KEY }),
  hep3({ payload: sipResponse({ code: 183, toTag: 'x' }), authKey: AUTH_KEY, captureId: 3 }),
  hep3({ payload: 'BYE sip:x SIP/2.0\r\nCall-ID: b\r\nCSeq: 2 BYE\r\n\r\n', authKey: AUTH_KEY }),
  hep3({ payload: 'RTCP bytes', payloadType: 5, authKey: AUTH_KEY }),
  hep3({ payload: '{"log":1}', payloadType: 100 }),
  hep12(1, sipResponse({ code: 486 })),
  hep12(2, sipResponse({ code: 503 }), { ipv6: true, captureId: 9 }),
  compressed(deflateSync(sipResponse({ code: 404, callId: 'z' })), AUTH_KEY),
  compressed(gzipSync(sipRequest('OPTIONS', 'z'))),
  compressed(deflateSync(Buffer.alloc(MAX_INFLATED + 1, 0x20)), AUTH_KEY),
];

/**
 * The counters a packet can end in, by outcome name, read as /metrics would show them. The SIP
 * payload type (1) and the pre-dedupe message count are not outcomes: they move along with one.
 */
async function outcomes(registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const add = (key: string, value: number) => out.set(key, (out.get(key) ?? 0) + value);
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const { labels, value } of metric.values) {
      switch (metric.name) {
        case 'sip_responses_total':
          add('response', value);
          break;
        case 'sip_requests_total':
          add('request', value);
          break;
        case 'sip_exporter_dedupe_hits_total':
          add(`${labels.kind}_hit`, value);
          break;
        case 'sip_exporter_parse_errors_total':
          add(`parse_error:${labels.listener}/${labels.reason}`, value);
          break;
        case 'sip_exporter_auth_failures_total':
          add(`auth_failure:${labels.listener}`, value);
          break;
        case 'sip_exporter_hep_payload_types_total':
          if (labels.type !== '1') add(`payload_type:${labels.type}`, value);
          break;
      }
    }
  }
  return out;
}

function delta(before: Map<string, number>, after: Map<string, number>): Array<[string, number]> {
  const moved: Array<[string, number]> = [];
  for (const [key, value] of after) {
    const d = value - (before.get(key) ?? 0);
    if (d !== 0) moved.push([key, d]);
  }
  return moved;
}

/**
 * Which outcomes the ingest's result allows for this packet, worked out from the packet itself:
 * an error id names its own reason; OK means rejected for its key, a type other than SIP, or a
 * SIP message of the kind its payload scans as (counted, or a dedupe hit).
 */
function expectedOutcomes(
  buf: Buffer,
  result: number,
  withAuth: boolean,
  packet: HepPacket,
  scan: SipMessageScan,
): string[] {
  if (result !== OK) return [`parse_error:hep/${PARSE_ERROR_INFO[result].label}`];
  expect(decodeHep(buf, 0, buf.length, packet)).toBe(OK);
  if (withAuth) {
    const key =
      packet.authKeyStart < 0 ? null : buf.toString('latin1', packet.authKeyStart, packet.authKeyEnd);
    if (key !== AUTH_KEY) return ['auth_failure:hep'];
  }
  if (packet.payloadType !== 1) return [`payload_type:${packet.payloadType}`];
  let payload = buf.subarray(packet.payloadStart, packet.payloadEnd);
  if (packet.compressed) payload = unzipSync(payload);
  expect(scanSipMessage(payload, 0, payload.length, scan)).toBe(OK);
  return scan.kind === SIP_RESPONSE ? ['response', 'response_hit'] : ['request', 'request_hit'];
}

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

  it('the whole ingest path moves exactly one outcome counter per packet, the one its result names', async () => {
    const { ingest, registry } = newIngestWithRegistry();
    const packet = new HepPacket();
    const scan = new SipMessageScan();
    const seenOutcomes = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(fc.oneof(anyBytes, mutated), { maxLength: 30 }),
        async (withAuth, packets) => {
          // The key is replaced between runs as a reload would, so both paths see every packet kind.
          ingest.setAuthKey(withAuth ? AUTH_KEY : '');
          for (const buf of packets) {
            const before = await outcomes(registry);
            const messagesBefore = ingest.stats.responses.value + ingest.stats.requests.value;
            const result = ingest.handle(buf, 0, buf.length, '192.0.2.1', 1000);
            const moved = delta(before, await outcomes(registry));
            expect(moved).toHaveLength(1);
            const [outcome, by] = moved[0];
            expect(by).toBe(1);
            expect(expectedOutcomes(buf, result, withAuth, packet, scan)).toContain(outcome);
            // sip_exporter_sip_messages_total counts before dedupe: it moves with a counted message or a hit.
            const message = /^(response|request)/.test(outcome) ? 1 : 0;
            expect(ingest.stats.responses.value + ingest.stats.requests.value - messagesBefore).toBe(message);
            seenOutcomes.add(outcome.replace(/:.*/, ''));
          }
        },
      ),
      // Every seed twice in a row first, so a dedupe hit of each kind is reached whatever the random runs draw.
      { numRuns: 250, examples: [[false, [...seeds, ...seeds]]] },
    );
    // Every kind of outcome was reached at least once, or the property above proved little.
    expect([...seenOutcomes].sort()).toEqual([
      'auth_failure',
      'parse_error',
      'payload_type',
      'request',
      'request_hit',
      'response',
      'response_hit',
    ]);
  });
});
