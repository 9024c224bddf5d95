import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { HepForwarder } from '../../forward/hep-forwarder.js';
import { formatListenAddress } from '../listen-address.js';
import { bindOrExplain } from '../listen-errors.js';
import { ListenerSource } from '../listener-source.js';
import { activity, type SourceDeps, type SourceEndpoint } from '../source.js';
import type { UdpTcpListener } from '../udp-tcp-listener.js';
import { HepIngest } from './hep-ingest.js';
import { createHepListener } from './listener.js';

/** HEP capture over UDP and TCP on one port. */
export class HepSource extends ListenerSource<HepIngest, UdpTcpListener> {
  /** null unless hep.forward_address lists targets */
  forwarder: HepForwarder | null = null;

  constructor(
    private readonly config: Config['hep'],
    deps: SourceDeps,
  ) {
    super(
      'hep',
      new HepIngest(deps.counter, deps.self, {
        authKey: config.auth_key === '' ? undefined : config.auth_key,
        maxInflatedSize: config.max_inflated_size,
      }),
      ['udp', 'tcp'],
      deps,
    );
    const workers = deps.workers;
    if (workers != null) {
      // The landing page's UDP activity: this thread's cell stays still while workers read UDP.
      const own = this.ingest.stats.packets.udp;
      deps.arrivals.watch('hep', 'udp', {
        get value() {
          return own.value + workers.packetsNow();
        },
      });
    }
  }

  async start(logger: Logger): Promise<void> {
    const config = this.config;
    const address = config.listen_address;
    if (address === null) return;
    if (config.forward_address.length > 0) {
      // Started before the listener, so that the first packets find the targets connecting.
      const forwarder = new HepForwarder(
        {
          targets: config.forward_address,
          transport: config.forward_transport,
          queue: { packets: config.forward_queue, bytes: config.forward_queue_bytes },
          udpBatch: this.deps.udpBatch,
        },
        this.deps.self,
        logger,
      );
      this.forwarder = forwarder;
      forwarder.start();
      this.ingest.setForwarder(forwarder);
    }
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
        workers: this.deps.workers,
      },
      logger,
    );
    // Kept before binding, so that stop() releases whatever part did bind.
    this.listener = listener;
    await bindOrExplain('hep', 'hep.listen_address', address, () => listener.start());
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

  /** Stops the listener first, so that what it still drains is forwarded too, then the forwarder. */
  override async stop(): Promise<void> {
    await super.stop();
    const forwarder = this.forwarder;
    if (forwarder !== null) {
      this.ingest.setForwarder(null);
      await forwarder.stop();
    }
  }

  /** With ingest workers, UDP is counted in their cells, not this thread's. */
  override packetsReceived(): Record<string, number> {
    const received = super.packetsReceived();
    const workers = this.deps.workers;
    if (workers != null) received.udp += workers.packetsReceived();
    return received;
  }

  reload(next: Config): void {
    this.ingest.setAuthKey(next.hep.auth_key);
  }
}
