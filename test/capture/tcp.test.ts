import { describe, expect, it } from 'vitest';
import { LinkType, Transport } from '../../src/capture/index.js';
import { type Endpoints, ipv4, pcap, sipMessage, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, tcp } from './build.js';
import { collect } from './collect.js';

const A: Endpoints = { src: '10.0.0.1', dst: '10.0.0.2', srcPort: 40000, dstPort: 5060 };
const B: Endpoints = { src: '10.0.0.2', dst: '10.0.0.1', srcPort: 5060, dstPort: 40000 };
const M1 = sipMessage('INVITE sip:bob@example.com SIP/2.0', 'tcp-1@example.com', 400);
const M2 = sipMessage('SIP/2.0 180 Ringing', 'tcp-1@example.com');
const M3 = sipMessage('SIP/2.0 200 OK', 'tcp-1@example.com', 250);

interface Seg {
  e?: Endpoints;
  seq: number;
  flags?: number;
  data?: string;
}

function file(segments: Seg[]): Uint8Array {
  return pcap(
    segments.map((s, i) => ({
      sec: 100 + i,
      frac: 0,
      data: ipv4(s.e ?? A, 6, tcp(s.e ?? A, s.seq, s.flags ?? TCP_ACK | TCP_PSH, s.data ?? '')),
    })),
    { linkType: LinkType.RAW },
  );
}

const ISN = 0xfffffff0; // wraps around 2^32 inside the stream

describe('SIP over TCP', () => {
  it('cuts several messages out of one segment', () => {
    const { packets, drops } = collect(
      file([
        { seq: ISN, flags: TCP_SYN },
        { seq: ISN + 1, data: M1 + M2 + M3 },
      ]),
    );
    expect(drops).toEqual({});
    expect(packets.map((p) => p.payload)).toEqual([M1, M2, M3]);
    expect(packets[0]).toMatchObject({
      transport: Transport.TCP,
      src: '10.0.0.1',
      srcPort: 40000,
      dstPort: 5060,
    });
  });

  it('joins one message across segments, with the sequence number wrapping', () => {
    const all = M1 + M2;
    const cuts = [10, 200, M1.length + 5];
    const segs: Seg[] = [{ seq: ISN, flags: TCP_SYN }];
    let from = 0;
    for (const cut of [...cuts, all.length]) {
      segs.push({ seq: (ISN + 1 + from) >>> 0, data: all.slice(from, cut) });
      from = cut;
    }
    const { packets, drops } = collect(file(segs));
    expect(drops).toEqual({});
    expect(packets.map((p) => p.payload)).toEqual([M1, M2]);
    expect(packets.map((p) => p.tsSec)).toEqual([103, 104]);
  });

  it('ignores retransmissions and puts reordered segments back in order', () => {
    const half = 150;
    const { packets, drops } = collect(
      file([
        { seq: 1000, data: M1.slice(0, half) },
        { seq: 1000, data: M1.slice(0, half) },
        { seq: 1000 + M1.length, data: M2 },
        { seq: 1000 + half, data: M1.slice(half) },
        { seq: 1000 + half - 20, data: M1.slice(half - 20) },
      ]),
    );
    expect(drops).toEqual({});
    expect(packets.map((p) => p.payload)).toEqual([M1, M2]);
  });

  it('keeps the two directions apart', () => {
    const { packets } = collect(
      file([
        { seq: 1, data: M1.slice(0, 100) },
        { e: B, seq: 9, data: M2 },
        { seq: 101, data: M1.slice(100) },
      ]),
    );
    expect(packets.map((p) => [p.srcPort, p.payload])).toEqual([
      [5060, M2],
      [40000, M1],
    ]);
  });

  it('skips CRLF keep-alives and a stream that is not SIP', () => {
    const other: Endpoints = { ...A, srcPort: 40001 };
    const { packets, drops } = collect(
      file([
        { seq: 1, data: '\r\n\r\n' },
        { seq: 5, data: `${M2}\r\n\r\n` },
        { seq: 9 + M2.length, data: M3 },
        { e: other, seq: 1, data: 'GET / HTTP/1.1\r\n\r\n' },
      ]),
    );
    expect(packets.map((p) => p.payload)).toEqual([M2, M3]);
    expect(drops).toEqual({ not_sip: 1 });
  });

  it('counts a missing segment, then resynchronises on the next message', () => {
    const { packets, drops } = collect(
      file([
        { seq: 1, data: M1.slice(0, 100) },
        // M1.slice(100) never captured; the gap is given up once out-of-order data overflows.
        ...Array.from({ length: 33 }, (_, i) => ({ seq: 1 + M1.length + i * 10, data: 'x'.repeat(10) })),
        { seq: 1 + M1.length + 330, data: M3 },
      ]),
    );
    expect(packets.map((p) => p.payload)).toEqual([M3]);
    expect(drops.tcp_gap).toBe(1);
  });

  it('bounds a message larger than the stream buffer, and counts a message cut by FIN', () => {
    const huge = sipMessage('SIP/2.0 200 OK', 'big@example.com', 5000);
    const { packets, drops } = collect(
      file([
        { seq: 1, data: huge.slice(0, 3000) },
        { seq: 3001, data: huge.slice(3000) },
        { seq: 1 + huge.length, data: M2 },
        { seq: 1 + huge.length + M2.length, data: M3.slice(0, 50), flags: TCP_ACK | TCP_FIN },
      ]),
      { maxTcpStreamBytes: 4096 },
    );
    expect(packets.map((p) => p.payload)).toEqual([M2]);
    expect(drops).toEqual({ tcp_message_too_large: 1, tcp_incomplete: 1 });
  });

  it('bounds the streams followed at once', () => {
    const segs: Seg[] = Array.from({ length: 5 }, (_, i) => ({
      e: { ...A, srcPort: 41000 + i },
      seq: 1,
      data: M2,
    }));
    const { packets, drops } = collect(file(segs), { maxTcpStreams: 3 });
    expect(packets).toHaveLength(3);
    expect(drops).toEqual({ tcp_stream_limit: 2 });
  });

  it('rejects a Content-Length that is not a number', () => {
    const bad = M2.replace('Content-Length: 0', 'Content-Length: zero');
    const { packets, drops } = collect(file([{ seq: 1, data: bad }]));
    expect(packets).toHaveLength(0);
    expect(drops).toEqual({ tcp_message_too_large: 1 });
  });

  it('reads a message that arrives a byte at a time without rescanning it from the start', () => {
    const headers = Array.from({ length: 1500 }, (_, i) => `X-Filler-${i}: ${'f'.repeat(40)}`).join('\r\n');
    const big = sipMessage('SIP/2.0 200 OK', 'bytes@example.com', 40_000).replace(
      'CSeq:',
      `${headers}\r\nCSeq:`,
    );
    const segs: Seg[] = [];
    for (let i = 0; i < big.length; i++) segs.push({ seq: 1 + i, data: big[i] });
    const capture = file(segs);
    const began = performance.now();
    const { packets, drops } = collect(capture, { maxTcpStreamBytes: 1 << 20 });
    const elapsed = performance.now() - began;
    expect(drops).toEqual({});
    expect(packets.map((p) => p.payload)).toEqual([big]);
    // Rescanning ~110,000 bytes from the start on every byte is billions of steps (seconds).
    expect(elapsed).toBeLessThan(1_500);
  });
});
