import type { Logger } from 'pino';
import type { SelfMetrics } from '../../metrics/self-metrics.js';
import type { ListenAddress } from '../listen-address.js';
import { frameReader } from '../tcp-server.js';
import { UdpTcpListener } from '../udp-tcp-listener.js';
import type { IngestWorkers } from '../workers/pool.js';
import type { HepIngest } from './hep-ingest.js';
import { HepStreamSplitter } from './stream-splitter.js';

export interface HepListenerOptions {
  address: ListenAddress;
  maxConnections: number;
  idleTimeoutMs: number;
  /** a packet must be complete this long after its first byte (0: no deadline) */
  frameTimeoutMs: number;
  /** largest HEP packet accepted over TCP; HEPv3's length field caps it at 65535 anyway */
  maxPacketSize: number;
  udpReceiveBufferSize: number;
  /** read UDP in recvmmsg batches when the native addon loaded */
  udpBatch: boolean;
  /** threads that read UDP instead of this one (batched receive only) */
  workers?: IngestWorkers | null;
}

/** HEP over UDP (one packet a datagram) and TCP (packets back to back) on one port. */
export function createHepListener(
  ingest: HepIngest,
  self: SelfMetrics,
  options: HepListenerOptions,
  logger: Logger,
): UdpTcpListener {
  const stats = ingest.stats;
  return new UdpTcpListener(
    {
      name: 'hep',
      address: options.address,
      stats,
      maxConnections: options.maxConnections,
      idleTimeoutMs: options.idleTimeoutMs,
      frameTimeoutMs: options.frameTimeoutMs,
      udpReceiveBufferSize: options.udpReceiveBufferSize,
      udpBatch: options.udpBatch,
      workers: options.workers,
      onDatagram: (buf, start, end, sender, now) => {
        ingest.handle(buf, start, end, sender, now);
      },
      onBatchStart: () => ingest.beginBatch(),
      onBatchEnd: () => ingest.endBatch(),
      newStreamReader: (socket) => {
        const sender = socket.remoteAddress ?? '';
        const packets = stats.packets.tcp;
        const splitter = new HepStreamSplitter(options.maxPacketSize, (buf, start, end) => {
          packets.value++;
          ingest.handle(buf, start, end, sender, performance.now());
        });
        return frameReader(splitter, stats.parseErrors);
      },
    },
    self,
    logger,
  );
}
