import fc from 'fast-check';
import hep from 'hep-js';
import { describe, expect, it } from 'vitest';
import { OK } from '../../../src/errors.js';
import { decodeHep, HepPacket } from '../../../src/ingest/hep/decode.js';

/**
 * hep-js writes strings with Buffer.write but sizes chunks by string length, so only one-byte
 * (ASCII) characters round-trip through it; every other field takes its whole range.
 */
const ascii = (minLength: number, maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c)),
    minLength,
    maxLength,
  });

const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const port = fc.integer({ min: 0, max: 65535 });

const rcinfo = fc.record({
  protocol: fc.integer({ min: 0, max: 255 }),
  srcIp: fc.ipV4(),
  dstIp: fc.ipV4(),
  srcPort: port,
  dstPort: port,
  timeSeconds: u32,
  timeUseconds: u32,
  payloadType: fc.integer({ min: 0, max: 255 }),
  captureId: u32,
  hepNodeName: fc.option(ascii(1, 200), { nil: undefined }),
  capturePass: fc.option(ascii(0, 64), { nil: undefined }),
});

/** Bytes before and after the packet, as a TCP stream buffer has them. */
const surroundings = fc.record({
  before: fc.uint8Array({ maxLength: 16 }),
  after: fc.uint8Array({ maxLength: 16 }),
});

function ipv4Bytes(text: string): number[] {
  return text.split('.').map(Number);
}

describe('HEPv3 from hep-js, an independent encoder, decodes to every field it was given', () => {
  it('round-trips payloads, capture IDs, agent names, auth keys, ports, addresses and times', () => {
    const packet = new HepPacket();
    fc.assert(
      fc.property(rcinfo, ascii(1, 1500), surroundings, (info, payload, { before, after }) => {
        const encoded = hep.encapsulate(payload, { protocolFamily: 2, ...info });
        const buf = Buffer.concat([before, encoded, after]);
        const start = before.length;
        // Trailing bytes past the declared length are not part of the packet.
        expect(decodeHep(buf, start, buf.length, packet)).toBe(OK);
        const text = (from: number, to: number) => (from < 0 ? undefined : buf.toString('latin1', from, to));
        const bytes = (from: number, to: number) => [...buf.subarray(from, to)];
        expect({
          version: packet.version,
          ipFamily: packet.ipFamily,
          ipProtocol: packet.ipProtocol,
          source: bytes(packet.sourceAddressStart, packet.sourceAddressEnd),
          destination: bytes(packet.destinationAddressStart, packet.destinationAddressEnd),
          sourcePort: packet.sourcePort,
          destinationPort: packet.destinationPort,
          timeSeconds: packet.timeSeconds,
          timeMicroseconds: packet.timeMicroseconds,
          payloadType: packet.payloadType,
          captureId: packet.captureId,
          captureName: text(packet.captureNameStart, packet.captureNameEnd),
          authKey: text(packet.authKeyStart, packet.authKeyEnd),
          payload: text(packet.payloadStart, packet.payloadEnd),
          compressed: packet.compressed,
        }).toEqual({
          version: 3,
          ipFamily: 2,
          ipProtocol: info.protocol,
          source: ipv4Bytes(info.srcIp),
          destination: ipv4Bytes(info.dstIp),
          sourcePort: info.srcPort,
          destinationPort: info.dstPort,
          timeSeconds: info.timeSeconds,
          timeMicroseconds: info.timeUseconds,
          payloadType: info.payloadType,
          captureId: info.captureId,
          // Without a name, hep-js writes the capture ID in the name chunk.
          captureName: info.hepNodeName ?? String(info.captureId),
          authKey: info.capturePass,
          payload,
          compressed: false,
        });
        expect(packet.payloadEnd).toBe(start + encoded.length);
      }),
      { numRuns: 2000 },
    );
  });
});
