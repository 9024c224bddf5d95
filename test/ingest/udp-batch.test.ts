import { spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../lab/processes.js';
import {
  queuedBytes,
  type UdpBatchOptions,
  UdpBatchSocket,
  udpBatchAvailability,
} from '../../src/ingest/udp-batch.js';
import { eventually } from '../helpers/net.js';

interface Received {
  data: Buffer;
  sender: string;
}

const opened: UdpBatchSocket[] = [];
const senders: Socket[] = [];

afterEach(async () => {
  for (const s of opened.splice(0)) s.close();
  await Promise.all(senders.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A batch socket that copies every datagram it hands out, and records each batch's size. */
function receiver(options: Partial<UdpBatchOptions> = {}) {
  const socket = new UdpBatchSocket({
    host: '127.0.0.1',
    port: 0,
    ipv6: false,
    receiveBufferSize: 4 * 1024 * 1024,
    ...options,
  });
  opened.push(socket);
  const received: Received[] = [];
  const batches: number[] = [];
  socket.start(
    (buf, start, end, sender) => {
      expect(start).toBeGreaterThanOrEqual(0);
      expect(end).toBeGreaterThanOrEqual(start);
      expect(end).toBeLessThanOrEqual(buf.length);
      received.push({ data: Buffer.from(buf.subarray(start, end)), sender });
    },
    (datagrams, bytes) => {
      expect(bytes).toBe(received.slice(-datagrams).reduce((n, r) => n + r.data.length, 0));
      batches.push(datagrams);
    },
  );
  return { socket, received, batches };
}

function sender(type: 'udp4' | 'udp6' = 'udp4'): Socket {
  const s = createSocket(type);
  senders.push(s);
  return s;
}

function send(s: Socket, data: Buffer, port: number, host = '127.0.0.1'): Promise<void> {
  return new Promise((resolve, reject) => s.send(data, port, host, (err) => (err ? reject(err) : resolve())));
}

/** The build under test: the AddressSanitizer one when the tests run under it. */
const addonPath = () =>
  process.env.UDP_BATCH_ADDON || join(import.meta.dirname, '../../build/Release/udp_batch.node');

function bindError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
  return 'bound';
}

describe('native batched UDP receive', () => {
  it('is built and loads (the batch test pass requires it)', () => {
    expect(udpBatchAvailability()).toEqual({ available: true });
  });

  it('hands over an empty datagram and a 65,507-byte one intact', async () => {
    const { socket, received } = receiver();
    const s = sender();
    const big = Buffer.alloc(65_507);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    await send(s, Buffer.alloc(0), socket.port);
    await send(s, big, socket.port);
    await send(s, Buffer.from('after'), socket.port);
    await eventually(
      () => received.length,
      (n) => n === 3,
    );
    expect(received[0].data.length).toBe(0);
    expect(received[1].data.equals(big)).toBe(true);
    expect(received[2].data.toString()).toBe('after');
    expect(received.map((r) => r.sender)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1']);
  });

  it('names IPv4 and IPv6 senders as dgram does on a dual-stack socket', async () => {
    const { socket, received } = receiver({ host: '::', ipv6: true });
    const reference = createSocket('udp6');
    senders.push(reference);
    reference.bind(0, '::');
    await once(reference, 'listening');
    const seenByDgram: string[] = [];
    reference.on('message', (_m, rinfo) => seenByDgram.push(rinfo.address));
    const v4 = sender('udp4');
    const v6 = sender('udp6');
    for (const port of [socket.port, reference.address().port]) {
      await send(v4, Buffer.from('four'), port, '127.0.0.1');
      await send(v6, Buffer.from('six'), port, '::1');
    }
    await eventually(
      () => received.length + seenByDgram.length,
      (n) => n === 4,
    );
    expect(received.map((r) => r.sender)).toEqual(['::ffff:127.0.0.1', '::1']);
    expect(received.map((r) => r.sender)).toEqual(seenByDgram);
    expect(received.map((r) => r.data.toString())).toEqual(['four', 'six']);
  });

  it('keeps distinct senders apart in its sender cache', async () => {
    const { socket, received } = receiver();
    const s = sender();
    const hosts = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.1.2.3'];
    for (const host of hosts) {
      const from = createSocket('udp4');
      senders.push(from);
      from.bind(0, host);
      await once(from, 'listening');
      await send(from, Buffer.from(host), socket.port);
      await send(s, Buffer.from('127.0.0.1'), socket.port);
    }
    await eventually(
      () => received.length,
      (n) => n === hosts.length * 2,
    );
    for (const r of received) expect(r.sender).toBe(r.data.toString());
  });

  it('splits a burst larger than one batch into bounded batches, losing nothing', async () => {
    const { socket, received, batches } = receiver({ maxBatch: 8 });
    const s = sender();
    const count = 300;
    for (let i = 0; i < count; i++) s.send(Buffer.from(`m${i}`), socket.port, '127.0.0.1');
    await eventually(
      () => received.length,
      (n) => n === count,
    );
    expect(received.map((r) => r.data.toString())).toEqual(Array.from({ length: count }, (_, i) => `m${i}`));
    expect(Math.max(...batches)).toBeLessThanOrEqual(8);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(count);
    expect(batches.length).toBeGreaterThanOrEqual(Math.ceil(count / 8));
  });

  it('reports the receive buffer the kernel granted', () => {
    const { socket } = receiver({ receiveBufferSize: 256 * 1024 });
    // Linux doubles the asked size for its bookkeeping, and caps it at net.core.rmem_max.
    expect(socket.receiveBufferSize).toBeGreaterThan(0);
  });

  it('closes with datagrams still queued, inside a batch callback, and the port can be bound again', async () => {
    // From below the ephemeral range: no socket sending from an unbound port can take it while
    // it is closed.
    const port = await freePort();
    const socket = new UdpBatchSocket({ host: '127.0.0.1', port, ipv6: false, receiveBufferSize: 0 });
    let batches = 0;
    const s = sender();
    socket.start(
      () => undefined,
      () => {
        batches++;
        socket.close();
        socket.close();
      },
    );
    for (let i = 0; i < 500; i++) s.send(Buffer.alloc(1000, i), port, '127.0.0.1');
    await eventually(
      () => batches,
      (n) => n >= 1,
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(batches).toBe(1);
    // Reopening the same port right away, with data still being sent to it.
    const again = receiver({ port });
    expect(again.socket.port).toBe(port);
    await send(s, Buffer.from('again'), port);
    await eventually(
      () => again.received.map((r) => r.data.toString()),
      (got) => got.includes('again'),
    );
  });

  it('never lets a second socket share the port unless this process asked for a group', async () => {
    const first = receiver();
    const port = first.socket.port;
    const open = (reusePort: 'none' | 'first' | 'join') =>
      bindError(() =>
        opened.push(
          new UdpBatchSocket({ host: '127.0.0.1', port, ipv6: false, receiveBufferSize: 0, reusePort }),
        ),
      );
    expect(open('none')).toBe('EADDRINUSE');
    expect(open('first')).toBe('EADDRINUSE');
    // A dgram socket (another exporter on the fallback path) is refused too.
    const d = createSocket('udp4');
    const failed = once(d, 'error');
    d.bind(port, '127.0.0.1');
    expect(((await failed)[0] as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    d.close();
  });

  it('lets the sockets of one SO_REUSEPORT group share a port, and still refuses a second exporter', async () => {
    const group = receiver({ reusePort: 'first' });
    const port = group.socket.port;
    const member = receiver({ port, reusePort: 'join' });
    const open = (reusePort: 'none' | 'first') =>
      bindError(() =>
        opened.push(
          new UdpBatchSocket({ host: '127.0.0.1', port, ipv6: false, receiveBufferSize: 0, reusePort }),
        ),
      );
    // Another exporter starting its own group, or binding plainly, finds the port busy.
    expect(open('first')).toBe('EADDRINUSE');
    expect(open('none')).toBe('EADDRINUSE');
    // The kernel spreads flows over the group by source address and port.
    for (let i = 0; i < 16; i++) await send(sender(), Buffer.from(`f${i}`), port);
    await eventually(
      () => group.received.length + member.received.length,
      (n) => n === 16,
    );
  });

  it('refuses buffers too small for one slot and addresses of the wrong family', () => {
    expect(
      bindError(() => new UdpBatchSocket({ host: '::1', port: 0, ipv6: false, receiveBufferSize: 0 })),
    ).toMatch(/not an IPv4 address/);
    expect(
      bindError(
        () => new UdpBatchSocket({ host: '127.0.0.1', port: 70_000, ipv6: false, receiveBufferSize: 0 }),
      ),
    ).toMatch(/port out of range/);
  });

  it('checks every argument and length it is given before touching memory', () => {
    const { UdpBatch, SLOT, RECORD } = createRequire(import.meta.url)(addonPath()) as {
      UdpBatch: new (...args: unknown[]) => { sender(i: unknown): string; close(): void };
      SLOT: number;
      RECORD: number;
    };
    const options = { host: '127.0.0.1', port: 0, ipv6: false, receiveBufferSize: 0, reusePort: 0 };
    const make = (...args: unknown[]) => bindError(() => new UdpBatch(...args).close());
    expect(make(options, Buffer.alloc(SLOT - 1), new Int32Array(RECORD))).toMatch(/64 KiB slot/);
    expect(make(options, Buffer.alloc(2 * SLOT), new Int32Array(2 * RECORD - 1))).toMatch(/8 ints per slot/);
    expect(make(options, Buffer.alloc(SLOT), new Uint32Array(RECORD))).toMatch(/Int32Array/);
    expect(make({ ...options, host: 1 }, Buffer.alloc(SLOT), new Int32Array(RECORD))).toMatch(
      /expected \{ host/,
    );
    expect(make({ ...options, reusePort: 3 }, Buffer.alloc(SLOT), new Int32Array(RECORD))).toMatch(
      /reusePort/,
    );
    expect(make(options, Buffer.alloc(SLOT))).toMatch(/expected \(options/);
    const s = new UdpBatch(options, Buffer.alloc(SLOT), new Int32Array(RECORD));
    expect(bindError(() => s.sender(1))).toMatch(/index out of range/);
    expect(bindError(() => s.sender('0'))).toMatch(/expected an index/);
    expect(s.sender(0)).toBe('');
    s.close();
  });

  it('loads in a worker thread and closes its socket when the worker ends', async () => {
    const addon =
      process.env.UDP_BATCH_ADDON || join(import.meta.dirname, '../../build/Release/udp_batch.node');
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { UdpBatch, SLOT, RECORD } = require(workerData.addon);
      const data = Buffer.allocUnsafeSlow(4 * SLOT);
      const records = new Int32Array(4 * RECORD);
      const s = new UdpBatch({ host: '127.0.0.1', port: workerData.port, ipv6: false, receiveBufferSize: 0, reusePort: 0 }, data, records);
      s.start((n) => parentPort.postMessage({ got: data.toString('latin1', 0, records[0]), n }));
      parentPort.postMessage({ port: s.port });
    `;
    const worker = new Worker(code, { eval: true, workerData: { addon, port: await freePort() } });
    const [{ port }] = (await once(worker, 'message')) as [{ port: number }];
    const gotMessage = once(worker, 'message');
    await send(sender(), Buffer.from('from main'), port);
    expect((await gotMessage)[0]).toEqual({ got: 'from main', n: 1 });
    // Never closed by JavaScript: the environment's teardown must close it.
    await worker.terminate();
    const again = receiver({ port });
    expect(again.socket.port).toBe(port);
  });

  it('reports a throw from the batch callback as an uncaught exception, as dgram does', () => {
    const script = `
      const { UdpBatch, SLOT, RECORD } = require(process.argv[1]);
      const dgram = require('node:dgram');
      const data = Buffer.allocUnsafeSlow(SLOT);
      const records = new Int32Array(RECORD);
      const s = new UdpBatch({ host: '127.0.0.1', port: 0, ipv6: false, receiveBufferSize: 0, reusePort: 0 }, data, records);
      let batches = 0;
      s.start(() => {
        batches++;
        if (batches === 1) throw new Error('thrown in batch ' + batches);
        console.log('batch ' + batches + ' ' + data.toString('latin1', 0, records[0]));
        s.close();
        out.close();
      });
      process.on('uncaughtException', (err) => {
        console.log('uncaught: ' + err.message);
        out.send('second', s.port, '127.0.0.1');
      });
      const out = dgram.createSocket('udp4');
      out.send('first', s.port, '127.0.0.1');
    `;
    const run = spawnSync(process.execPath, ['-e', script, addonPath()], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toEqual(['uncaught: thrown in batch 1', 'batch 2 second']);
    expect(run.status).toBe(0);
  });

  it('delivers random datagrams exactly as sent (property)', async () => {
    const { socket, received } = receiver({ maxBatch: 16 });
    const s = sender();
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            { weight: 8, arbitrary: fc.uint8Array({ maxLength: 1500 }) },
            { weight: 1, arbitrary: fc.uint8Array({ minLength: 60_000, maxLength: 65_507 }) },
          ),
          { minLength: 1, maxLength: 40 },
        ),
        async (datagrams) => {
          received.length = 0;
          for (const d of datagrams) await send(s, Buffer.from(d), socket.port);
          await eventually(
            () => received.length,
            (n) => n >= datagrams.length,
          );
          expect(received.length).toBe(datagrams.length);
          for (let i = 0; i < datagrams.length; i++) {
            expect(received[i].data.equals(Buffer.from(datagrams[i]))).toBe(true);
            expect(received[i].sender).toBe('127.0.0.1');
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('read progress for ingest workers', () => {
  it('says from any thread how much is queued, and marks a read from before it starts until handled', async () => {
    const progress = new BigInt64Array(new SharedArrayBuffer(32));
    const socket = new UdpBatchSocket({
      host: '127.0.0.1',
      port: 0,
      ipv6: false,
      receiveBufferSize: 0,
      progress,
    });
    opened.push(socket);
    expect(queuedBytes(socket.fd)).toBe(0);
    const sender = createSocket('udp4');
    senders.push(sender);
    await new Promise<void>((resolve) =>
      sender.send(Buffer.from('hello'), socket.port, '127.0.0.1', () => resolve()),
    );
    await eventually(
      () => queuedBytes(socket.fd),
      (n) => n === 5,
    );
    const before = process.hrtime.bigint();
    const seen: Array<[bigint, bigint, number]> = [];
    socket.start(
      () => {},
      () => {
        seen.push([Atomics.load(progress, 0), Atomics.load(progress, 1), queuedBytes(socket.fd)]);
        Atomics.store(progress, 0, 0n);
      },
    );
    await eventually(
      () => seen.length,
      (n) => n === 1,
    );
    const [reading, readAt, queued] = seen[0];
    expect(reading).toBe(1n);
    expect(readAt).toBeGreaterThanOrEqual(before);
    expect(readAt).toBeLessThanOrEqual(process.hrtime.bigint());
    expect(queued).toBe(0);
    expect(queuedBytes(-1)).toBe(-1);
  });
});
