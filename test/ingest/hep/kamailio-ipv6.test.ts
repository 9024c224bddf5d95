import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DedupeWindow } from '../../../src/count/dedupe.js';
import { NodeLabels } from '../../../src/count/nodes.js';
import { SipCounter } from '../../../src/count/sip-counter.js';
import { OK } from '../../../src/errors.js';
import { decodeHep, HepPacket } from '../../../src/ingest/hep/decode.js';
import { HepIngest } from '../../../src/ingest/hep/hep-ingest.js';
import { SelfMetrics } from '../../../src/metrics/self-metrics.js';
import { hep12 } from '../../helpers/hep.js';

/**
 * The relayed 180 Ringing of one answered call, as Kamailio 5.6 siptrace sent it over IPv6
 * loopback in HEPv1, v2 and v3 (captured by the lab's IPv6 run: proxy, callees and collector
 * on ::1, hep_capture_id 2006).
 */
const captured = new Map(
  readFileSync(new URL('fixtures/kamailio-5.6-ipv6.hex', import.meta.url), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [name, hex] = line.split(' ');
      return [name, Buffer.from(hex, 'hex')] as const;
    }),
);

const LOOPBACK6 = [...Buffer.alloc(15), 1];

function decoded(buf: Buffer) {
  const packet = new HepPacket();
  expect(decodeHep(buf, 0, buf.length, packet)).toBe(OK);
  return {
    version: packet.version,
    ipFamily: packet.ipFamily,
    ipProtocol: packet.ipProtocol,
    source: [...buf.subarray(packet.sourceAddressStart, packet.sourceAddressEnd)],
    destination: [...buf.subarray(packet.destinationAddressStart, packet.destinationAddressEnd)],
    sourcePort: packet.sourcePort,
    destinationPort: packet.destinationPort,
    timeSeconds: packet.timeSeconds,
    timeMicroseconds: packet.timeMicroseconds,
    captureId: packet.captureId,
    payloadType: packet.payloadType,
    firstLine: buf.toString('latin1', packet.payloadStart, buf.indexOf('\r\n', packet.payloadStart)),
    payloadEnd: packet.payloadEnd,
  };
}

describe('HEP from Kamailio over IPv6', () => {
  it('decodes IPv6 addresses, ports, times and capture IDs from every HEP version Kamailio sends', () => {
    const common = {
      ipFamily: 10,
      ipProtocol: 17,
      source: LOOPBACK6,
      destination: LOOPBACK6,
      payloadType: 1,
      firstLine: 'SIP/2.0 180 Ringing',
    };
    // HEPv1 has no time and no capture ID.
    expect(decoded(captured.get('hep1')!)).toEqual({
      ...common,
      version: 1,
      sourcePort: 36235,
      destinationPort: 44043,
      timeSeconds: 0,
      timeMicroseconds: 0,
      captureId: -1,
      payloadEnd: 329,
    });
    expect(decoded(captured.get('hep2')!)).toEqual({
      ...common,
      version: 2,
      sourcePort: 40587,
      destinationPort: 37831,
      timeSeconds: 1_795_771_400,
      timeMicroseconds: 975_002,
      captureId: 2006,
      payloadEnd: 341,
    });
    expect(decoded(captured.get('hep3')!)).toEqual({
      ...common,
      version: 3,
      sourcePort: 33103,
      destinationPort: 35109,
      timeSeconds: 1_795_771_401,
      timeMicroseconds: 610_936,
      captureId: 2006,
      payloadEnd: 412,
    });
  });

  it('counts them under the capture ID, or for HEPv1 under the IPv6 sender', () => {
    const registry = new Registry();
    const self = new SelfMetrics(registry);
    const nodes = new NodeLabels(10, new Map(), self.nodeOverflow.cell({}));
    const counter = new SipCounter(registry, nodes, new DedupeWindow(32_000, 64, 0), self);
    const ingest = new HepIngest(counter, self, { maxInflatedSize: 65536 });
    for (const buf of captured.values()) expect(ingest.handle(buf, 0, buf.length, '::1', 0)).toBe(OK);
    // Three calls, so three distinct 180s: none is a duplicate of another.
    expect(counter.countedResponses()).toBe(3);
    expect([...nodes.labels].sort()).toEqual(['2006', '::1', 'other']);
  });

  it('finds the addresses of synthetic HEPv1/v2 packets at the offsets the layout gives', () => {
    for (const version of [1, 2] as const) {
      for (const ipv6 of [false, true]) {
        const buf = hep12(version, 'SIP/2.0 200 OK\r\n\r\n', { ipv6 });
        const got = decoded(buf);
        expect([version, ipv6, got.source, got.destination]).toEqual([
          version,
          ipv6,
          ipv6 ? Array(16).fill(0x20) : [192, 0, 2, 10],
          ipv6 ? Array(16).fill(0x21) : [192, 0, 2, 20],
        ]);
      }
    }
  });
});
