import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PARSE_ERROR_INFO } from '../../../src/errors.js';
import { HepStreamSplitter } from '../../../src/ingest/hep/stream-splitter.js';
import { hep3, hep12 } from '../../helpers/hep.js';
import { REALISTIC_200_OK, sipResponse } from '../../helpers/sip.js';

function collect(maxPacketSize = 65535) {
  const packets: string[] = [];
  const splitter = new HepStreamSplitter(maxPacketSize, (buf, start, end) => {
    packets.push(buf.subarray(start, end).toString('hex'));
  });
  return { splitter, packets };
}

const packets = [
  hep3({ payload: REALISTIC_200_OK }),
  hep3({ payload: sipResponse({ code: 503 }), nodeName: 'b' }),
  hep3({ payload: sipResponse({ code: 180 }) }),
];

describe('HEP stream splitter', () => {
  it('splits several packets that share one read', () => {
    const { splitter, packets: out } = collect();
    expect(splitter.push(Buffer.concat(packets))).toBe(0);
    expect(out).toEqual(packets.map((p) => p.toString('hex')));
    expect(splitter.bufferedBytes).toBe(0);
  });

  it('reassembles a packet that spans reads, however the stream is cut', () => {
    const stream = Buffer.concat([...packets, ...packets]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 20 }), (cuts) => {
        const { splitter, packets: out } = collect();
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        let at = 0;
        for (const point of [...points, stream.length]) {
          if (point > at) expect(splitter.push(stream.subarray(at, point))).toBe(0);
          at = Math.max(at, point);
        }
        expect(out).toEqual([...packets, ...packets].map((p) => p.toString('hex')));
        expect(splitter.bufferedBytes).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it('feeds a stream one byte at a time', () => {
    const { splitter, packets: out } = collect();
    for (const byte of Buffer.concat(packets)) expect(splitter.push(Buffer.from([byte]))).toBe(0);
    expect(out.length).toBe(3);
  });

  it('fails on a stream that is not HEPv3, already on its first bytes', () => {
    for (const junk of [
      hep12(2, 'SIP/2.0 200 OK\r\n\r\n'),
      Buffer.from('GET / HTTP/1.1\r\n'),
      Buffer.from('X'),
      Buffer.from('HEX'),
    ]) {
      const { splitter } = collect();
      expect(PARSE_ERROR_INFO[splitter.push(junk)].label).toBe('hep_stream_not_v3');
    }
  });

  it('fails after good packets when garbage follows, and stays failed', () => {
    const { splitter, packets: out } = collect();
    const error = splitter.push(Buffer.concat([packets[0], Buffer.from('garbage!')]));
    expect(PARSE_ERROR_INFO[error].label).toBe('hep_stream_not_v3');
    expect(out.length).toBe(1);
    expect(splitter.push(packets[1])).toBe(error);
    expect(out.length).toBe(1);
  });

  it('refuses a packet over the size bound before buffering it', () => {
    const { splitter, packets: out } = collect(200);
    const big = packets[0];
    expect(big.length).toBeGreaterThan(200);
    expect(PARSE_ERROR_INFO[splitter.push(big.subarray(0, 10))].label).toBe('hep_frame_too_large');
    expect(splitter.bufferedBytes).toBe(0);
    expect(out.length).toBe(0);
  });

  it('refuses a declared length shorter than the header', () => {
    const bad = Buffer.from('HEP3\x00\x03', 'latin1');
    const { splitter } = collect();
    expect(PARSE_ERROR_INFO[splitter.push(bad)].label).toBe('hep_bad_length');
    const split = collect();
    expect(split.splitter.push(bad.subarray(0, 3))).toBe(0);
    expect(PARSE_ERROR_INFO[split.splitter.push(bad.subarray(3))].label).toBe('hep_bad_length');
  });
});
