import type { Socket as UdpSocket } from 'node:dgram';
import type { Logger } from 'pino';
import { ListenError, OK } from '../../errors.js';
import type { SelfMetrics } from '../../metrics/self-metrics.js';
import { formatListenAddress, type ListenAddress } from '../listen-address.js';
import { StreamServer } from '../tcp-server.js';
import { bindUdp } from '../udp-socket.js';
import type { HepIngest } from './hep-ingest.js';
import { HepStreamSplitter } from './stream-splitter.js';

export interface HepListenerOptions {
  address: ListenAddress;
  maxConnections: number;
  idleTimeoutMs: number;
  /** largest HEP packet accepted over TCP; HEPv3's length field caps it at 65535 anyway */
  maxPacketSize: number;
  /** SO_RCVBUF to ask for on the UDP socket; 0 keeps the system default */
  udpReceiveBufferSize: number;
}

/** HEP over UDP and TCP on one port. */
export class HepListener {
  private udp: UdpSocket | null = null;
  private tcp: StreamServer | null = null;
  udpPort = 0;
  tcpPort = 0;

  constructor(
    private readonly ingest: HepIngest,
    private readonly self: SelfMetrics,
    private readonly options: HepListenerOptions,
    private readonly logger: Logger,
  ) {}

  get ready(): boolean {
    return this.udp !== null && this.tcp !== null;
  }

  async start(): Promise<void> {
    const { address } = this.options;
    const stats = this.ingest.stats;
    const tcp = new StreamServer(
      {
        transport: 'tcp',
        maxConnections: this.options.maxConnections,
        idleTimeoutMs: this.options.idleTimeoutMs,
        stats,
      },
      (socket) => {
        const sender = socket.remoteAddress ?? '';
        const packets = stats.packets.tcp;
        const splitter = new HepStreamSplitter(this.options.maxPacketSize, (buf, start, end) => {
          packets.value++;
          this.ingest.handle(buf, start, end, sender, Date.now());
        });
        return (chunk) => {
          const error = splitter.push(chunk);
          if (error === OK) return true;
          stats.parseErrors[error].value++;
          return false;
        };
      },
    );
    // With port 0 the kernel picks the TCP port and UDP takes the same number; should UDP find
    // it taken, pick again.
    for (let attempt = 0; ; attempt++) {
      try {
        this.tcpPort = await tcp.listen(address.host, address.port);
      } catch (err) {
        throw new ListenError(
          `hep: cannot listen on tcp ${formatListenAddress(address)}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      try {
        const bound = await bindUdp(address.host, this.tcpPort, this.options.udpReceiveBufferSize);
        this.udp = bound.socket;
        this.udpPort = bound.port;
        const asked = this.options.udpReceiveBufferSize;
        if (asked > 0 && bound.receiveBufferSize < asked) {
          this.logger.warn(
            { code: 'SRE_WARN_UDP_BUFFER', asked, granted: bound.receiveBufferSize },
            'hep: the kernel granted a smaller UDP receive buffer than asked; raise net.core.rmem_max to avoid drops under bursts',
          );
        }
        break;
      } catch (err) {
        await tcp.close();
        if (address.port === 0 && attempt < 5) continue;
        throw new ListenError(
          `hep: cannot listen on udp ${formatListenAddress(address)}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
    this.tcp = tcp;
    const udp = this.udp!;
    const packets = stats.packets.udp;
    const bytes = stats.bytes.udp;
    udp.on('message', (msg, rinfo) => {
      packets.value++;
      bytes.value += msg.length;
      this.ingest.handle(msg, 0, msg.length, rinfo.address, Date.now());
    });
    udp.on('error', (err) => this.logger.error({ code: 'SRE_ERR_UDP', err }, 'hep: udp socket error'));
    this.self.watchUdpSocket('hep', this.udpPort);
    this.self.setListenerUp('hep', 'udp', true);
    this.self.setListenerUp('hep', 'tcp', true);
    this.logger.info(
      {
        listener: 'hep',
        address: formatListenAddress({ host: address.host, port: this.udpPort }),
        transports: ['udp', 'tcp'],
      },
      'hep: listening',
    );
  }

  async stop(): Promise<void> {
    this.self.setListenerUp('hep', 'udp', false);
    this.self.setListenerUp('hep', 'tcp', false);
    const udp = this.udp;
    this.udp = null;
    if (udp !== null) await new Promise<void>((resolve) => udp.close(() => resolve()));
    const tcp = this.tcp;
    this.tcp = null;
    if (tcp !== null) await tcp.close();
  }
}
