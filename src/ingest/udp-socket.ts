import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import {
  type BatchHandler,
  type BatchStartHandler,
  type DatagramHandler,
  type ReusePort,
  UdpBatchSocket,
} from './udp-batch.js';

/** How a listener's UDP datagrams reach JavaScript: recvmmsg batches, or dgram one by one. */
export type UdpReceivePath = 'batch' | 'dgram';

/** A bound UDP socket, read through whichever path it was opened with. */
export interface UdpReceiver {
  readonly path: UdpReceivePath;
  readonly port: number;
  /** SO_RCVBUF as the kernel granted it, which may be less than asked for */
  readonly receiveBufferSize: number;
  /**
   * `onBatchStart` runs before the datagrams of a batch, `onBatch` after them; dgram hands
   * datagrams over one by one and calls only `onBatch`, once each.
   */
  start(
    onDatagram: DatagramHandler,
    onBatch: BatchHandler,
    onError: (err: Error) => void,
    onBatchStart?: BatchStartHandler,
  ): void;
  close(): Promise<void>;
}

class DgramReceiver implements UdpReceiver {
  readonly path = 'dgram';
  readonly port: number;
  readonly receiveBufferSize: number;

  constructor(private readonly socket: Socket) {
    this.port = socket.address().port;
    this.receiveBufferSize = socket.getRecvBufferSize();
  }

  start(onDatagram: DatagramHandler, onBatch: BatchHandler, onError: (err: Error) => void): void {
    this.socket.on('message', (msg, rinfo) => {
      onDatagram(msg, 0, msg.length, rinfo.address, performance.now());
      onBatch(1, msg.length);
    });
    this.socket.on('error', onError);
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

export class BatchReceiver implements UdpReceiver {
  readonly path = 'batch';

  constructor(
    private readonly socket: UdpBatchSocket,
    /** the address bound, resolved, for further sockets to join its SO_REUSEPORT group */
    readonly host: string,
    readonly ipv6: boolean,
  ) {}

  get port(): number {
    return this.socket.port;
  }

  get receiveBufferSize(): number {
    return this.socket.receiveBufferSize;
  }

  start(
    onDatagram: DatagramHandler,
    onBatch: BatchHandler,
    _onError: (err: Error) => void,
    onBatchStart?: BatchStartHandler,
  ): void {
    this.socket.start(onDatagram, onBatch, onBatchStart);
  }

  async close(): Promise<void> {
    this.socket.close();
  }
}

function bindDgram(
  type: 'udp4' | 'udp6',
  host: string | undefined,
  port: number,
  receiveBufferSize: number,
  _reusePort?: ReusePort,
) {
  return new Promise<UdpReceiver>((resolve, reject) => {
    const socket = createSocket({
      type,
      recvBufferSize: receiveBufferSize > 0 ? receiveBufferSize : undefined,
    });
    const onError = (err: Error) => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ address: host ?? (type === 'udp6' ? '::' : '0.0.0.0'), port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(new DgramReceiver(socket));
    });
  });
}

async function bindBatch(
  type: 'udp4' | 'udp6',
  host: string | undefined,
  port: number,
  receiveBufferSize: number,
  reusePort: ReusePort = 'none',
): Promise<UdpReceiver> {
  const ipv6 = type === 'udp6';
  let address = host ?? (ipv6 ? '::' : '0.0.0.0');
  // The addon takes no IPv6 zone index (fe80::1%eth0); dgram does.
  if (address.includes('%')) return bindDgram(type, host, port, receiveBufferSize);
  // dgram resolves a host name before binding; the addon takes only addresses.
  if (isIP(address) === 0) address = (await lookup(address, { family: ipv6 ? 6 : 4 })).address;
  return new BatchReceiver(
    new UdpBatchSocket({ host: address, port, ipv6, receiveBufferSize, reusePort }),
    address,
    ipv6,
  );
}

/**
 * Binds a UDP socket on host:port; with no host, on every interface, IPv6 and IPv4 together
 * when the machine has IPv6 and IPv4 alone when it does not. `batch` reads it with recvmmsg
 * through the native addon, which the caller has checked is available; `reusePort` then says
 * whether it opens an SO_REUSEPORT group for ingest workers to join (see udp-batch.ts).
 */
export async function bindUdp(
  host: string | undefined,
  port: number,
  receiveBufferSize: number,
  batch = false,
  reusePort: ReusePort = 'none',
): Promise<UdpReceiver> {
  const bind = batch ? bindBatch : bindDgram;
  if (host !== undefined)
    return bind(isIP(host) === 6 ? 'udp6' : 'udp4', host, port, receiveBufferSize, reusePort);
  try {
    return await bind('udp6', undefined, port, receiveBufferSize, reusePort);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL' && code !== 'EINVAL') throw err;
    return bind('udp4', undefined, port, receiveBufferSize, reusePort);
  }
}
