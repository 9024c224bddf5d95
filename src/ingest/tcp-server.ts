import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { OK, type Ok } from '../errors.js';
import type { CloseReason, ListenerStats, Transport } from '../metrics/self-metrics.js';

/** What a reader says after one read, so the server can time frames without looking at bytes. */
export const ReadState = {
  /** the stream is unusable and must be closed */
  FAILED: -1,
  /** no frame under way: nothing is buffered */
  BETWEEN_FRAMES: 0,
  /** the frame that was under way before this read is still incomplete */
  SAME_FRAME: 1,
  /** a frame began in this read and is still incomplete */
  NEW_FRAME: 2,
} as const;
export type ReadState = (typeof ReadState)[keyof typeof ReadState];

/** Reads one connection's bytes. */
export type StreamReader = (chunk: Buffer) => ReadState;

/** A stream splitter as the readers below need it (HEP and syslog both are). */
export interface FrameSplitter<E extends number> {
  /** Feeds one read; returns OK or the parse error id that makes the stream unusable. */
  push(chunk: Buffer): E | Ok;
  /** true from the first byte of a frame until its last */
  readonly inFrame: boolean;
  /** frames completed so far */
  readonly frames: number;
}

/** Where a reader counts the error that ends its stream: a listener's ParseErrorCells. */
export interface ParseErrorSink<E extends number> {
  count(error: E): void;
}

/**
 * Wraps a splitter as a StreamReader that counts the error that ends the stream. A frame still
 * incomplete after a read began in it when none was under way before, or when one completed in
 * it: frames follow each other on a stream.
 */
export function frameReader<E extends number>(
  splitter: FrameSplitter<E>,
  parseErrors: ParseErrorSink<E>,
): StreamReader {
  return (chunk) => {
    const wasInFrame = splitter.inFrame;
    const framesBefore = splitter.frames;
    const error = splitter.push(chunk);
    if (error !== OK) {
      parseErrors.count(error);
      return ReadState.FAILED;
    }
    if (!splitter.inFrame) return ReadState.BETWEEN_FRAMES;
    return wasInFrame && splitter.frames === framesBefore ? ReadState.SAME_FRAME : ReadState.NEW_FRAME;
  };
}

export interface StreamServerOptions {
  transport: Extract<Transport, 'tcp' | 'tls'>;
  maxConnections: number;
  idleTimeoutMs: number;
  /** a frame must be complete this long after its first byte (0: no deadline); also the TLS handshake deadline */
  frameTimeoutMs: number;
  stats: ListenerStats;
  /** TLS server options; required when transport is tls */
  tls?: TlsOptions;
}

/**
 * At stop, a connection is read until its peer closes or it has been quiet this long, so what the
 * peer wrote before the stop is counted even when it is still in the kernel's buffers.
 */
const DRAIN_QUIET_MS = 200;
/** ...but never longer than this, so a peer that keeps sending cannot hold the stop. */
const DRAIN_MAX_MS = 1_000;
/** Node's own TLS handshake deadline, kept when the frame deadline is off. */
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 120_000;

interface Connection {
  /** performance.now() of the last read, kept only while draining */
  lastRead: number;
  draining: boolean;
  close: (why: CloseReason) => void;
}

/**
 * A TCP (or TLS) server with the bounds every stream listener needs: a cap on open connections
 * (the connection over the cap is closed at once and counted), an idle timeout, a deadline for
 * each frame, and a reason counted for every close. What a connection carries is the reader's
 * business.
 */
export class StreamServer {
  private readonly server: Server;
  private readonly connections = new Map<Socket, Connection>();
  /** TLS connections still in their handshake, by peer address, so a stop need not wait for them */
  private readonly handshaking = new Map<string, Socket>();
  private closing: Promise<void> | null = null;

