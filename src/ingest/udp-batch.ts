import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Whether the native batched receive (recvmmsg) loaded, and if not, why. */
export type UdpBatchAvailability = { available: true } | { available: false; reason: string };

interface NativeSocket {
  start(onBatch: (count: number) => void): void;
  close(): void;
  sender(index: number): string;
  readonly port: number;
  readonly receiveBufferSize: number;
  readonly fd: number;
}

interface NativeModule {
  UdpBatch: {
    new (
      options: { host: string; port: number; ipv6: boolean; receiveBufferSize: number; reusePort: number },
      data: Buffer,
      records: Int32Array,
      progress?: BigInt64Array,
    ): NativeSocket;
    queued(fd: number): number;
  };
  SLOT: number;
  RECORD: number;
  MAX_BATCH: number;
  UdpSender: new (options: {
    host: string;
    port: number;
    ipv6: boolean;
    sendBufferSize: number;
  }) => NativeSender;
  MAX_SEND_BATCH: number;
  EAGAIN: number;
  ECONNREFUSED: number;
}

interface NativeSender {
  send(data: Buffer, offsets: Int32Array, lengths: Int32Array, first: number, count: number): number;
  close(): void;
}

/**
 * SO_REUSEPORT use. `none` binds exclusively: a second exporter on the port fails with
 * EADDRINUSE. `first` opens a group a process's further sockets `join`; it first probes the
 * port with a bind without SO_REUSEPORT, which fails on a port anyone holds, so another
 * exporter can never silently join a group and take part of the traffic.
 */
export type ReusePort = 'none' | 'first' | 'join';
const REUSE_PORT: Record<ReusePort, number> = { none: 0, first: 1, join: 2 };

const here = dirname(fileURLToPath(import.meta.url));
let loaded: NativeModule | null | undefined;
let loadError = '';

/**
 * The compiled addon sits in build/Release at the package root, whether this file runs from
 * src/ingest (tsx) or dist/src/ingest (compiled). UDP_BATCH_ADDON names another build, such as
 * the AddressSanitizer one the tests run once, or is `off` to run as if none were built (the
 * test suite's second pass, over the dgram fallback).
 */
function addonPaths(): string[] {
  const override = process.env.UDP_BATCH_ADDON;
  if (override !== undefined && override !== '') return [override];
  return [
    join(here, '../../build/Release/udp_batch.node'),
    join(here, '../../../build/Release/udp_batch.node'),
  ];
}

function load(): NativeModule | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.platform !== 'linux') {
    loadError = `recvmmsg batching is Linux-only (this is ${process.platform})`;
    return loaded;
  }
  if (process.env.UDP_BATCH_ADDON === 'off') {
    loadError = 'the native addon is turned off by UDP_BATCH_ADDON=off';
    return loaded;
  }
  const path = addonPaths().find((p) => existsSync(p));
  if (path === undefined) {
    loadError = 'the native addon was not built (npm install needs python3, make and a C++ compiler)';
    return loaded;
  }
  try {
    loaded = createRequire(import.meta.url)(path) as NativeModule;
  } catch (err) {
    loadError = `the native addon failed to load: ${(err as Error).message}`;
  }
  return loaded;
}

export function udpBatchAvailability(): UdpBatchAvailability {
  return load() !== null ? { available: true } : { available: false, reason: loadError };
}

/** One datagram in buf[start, end); `sender` is the source address as dgram gives it. */
export type DatagramHandler = (buf: Buffer, start: number, end: number, sender: string, now: number) => void;

/** Called once per batch, after its datagrams were handled. */
export type BatchHandler = (datagrams: number, bytes: number) => void;

/** Called once per batch before its first datagram (HepIngest.beginBatch). */
export type BatchStartHandler = () => void;

export interface UdpBatchOptions {
  host: string;
  port: number;
  ipv6: boolean;
  /** SO_RCVBUF to ask for; 0 keeps the system default */
  receiveBufferSize: number;
  reusePort?: ReusePort;
  /** most datagrams one readiness event reads; each takes a 64 KiB slot of address space */
  maxBatch?: number;
  /**
   * Shared words an ingest worker's reads are followed by (int64): [0] is 1 from just before a
   * recvmmsg until the batch is handled, [1] the monotonic time (ns) just before the last
   * recvmmsg, [2] and [3] the caller's. The caller clears [0] once it has handled a batch.
   */
  progress?: BigInt64Array;
}

/**
 * Bytes of the next datagram queued on the socket `fd` of this process, 0 when none; callable
 * from any thread (the ingest workers' sockets are read by the workers, checked by the main
 * thread). -1 when the addon is not loaded or fd is no socket.
 */
export function queuedBytes(fd: number): number {
  const addon = load();
  return addon === null ? -1 : addon.UdpBatch.queued(fd);
}

export const DEFAULT_MAX_BATCH = 256;

// Sender strings are cached by address so that a batch builds none; the cache is direct-mapped
// (a new address overwrites whatever shared its slot), so it stays this size whatever arrives.
const SENDER_CACHE = 1024;

/**
 * A UDP socket read with recvmmsg, up to maxBatch datagrams a readiness event, into one buffer
 * reused batch after batch. Handlers see the datagram only for the duration of the call, which
 * is all the ingest needs: what it keeps (node names, dedupe keys) it copies or hashes.
 */
