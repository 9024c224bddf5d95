import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { CODE, ListenError } from '../errors.js';
import type { GaugeCell } from '../metrics/gauge-cells.js';
import type { CounterCell } from '../metrics/hot-counter.js';
import type { ListenerName, ListenerStats, SelfMetrics } from '../metrics/self-metrics.js';
import { formatListenAddress, type ListenAddress } from './listen-address.js';
import { type StreamReader, StreamServer } from './tcp-server.js';
import { type DatagramHandler, udpBatchAvailability } from './udp-batch.js';
import { BatchReceiver, bindUdp, type UdpReceiver } from './udp-socket.js';
import type { IngestWorkers } from './workers/pool.js';

export interface UdpTcpListenerOptions {
  name: ListenerName;
  address: ListenAddress;
  stats: ListenerStats;
  maxConnections: number;
  idleTimeoutMs: number;
  /** a frame must be complete this long after its first byte (0: no deadline) */
  frameTimeoutMs: number;
  /** SO_RCVBUF to ask for on the UDP socket; 0 keeps the system default */
  udpReceiveBufferSize: number;
  /** read UDP with the native recvmmsg addon when it loaded; false keeps Node's dgram */
  udpBatch: boolean;
  /** one datagram in buf[start, end), valid only during the call; `sender` is the source address */
  onDatagram: DatagramHandler;
  /**
   * Around the datagrams of one recvmmsg read: the HEP listener lets its dedupe look a batch up
   * at once (HepIngest.beginBatch). dgram has no batches: it calls only onBatchEnd, after each
   * datagram, which then finds nothing queued.
   */
  onBatchStart?: () => void;
  onBatchEnd?: () => void;
  /** a reader for one TCP connection */
  newStreamReader: (socket: Socket) => StreamReader;
  /**
   * Threads that read UDP instead of this one, each on its own socket in an SO_REUSEPORT group
   * this listener opens (batched receive only); TCP stays on this thread.
   */
  workers?: IngestWorkers | null;
}

/** UDP read by the ingest workers: this thread holds no socket, only their lifetime. */
class WorkersReceiver implements UdpReceiver {
  readonly path = 'batch';

  constructor(
    readonly port: number,
    readonly receiveBufferSize: number,
    private readonly workers: IngestWorkers,
  ) {}

  start(): void {}

  close(): Promise<void> {
    return this.workers.stop();
  }
}

/**
 * UDP and TCP on one port number, as operators expect of a collector: `:9060` means both. With
 * port 0 the kernel picks the TCP port and UDP takes the same number, picking again should UDP
 * find it taken.
 */
let pathLogged = false;

export class UdpTcpListener {
  private udp: UdpReceiver | null = null;
  private tcp: StreamServer | null = null;
  udpPort = 0;
  tcpPort = 0;
  /** sip_exporter_listener_up for this listener's two transports */
  private up: { udp: GaugeCell; tcp: GaugeCell } | null = null;
  private batches: CounterCell | undefined = undefined;

  constructor(
    private readonly options: UdpTcpListenerOptions,
    private readonly self: SelfMetrics,
    private readonly logger: Logger,
  ) {}

  get ready(): boolean {
    return this.udp !== null && this.tcp !== null;
  }

