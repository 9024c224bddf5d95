import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { configWarnings } from './config/check.js';
import { OPTIONS } from './config/options.js';
import type { Config } from './config/schema.js';
import { DedupeWindow } from './count/dedupe.js';
import { NodeLabels } from './count/nodes.js';
import { SipCounter } from './count/sip-counter.js';
import { ListenError, SreError } from './errors.js';
import { applyTls, createHttpApp, type ListenerInfo, listenHttp } from './http/server.js';
import { loadWebConfig, type WebConfig } from './http/web-config.js';
import { HepIngest } from './ingest/hep/hep-ingest.js';
import { createHepListener } from './ingest/hep/listener.js';
import { formatListenAddress, type ListenAddress, parseListenAddress } from './ingest/listen-address.js';
import { buildExtractors } from './ingest/syslog/extractors.js';
import { SyslogListener } from './ingest/syslog/listener.js';
import { SyslogIngest } from './ingest/syslog/syslog-ingest.js';
import type { UdpTcpListener } from './ingest/udp-tcp-listener.js';
import { ArrivalClock } from './metrics/arrivals.js';
import { type ListenerName, SelfMetrics, type Transport } from './metrics/self-metrics.js';

/**
 * Listeners log "listening" as each binds. Holding those lines until every listener is bound
 * keeps a start that then fails from claiming a listener it has already closed again.
 */
function holdInfo(target: Logger): { logger: Logger; release: () => void } {
  let held: Array<() => void> | null = [];
  const logger = Object.create(target) as Logger;
  logger.info = ((...args: Parameters<Logger['info']>) => {
    if (held === null) target.info(...args);
    else held.push(() => target.info(...args));
  }) as Logger['info'];
  return {
    logger,
    release: () => {
      const lines = held ?? [];
      held = null;
      for (const line of lines) line();
    },
  };
}

const BIND_FAILURES: Record<string, string> = {
  EADDRINUSE: 'is in use',
  EACCES: 'needs privileges this process lacks (ports below 1024 do)',
  EADDRNOTAVAIL: 'is not an address of this machine',
};

/**
 * A bind failure as the operator can act on it: which listener, which address, and the flag
 * and file key that move or disable it.
 */
function explainListenError(listener: string, key: string, address: ListenAddress, err: unknown): SreError {
  const cause = err instanceof ListenError && err.cause !== undefined ? err.cause : err;
  if (err instanceof SreError && !(err instanceof ListenError)) return err;
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
  const what =
    errno !== undefined && errno in BIND_FAILURES
      ? `${BIND_FAILURES[errno]} (${errno})`
      : `cannot be bound: ${(cause as Error)?.message ?? String(cause)}`;
  const flag = OPTIONS.find((spec) => spec.path.join('.') === key)?.flag ?? key;
  const fix = key === 'web.listen_address' ? 'to another address' : 'to another address or to "" to disable';
  return new ListenError(
    `${listener}: ${formatListenAddress(address)} ${what}; set --${flag} (${key}) ${fix}`,
    { cause },
  );
}

async function bindOrExplain<T>(
  listener: string,
  key: string,
  address: ListenAddress,
  bind: () => Promise<T>,
): Promise<T> {
  try {
    return await bind();
  } catch (err) {
    throw explainListenError(listener, key, address, err);
  }
}

/**
 * The whole exporter: one registry, one counter, the listeners that feed it and the HTTP
 * server that shows it. Tests start it on port 0 and read the bound ports back.
 */
export class Exporter {
  readonly registry = new Registry();
  readonly self: SelfMetrics;
  readonly counter: SipCounter;
  readonly hepIngest: HepIngest;
  readonly syslogIngest: SyslogIngest;
  hep: UdpTcpListener | null = null;
  syslog: SyslogListener | null = null;
  private http: Server | null = null;
  private web: WebConfig | undefined = undefined;
  private started = false;
  /** when packets last arrived, per listener and transport, for the landing page */
  private readonly arrivals = new ArrivalClock();
  /** the configuration in force; reload() replaces the parts that can change while running */
  config: Config;