export class UdpBatchSocket {
  readonly port: number;
  /** most datagrams one read takes; a batch of fewer emptied the socket */
  readonly maxBatch: number;
  private readonly native: NativeSocket;
  private readonly data: Buffer;
  private readonly records: Int32Array;
  private readonly slot: number;
  private readonly stride: number;
  private readonly cacheKeys = new Int32Array(SENDER_CACHE * 5);
  private readonly cacheText: string[] = new Array<string>(SENDER_CACHE).fill('');
  private open = true;

  /** Binds at once; throws an errno-coded error (EADDRINUSE, EACCES, ...) as dgram does. */
  constructor(options: UdpBatchOptions) {
    const addon = load();
    if (addon === null) throw new Error(loadError);
    const maxBatch = Math.max(1, Math.min(options.maxBatch ?? DEFAULT_MAX_BATCH, addon.MAX_BATCH));
    this.maxBatch = maxBatch;
    this.slot = addon.SLOT;
    this.stride = addon.RECORD;
    // allocUnsafeSlow: a fresh mapping the kernel fills lazily, so a batch of small datagrams
    // makes only the first page of each slot resident.
    this.data = Buffer.allocUnsafeSlow(maxBatch * this.slot);
    this.records = new Int32Array(maxBatch * this.stride);
    this.native = new addon.UdpBatch(
      {
        host: options.host,
        port: options.port,
        ipv6: options.ipv6,
        receiveBufferSize: options.receiveBufferSize,
        reusePort: REUSE_PORT[options.reusePort ?? 'none'],
      },
      this.data,
      this.records,
      ...(options.progress === undefined ? [] : [options.progress]),
    );
    this.port = this.native.port;
  }

  /** The socket's descriptor, for queuedBytes() from another thread; -1 once closed. */
  get fd(): number {
    return this.native.fd;
  }

  /** SO_RCVBUF as the kernel granted it */
  get receiveBufferSize(): number {
    return this.native.receiveBufferSize;
  }

  start(onDatagram: DatagramHandler, onBatch: BatchHandler, onBatchStart?: BatchStartHandler): void {
    const { data, records, slot, stride } = this;
    this.native.start((count) => {
      const now = performance.now();
      onBatchStart?.();
      let bytes = 0;
      try {
        for (let i = 0; i < count; i++) {
          const r = i * stride;
          const length = records[r];
          const start = i * slot;
          bytes += length;
          onDatagram(data, start, start + length, this.sender(i, r), now);
        }
      } finally {
        // Handlers do not throw; should one, what onBatchStart began (a deferred dedupe) still ends.
        onBatch(count, bytes);
      }
    });
  }

  private sender(index: number, r: number): string {
    const records = this.records;
    const family = records[r + 1];
    const a = records[r + 4];
    const b = records[r + 5];
    const c = records[r + 6];
    const d = records[r + 7];
    const slot =
      (Math.imul(
        a ^ Math.imul(b, 0x9e3779b1) ^ Math.imul(c, 0x85ebca6b) ^ Math.imul(d, 0xc2b2ae35),
        0x27d4eb2f,
      ) >>>
        22) &
      (SENDER_CACHE - 1);
    const keys = this.cacheKeys;
    const k = slot * 5;
    if (
      keys[k] === family &&
      keys[k + 1] === a &&
      keys[k + 2] === b &&
      keys[k + 3] === c &&
      keys[k + 4] === d
    )
      return this.cacheText[slot];
    const text = this.native.sender(index);
    keys[k] = family;
    keys[k + 1] = a;
    keys[k + 2] = b;
    keys[k + 3] = c;
    keys[k + 4] = d;
    this.cacheText[slot] = text;
    return text;
  }

  /** Stops reading and closes the socket; datagrams still queued are dropped with it. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.native.close();
  }
}

export interface UdpBatchSenderOptions {
  /** an IP address: the addon resolves no names */
  host: string;
  port: number;
  ipv6: boolean;
  /** SO_SNDBUF to ask for; 0 keeps the system default */
  sendBufferSize?: number;
}

/**
 * A UDP socket connect()ed to one destination and written with sendmmsg: many datagrams, each a
 * range of one buffer, in one system call. Only when udpBatchAvailability() says the addon loaded.
 */
export class UdpBatchSender {
  /** most datagrams one send() takes */
  readonly maxBatch: number;
  /** what send() returns, negated, when the socket's send buffer is full */
  readonly eagain: number;
  /** what send() returns, negated, when an earlier datagram drew an ICMP port unreachable */
  readonly econnrefused: number;
  private readonly native: NativeSender;
  private open = true;

  /** Creates and connects the socket at once; throws an errno-coded error (ENETUNREACH, ...). */
  constructor(options: UdpBatchSenderOptions) {
    const addon = load();
    if (addon === null) throw new Error(loadError);
    this.maxBatch = addon.MAX_SEND_BATCH;
    this.eagain = addon.EAGAIN;
    this.econnrefused = addon.ECONNREFUSED;
    this.native = new addon.UdpSender({
      host: options.host,
      port: options.port,
      ipv6: options.ipv6,
      sendBufferSize: options.sendBufferSize ?? 0,
    });
  }

  /**
   * Sends datagrams first .. first+count-1, datagram i being data[offsets[i], offsets[i] +
   * lengths[i]), at most maxBatch of them. Returns how many the kernel took, in order, or a
   * negative errno when it took none (-eagain: the send buffer is full; -ECONNREFUSED: an
   * earlier datagram drew an ICMP port unreachable). Throws a RangeError, sending nothing, when
   * any range lies outside the buffer.
   */
  send(data: Buffer, offsets: Int32Array, lengths: Int32Array, first: number, count: number): number {
    return this.native.send(data, offsets, lengths, first, count);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.native.close();
  }
}
