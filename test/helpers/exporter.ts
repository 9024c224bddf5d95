import type { Socket } from 'node:net';
import { type Logger, pino } from 'pino';
import request from 'supertest';
import { afterEach } from 'vitest';
import type { ConfigSources } from '../../src/config/load.js';
import { loadConfig } from '../../src/config/load.js';
import { Exporter } from '../../src/exporter.js';

/**
 * An exporter on loopback with kernel-chosen ports and one ingest thread, for tests; silent unless
 * given a logger.
 */
export async function startExporter(
  flags: Record<string, string> = {},
  sources: ConfigSources = {},
  logger: Logger = pino({ level: 'silent' }),
): Promise<Exporter> {
  const config = loadConfig({
    ...sources,
    flags: {
      'web.listen-address': '127.0.0.1:0',
      'hep.listen-address': '127.0.0.1:0',
      'syslog.listen-address': '127.0.0.1:0',
      'log.level': 'silent',
      // One ingest thread unless a test asks for workers, or the whole suite runs again with them
      // (TEST_INGEST_WORKERS=2): many tests read the main thread's counter directly.
      'ingest.workers': process.env.TEST_INGEST_WORKERS ?? '1',
      ...flags,
    },
  });
  const exporter = new Exporter(config, logger);
  await exporter.start();
  return exporter;
}

/** The exposition an exporter serves on /metrics. */
export async function scrape(exporter: Exporter): Promise<string> {
  return (await request(`http://127.0.0.1:${exporter.httpPort}`).get('/metrics').expect(200)).text;
}

export interface ExporterPerTest {
  /** Starts the test's exporter (see startExporter); it is stopped after the test. */
  start(flags?: Record<string, string>, sources?: ConfigSources, logger?: Logger): Promise<Exporter>;
  /** Stops the test's exporter now, for tests of what stopping does. */
  stop(): Promise<void>;
  /** The test's exposition. */
  metrics(): Promise<string>;
  /** Client sockets to destroy after the test, before the exporter stops. */
  readonly sockets: Socket[];
}

/**
 * One exporter per test of the calling file, with the client sockets the test opens, torn down
 * after each test. Call it before the file's own afterEach hooks: hooks run in reverse order, so
 * the file's run first, while the exporter is still up.
 */
export function exporterPerTest(): ExporterPerTest {
  let exporter: Exporter | null = null;
  const sockets: Socket[] = [];
  const stop = async (): Promise<void> => {
    const running = exporter;
    exporter = null;
    await running?.stop();
  };
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await stop();
  });
  return {
    start: async (flags, sources, logger) => {
      exporter = await startExporter(flags, sources, logger);
      return exporter;
    },
    stop,
    metrics: () => {
      if (exporter === null) throw new Error('no exporter is running');
      return scrape(exporter);
    },
    sockets,
  };
}

/** The value of one sample in an exposition, or undefined when the series is absent. */
export function sampleValue(exposition: string, series: string): number | undefined {
  for (const line of exposition.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** All samples of a metric, as {labels-text: value}. */
export function samples(exposition: string, metric: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of exposition.split('\n')) {
    if (line.startsWith(`${metric}{`) || line.startsWith(`${metric} `)) {
      const space = line.lastIndexOf(' ');
      out[line.slice(metric.length, space)] = Number(line.slice(space + 1));
    }
  }
  return out;
}