  async start(): Promise<void> {
    const { name, address, stats } = this.options;
    const tcp = new StreamServer(
      {
        transport: 'tcp',
        maxConnections: this.options.maxConnections,
        idleTimeoutMs: this.options.idleTimeoutMs,
        frameTimeoutMs: this.options.frameTimeoutMs,
        stats,
      },
      this.options.newStreamReader,
    );
    const batch = this.receivePath();
    const workers = batch ? (this.options.workers ?? null) : null;
    for (let attempt = 0; ; attempt++) {
      try {
        this.tcpPort = await tcp.listen(address.host, address.port);
      } catch (err) {
        throw new ListenError(
          `${name}: cannot listen on tcp ${formatListenAddress(address)}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      try {
        const bound = await bindUdp(
          address.host,
          this.tcpPort,
          this.options.udpReceiveBufferSize,
          batch,
          workers !== null ? 'first' : 'none',
        );
        this.udp = bound;
        this.udpPort = bound.port;
        const asked = this.options.udpReceiveBufferSize;
        if (asked > 0 && bound.receiveBufferSize < asked) {
          this.logger.warn(
            { code: CODE.SRE_WARN_UDP_BUFFER, listener: name, asked, granted: bound.receiveBufferSize },
            `${name}: the kernel granted a smaller UDP receive buffer than asked; raise net.core.rmem_max to avoid drops under bursts`,
          );
        }
        break;
      } catch (err) {
        await tcp.close();
        if (address.port === 0 && attempt < 5) continue;
        throw new ListenError(
          `${name}: cannot listen on udp ${formatListenAddress(address)}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
    this.tcp = tcp;
    if (workers !== null && this.udp instanceof BatchReceiver)
      await this.startWorkers(this.udp, workers, tcp);
    const udp = this.udp!;
    const packets = stats.packets.udp;
    const bytes = stats.bytes.udp;
    // Asked for once per listener; a family's series with equal labels add up when scraped.
    this.batches ??= this.self.udpBatches.cell({ listener: name });
    const batches = this.batches;
    const { onBatchStart, onBatchEnd } = this.options;
    udp.start(
      this.options.onDatagram,
      (datagrams, length) => {
        onBatchEnd?.();
        batches.value++;
        packets.value += datagrams;
        bytes.value += length;
      },
      (err) =>
        this.logger.error({ code: CODE.SRE_ERR_UDP, listener: name, err }, `${name}: udp socket error`),
      onBatchStart,
    );
    this.self.udpReceivePath.cell({ listener: name, path: udp.path }, 1);
    this.self.udpDrops.watch(name, this.udpPort);
    // Asked for once bound, so that a listener that never bound has no series.
    this.up ??= {
      udp: this.self.listenerUp.cell({ listener: name, transport: 'udp' }),
      tcp: this.self.listenerUp.cell({ listener: name, transport: 'tcp' }),
    };
    this.up.udp.value = 1;
    this.up.tcp.value = 1;
    this.logger.info(
      {
        listener: name,
        address: formatListenAddress({ host: address.host, port: this.udpPort }),
        transports: ['udp', 'tcp'],
        udp_receive_path: udp.path,
        ingest_workers: udp instanceof WorkersReceiver ? workers!.count : 1,
      },
      `${name}: listening`,
    );
  }

  /**
   * Hands UDP to the workers: each joins the SO_REUSEPORT group of `main` with a socket of its
   * own, then `main` closes, so that only the workers' sockets share the traffic. Datagrams the
   * kernel queued on `main` in between are lost with it; that is before the exporter is ready.
   */
  private async startWorkers(main: BatchReceiver, workers: IngestWorkers, tcp: StreamServer): Promise<void> {
    const { name, address } = this.options;
    const granted = main.receiveBufferSize;
    try {
      await workers.start({
        host: main.host,
        port: main.port,
        ipv6: main.ipv6,
        receiveBufferSize: this.options.udpReceiveBufferSize,
      });
    } catch (err) {
      this.udp = null;
      this.tcp = null;
      await main.close();
      await tcp.close();
      throw new ListenError(
        `${name}: cannot listen on udp ${formatListenAddress(address)} in ingest workers: ${(err as Error).message}`,
        { cause: err },
      );
    } finally {
      await main.close();
    }
    this.udp = new WorkersReceiver(main.port, granted, workers);
  }

  /** Whether to read UDP in batches; says once per process why not when it was asked for. */
  private receivePath(): boolean {
    if (!this.options.udpBatch) {
      if (!pathLogged)
        this.logger.info(
          { code: CODE.SRE_INFO_UDP_DGRAM },
          'udp: batched receive is off (--ingest.udp-batch=false); reading datagrams one by one with dgram',
        );
      pathLogged = true;
      return false;
    }
    const availability = udpBatchAvailability();
    if (availability.available) return true;
    if (!pathLogged)
      this.logger.warn(
        { code: CODE.SRE_WARN_UDP_BATCH_UNAVAILABLE, reason: availability.reason },
        `udp: batched receive is unavailable, reading datagrams one by one with dgram: ${availability.reason}`,
      );
    pathLogged = true;
    return false;
  }

  async stop(): Promise<void> {
    if (this.up !== null) {
      this.up.udp.value = 0;
      this.up.tcp.value = 0;
    }
    const udp = this.udp;
    this.udp = null;
    if (udp !== null) await udp.close();
    const tcp = this.tcp;
    this.tcp = null;
    if (tcp !== null) await tcp.close();
  }
}
