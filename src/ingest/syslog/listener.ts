import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { TlsMaterial } from '../../config/tls-material.js';
import { ListenError } from '../../errors.js';
import type { GaugeCell } from '../../metrics/gauge-cells.js';
import type { SelfMetrics } from '../../metrics/self-metrics.js';
import { formatListenAddress, type ListenAddress } from '../listen-address.js';
import { frameReader, type StreamReader, StreamServer } from '../tcp-server.js';
import { UdpTcpListener } from '../udp-tcp-listener.js';
import { SyslogStreamSplitter } from './framing.js';
import type { SyslogIngest } from './syslog-ingest.js';

export interface SyslogTlsOptions {
  address: ListenAddress;
  /** read and checked with the configuration; with a CA, clients must present a certificate it signed */
  material: TlsMaterial;
}

export interface SyslogListenerOptions {
  /** null: no UDP/TCP listener */
  address: ListenAddress | null;
  tls: SyslogTlsOptions | null;
  maxConnections: number;
  idleTimeoutMs: number;
  /** a frame must be complete this long after its first byte (0: no deadline) */
  frameTimeoutMs: number;
  maxFrameSize: number;
  udpReceiveBufferSize: number;
  /** read UDP in recvmmsg batches when the native addon loaded */
  udpBatch: boolean;
}

/** Syslog over UDP and TCP on one port, and over TLS (RFC 5425) on another. */
export class SyslogListener {
  readonly plain: UdpTcpListener | null;
  private tlsServer: StreamServer | null = null;
  tlsPort = 0;
  /** sip_exporter_listener_up for TLS, asked for once bound */
  private tlsUp: GaugeCell | null = null;

  constructor(
    private readonly ingest: SyslogIngest,
    private readonly self: SelfMetrics,
    private readonly options: SyslogListenerOptions,
    private readonly logger: Logger,
  ) {
    const stats = ingest.stats;
    this.plain =
      options.address === null
        ? null
        : new UdpTcpListener(
            {
              name: 'syslog',
              address: options.address,
              stats,
              maxConnections: options.maxConnections,
              idleTimeoutMs: options.idleTimeoutMs,
              frameTimeoutMs: options.frameTimeoutMs,
              udpReceiveBufferSize: options.udpReceiveBufferSize,
              udpBatch: options.udpBatch,
              // A batch shares one buffer; the view costs an object, not a copy.
              onDatagram: (buf, start, end, sender, now) =>
                ingest.handle(
                  start === 0 && end === buf.length ? buf : buf.subarray(start, end),
                  sender,
                  now,
                ),
              newStreamReader: (socket) => this.reader(socket, 'tcp'),
            },
            self,
            logger,
          );
  }

  get ready(): boolean {
    return (
      (this.plain === null || this.plain.ready) && (this.options.tls === null || this.tlsServer !== null)
    );
  }

  /** One reader per connection: frames split per RFC 6587, each frame one message. */
  private reader(socket: Socket, transport: 'tcp' | 'tls'): StreamReader {
    const stats = this.ingest.stats;
    const sender = socket.remoteAddress ?? '';
    const packets = stats.packets[transport];
    const splitter = new SyslogStreamSplitter(this.options.maxFrameSize, (frame) => {
      packets.value++;
      this.ingest.handle(frame, sender, performance.now());
    });
    return frameReader(splitter, stats.parseErrors);
  }

  async start(): Promise<void> {
    if (this.plain !== null) await this.plain.start();
    const tls = this.options.tls;
    if (tls === null) return;
    const material = tls.material;
    const ca = material.ca;
    const server = new StreamServer(
      {
        transport: 'tls',
        maxConnections: this.options.maxConnections,
        idleTimeoutMs: this.options.idleTimeoutMs,
        frameTimeoutMs: this.options.frameTimeoutMs,
        stats: this.ingest.stats,
        tls: {
          cert: material.cert,
          key: material.key,
          ca,
          requestCert: ca !== undefined,
          rejectUnauthorized: ca !== undefined,
          minVersion: 'TLSv1.2',
        },
      },
      (socket) => this.reader(socket, 'tls'),
    );
    try {
      this.tlsPort = await server.listen(tls.address.host, tls.address.port);
    } catch (err) {
      await server.close();
      throw new ListenError(
        `syslog: cannot listen on tls ${formatListenAddress(tls.address)}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    this.tlsServer = server;
    this.tlsUp ??= this.self.listenerUp.cell({ listener: 'syslog', transport: 'tls' });
    this.tlsUp.value = 1;
    this.logger.info(
      {
        listener: 'syslog',
        address: formatListenAddress({ host: tls.address.host, port: this.tlsPort }),
        transports: ['tls'],
        client_certificates: ca !== undefined,
      },
      'syslog: listening',
    );
  }

  async stop(): Promise<void> {
    if (this.plain !== null) await this.plain.stop();
    const server = this.tlsServer;
    this.tlsServer = null;
    if (server !== null) {
      if (this.tlsUp !== null) this.tlsUp.value = 0;
      await server.close();
    }
  }
}
