import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { formatListenAddress } from '../listen-address.js';
import { bindOrExplain } from '../listen-errors.js';
import { activity, type Source, type SourceDeps, type SourceEndpoint } from '../source.js';
import type { UdpTcpListener } from '../udp-tcp-listener.js';
import { HepIngest } from './hep-ingest.js';
import { createHepListener } from './listener.js';

/**
 * HEP capture over UDP and TCP on one port. The ingest, and so its self-metric series, exists
 * even when the listener is off, so the exposition has the same families whatever is enabled.
 */
export class HepSource implements Source {
  readonly name = 'hep';
  readonly ingest: HepIngest;
  /** null until started, and when hep.listen_address is empty */
  listener: UdpTcpListener | null = null;

  constructor(
    private readonly config: Config['hep'],
    private readonly deps: SourceDeps,
  ) {
    this.ingest = new HepIngest(deps.counter, deps.self, {
      authKey: config.auth_key === '' ? undefined : config.auth_key,
      maxInflatedSize: config.max_inflated_size,
    });
    for (const transport of ['udp', 'tcp'] as const)
      deps.arrivals.watch(this.name, transport, this.ingest.stats.packets[transport]);
  }

  get ready(): boolean {
    return this.listener === null || this.listener.ready;
  }

  async start(logger: Logger): Promise<void> {
    const config = this.config;
    const address = config.listen_address;
    if (address === null) return;
    const listener = createHepListener(
      this.ingest,
      this.deps.self,
      {
        address,
        maxConnections: config.max_connections,
        idleTimeoutMs: config.idle_timeout,
        frameTimeoutMs: config.frame_timeout,
        maxPacketSize: config.max_packet_size,
        udpReceiveBufferSize: config.udp_receive_buffer,
        udpBatch: this.deps.udpBatch,
      },
      logger,
    );
    // Kept before binding, so that stop() releases whatever part did bind.
    this.listener = listener;
    await bindOrExplain('hep', 'hep.listen_address', address, () => listener.start());
  }

  async stop(): Promise<void> {
    if (this.listener !== null) await this.listener.stop();
  }

  endpoints(): SourceEndpoint[] {
    const address = this.config.listen_address;
    if (this.listener === null || address === null) return [];
    return [
      {
        name: 'HEP v1/v2/v3',
        transports: 'udp, tcp',
        address: formatListenAddress({ host: address.host, port: this.listener.udpPort }),
        activity: activity(this.deps.arrivals, this.name, ['udp', 'tcp']),
      },
    ];
  }

  packetsReceived(): Record<string, number> {
    const packets = this.ingest.stats.packets;
    return { udp: packets.udp.value, tcp: packets.tcp.value };
  }

  reload(next: Config): void {
    this.ingest.setAuthKey(next.hep.auth_key);
  }
}
