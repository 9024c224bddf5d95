import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CaptureFormatError,
  type CaptureOptions,
  CaptureReader,
  LinkType,
  newDropCounters,
  PacketDecoder,
} from '../../src/capture/index.js';
import {
  type Endpoints,
  ethernet,
  ipv4,
  ipv4Fragments,
  ipv6Fragments,
  pcap,
  pcapng,
  sipMessage,
  sll2,
  TCP_ACK,
  TCP_SYN,
  tcp,
  udp,
} from './build.js';
import { collect } from './collect.js';

const E: Endpoints = { src: '192.0.2.1', dst: '192.0.2.2', srcPort: 5060, dstPort: 5060 };
const E6: Endpoints = { src: '2001:db8::1', dst: '2001:db8::2', srcPort: 5060, dstPort: 9060 };
const BOUNDS: CaptureOptions = {
  maxFragmentedDatagrams: 8,
  maxFragmentsPerDatagram: 16,
  maxTcpStreams: 8,
  maxTcpStreamBytes: 4096,
  maxRecordBytes: 1 << 16,
};

/** A capture with a bit of everything, to mutate. */
function seedFiles(): Uint8Array[] {
  const big = udp(E, sipMessage('INVITE sip:b@example.com SIP/2.0', 'f-1', 2000));
  const frames = [
    ethernet(ipv4(E, 17, udp(E, sipMessage('SIP/2.0 200 OK', 'u-1'))), [{ tpid: 0x8100, vid: 5 }]),
    ...ipv4Fragments(E, 17, big, 600, 3).map((f) => ethernet(f)),
    ...ipv6Fragments(E6, 17, udp(E6, 'HEP3........'), 8, 4).map((f) => ethernet(f)),
    ethernet(ipv4(E, 6, tcp(E, 1, TCP_ACK, sipMessage('SIP/2.0 180 Ringing', 't-1', 100).slice(0, 90)))),
    ethernet(ipv4(E, 6, tcp(E, 91, TCP_ACK, sipMessage('SIP/2.0 180 Ringing', 't-1', 100).slice(90)))),
  ];
  return [
    pcap(
      frames.map((data, i) => ({ sec: i, frac: i, data })),
      { linkType: LinkType.ETHERNET },
    ),
    pcap(
      frames.map((data, i) => ({ sec: i, frac: i, data })),
      { linkType: LinkType.ETHERNET, nanosecond: true, bigEndian: true },
    ),
    pcapng([
      {
        interfaces: [{ linkType: LinkType.ETHERNET }, { linkType: LinkType.LINUX_SLL2, tsresol: 9 }],
        packets: [
          ...frames.map((data, i) => ({ interfaceId: 0, ts: BigInt(i), data })),
          {
            interfaceId: 1,
            ts: 1n << 60n,
            data: sll2(ipv4(E, 17, udp(E, sipMessage('SIP/2.0 100 Trying', 's-1')))),
          },
        ],
      },
    ]),
  ];
}

const SEEDS = seedFiles();

const mutated = fc
  .tuple(
    fc.integer({ min: 0, max: SEEDS.length - 1 }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 20 }),
    fc.option(fc.nat(), { nil: undefined }),
  )
  .map(([which, flips, cut]) => {
    const bytes = Uint8Array.from(SEEDS[which]);
    for (const [at, value] of flips) bytes[at % bytes.length] = value;
    return cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
  });

/** Reads in the given chunk sizes; returns a fingerprint of everything handed over and counted. */
function read(bytes: Uint8Array, chunks: number[]): { out: string[]; drops: number[]; error?: string } {
  const drops = newDropCounters();
  const out: string[] = [];
  const decoder = new PacketDecoder(
    (p) => out.push(`${p.tsSec}.${p.tsNsec} ${p.srcIp()}:${p.srcPort} ${p.payloadEnd - p.payloadStart}`),
    drops,
    BOUNDS,
  );
  const reader = new CaptureReader(decoder, drops, BOUNDS);
  try {
    let at = 0;
    let i = 0;
    while (at < bytes.length) {
      const size = Math.max(1, chunks.length > 0 ? chunks[i++ % chunks.length] : bytes.length);
      reader.push(bytes.slice(at, at + size));
      at += size;
      const held = decoder.held();
      expect(held.datagrams).toBeLessThanOrEqual(8);
      expect(held.streams).toBeLessThanOrEqual(8);
    }
    reader.end();
    decoder.finish();
  } catch (error) {
    if (!(error instanceof CaptureFormatError)) throw error;
    return { out, drops: [...drops], error: error.code };
  }
  return { out, drops: [...drops] };
}

