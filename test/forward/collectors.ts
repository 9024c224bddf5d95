import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { HepStreamSplitter } from '../../src/ingest/hep/stream-splitter.js';
import { hep3 } from '../helpers/hep.js';
import { sipResponse } from '../helpers/sip.js';

/** A HEP receiver standing in for Homer: keeps a copy of every packet it gets. */
export interface Collector {
  readonly port: number;
  readonly received: Buffer[];
  close(): Promise<void>;
}

/** A UDP receiver on 127.0.0.1 with a buffer that holds a whole burst, so the kernel drops none. */
export async function udpCollector(port = 0): Promise<Collector> {
  const socket: UdpSocket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  const received: Buffer[] = [];
  socket.on('message', (msg) => received.push(msg));
  await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    received,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/**
 * A TCP receiver that splits each connection into HEPv3 packets as heplify-server does. With
 * `read: false` it accepts and never reads, so the sender's writes back up.
 */
export async function tcpCollector(port = 0, read = true): Promise<Collector & { connections: number }> {
  const received: Buffer[] = [];
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  const server: Server = createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (!read) {
      socket.pause();
      return;
    }
    const splitter = new HepStreamSplitter(65535, (buf, start, end) =>
      received.push(Buffer.from(buf.subarray(start, end))),
    );
    socket.on('data', (chunk) => splitter.push(chunk));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    received,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** `n` distinct HEPv3 packets of SIP responses (distinct Call-IDs, a mix of codes). */
export function responses(n: number, tag = 'f', authKey?: string): Buffer[] {
  const codes = [200, 180, 486, 404, 503, 100];
  return Array.from({ length: n }, (_, i) =>
    hep3({
      payload: sipResponse({ code: codes[i % codes.length], callId: `${tag}-${i}@forward.test` }),
      authKey,
    }),
  );
}
