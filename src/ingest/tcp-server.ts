import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import type { CloseReason, ListenerStats, Transport } from '../metrics/self-metrics.js';

/** Reads one connection's bytes; returns false when the stream is unusable and must be closed. */
export type StreamReader = (chunk: Buffer) => boolean;

export interface StreamServerOptions {
  transport: Extract<Transport, 'tcp' | 'tls'>;
  maxConnections: number;
  idleTimeoutMs: number;
  stats: ListenerStats;
  /** TLS server options; required when transport is tls */
  tls?: TlsOptions;
}

/**
 * A TCP (or TLS) server with the bounds every stream listener needs: a cap on open connections
 * (the connection over the cap is closed at once and counted), an idle timeout, and a reason
 * counted for every close. What a connection carries is the reader's business.
 */
export class StreamServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private closing = false;

  constructor(
    private readonly options: StreamServerOptions,
    private readonly newReader: (socket: Socket) => StreamReader,
  ) {
    const onSocket = (socket: Socket) => this.accept(socket);
    if (options.transport === 'tls') {
      this.server = createTlsServer(options.tls ?? {}, onSocket);
      // A failed handshake never reaches onSocket; count it as a socket error.
      this.server.on('tlsClientError', () => {
        options.stats.connectionsClosed.socket_error.value++;
      });
    } else {
      this.server = createServer(onSocket);
    }
  }

  listen(host: string | undefined, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host, port, exclusive: true }, () => {
        this.server.off('error', onError);
        const address = this.server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  /** Stops accepting, lets buffered reads finish, then closes every connection. */
  close(): Promise<void> {
    this.closing = true;
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.sockets) {
        this.options.stats.connectionsClosed.shutdown.value++;
        this.sockets.delete(socket);
        this.options.stats.openConnections = this.sockets.size;
        socket.end();
        socket.destroySoon();
      }
    });
  }

  private accept(socket: Socket): void {
    const { stats, maxConnections, idleTimeoutMs } = this.options;
    if (this.closing || this.sockets.size >= maxConnections) {
      stats.connectionsRejected.value++;
      socket.destroy();
      return;
    }
    stats.connectionsAccepted.value++;
    this.sockets.add(socket);
    stats.openConnections = this.sockets.size;
    const read = this.newReader(socket);
    const bytes = stats.bytes[this.options.transport];
    let reason: CloseReason | null = null;
    const finish = (why: CloseReason) => {
      if (reason !== null) return;
      reason = why;
      if (this.sockets.delete(socket)) {
        stats.connectionsClosed[why].value++;
        stats.openConnections = this.sockets.size;
      }
    };
    socket.setNoDelay(true);
    if (idleTimeoutMs > 0) socket.setTimeout(idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      bytes.value += chunk.length;
      if (!read(chunk)) {
        finish('parse_error');
        socket.destroy();
      }
    });
    socket.on('timeout', () => {
      finish('idle');
      socket.destroy();
    });
    socket.on('error', () => finish('socket_error'));
    socket.on('end', () => {
      finish('peer');
      socket.end();
    });
    socket.on('close', () => finish('peer'));
  }
}
