import { pino } from 'pino';
import type { ConfigSources } from '../../src/config/load.js';
import { loadConfig } from '../../src/config/load.js';
import { Exporter } from '../../src/exporter.js';

/** A silent exporter on loopback with kernel-chosen ports, for tests. */
export async function startExporter(
  flags: Record<string, string> = {},
  sources: ConfigSources = {},
): Promise<Exporter> {
  const config = loadConfig({
    ...sources,
    flags: {
      'web.listen-address': '127.0.0.1:0',
      'hep.listen-address': '127.0.0.1:0',
      'syslog.listen-address': '127.0.0.1:0',
      'log.level': 'silent',
      ...flags,
    },
  });
  const exporter = new Exporter(config, pino({ level: 'silent' }));
  await exporter.start();
  return exporter;
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
