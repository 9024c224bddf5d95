import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyHasher } from '../../src/count/key-hasher.js';
import {
  KIND_RESPONSE,
  Observation,
  TextRef,
  TIME_ARRIVAL,
  TIME_CAPTURE,
} from '../../src/count/observation.js';
import { SipMessageScan, scanSipMessage } from '../../src/sip/scan.js';
import { observed } from '../helpers/observation.js';
import { REALISTIC_200_OK } from '../helpers/sip.js';

function key(field: TextRef): string {
  const h = new KeyHasher().begin().text(field).end();
  return `${h.hi}:${h.lo}`;
}

describe('TextRef', () => {
  it('is a byte range or a string, and empty or unset is absent', () => {
    const f = new TextRef();
    expect(f.length).toBe(0);
    expect(f.toString()).toBe('');
    const buf = Buffer.from('xxabcxx', 'latin1');
    f.setBytes(buf, 2, 5);
    expect([f.length, f.toString()]).toEqual([3, 'abc']);
    f.setBytes(buf, -1, -1);
    expect([f.length, f.toString()]).toEqual([0, '']);
    f.setText('call-1');
    expect([f.length, f.toString()]).toEqual([6, 'call-1']);
    f.setText('');
    expect(f.length).toBe(0);
    f.setText(undefined);
    expect(f.length).toBe(0);
    f.setText('x');
    f.clear();
    expect([f.length, f.text]).toEqual([0, null]);
  });

  it('hashes a range and the same text as a string alike, and different text apart (property)', () => {
    const bytes = new TextRef();
    const text = new TextRef();
    fc.assert(
      fc.property(
        fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)) }),
        fc.nat(20),
        (s, pad) => {
          const buf = Buffer.from(`${'p'.repeat(pad)}${s}q`, 'latin1');
          bytes.setBytes(buf, pad, pad + s.length);
          text.setText(s);
          expect(key(bytes)).toBe(key(text));
          expect(bytes.toString()).toBe(s);
          text.setText(`${s}!`);
          expect(key(bytes)).not.toBe(key(text));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('Observation', () => {
  it('takes the SIP fields of a scan through the shared step, pointing into the scanned buffer', () => {
    const buf = Buffer.from(REALISTIC_200_OK, 'latin1');
    const scan = new SipMessageScan();
    expect(scanSipMessage(buf, 0, buf.length, scan)).toBe(0);
    const o = new Observation();
    o.setSip(scan, buf);
    expect(observed(o)).toMatchObject({
      kind: KIND_RESPONSE,
      code: 200,
      method: 'INVITE',
      cseq: 102,
      callId: '3c26700a5e8f-8d2e@192.168.1.10',
      fromTag: 'as5f3a2c1b',
      toTag: '7f3e9a1c-1b2d-4e5f-8a9b',
      viaBranch: 'z9hG4bK-524287-1---7b3c5f0b6e1a2c3d',
    });
    expect(o.callId.buf).toBe(buf);
    // A field the next scan does not find is absent, not left over from this one.
    const bare = Buffer.from('SIP/2.0 100 Trying\r\nCSeq: 1 INVITE\r\n\r\n', 'latin1');
    expect(scanSipMessage(bare, 0, bare.length, scan)).toBe(0);
    o.setSip(scan, bare);
    expect([o.callId.length, o.fromTag.length, o.toTag.length, o.viaBranch.length]).toEqual([0, 0, 0, 0]);
  });

  it('says whether its time is the capture time or the arrival time', () => {
    const o = new Observation();
    o.setCaptureTime(1_795_600_000, 123_456);
    expect([o.timeSeconds, o.timeMicroseconds, o.timeSource]).toEqual([1_795_600_000, 123_456, TIME_CAPTURE]);
    o.setArrivalTime(1_795_600_001_234.567);
    expect([o.timeSeconds, o.timeMicroseconds, o.timeSource]).toEqual([1_795_600_001, 234_567, TIME_ARRIVAL]);
  });
});
