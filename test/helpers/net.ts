import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';

export function udpSender(): UdpSocket {
  return createSocket('udp4');
}

export function sendUdp(socket: UdpSocket, packet: Buffer, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.send(packet, port, '127.0.0.1', (err) => (err ? reject(err) : resolve()));
  });
}

export function closeUdp(socket: UdpSocket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

export function tcpConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

export function write(socket: Socket, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
}

/** Resolves when the peer closes the connection. */
export function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

/** Polls until `check` holds, failing after `timeoutMs` with the last value seen. */
export async function eventually<T>(
  read: () => T | Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!check(value)) {
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 20));
    value = await read();
  }
  return value;
}

/**
 * Connects over TLS to a loopback listener whose certificate names localhost and is signed by
 * `ca`, and writes `data` once the handshake is done; resolves with the socket once written.
 */
export async function tlsWrite(port: number, ca: Buffer, data: string | Buffer): Promise<TLSSocket> {
  const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => socket.write(data, (err) => (err ? reject(err) : resolve())));
      socket.once('error', reject);
    });
  } catch (err) {
    socket.destroy();
    throw err;
  }
  return socket;
}
