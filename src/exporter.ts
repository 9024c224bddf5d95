import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { configWarnings, peersWarning } from './config/check.js';
import type { Config } from './config/schema.js';
import { DedupeWindow } from './count/dedupe.js';
import { NodeLabels } from './count/nodes.js';
import { SipCounter } from './count/sip-counter.js';
import { type DemoOptions, DemoSource } from './demo/source.js';
import { CODE } from './errors.js';
import { applyTls, createHttpApp, type ListenerInfo, listenHttp } from './http/server.js';
import { loadWebConfig, type WebConfig } from './http/web-config.js';
import { formatListenAddress } from './ingest/listen-address.js';
import { bindOrExplain } from './ingest/listen-errors.js';
import type { Source } from './ingest/source.js';
import { SOURCES, type SourceKey, type SourceOf } from './ingest/sources.js';
import { IngestWorkers } from './ingest/workers/pool.js';
import { IngestRegistry } from './ingest/workers/registry.js';
import { ingestWorkerCount, workerInit, workerLiveConfig } from './ingest/workers/setup.js';
import { createSharedState, seriesAdmission } from './ingest/workers/shared-state.js';
import { CallIdExemplars } from './kpi/call-ids.js';
import { KpiEngine } from './kpi/engine.js';
import { KpiMetrics } from './kpi/metrics.js';
import { KpiObserver } from './kpi/observer.js';
import { PeerKpiMetrics } from './kpi/peer-metrics.js';
import { ArrivalClock } from './metrics/arrivals.js';
import { SelfMetrics } from './metrics/self-metrics.js';
import { PeerCounter } from './peers/peer-counter.js';

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

/** What the functions of LIVE_KEYS apply a reloaded configuration to. */
interface Running {
  /** by their SOURCES key */
  readonly sources: ReadonlyMap<string, Source>;
  readonly counter: SipCounter;
  readonly logger: Logger;
  /** the web config in force; the HTTP server reads it on every request */
  web: WebConfig | undefined;
  readonly http: Server | null;
}

/** One key that takes effect on SIGHUP without a restart, and how. */
export interface LiveKey {
  /** `section.key` as in the config file */
  readonly key: string;
  /**
   * Applies the key's value from `next`. May throw only if it is first in LIVE_KEYS, before
   * anything has changed; may push to `restart` what it could not apply.
   */
  apply(running: Running, next: Config, restart: string[]): void;
}

/** The one web config file key: read first, since it is the one that can still fail. */
const WEB_CONFIG_KEY: LiveKey = {
  key: 'web.config_file',
  apply(running, next, restart) {
    const path = next.web.config_file;
    const web = path === undefined ? undefined : loadWebConfig(path);
    const before = running.web;
    if (running.http !== null && (web?.tls != null) !== (before?.tls != null)) {
      restart.push('web.config_file (TLS on or off)');
      // The server stays HTTP or HTTPS as started, and keeps its client certificate rules with
      // it: rules for the other kind of server would refuse every request or none.
      running.web = {
        tls: before?.tls ?? null,
        clientAuthType: before?.clientAuthType ?? 'NoClientCert',
        headers: web?.headers ?? {},
        users: web?.users ?? new Map(),
      };
      return;
    }
    // May throw (a key that does not fit its certificate) before anything has changed.
    if (running.http !== null && web?.tls != null) applyTls(running.http as HttpsServer, web.tls);
    running.web = web;
  },
};

/**
 * Every key that applies while running (SIGHUP), with the function that applies it; every other
 * key needs a restart. docs/configuration.md lists these keys, and a test holds it to this table.
 */
export const LIVE_KEYS: readonly LiveKey[] = [
  WEB_CONFIG_KEY,
  {
    key: 'nodes.names',
    apply: (running, next) => running.counter.nodes.setNames(new Map(Object.entries(next.nodes.names))),
  },
  {
    key: 'log.level',
    apply: (running, next) => {
      running.logger.level = next.log.level;
    },
  },
  {
    // Counts are kept by peer name, so a reordered or extended list keeps its series.
    key: 'peers',
    apply: (running, next) => {
      running.counter.peers?.configure(next.peers, next.nodes.self_addresses);
      const hidden = peersWarning(next);
      if (hidden !== null) running.logger.warn({ code: hidden.code }, hidden.message);
    },
  },
  {
    // Applied with `peers`, which reads it too; listed so that changing it needs no restart.
    key: 'nodes.self_addresses',
    apply: () => {},
  },
  // A source's live keys apply through its own reload(), each source once whatever it lists.
  ...SOURCES.flatMap((entry) =>
    entry.liveKeys.map((key, i) => ({
      key,
      apply: (running: Running, next: Config) => {
        if (i === 0) running.sources.get(entry.key)?.reload?.(next);
      },
    })),
  ),
];

