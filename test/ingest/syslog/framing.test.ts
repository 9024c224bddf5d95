import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PARSE_ERROR_INFO } from '../../../src/errors.js';
import { SyslogStreamSplitter } from '../../../src/ingest/syslog/framing.js';

function collect(maxFrameSize = 65536) {
  const frames: string[] = [];
  const splitter = new SyslogStreamSplitter(maxFrameSize, (frame) => frames.push(frame.toString('utf8')));
  return { splitter, frames };
}

const octet = (msg: string) => `${Buffer.byteLength(msg)} ${msg}`;

describe('syslog TCP framing (RFC 6587)', () => {
  it('splits non-transparent frames on LF, CRLF and NUL', () => {
    const { splitter, frames } = collect();
    expect(splitter.push(Buffer.from('<13>a one\n<13>b two\r\n<13>c three\0<13>d'))).toBe(0);
    expect(frames).toEqual(['<13>a one', '<13>b two', '<13>c three']);
    expect(splitter.push(Buffer.from(' four\n'))).toBe(0);
    expect(frames[3]).toBe('<13>d four');
  });

  it("reads octet-counted frames, with or without rsyslog's trailing LF inside the count", () => {
    const { splitter, frames } = collect();
    const withLf = '<13>1 - h app - - - counted with lf\n';
    expect(splitter.push(Buffer.from(octet('<13>1 - h a - - - multi\nline') + octet(withLf)))).toBe(0);
    expect(frames).toEqual(['<13>1 - h a - - - multi\nline', '<13>1 - h app - - - counted with lf']);
  });

  it('decides the framing per frame, so both can share a stream', () => {
    const { splitter, frames } = collect();
    splitter.push(Buffer.from(`<13>plain\n${octet('<13>counted')}<13>plain again\n`));
    expect(frames).toEqual(['<13>plain', '<13>counted', '<13>plain again']);
  });

  it('gives the same frames however the stream is cut into reads', () => {
    const messages = ['<13>Nov 25 10:20:30 h t: é unicode', '<14>1 - h a - - - x\ny', '<15>third'];
    const stream = Buffer.from(
      `${octet(messages[0])}${octet(messages[1])}${messages[2]}\n${octet(messages[0])}`,
    );
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 12 }), (cuts) => {
        const { splitter, frames } = collect();
        let at = 0;
        for (const point of [...new Set(cuts)].sort((a, b) => a - b).concat(stream.length)) {
          expect(splitter.push(stream.subarray(at, point))).toBe(0);
          at = point;
        }
        expect(frames).toEqual([...messages, messages[0]]);
      }),
      { numRuns: 300 },
    );
  });

  it('fails on a count that is not a number and never waits for it', () => {
    for (const bad of ['12x <13>msg', '123456789012 <13>x', '0 ']) {
      const { splitter } = collect();
      expect(PARSE_ERROR_INFO[splitter.push(Buffer.from(bad))].label, bad).toBe('syslog_bad_octet_count');
    }
  });

  it('fails on a frame over the bound without allocating the claimed size', () => {
    const { splitter } = collect(1000);
    expect(PARSE_ERROR_INFO[splitter.push(Buffer.from('999999999 <13>'))].label).toBe(
      'syslog_frame_too_large',
    );
    expect(splitter.bufferedBytes).toBe(0);
    const plain = collect(1000);
    expect(plain.splitter.push(Buffer.alloc(600, 65))).toBe(0);
    expect(PARSE_ERROR_INFO[plain.splitter.push(Buffer.alloc(600, 65))].label).toBe('syslog_frame_too_large');
    expect(plain.splitter.bufferedBytes).toBe(0);
  });

  it('never throws on random bytes, and stays failed once failed', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), (reads) => {
        const { splitter } = collect(300);
        let failed = 0;
        for (const read of reads) {
          const result = splitter.push(Buffer.from(read));
          if (failed !== 0) expect(result).toBe(failed);
          failed = result;
        }
        expect(splitter.bufferedBytes).toBeLessThanOrEqual(300);
      }),
      { numRuns: 500 },
    );
  });
});
