import { createSocket } from 'node:dgram';

/**
 * The do-nothing receiver the UDP benchmark compares against: a Node UDP socket with the same
 * receive buffer as the exporter's, that only counts datagrams. It prints its port, then its
 * count when it gets SIGTERM.
 */
const socket = createSocket({ type: 'udp4', recvBufferSize: Number(process.argv[2] ?? 8 * 1024 * 1024) });
let received = 0;
socket.on('message', () => {
  received++;
});
socket.bind(0, '127.0.0.1', () => {
  process.stdout.write(`${socket.address().port}\n`);
});
process.on('SIGTERM', () => {
  process.stdout.write(`${received}\n`);
  process.exit(0);
});
