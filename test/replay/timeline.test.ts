import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CODE } from '../../src/errors.js';
import { type CounterCell, HotCounter } from '../../src/metrics/hot-counter.js';
import { counterFamily, Timeline } from '../../src/replay/timeline.js';

const STEP = 1000;
const BASE = 1_795_600_000_000;
const LABELS = ['a', 'b', 'c', 'd'];

/** Runs `events` (capture time offset in ms, series index) through a timeline as a replay does. */
function play(events: Array<[number, number]>, maxSteps?: number, maxSamples?: number) {
  const family = new HotCounter(new Registry(), 'x_total', 'x', ['k']);
  const cells: Array<CounterCell | undefined> = [];
  const timeline = new Timeline(STEP, [counterFamily(family)], maxSteps, maxSamples);
  for (const [offset, series] of events) {
    timeline.advance(BASE + offset);
    // A series is created when its first message is counted, as SipCounter does.
    cells[series] ??= family.cell({ k: LABELS[series] });
    cells[series].value++;
  }
  const steps = timeline.finish();
  const [{ series }] = [...timeline.samples(steps)];
  return { timeline, steps, series };
}

const events = fc.array(fc.tuple(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 3 })), {
  minLength: 1,
  maxLength: 60,
});

describe('Timeline', () => {
  it('in time order: step k holds exactly what was captured before it, for every series', () => {
    fc.assert(
      fc.property(events, (unsorted) => {
        const sorted = [...unsorted].sort((x, y) => x[0] - y[0]);
        const { timeline, steps, series } = play(sorted);
        expect(timeline.origin).toBe(Math.floor((BASE + sorted[0][0]) / STEP) * STEP);
        // The last sample comes after the last message.
        expect(timeline.origin + (steps - 1) * STEP).toBeGreaterThan(BASE + sorted.at(-1)![0]);
        for (const s of series) {
          expect(s.values.length).toBe(steps);
          const index = LABELS.indexOf(s.labels.k);
          for (let k = 0; k < steps; k++) {
            const t = timeline.origin + k * STEP;
            expect(s.values[k]).toBe(sorted.filter(([o, i]) => i === index && BASE + o < t).length);
          }
        }
      }),
    );
  });

  it('out of order: cumulative, monotonic, never ahead of the capture times, complete at the end', () => {
    fc.assert(
      fc.property(events, (list) => {
        const { timeline, steps, series } = play(list);
        for (const s of series) {
          const index = LABELS.indexOf(s.labels.k);
          const mine = list.filter(([, i]) => i === index);
          for (let k = 0; k < steps; k++) {
            if (k > 0) expect(s.values[k]).toBeGreaterThanOrEqual(s.values[k - 1]);
            // A late message counts into the step it arrived in, never into one before its time.
            const t = timeline.origin + k * STEP;
            expect(s.values[k]).toBeLessThanOrEqual(mine.filter(([o]) => BASE + o < t).length);
          }
          expect(s.values[steps - 1]).toBe(mine.length);
        }
      }),
    );
  });

  it('bounds the steps and the samples with a coded error', () => {
    expect(() =>
      play(
        [
          [0, 0],
          [10 * STEP, 0],
        ],
        5,
      ),
    ).toThrow(expect.objectContaining({ code: CODE.SRE_ERR_REPLAY_TOO_MANY_STEPS }));
    expect(() =>
      play(
        [
          [0, 0],
          [0, 1],
          [0, 2],
          [3 * STEP, 3],
          [4 * STEP, 0],
        ],
        1000,
        10,
      ),
    ).toThrow(expect.objectContaining({ code: CODE.SRE_ERR_REPLAY_TOO_MANY_STEPS }));
    expect(play([[0, 0]], 2).steps).toBe(2);
  });

  it('lets a clock catch up before each step, and samples a step it changed even with no message in it', () => {
    const family = new HotCounter(new Registry(), 'x_total', 'x', ['k']);
    const cell = family.cell({ k: 'a' });
    const timeline = new Timeline(STEP, [counterFamily(family)]);
    const seen: number[] = [];
    // A timeout due 2.5 steps in, which no message brings: the clock does.
    timeline.beforeStep = (ms) => {
      seen.push(ms - BASE);
      if (ms - BASE >= 2500 && cell.value === 0) {
        cell.value = 1;
        return true;
      }
      return false;
    };
    timeline.advance(BASE);
    timeline.advance(BASE + 5500);
    const steps = timeline.finish();
    expect(seen).toEqual([999, 1999, 2999, 3999, 4999]);
    const [{ series }] = [...timeline.samples(steps)];
    expect(Array.from(series[0].values)).toEqual([0, 0, 0, 1, 1, 1, 1]);
  });
});
