import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKpiRing, KpiRingReader, KpiRingWriter } from '../../../src/ingest/workers/kpi-ring.js';
import { emptyKpiMessage, type KpiMessage } from '../../../src/kpi/types.js';

function message(i: number): KpiMessage {
  return {
    ...emptyKpiMessage(),
    node: i % 7,
    isRequest: i % 2 === 0,
    method: i % 5,
    status: 100 + (i % 600),
    cseq: i,
    callIdHi: (i * 2654435761) >>> 0,
    callIdLo: 0xffffffff - i,
    hasToTag: i % 3 === 0,
    captureMs: 1_795_600_000_000 + i * 0.25,
    now: i * 1.5,
    expires0: i % 4 === 0,
    reasonCause: i % 128,
  };
}

describe('KPI ring', () => {
  it('hands every field of every message over unchanged and in order, round after round', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { maxLength: 30 }), (rounds) => {
        const memory = createKpiRing(16);
        const writer = new KpiRingWriter(memory, () => {});
        const reader = new KpiRingReader(memory);
        const out = emptyKpiMessage();
        let written = 0;
        let read = 0;
        for (const n of rounds) {
          const batch = Math.min(n, 16);
          for (let i = 0; i < batch; i++) writer.handle(message(written++));
          expect(reader.available()).toBe(batch);
          expect(reader.headNow()).toBe(message(read).now);
          expect(reader.headCapture()).toBe(message(read).captureMs);
          while (reader.available() > 0) {
            reader.read(out);
            expect(out).toEqual(message(read++));
          }
          reader.release();
        }
      }),
    );
  });

  it('has a writer on the reader thread empty the ring through its callback instead of waiting', () => {
    const memory = createKpiRing(4);
    const reader = new KpiRingReader(memory);
    const out = emptyKpiMessage();
    const drained: number[] = [];
    const writer = new KpiRingWriter(
      memory,
      () => {},
      () => {
        while (reader.available() > 0) {
          reader.read(out);
          drained.push(out.cseq);
        }
        reader.release();
      },
    );
    for (let i = 0; i < 10; i++) writer.handle(message(i));
    expect(drained).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(reader.available()).toBe(2);
    expect(reader.nearlyFull).toBe(false);
  });
});