  constructor(
    config: Config,
    private readonly logger: Logger,
  ) {
    this.config = config;
    collectDefaultMetrics({ register: this.registry });
    // prom-client exports these gauges with a _total suffix, which promtool rightly rejects;
    // nodejs_active_handles{type} and friends carry the same numbers.
    for (const name of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ]) {
      this.registry.removeSingleMetric(name);
    }
    this.self = new SelfMetrics(this.registry);
    const names = new Map(Object.entries(config.nodes.names));
    const nodes = new NodeLabels(config.nodes.limit, names, this.self.nodeOverflow.cell({}));
    const dedupe =
      config.dedupe.window > 0 ? new DedupeWindow(config.dedupe.window, config.dedupe.max_entries) : null;
    this.counter = new SipCounter(this.registry, nodes, dedupe, this.self, {
      maxSeries: config.metrics.max_series,
      logger,
    });
    this.hepIngest = new HepIngest(this.counter, this.self, {
      authKey: config.hep.auth_key === '' ? undefined : config.hep.auth_key,
      maxInflatedSize: config.hep.max_inflated_size,
    });
    this.syslogIngest = new SyslogIngest(this.counter, this.self, buildExtractors(config.syslog.extractors));
    for (const transport of ['udp', 'tcp'] as const)
      this.arrivals.watch('hep', transport, this.hepIngest.stats.packets[transport]);
    for (const transport of ['udp', 'tcp', 'tls'] as const)
      this.arrivals.watch('syslog', transport, this.syslogIngest.stats.packets[transport]);
  }

  private activity(listener: ListenerName, transports: readonly Transport[]) {
    return transports.map((transport) => ({ transport, ...this.arrivals.arrival(listener, transport) }));
  }

  get ready(): boolean {
    return (
      this.started && (this.hep === null || this.hep.ready) && (this.syslog === null || this.syslog.ready)
    );
  }

  get httpPort(): number {
    return (this.http?.address() as AddressInfo | null)?.port ?? 0;
  }

  private listeners(): ListenerInfo[] {
    const list: ListenerInfo[] = [];
    if (this.hep !== null) {
      const address = parseListenAddress(this.config.hep.listen_address, 'hep.listen_address')!;
      list.push({
        name: 'HEP v1/v2/v3',
        transports: 'udp, tcp',
        address: formatListenAddress({ host: address.host, port: this.hep.udpPort }),
        activity: this.activity('hep', ['udp', 'tcp']),
      });
    }
    const syslog = this.syslog;
    if (syslog?.plain) {
      const address = parseListenAddress(this.config.syslog.listen_address, 'syslog.listen_address')!;
      list.push({
        name: 'syslog RFC 3164/5424',
        transports: 'udp, tcp',
        address: formatListenAddress({ host: address.host, port: syslog.plain.udpPort }),
        activity: this.activity('syslog', ['udp', 'tcp']),
      });
    }
    if (syslog !== null && syslog.tlsPort !== 0) {
      const address = parseListenAddress(this.config.syslog.tls.listen_address, 'syslog.tls.listen_address')!;
      list.push({
        name: 'syslog RFC 5425',
        transports: 'tls',
        address: formatListenAddress({ host: address.host, port: syslog.tlsPort }),
        activity: this.activity('syslog', ['tls']),
      });
    }
    return list;
  }

  async start(): Promise<void> {
    for (const warning of configWarnings(this.config)) {
      this.logger.warn({ code: warning.code }, warning.message);
    }
    const { logger, release } = holdInfo(this.logger);
    try {
      // Everything that reads files comes first, so that a bad certificate fails before any bind.
      const webAddress = parseListenAddress(this.config.web.listen_address, 'web.listen_address');
      if (webAddress === null) throw new ListenError('web.listen_address cannot be empty');
      const web = this.config.web.config_file === '' ? undefined : loadWebConfig(this.config.web.config_file);
      this.web = web;
      const hepAddress = parseListenAddress(this.config.hep.listen_address, 'hep.listen_address');
      const syslogConfig = this.config.syslog;
      const syslogAddress = parseListenAddress(syslogConfig.listen_address, 'syslog.listen_address');
      const tlsAddress = parseListenAddress(syslogConfig.tls.listen_address, 'syslog.tls.listen_address');
      if (hepAddress !== null) {
        this.hep = createHepListener(
          this.hepIngest,
          this.self,
          {
            address: hepAddress,
            maxConnections: this.config.hep.max_connections,
            idleTimeoutMs: this.config.hep.idle_timeout,
            frameTimeoutMs: this.config.hep.frame_timeout,
            maxPacketSize: this.config.hep.max_packet_size,
            udpReceiveBufferSize: this.config.hep.udp_receive_buffer,
            udpBatch: this.config.ingest.udp_batch,
          },
          logger,
        );
      }
      if (syslogAddress !== null || tlsAddress !== null) {
        this.syslog = new SyslogListener(
          this.syslogIngest,
          this.self,
          {
            address: syslogAddress,
            tls:
              tlsAddress === null
                ? null
                : {
                    address: tlsAddress,
                    certFile: syslogConfig.tls.cert_file,
                    keyFile: syslogConfig.tls.key_file,
                    clientCaFile: syslogConfig.tls.client_ca_file,
                  },
            maxConnections: syslogConfig.max_connections,
            idleTimeoutMs: syslogConfig.idle_timeout,
            frameTimeoutMs: syslogConfig.frame_timeout,
            maxFrameSize: syslogConfig.max_frame_size,
            udpReceiveBufferSize: syslogConfig.udp_receive_buffer,
            udpBatch: this.config.ingest.udp_batch,
          },
          logger,
        );
      }
      if (this.hep !== null && hepAddress !== null) {
        const hep = this.hep;
        await bindOrExplain('hep', 'hep.listen_address', hepAddress, () => hep.start());
      }
      const syslog = this.syslog;
      if (syslog !== null) {
        try {
          await syslog.start();
        } catch (err) {
          // The plain listener starts first: if it is bound, the TLS one failed.
          if (syslog.plain !== null && !syslog.plain.ready)
            throw explainListenError('syslog', 'syslog.listen_address', syslogAddress!, err);
          throw explainListenError('syslog TLS', 'syslog.tls.listen_address', tlsAddress!, err);
        }
      }
      const app = createHttpApp({
        registry: this.registry,
        telemetryPath: this.config.web.telemetry_path,
        ready: () => this.ready,
        listeners: () => this.listeners(),
        nodes: (max) => this.counter.sources.list(max),
        web: () => this.web,
      });
      this.http = await bindOrExplain('web', 'web.listen_address', webAddress, () =>
        listenHttp(app, webAddress.host, webAddress.port, web),
      );
      release();
      this.logger.info(
        {
          listener: 'web',
          address: formatListenAddress({ host: webAddress.host, port: this.httpPort }),
          telemetry_path: this.config.web.telemetry_path,
          tls: web?.tls != null,
          basic_auth: (web?.users.size ?? 0) > 0,
        },
        'web: listening',
      );
      this.arrivals.start();
      this.started = true;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * Applies a new configuration while running (SIGHUP): the HEP auth key, the syslog extractors,
   * node names (for nodes not yet seen), the log level, and the web config file (basic auth users,
   * headers, a renewed TLS certificate or CA, and client_auth_type, for new connections and for
   * every request; switching TLS on or off needs a restart). Returns the keys whose change needs
   * a restart; they keep their old values. Throws, changing nothing, when the web config file is
   * invalid.
   */
  reload(next: Config): string[] {
    const web = next.web.config_file === '' ? undefined : loadWebConfig(next.web.config_file);
    const restart: string[] = [];
    const live = new Set([
      'web.config_file',
      'hep.auth_key',
      'syslog.extractors',
      'nodes.names',
      'log.level',
    ]);
    const before = this.config as unknown as Record<string, Record<string, unknown>>;
    for (const [section, values] of Object.entries(
      next as unknown as Record<string, Record<string, unknown>>,
    )) {
      for (const [key, value] of Object.entries(values)) {
        const name = `${section}.${key}`;
        if (!live.has(name) && JSON.stringify(value) !== JSON.stringify(before[section][key]))
          restart.push(name);
      }
    }
    let nextWeb = web;
    if (this.http !== null && (web?.tls != null) !== (this.web?.tls != null)) {
      restart.push('web.config_file (TLS on or off)');
      // The server stays HTTP or HTTPS as started, and keeps its client certificate rules with
      // it: rules for the other kind of server would refuse every request or none.
      nextWeb = {
        tls: this.web?.tls ?? null,
        clientAuthType: this.web?.clientAuthType ?? 'NoClientCert',
        headers: web?.headers ?? {},
        users: web?.users ?? new Map(),
      };
    } else if (this.http !== null && web?.tls != null) {
      // May throw (a key that does not fit its certificate) before anything has changed.
      applyTls(this.http as HttpsServer, web.tls);
    }
    this.web = nextWeb;
    this.hepIngest.setAuthKey(next.hep.auth_key);
    this.syslogIngest.setExtractors(buildExtractors(next.syslog.extractors));
    this.counter.nodes.setNames(new Map(Object.entries(next.nodes.names)));
    this.logger.level = next.log.level;
    // What runs now: the live keys from the new file, everything else as it was started.
    const running = structuredClone(this.config);
    running.web.config_file = next.web.config_file;
    running.hep.auth_key = next.hep.auth_key;
    running.syslog.extractors = next.syslog.extractors;
    running.nodes.names = next.nodes.names;
    running.log.level = next.log.level;
    this.config = running;
    return restart;
  }

  /** Stops accepting, lets what was read be counted, then closes the HTTP side last. */
  async stop(): Promise<void> {
    this.started = false;
    this.arrivals.stop();
    if (this.hep !== null) await this.hep.stop();
    if (this.syslog !== null) await this.syslog.stop();
    const http = this.http;
    this.http = null;
    if (http !== null) {
      http.closeIdleConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  }
}
