import { createSocket, type Socket } from 'node:dgram';
import fc from 'fast-check';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../lab/processes.js';
import { UdpForwarder } from '../../src/forward/udp-forwarder.js';
import { UdpBatchSender, UdpBatchSocket, udpBatchAvailability } from '../../src/ingest/udp-batch.js';
import { SelfMetrics } from '../../src/metrics/self-metrics.js';
import { eventually } from '../helpers/net.js';

const senders: UdpBatchSender[] = [];
const sockets: Socket[] = [];
const receivers: UdpBatchSocket[] = [];

afterEach(async () => {
  for (const s of senders.splice(0)) s.close();
  for (const r of receivers.splice(0)) r.close();
  await Promise.all(sockets.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A dgram receiver on a kernel-chosen loopback port that keeps a copy of every datagram. */
async function receiver(type: 'udp4' | 'udp6' = 'udp4') {
  // A buffer large enough for a whole batch sent at once, so that the kernel drops none.
  const socket = createSocket({ type, recvBufferSize: 4 * 1024 * 1024 });
  sockets.push(socket);
  const received: Buffer[] = [];
  socket.on('message', (msg) => received.push(msg));
  await new Promise<void>((resolve) => socket.bind(0, type === 'udp6' ? '::1' : '127.0.0.1', resolve));
  return { port: socket.address().port, received };
}

function sender(port: number, host = '127.0.0.1', ipv6 = false): UdpBatchSender {
  const s = new UdpBatchSender({ host, port, ipv6 });
  senders.push(s);
  return s;
}

/** Datagrams laid out back to back in one buffer, with their offsets and lengths. */
function layout(datagrams: Buffer[], gap = 0) {
  const total = datagrams.reduce((n, d) => n + d.length + gap, 0);
  const data = Buffer.alloc(total);
  const offsets = new Int32Array(datagrams.length);
  const lengths = new Int32Array(datagrams.length);
  let at = 0;
  datagrams.forEach((d, i) => {
    d.copy(data, at);
    offsets[i] = at;
    lengths[i] = d.length;
    at += d.length + gap;
  });
  return { data, offsets, lengths };
}

describe('native batched UDP send (sendmmsg)', () => {
  it('is built and loads (the batch test pass requires it)', () => {
    expect(udpBatchAvailability()).toEqual({ available: true });
  });

  it('sends each range of the buffer as one datagram, byte for byte and in order', async () => {
    const r = await receiver();
    const datagrams = Array.from({ length: 300 }, (_, i) =>
      Buffer.from(`datagram ${i} `.repeat((i % 7) + 1)),
    );
    const { data, offsets, lengths } = layout(datagrams, 3);
    const s = sender(r.port);
    let sent = 0;
    while (sent < datagrams.length) {
      const n = s.send(data, offsets, lengths, sent, datagrams.length - sent);
      expect(n).toBeGreaterThan(0);
      sent += n;
    }
    await eventually(
      () => r.received.length,
      (n) => n === datagrams.length,
    );
    expect(r.received).toEqual(datagrams);
  });

  it('sends a range from the middle of the arrays, an empty datagram and a 65,507-byte one', async () => {
    const r = await receiver();
    const big = Buffer.alloc(65_507, 0x61);
    const { data, offsets, lengths } = layout([
      Buffer.from('skipped'),
      Buffer.alloc(0),
      big,
      Buffer.from('x'),
    ]);
    const s = sender(r.port);
    expect(s.send(data, offsets, lengths, 1, 2)).toBe(2);
    await eventually(
      () => r.received.length,
      (n) => n === 2,
    );
    expect(r.received[0].length).toBe(0);
    expect(r.received[1].equals(big)).toBe(true);
  });

  it('sends at most its batch size a call', async () => {
    const r = await receiver();
    const s = sender(r.port);
    const count = s.maxBatch + 10;
    const { data, offsets, lengths } = layout(Array.from({ length: count }, () => Buffer.from('y')));
    expect(s.send(data, offsets, lengths, 0, count)).toBe(s.maxBatch);
  });

  it('sends to IPv6 and takes nothing when asked for nothing', async () => {
    const r = await receiver('udp6');
    const { data, offsets, lengths } = layout([Buffer.from('six')]);
    const s = sender(r.port, '::1', true);
    expect(s.send(data, offsets, lengths, 0, 0)).toBe(0);
    expect(s.send(data, offsets, lengths, 0, 1)).toBe(1);
    await eventually(
      () => r.received.length,
      (n) => n === 1,
    );
    expect(r.received[0].toString()).toBe('six');
  });

  it('reports the port unreachable an earlier datagram drew as -ECONNREFUSED, then sends again', async () => {
    // A port free now, from below the ephemeral range, so that no socket sending from an
    // unbound port (in this process or another) takes it meanwhile.
    const port = await freePort();
    const { data, offsets, lengths } = layout([Buffer.from('a')]);
    const s = sender(port);
    expect(s.send(data, offsets, lengths, 0, 1)).toBe(1);
    const refused = await eventually(
      () => s.send(data, offsets, lengths, 0, 1),
      (n) => n < 0,
    );
    expect(refused).toBe(-s.econnrefused);
    expect(s.econnrefused).toBe(111); // ECONNREFUSED on Linux
    expect(s.send(data, offsets, lengths, 0, 1)).toBe(1);
  });

  it('refuses, sending nothing, any range outside the buffer or the arrays', async () => {
    const r = await receiver();
    const s = sender(r.port);
    const data = Buffer.alloc(100);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: -5, max: 120 }), fc.integer({ min: -5, max: 120 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.integer({ min: -2, max: 10 }),
        fc.integer({ min: -2, max: 10 }),
        async (ranges, first, count) => {
          const offsets = Int32Array.from(ranges.map(([o]) => o));
          const lengths = Int32Array.from(ranges.map(([, l]) => l));
          const inArrays = first >= 0 && count >= 0 && first + count <= ranges.length;
          const chosen = inArrays ? ranges.slice(first, first + count) : [];
          const inBuffer = chosen.every(([o, l]) => o >= 0 && l >= 0 && o + l <= data.length);
          const before = r.received.length;
          if (inArrays && inBuffer) {
            expect(s.send(data, offsets, lengths, first, count)).toBe(count);
            await eventually(
              () => r.received.length,
              (n) => n === before + count,
            );
          } else {
            expect(() => s.send(data, offsets, lengths, first, count)).toThrow(RangeError);
            // Nothing went out: a datagram sent now arrives next, alone.
            const marker = layout([Buffer.from('marker')]);
            expect(s.send(marker.data, marker.offsets, marker.lengths, 0, 1)).toBe(1);
            await eventually(
              () => r.received.length,
              (n) => n === before + 1,
            );
            expect(r.received[before].toString()).toBe('marker');
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses arguments of the wrong kind, a bad address and a closed socket', () => {
    const s = sender(9);
    const native = s as unknown as { native: { send: (...args: unknown[]) => unknown } };
    expect(() => native.native.send(Buffer.alloc(1), new Uint32Array(1), new Int32Array(1), 0, 1)).toThrow(
      TypeError,
    );
    expect(() => native.native.send('text', new Int32Array(1), new Int32Array(1), 0, 1)).toThrow(TypeError);
    expect(() => new UdpBatchSender({ host: 'not-an-address', port: 9, ipv6: false })).toThrow(TypeError);
    expect(() => new UdpBatchSender({ host: '127.0.0.1', port: 0, ipv6: false })).toThrow(RangeError);
    s.close();
    expect(() => s.send(Buffer.alloc(1), new Int32Array(1), new Int32Array([1]), 0, 1)).toThrow('closed');
    // The receive side is untouched by the send side: both load from one addon.
    receivers.push(new UdpBatchSocket({ host: '127.0.0.1', port: 0, ipv6: false, receiveBufferSize: 0 }));
  });

  it('sends a forwarding queue that wraps, in order, whatever the packet sizes', async () => {
    const r = await receiver();
    const forwarder = new UdpForwarder(
      { host: '127.0.0.1', port: r.port, text: `127.0.0.1:${r.port}` },
      { packets: 7, bytes: 5000 },
      new SelfMetrics(new Registry()),
      pino({ level: 'silent' }),
      true,
    );
    forwarder.start();
    await eventually(
      () => forwarder.path,
      (path) => path !== null,
    );
    expect(forwarder.path).toBe('batch');
    const expected: Buffer[] = [];
    let serial = 0;
    let offered = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 1400 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.integer({ min: 1, max: 1400 }), { maxLength: 6 }),
        async (sizes, dropOldest, more) => {
          // What the queue holds, oldest first, mirrored here.
          const pending: Buffer[] = [];
          const offer = (size: number) => {
            const packet = Buffer.alloc(size, serial++ & 0xff);
            const before = forwarder.queue.count;
            forwarder.enqueue(packet, 0, packet.length);
            if (forwarder.queue.count > before) pending.push(packet);
          };
          for (const size of sizes) offer(size);
          // Take the oldest off without sending them, as a partial send would have, so that the
          // packets offered next wrap around the end of the queue's storage and index ring.
          const dropped = Math.min(dropOldest, pending.length);
          forwarder.queue.shift(dropped);
          pending.splice(0, dropped);
          for (const size of more) offer(size);
          offered += sizes.length + more.length - dropped;
          forwarder.flush();
          expect(forwarder.queue.count).toBe(0);
          expected.push(...pending);
        },
      ),
      { numRuns: 100 },
    );
    await eventually(
      () => r.received.length,
      (n) => n === expected.length,
    );
    expect(r.received).toEqual(expected);
    expect(forwarder.cells.sent.value).toBe(expected.length);
    expect(forwarder.cells.sent.value + forwarder.cells.queueFull.value).toBe(offered);
    await forwarder.stop();
  });
});
