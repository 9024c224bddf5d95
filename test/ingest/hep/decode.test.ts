import hep from 'hep-js';
import { describe, expect, it } from 'vitest';
import { PARSE_ERROR_INFO } from '../../../src/errors.js';
import { decodeHep, HepPacket } from '../../../src/ingest/hep/decode.js';
import { chunk, hep3, hep3FromChunks, hep12, u8, u16, u32 } from '../../helpers/hep.js';
import { REALISTIC_200_OK } from '../../helpers/sip.js';

function decode(buf: Buffer, start = 0, end = buf.length): { error: string; packet: HepPacket } {
  const packet = new HepPacket();
  const error = decodeHep(buf, start, end, packet);
  return { error: PARSE_ERROR_INFO[error].label, packet };
}

function text(buf: Buffer, start: number, end: number): string {
  return buf.toString('utf8', start, end);
}

describe('HEPv3 decoding', () => {
  it('agrees with hep-js on a packet hep-js encoded', () => {
    const buf = hep3({
      payload: REALISTIC_200_OK,
      captureId: 2001,
      nodeName: 'kamailio-edge-1',
      srcPort: 5070,
    });
    const { error, packet } = decode(buf);
    expect(error).toBe('');
    const reference = hep.decapsulate(buf);
    if (!reference) throw new Error('hep-js could not decode its own packet');
    expect(text(buf, packet.payloadStart, packet.payloadEnd)).toBe(reference.payload);
    expect(packet.captureId).toBe(Number(reference.rcinfo.captureId));
    expect(packet.sourcePort).toBe(reference.rcinfo.srcPort);
    expect(packet.destinationPort).toBe(reference.rcinfo.dstPort);
    expect(packet.timeSeconds).toBe(reference.rcinfo.timeSeconds);
    expect(packet.timeMicroseconds).toBe(reference.rcinfo.timeUseconds);
    expect(packet.payloadType).toBe(reference.rcinfo.payloadType);
    expect(packet.ipFamily).toBe(2);
    expect(packet.ipProtocol).toBe(17);
    expect(text(buf, packet.captureNameStart, packet.captureNameEnd)).toBe('kamailio-edge-1');
    expect(packet.version).toBe(3);
    expect(packet.compressed).toBe(false);
  });

  it('reads the auth key chunk', () => {
    const buf = hep3({ payload: REALISTIC_200_OK, authKey: 's3cret' });
    const { error, packet } = decode(buf);
    expect(error).toBe('');
    expect(text(buf, packet.authKeyStart, packet.authKeyEnd)).toBe('s3cret');
  });

  it('reads chunks in any order, skips vendor and unknown chunks, and reads IPv6 addresses', () => {
    const payload = Buffer.from('SIP/2.0 200 OK\r\n\r\n');
    const buf = hep3FromChunks([
      chunk(0, 0x000f, payload),
      chunk(2, 0x0001, Buffer.from('kamailio vendor chunk')),
      chunk(0, 0x0020, u16(42)),
      chunk(0, 0x000c, u32(4_000_000_000)),
      chunk(0, 0x0005, Buffer.alloc(16, 0x20)),
      chunk(0, 0x0006, Buffer.alloc(16, 0x21)),
      chunk(0, 0x0001, u8(10)),
      chunk(0, 0x000b, u8(1)),
      chunk(0, 0x0013, Buffer.from('edge')),
    ]);
    const { error, packet } = decode(buf);
    expect(error).toBe('');
    expect(packet.captureId).toBe(4_000_000_000);
    expect(packet.ipFamily).toBe(10);
    expect(text(buf, packet.payloadStart, packet.payloadEnd)).toBe('SIP/2.0 200 OK\r\n\r\n');
    expect(text(buf, packet.captureNameStart, packet.captureNameEnd)).toBe('edge');
  });

  it('accepts the older EEP3 magic, a 16-bit capture ID, and the compressed payload chunk', () => {
    const buf = hep3FromChunks([chunk(0, 0x000c, u16(77)), chunk(0, 0x0010, Buffer.from([1, 2, 3]))]);
    buf.write('EEP3', 0, 'latin1');
    const { error, packet } = decode(buf);
    expect(error).toBe('');
    expect(packet.captureId).toBe(77);
    expect(packet.compressed).toBe(true);
  });

  it('reads only the declared length and ignores bytes after it', () => {
    const buf = hep3({ payload: 'SIP/2.0 200 OK\r\n\r\n' });
    const padded = Buffer.concat([Buffer.from('xx'), buf, Buffer.from('trailing')]);
    const { error, packet } = decode(padded, 2, padded.length);
    expect(error).toBe('');
    expect(text(padded, packet.payloadStart, packet.payloadEnd)).toBe('SIP/2.0 200 OK\r\n\r\n');
  });

  it('rejects truncation, bad chunk lengths and wrong fixed sizes with a reason', () => {
    const good = hep3({ payload: 'SIP/2.0 200 OK\r\n\r\n' });
    expect(decode(good.subarray(0, good.length - 1)).error).toBe('hep_bad_length');
    expect(decode(good.subarray(0, 3)).error).toBe('hep_too_short');
    expect(decode(good.subarray(0, 5)).error).toBe('hep_too_short');
    const declaredTooShort = Buffer.from(good);
    declaredTooShort.writeUInt16BE(5, 4);
    expect(decode(declaredTooShort).error).toBe('hep_bad_length');
    expect(decode(hep3FromChunks([chunk(0, 0x000f, Buffer.from('x'), 5)])).error).toBe('hep_bad_chunk');
    expect(decode(hep3FromChunks([chunk(0, 0x000f, Buffer.from('x'), 60)])).error).toBe('hep_bad_chunk');
    expect(decode(hep3FromChunks([chunk(0, 0x000b, u16(1))])).error).toBe('hep_bad_chunk');
    expect(decode(hep3FromChunks([chunk(0, 0x000c, u8(1))])).error).toBe('hep_bad_chunk');
    expect(decode(hep3FromChunks([chunk(0, 0x0003, u16(1))])).error).toBe('hep_bad_chunk');
    const dangling = Buffer.concat([
      hep3FromChunks([chunk(0, 0x000f, Buffer.from('x'))]),
      Buffer.from([0, 0]),
    ]);
    dangling.writeUInt16BE(dangling.length, 4);
    expect(decode(dangling).error).toBe('hep_bad_chunk');
    expect(decode(hep3FromChunks([chunk(0, 0x000c, u32(1))])).error).toBe('hep_no_payload');
    expect(decode(hep3FromChunks([chunk(0, 0x000f, Buffer.alloc(0))])).error).toBe('hep_no_payload');
    expect(decode(Buffer.from('HEP4\x00\x06')).error).toBe('hep_bad_magic');
    expect(decode(Buffer.from('GET / HTTP/1.1\r\n\r\n')).error).toBe('hep_bad_magic');
  });
});

