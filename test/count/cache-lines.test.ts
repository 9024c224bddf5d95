import { describe, expect, it } from 'vitest';
import {
  CACHE_LINE_BYTES,
  LINE_ALIGNING_OFFSET,
  lineAlignedUint32Array,
} from '../../src/count/cache-lines.js';
import { DedupeWindow } from '../../src/count/dedupe.js';

describe('lineAlignedUint32Array', () => {
  it('gives the words asked for, zeroed, at the aligning offset of a buffer of their own', () => {
    for (const words of [1, 16, 1000, 1 << 18]) {
      const t = lineAlignedUint32Array(words);
      expect(t.length).toBe(words);
      expect(t.byteOffset).toBe(LINE_ALIGNING_OFFSET);
      expect(t.buffer.byteLength).toBe(LINE_ALIGNING_OFFSET + words * 4);
      expect(t.every((w) => w === 0)).toBe(true);
    }
  });

  it('skips less than a cache line, by a multiple of the 16 bytes malloc aligns to', () => {
    expect(LINE_ALIGNING_OFFSET).toBeGreaterThan(0);
    expect(LINE_ALIGNING_OFFSET).toBeLessThan(CACHE_LINE_BYTES);
    expect(LINE_ALIGNING_OFFSET % 16).toBe(0);
  });

  it('places a shared dedupe table at the same offset as an own one', () => {
    const shared = DedupeWindow.share(1024, 0);
    expect(shared.buffer.byteLength).toBe(LINE_ALIGNING_OFFSET + 1024 * 16);
    const window = DedupeWindow.create(
      1000,
      1024,
      0,
      { evictions: { value: 0 }, entries: { value: 0 } },
      shared,
    );
    // The table view is what the lookups index: it starts where the header ends.
    const table = (window as unknown as { table: Uint32Array }).table;
    expect(table.byteOffset).toBe(LINE_ALIGNING_OFFSET);
    expect(window.seen(1, 2, 0)).toBe(false);
    expect(window.seen(1, 2, 1)).toBe(true);
  });
});