/** `config` with the value at `key` (`section.key`) taken from `from`; the sections are copied. */
function withKey(config: Config, from: Config, key: string): Config {
  const [section, name] = key.split('.');
  if (name === undefined)
    return { ...config, [section]: (from as unknown as Record<string, unknown>)[section] };
  const target = config as unknown as Record<string, Record<string, unknown>>;
  const source = from as unknown as Record<string, Record<string, unknown>>;
  return { ...target, [section]: { ...target[section], [name]: source[section][name] } } as unknown as Config;
}

/** What the exporter runs besides its configuration. */
export interface ExporterOptions {
  /** `--demo`: play the bundled lab capture as live traffic under node `demo` (docs/demo.md) */
  demo?: DemoOptions;
}

/**
 * The whole exporter: one registry, one counter, the sources that feed it and the HTTP server
 * that shows it. It names no source: it runs the list SOURCES builds. Tests start it on port 0
 * and read the bound ports back.
 */
export class Exporter {
  readonly registry = new IngestRegistry();
  readonly self: SelfMetrics;
  readonly counter: SipCounter;
  /** the call KPIs; null with --kpi.enabled=false */
  readonly kpi: KpiObserver | null;
  /** in SOURCES order, which is start order */
  readonly sources: readonly Source[];
  /** the threads reading HEP over UDP (--ingest.workers); null when the main thread reads it */
  readonly workers: IngestWorkers | null;
  private readonly sourcesByKey = new Map<string, Source>();
  private http: Server | null = null;
  private web: WebConfig | undefined = undefined;
  private started = false;
  /** when packets last arrived, per listener and transport, for the landing page */
  private readonly arrivals = new ArrivalClock();
  /** the configuration in force; reload() replaces the parts that can change while running */
  config: Config;

  /** the demo traffic's source, with --demo */
  readonly demo: DemoSource | null;

  constructor(
    config: Config,
    private readonly logger: Logger,
    options: ExporterOptions = {},
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
    const self = new SelfMetrics(this.registry);
    this.self = self;
    // With ingest workers, the tables that make counts exact whichever thread reads a packet
    // are shared memory: this thread's counter uses them too, for HEP over TCP.
    const workerCount = ingestWorkerCount(config);
    const shared = workerCount > 1 ? createSharedState(config, workerCount) : null;
    const admitSeries = shared === null ? undefined : seriesAdmission(shared);
    const names = new Map(Object.entries(config.nodes.names));
    const nodes = new NodeLabels(
      config.nodes.limit,
      names,
      self.nodeOverflow.cell({}),
      self.nodes.cell({}),
      shared?.nodes,
    );
    // The series exist with dedupe off too, reading 0, so dashboards need no special case.
    const dedupeCells = { evictions: self.dedupeEvictions.cell({}), entries: self.dedupeEntries.cell({}) };
    const dedupe =
      config.dedupe.window > 0
        ? DedupeWindow.create(
            config.dedupe.window,
            config.dedupe.max_entries,
            performance.now(),
            dedupeCells,
            shared?.dedupe ?? undefined,
          )
        : null;
    const kpi = config.kpi.enabled ? buildKpi(this.registry, nodes, config, self) : null;
    this.kpi = kpi?.observer ?? null;
    this.workers =
      shared === null
        ? null
        : new IngestWorkers(workerCount, shared, workerInit(config), {
            nodes,
            engine: this.kpi?.engine ?? null,
            logger,
          });
    // With workers the engine takes this thread's messages through a ring too, in arrival order
    // with theirs (ingest/workers/pool.ts).
    const kpiFeed = this.workers?.mainKpiFeed();
    const feedObserver = kpiFeed ? new KpiObserver(kpiFeed as unknown as KpiEngine) : null;
    this.counter = new SipCounter(this.registry, nodes, dedupe, self, {
      maxSeries: config.metrics.max_series,
      logger,
      kpi: feedObserver ?? this.kpi ?? undefined,
      admitSeries,
    });
    this.workers?.setCounter(this.counter);
    const peers = new PeerCounter(this.registry, nodes, self, {
      maxSeries: config.metrics.max_series,
      dedupeWindowMs: config.dedupe.window,
      dedupeEntries: config.dedupe.max_entries,
      dedupeEvictions: dedupeCells.evictions,
      sharedDedupe: shared?.peerDedupe ?? undefined,
      admitSeries,
    });
    peers.configure(config.peers, config.nodes.self_addresses);
    this.counter.peers = peers;
    if (kpi !== null) {
      // The peer counter resolves each message's ends, which the KPIs read, and names the ids.
      kpi.observer.ends = peers;
      if (feedObserver !== null) feedObserver.ends = peers;
      kpi.peers.names = peers;
    }
    if (this.workers !== null) {
      const workers = this.workers;
      this.registry.attachWorkers({
        snapshots: () => workers.snapshots(),
        beforeScrape: () => {
          nodes.refreshCount();
          dedupe?.refreshEntries();
        },
      });
    }
    const deps = {
      counter: this.counter,
      self,
      arrivals: this.arrivals,
      udpBatch: config.ingest.udp_batch,
      workers: this.workers,
    };
    const sources: Source[] = SOURCES.map((entry) => {
      const source = entry.build(config, deps);
      this.sourcesByKey.set(entry.key, source);
      return source;
    });
    this.demo = options.demo === undefined ? null : new DemoSource(options.demo, deps);
    if (this.demo !== null) sources.push(this.demo);
    this.sources = sources;
  }

