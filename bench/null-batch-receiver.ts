import { UdpBatchSocket } from '../src/ingest/udp-batch.js';

/**
 * The batched counterpart of null-receiver.ts: the native recvmmsg socket with a handler that
 * only counts, to tell the addon's own ceiling from the exporter's parsing. Prints its port, then
 * its count when it gets SIGTERM.
 */
const socket = new UdpBatchSocket({
  host: '127.0.0.1',
  port: 0,
  ipv6: false,
  receiveBufferSize: Number(process.argv[2] ?? 8 * 1024 * 1024),
});
let received = 0;
socket.start(
  () => {
    received++;
  },
  () => undefined,
);
process.stdout.write(`${socket.port}\n`);
process.on('SIGTERM', () => {
  process.stdout.write(`${received}\n`);
  process.exit(0);
});