  constructor(
    private readonly options: StreamServerOptions,
    private readonly newReader: (socket: Socket) => StreamReader,
  ) {
    const onSocket = (socket: Socket) => this.accept(socket);
    if (options.transport === 'tls') {
      const handshakeTimeout =
        options.frameTimeoutMs > 0 ? options.frameTimeoutMs : DEFAULT_HANDSHAKE_TIMEOUT_MS;
      const server = createTlsServer({ ...options.tls, handshakeTimeout }, onSocket);
      this.server = server;
      server.on('connection', (raw: Socket) => {
        const key = peerKey(raw);
        this.handshaking.set(key, raw);
        raw.once('close', () => {
          if (this.handshaking.get(key) === raw) this.handshaking.delete(key);
        });
      });
      // A failed handshake never reaches onSocket, and with this listener Node leaves the socket
      // open: close it here, or a silent client would hold it (and a stop) forever.
      server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
        const why = err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'frame_timeout' : 'socket_error';
        options.stats.connectionsClosed[why].value++;
        socket.destroy();
      });
    } else {
      this.server = createServer(onSocket);
    }
  }

  listen(host: string | undefined, port: number): Promise<number> {
    // A listener may close and listen again (a retry for a free port pair) on the same server.
    this.closing = null;
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
    return this.connections.size;
  }

  /**
   * Stops accepting, then drains every connection: our side is shut (FIN), and what the peer had
   * sent is still read and counted until it closes its side, goes quiet, or the drain bound ends.
   * Handshakes still under way carried no data and are cut at once.
   */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const raw of this.handshaking.values()) raw.destroy();
      this.handshaking.clear();
      if (this.connections.size === 0) return;
      const started = performance.now();
      for (const [socket, connection] of this.connections) {
        connection.draining = true;
        connection.lastRead = started;
        socket.end();
      }
      const sweep = setInterval(() => {
        const now = performance.now();
        const quiet: Connection[] = [];
        for (const connection of this.connections.values()) {
          if (now - started >= DRAIN_MAX_MS) connection.close('shutdown');
          else if (now - connection.lastRead >= DRAIN_QUIET_MS) quiet.push(connection);
        }
        // Timers run before the poll phase: after a stall (a busy or starved process) data can
        // be waiting in the kernel unread. Decide after this iteration's poll has read it.
        if (quiet.length > 0) {
          setImmediate(() => {
            for (const connection of quiet) if (connection.lastRead <= now) connection.close('shutdown');
            if (this.connections.size === 0) clearInterval(sweep);
          });
        }
        if (this.connections.size === 0) clearInterval(sweep);
      }, DRAIN_QUIET_MS / 4);
      sweep.unref();
    });
    return this.closing;
  }

  private accept(socket: Socket): void {
    const { stats, maxConnections, idleTimeoutMs, frameTimeoutMs } = this.options;
    if (this.options.transport === 'tls') this.handshaking.delete(peerKey(socket));
    if (this.closing !== null || this.connections.size >= maxConnections) {
      stats.connectionsRejected.value++;
      socket.destroy();
      return;
    }
    stats.connectionsAccepted.value++;
    const read = this.newReader(socket);
    const bytes = stats.bytes[this.options.transport];
    let reason: CloseReason | null = null;
    /** performance.now() when the frame under way began; -1 between frames */
    let frameStart = -1;
    // One timer a connection, armed when a frame begins and none is armed; when it fires early
    // (the frame it was armed for completed, another began) it re-arms for what is left.
    let frameTimer: NodeJS.Timeout | null = null;
    const finish = (why: CloseReason) => {
      if (reason !== null) return;
      // Once we asked to stop, however the connection ends it ended for the stop; a bad stream
      // stays a bad stream.
      reason = connection.draining && why !== 'parse_error' ? 'shutdown' : why;
      if (frameTimer !== null) clearTimeout(frameTimer);
      frameTimer = null;
      if (this.connections.delete(socket)) {
        stats.connectionsClosed[reason].value++;
        stats.openConnections = this.connections.size;
      }
    };
    const connection: Connection = {
      lastRead: 0,
      draining: false,
      close: (why) => {
        finish(why);
        socket.destroy();
      },
    };
    this.connections.set(socket, connection);
    stats.openConnections = this.connections.size;
    const armFrame = (ms: number) => {
      frameTimer = setTimeout(checkFrame, ms);
      frameTimer.unref();
    };
    const checkFrame = () => {
      frameTimer = null;
      if (frameStart < 0 || reason !== null) return;
      const left = frameStart + frameTimeoutMs - performance.now();
      if (left > 0) {
        armFrame(left);
        return;
      }
      // Timers run before the poll phase: after a stall (a busy or starved process) the rest of
      // the frame can be waiting in the kernel unread. Decide after this iteration's poll has
      // read it, as the drain at stop does: the frame is late only if it is still the same one.
      // (A frame begun by that read armed its own timer, frameTimer being null meanwhile.)
      const overdue = frameStart;
      setImmediate(() => {
        if (reason === null && frameStart === overdue) connection.close('frame_timeout');
      });
    };
    socket.setNoDelay(true);
    if (idleTimeoutMs > 0) socket.setTimeout(idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      bytes.value += chunk.length;
      if (connection.draining) connection.lastRead = performance.now();
      const state = read(chunk);
      if (state === ReadState.FAILED) {
        connection.close('parse_error');
      } else if (state === ReadState.NEW_FRAME) {
        if (frameTimeoutMs > 0) {
          frameStart = performance.now();
          if (frameTimer === null) armFrame(frameTimeoutMs);
        }
      } else if (state === ReadState.BETWEEN_FRAMES) {
        frameStart = -1;
      }
    });
    socket.on('timeout', () => connection.close('idle'));
    socket.on('error', () => finish('socket_error'));
    socket.on('end', () => {
      finish('peer');
      socket.end();
    });
    socket.on('close', () => finish('peer'));
  }
}

function peerKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}
