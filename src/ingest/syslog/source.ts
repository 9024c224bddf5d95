import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { formatListenAddress } from '../listen-address.js';
import { explainListenError } from '../listen-errors.js';
import { ListenerSource } from '../listener-source.js';
import { activity, type SourceDeps, type SourceEndpoint } from '../source.js';
import { SyslogListener } from './listener.js';
import { SyslogIngest } from './syslog-ingest.js';

/** Syslog lines over UDP and TCP on one port and over TLS on another. */
export class SyslogSource extends ListenerSource<SyslogIngest, SyslogListener> {
  constructor(
    private readonly config: Config['syslog'],
    deps: SourceDeps,
  ) {
    super(
      'syslog',
      new SyslogIngest(deps.counter, deps.self, config.extractors),
      ['udp', 'tcp', 'tls'],
      deps,
    );
  }

  async start(logger: Logger): Promise<void> {
    const config = this.config;
    const address = config.listen_address;
    const tls = config.tls;
    const tlsAddress = tls.listen_address;
    const material = tls.material;
    if (address === null && tlsAddress === null) return;
    const listener = new SyslogListener(
      this.ingest,
      this.deps.self,
      {
        address,
        tls: tlsAddress === null || material === null ? null : { address: tlsAddress, material },
        maxConnections: config.max_connections,
        idleTimeoutMs: config.idle_timeout,
        frameTimeoutMs: config.frame_timeout,
        maxFrameSize: config.max_frame_size,
        udpReceiveBufferSize: config.udp_receive_buffer,
        udpBatch: this.deps.udpBatch,
      },
      logger,
    );
    this.listener = listener;
    try {
      await listener.start();
    } catch (err) {
      // The plain listener starts first: if it is bound (or off), the TLS one failed.
      if (address !== null && listener.plain !== null && !listener.plain.ready)
        throw explainListenError('syslog', 'syslog.listen_address', address, err);
      if (tlsAddress !== null)
        throw explainListenError('syslog TLS', 'syslog.tls.listen_address', tlsAddress, err);
      throw err;
    }
  }

  endpoints(): SourceEndpoint[] {
    const listener = this.listener;
    if (listener === null) return [];
    const list: SourceEndpoint[] = [];
    const address = this.config.listen_address;
    if (listener.plain !== null && address !== null) {
      list.push({
        name: 'syslog RFC 3164/5424',
        transports: 'udp, tcp',
        address: formatListenAddress({ host: address.host, port: listener.plain.udpPort }),
        activity: activity(this.deps.arrivals, this.name, ['udp', 'tcp']),
      });
    }
    const tlsAddress = this.config.tls.listen_address;
    if (listener.tlsPort !== 0 && tlsAddress !== null) {
      list.push({
        name: 'syslog RFC 5425',
        transports: 'tls',
        address: formatListenAddress({ host: tlsAddress.host, port: listener.tlsPort }),
        activity: activity(this.deps.arrivals, this.name, ['tls']),
      });
    }
    return list;
  }

  reload(next: Config): void {
    this.ingest.setExtractors(next.syslog.extractors);
  }
}
