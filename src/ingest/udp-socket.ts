import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';

export interface BoundUdpSocket {
  socket: Socket;
  port: number;
  /** SO_RCVBUF as the kernel granted it, which may be less than asked for */
  receiveBufferSize: number;
}

function bind(type: 'udp4' | 'udp6', host: string | undefined, port: number, receiveBufferSize: number) {
  return new Promise<BoundUdpSocket>((resolve, reject) => {
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
      resolve({ socket, port: socket.address().port, receiveBufferSize: socket.getRecvBufferSize() });
    });
  });
}

/**
 * Binds a UDP socket on host:port; with no host, on every interface, IPv6 and IPv4 together
 * when the machine has IPv6 and IPv4 alone when it does not.
 */
export async function bindUdp(
  host: string | undefined,
  port: number,
  receiveBufferSize: number,
): Promise<BoundUdpSocket> {
  if (host !== undefined) return bind(isIP(host) === 6 ? 'udp6' : 'udp4', host, port, receiveBufferSize);
  try {
    return await bind('udp6', undefined, port, receiveBufferSize);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL' && code !== 'EINVAL') throw err;
    return bind('udp4', undefined, port, receiveBufferSize);
  }
}
