import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PacketQueue } from '../../src/forward/queue.js';

/** The queued packets, oldest first, as copies. */
function contents(q: PacketQueue): Buffer[] {
  const out: Buffer[] = [];
  for (let k = 0; k < q.count; k++) {
    const i = q.index(k);
    out.push(Buffer.from(q.storage.subarray(q.offsets[i], q.offsets[i] + q.lengths[i])));
  }
  return out;
}

describe('PacketQueue', () => {
  it('keeps packets in order and refuses one past either bound', () => {
    const q = new PacketQueue(3, 10);
    expect(q.push(Buffer.from('aaaa'), 0, 4)).toBe(true);
    expect(q.push(Buffer.from('xbbbbx'), 1, 5)).toBe(true);
    expect(q.push(Buffer.from('ccc'), 0, 3)).toBe(false); // 11 bytes
    expect(q.push(Buffer.from('cc'), 0, 2)).toBe(true);
    expect(q.push(Buffer.from('d'), 0, 1)).toBe(false); // 4 packets
    expect(contents(q).map(String)).toEqual(['aaaa', 'bbbb', 'cc']);
    expect(q.bytes).toBe(10);
    q.shift(1);
    // 4 bytes free at the front, 0 at the back: the packet wraps to offset 0.
    expect(q.push(Buffer.from('dddd'), 0, 4)).toBe(true);
    expect(q.offsets[q.index(2)]).toBe(0);
    expect(contents(q).map(String)).toEqual(['bbbb', 'cc', 'dddd']);
    // A run stops at the wrap.
    expect(q.run(0, 10)).toBe(2);
    expect(q.run(2, 10)).toBe(1);
  });

  it('refuses an empty packet and one larger than the whole queue', () => {
    const q = new PacketQueue(4, 8);
    expect(q.push(Buffer.alloc(4), 2, 2)).toBe(false);
    expect(q.push(Buffer.alloc(9), 0, 9)).toBe(false);
    expect(q.count).toBe(0);
  });

  it('holds what a model FIFO holds, within both bounds, without overlapping packets', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 64 }),
        fc.array(
          fc.oneof(
            fc.record({ push: fc.integer({ min: 1, max: 40 }) }),
            fc.record({ shift: fc.integer({ min: 0, max: 5 }) }),
          ),
          { maxLength: 200 },
        ),
        (maxPackets, maxBytes, ops) => {
          const q = new PacketQueue(maxPackets, maxBytes);
          const model: Buffer[] = [];
          let serial = 0;
          for (const op of ops) {
            if ('push' in op) {
              const packet = Buffer.alloc(op.push, serial++ & 0xff);
              const pushed = q.push(packet, 0, packet.length);
              const bytes = model.reduce((n, p) => n + p.length, 0);
              // An empty queue refuses only a packet larger than it; a full one (in packets or
              // bytes) always refuses. Between, the gap a wrap leaves may refuse a little earlier.
              if (model.length === 0) expect(pushed).toBe(packet.length <= maxBytes);
              if (model.length === maxPackets || bytes + packet.length > maxBytes) expect(pushed).toBe(false);
              if (pushed) model.push(packet);
            } else {
              q.shift(op.shift);
              model.splice(0, op.shift);
            }
            expect(q.count).toBe(model.length);
            expect(q.count).toBeLessThanOrEqual(maxPackets);
            expect(q.bytes).toBe(model.reduce((n, p) => n + p.length, 0));
            expect(contents(q)).toEqual(model);
            const ranges = model.map((_, k) => {
              const i = q.index(k);
              return [q.offsets[i], q.offsets[i] + q.lengths[i]] as const;
            });
            for (const [a, b] of ranges) {
              expect(a).toBeGreaterThanOrEqual(0);
              expect(b).toBeLessThanOrEqual(maxBytes);
            }
            const sorted = [...ranges].sort((x, y) => x[0] - y[0]);
            for (let k = 1; k < sorted.length; k++)
              expect(sorted[k][0]).toBeGreaterThanOrEqual(sorted[k - 1][1]);
          }
          // An empty queue takes any packet up to its byte bound.
          q.shift(q.count);
          expect(q.push(Buffer.alloc(maxBytes), 0, maxBytes)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
