import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExemplarSlot, exemplarLabelValue, formatOpenMetricsNumber } from '../../src/metrics/exemplar.js';

describe('exemplarLabelValue', () => {
  it('escapes backslash and double quote, and replaces control characters and lone surrogates', () => {
    expect(exemplarLabelValue('a"b\\c', 121)).toEqual({ value: 'a\\"b\\\\c', truncated: false });
    expect(exemplarLabelValue('a\nb\r\0\x7f\u0085\ud800z', 121)).toEqual({
      value: 'a\ufffdb\ufffd\ufffd\ufffd\ufffd\ufffdz',
      truncated: false,
    });
    expect(exemplarLabelValue('é😀', 121)).toEqual({ value: 'é😀', truncated: false });
  });

  it('cuts on a code point boundary, counting an escape as two', () => {
    expect(exemplarLabelValue('x'.repeat(200), 121)).toEqual({ value: 'x'.repeat(121), truncated: true });
    expect(exemplarLabelValue('😀'.repeat(200), 121).value).toBe('😀'.repeat(121));
    expect(exemplarLabelValue(`${'x'.repeat(120)}"`, 121)).toEqual({
      value: 'x'.repeat(120),
      truncated: true,
    });
    expect(exemplarLabelValue('', 121)).toEqual({ value: '', truncated: false });
  });

  it('always yields a value that fits and unescapes to a prefix of the cleaned text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        const { value, truncated } = exemplarLabelValue(text, 121);
        expect([...value].length).toBeLessThanOrEqual(121);
        expect(/(^|[^\\])(\\\\)*"/.test(value)).toBe(false);
        const unescaped = value.replace(/\\(.)/g, '$1');
        const cleaned = [...text]
          .map((c) => {
            const cp = c.codePointAt(0) ?? 0;
            return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0xd800 && cp <= 0xdfff) ? '\ufffd' : c;
          })
          .join('');
        expect(cleaned.startsWith(unescaped)).toBe(true);
        expect(truncated).toBe(unescaped !== cleaned);
        // Encodes as UTF-8 and back unchanged: no lone surrogate survives.
        expect(new TextDecoder('utf-8', { fatal: true }).decode(new TextEncoder().encode(value))).toBe(value);
      }),
      { numRuns: 500 },
    );
  });
});

describe('ExemplarSlot', () => {
  it('is due once per interval, and at once when the clock went back', () => {
    const slot = new ExemplarSlot();
    expect(slot.due(0, 1000)).toBe(true);
    slot.set('call_id="a"', 0.25, 1_795_600_000_500, 5000);
    expect(slot.text).toBe(' # {call_id="a"} 0.25 1795600000.500');
    expect(slot.due(5999, 1000)).toBe(false);
    expect(slot.due(6000, 1000)).toBe(true);
    expect(slot.due(10, 1000)).toBe(true);
    slot.clear();
    expect(slot.text).toBe('');
  });

  it('writes numbers as OpenMetrics spells them', () => {
    expect([Number.NaN, Infinity, -Infinity, 1e21, 0.001].map(formatOpenMetricsNumber)).toEqual([
      'NaN',
      '+Inf',
      '-Inf',
      '1e+21',
      '0.001',
    ]);
  });
});