describe('HEPv1 and HEPv2 decoding', () => {
  it('reads a HEPv1 IPv4 packet: the payload follows the 16-byte header', () => {
    const buf = hep12(1, REALISTIC_200_OK);
    const { error, packet } = decode(buf);
    expect(error).toBe('');
    expect(packet.version).toBe(1);
    expect(packet.captureId).toBe(-1);
    expect(packet.sourcePort).toBe(5060);
    expect(packet.destinationPort).toBe(5062);
    expect(text(buf, packet.payloadStart, packet.payloadEnd)).toBe(REALISTIC_200_OK);
  });

  it('reads a HEPv2 IPv6 packet with its little-endian time header and capture ID', () => {
    const buf = hep12(2, REALISTIC_200_OK, {
      ipv6: true,
      captureId: 0x1234,
      seconds: 0x01020304,
      micros: 999,
    });
    const { error, packet } = decode(buf);
    expect(error).toBe('');
    expect(packet.version).toBe(2);
    expect(packet.ipFamily).toBe(10);
    expect(packet.captureId).toBe(0x1234);
    expect(packet.timeSeconds).toBe(0x01020304);
    expect(packet.timeMicroseconds).toBe(999);
    expect(text(buf, packet.payloadStart, packet.payloadEnd)).toBe(REALISTIC_200_OK);
  });

  it('rejects headers whose length does not fit the family, and empty payloads', () => {
    const v1 = hep12(1, 'SIP/2.0 200 OK\r\n\r\n');
    v1[1] = 40;
    expect(decode(v1).error).toBe('hep_bad_header');
    const v2 = hep12(2, 'SIP/2.0 200 OK\r\n\r\n');
    v2[2] = 7;
    expect(decode(v2).error).toBe('hep_bad_header');
    expect(decode(hep12(2, '')).error).toBe('hep_no_payload');
    expect(decode(hep12(2, 'x').subarray(0, 20)).error).toBe('hep_too_short');
  });
});