describe('capture readers under random and mutated input', () => {
  it('never throw anything but the format error, on random bytes after a valid magic', () => {
    const magic = fc.constantFrom(
      [0xd4, 0xc3, 0xb2, 0xa1],
      [0xa1, 0xb2, 0xc3, 0xd4],
      [0x4d, 0x3c, 0xb2, 0xa1],
      [0x0a, 0x0d, 0x0d, 0x0a],
    );
    fc.assert(
      fc.property(magic, fc.uint8Array({ maxLength: 2000 }), (head, rest) => {
        const bytes = new Uint8Array(head.length + rest.length);
        bytes.set(head);
        bytes.set(rest, head.length);
        read(bytes, []);
      }),
      { numRuns: 500 },
    );
  });

  it('never crash on mutated captures, stay within their bounds, and read the same in any chunks', () => {
    fc.assert(
      fc.property(
        mutated,
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 5 }),
        (bytes, chunks) => {
          const whole = read(bytes, []);
          expect(read(bytes, chunks)).toEqual(whole);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('cut a SIP stream into the same messages however TCP segments it, reorders or repeats it', () => {
    const messages = fc.array(
      fc.tuple(fc.constantFrom('SIP/2.0 200 OK', 'INVITE sip:b@example.com SIP/2.0'), fc.nat({ max: 1500 })),
      { minLength: 1, maxLength: 6 },
    );
    fc.assert(
      fc.property(
        messages,
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 10 }),
        fc.nat(),
        fc.integer({ min: 0, max: 0xffffffff }),
        (specs, sizes, shuffleSeed, isn) => {
          const texts = specs.map(([line, body], i) => sipMessage(line, `p-${i}`, body));
          const stream = Buffer.from(texts.join('\r\n'));
          const segments: Array<{ seq: number; data: Uint8Array }> = [];
          for (let at = 0, i = 0; at < stream.length; i++) {
            const size = sizes[i % sizes.length];
            segments.push({ seq: (isn + at) >>> 0, data: stream.subarray(at, at + size) });
            at += size;
          }
          // Swap neighbours and repeat one segment: reordering within the bound, a retransmission.
          const order = segments.map((_, i) => i);
          for (let i = shuffleSeed % 3; i + 1 < order.length; i += 3)
            [order[i], order[i + 1]] = [order[i + 1], order[i]];
          if (order.length > 0)
            order.splice(shuffleSeed % order.length, 0, order[shuffleSeed % order.length]);
          // The SYN comes first, as in any capture that sees the connection open.
          const syn = { sec: 0, frac: 0, data: ipv4(E, 6, tcp(E, (isn - 1) >>> 0, TCP_SYN)) };
          const file = pcap(
            [
              syn,
              ...order.map((k, n) => ({
                sec: n,
                frac: 1,
                data: ipv4(E, 6, tcp(E, segments[k].seq, TCP_ACK, segments[k].data)),
              })),
            ],
            { linkType: LinkType.RAW },
          );
          const { packets, drops } = collect(file, { maxTcpStreamBytes: 1 << 20 });
          expect(drops).toEqual({});
          expect(packets.map((p) => p.payload)).toEqual(texts);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rebuild a UDP message from its fragments in any order', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 6000 }),
        fc.integer({ min: 576, max: 1500 }),
        fc.boolean(),
        fc.nat(),
        (body, mtu, six, seed) => {
          const text = sipMessage('SIP/2.0 200 OK', 'frag', body);
          const frags = six
            ? ipv6Fragments(E6, 17, udp({ ...E6, dstPort: 5060 }, text), Math.max(8, (mtu - 48) & ~7), seed)
            : ipv4Fragments(E, 17, udp(E, text), mtu, seed & 0xffff);
          const order = frags
            .map((_, i) => i)
            .sort((a, b) => ((a * 7919 + seed) % 13) - ((b * 7919 + seed) % 13));
          const file = pcap(
            order.map((k, n) => ({ sec: 1, frac: n, data: ethernet(frags[k]) })),
            { linkType: LinkType.ETHERNET },
          );
          const { packets, drops } = collect(file);
          expect(drops).toEqual({});
          expect(packets.map((p) => p.payload)).toEqual([text]);
        },
      ),
      { numRuns: 150 },
    );
  });
});