  /** The source built by the SOURCES entry `key`. */
  source<K extends SourceKey>(key: K): SourceOf<K> {
    return this.sourcesByKey.get(key) as SourceOf<K>;
  }

  get ready(): boolean {
    return this.started && this.sources.every((source) => source.ready);
  }

  get httpPort(): number {
    return (this.http?.address() as AddressInfo | null)?.port ?? 0;
  }

  private listeners(): ListenerInfo[] {
    return this.sources.flatMap((source) => source.endpoints());
  }

  async start(): Promise<void> {
    for (const warning of configWarnings(this.config)) {
      // The demo needs no listener: it feeds itself.
      if (this.demo !== null && warning.code === CODE.SRE_WARN_NO_LISTENERS) continue;
      this.logger.warn({ code: warning.code }, warning.message);
    }
    const { logger, release } = holdInfo(this.logger);
    try {
      // Everything that reads files comes first, so that a bad certificate fails before any bind.
      const webAddress = this.config.web.listen_address;
      const webFile = this.config.web.config_file;
      const web = webFile === undefined ? undefined : loadWebConfig(webFile);
      this.web = web;
      for (const source of this.sources) await source.start(logger);
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
      // With workers, the engine's expiry runs with its messages (ingest/workers/pool.ts).
      if (this.workers === null) this.kpi?.start();
      else this.workers.startEngineFeed();
      this.started = true;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * Applies a new configuration while running (SIGHUP): the keys in LIVE_KEYS, each by its own
   * function. The web config file brings basic auth users, headers, a renewed TLS certificate or
   * CA, and client_auth_type, for new connections and for every request; switching TLS on or off
   * needs a restart. Returns the keys whose change needs a restart; they keep their old values.
   * Throws, changing nothing, when the web config file is invalid.
   */
  reload(next: Config): string[] {
    const restart: string[] = [];
    const live = new Set(LIVE_KEYS.map((entry) => entry.key));
    const before = this.config as unknown as Record<string, Record<string, unknown>>;
    for (const [section, values] of Object.entries(
      next as unknown as Record<string, Record<string, unknown>>,
    )) {
      // A top-level live key (peers) is a value, not a section of keys.
      if (live.has(section)) continue;
      for (const [key, value] of Object.entries(values)) {
        const name = `${section}.${key}`;
        if (!live.has(name) && JSON.stringify(value) !== JSON.stringify(before[section][key]))
          restart.push(name);
      }
    }
    const running: Running = {
      sources: this.sourcesByKey,
      counter: this.counter,
      logger: this.logger,
      web: this.web,
      http: this.http,
    };
    for (const entry of LIVE_KEYS) entry.apply(running, next, restart);
    this.web = running.web;
    // What runs now: the live keys from the new file, everything else as it was started.
    let config = this.config;
    for (const entry of LIVE_KEYS) config = withKey(config, next, entry.key);
    this.config = config;
    // The ingest workers apply the same keys each in its own thread.
    this.workers?.reload(workerLiveConfig(config));
    return restart;
  }

  /** Stops accepting, lets what was read be counted, then closes the HTTP side last. */
  async stop(): Promise<void> {
    this.started = false;
    this.arrivals.stop();
    this.kpi?.stop();
    for (const source of this.sources) await source.stop();
    // Its listener stopped the workers; this ends the engine feed when no listener started them.
    await this.workers?.stop();
    const http = this.http;
    this.http = null;
    if (http !== null) {
      http.closeIdleConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  }
}

/** The call-state engine, its metrics and the adapter the counter feeds (docs/kpis.md). */
function buildKpi(
  registry: Registry,
  nodes: NodeLabels,
  config: Config,
  self: SelfMetrics,
): { observer: KpiObserver; peers: PeerKpiMetrics } {
  const callIds = new CallIdExemplars(config.kpi.invite_timeout);
  const metrics = new KpiMetrics(registry, nodes, callIds);
  const peers = new PeerKpiMetrics(registry, nodes, self, { maxSeries: config.metrics.max_series });
  const engine = new KpiEngine(
    metrics,
    {
      maxAttempts: config.kpi.max_entries,
      maxDialogs: config.kpi.max_dialogs,
      // Legs: about two per attempt at a proxy traced in and out (docs/kpis.md, per peer).
      maxLegs: Math.min(2 * config.kpi.max_entries, 2 ** 30),
      inviteTimeoutMs: config.kpi.invite_timeout,
      nonInviteTimeoutMs: config.kpi.non_invite_timeout,
      maxSessionMs: config.kpi.max_session_duration,
    },
    peers,
  );
  metrics.watchEngine(registry, engine.stats);
  return { observer: new KpiObserver(engine, callIds), peers };
}
