import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Exporter } from '../../src/exporter.js';
import { SOURCES } from '../../src/ingest/sources.js';
import { startExporter } from '../helpers/exporter.js';

let exporter: Exporter | undefined;
afterEach(async () => {
  await exporter?.stop();
  exporter = undefined;
});

describe('the source list', () => {
  it('builds one source per entry, named by its key, in list order', () => {
    const e = new Exporter(loadConfig({ flags: { 'log.level': 'silent' } }), pino({ level: 'silent' }));
    expect(e.sources.map((source) => source.name)).toEqual(SOURCES.map((entry) => entry.key));
    for (const entry of SOURCES) expect(e.source(entry.key).name).toBe(entry.key);
  });

  it('lists as live only keys the configuration has, and a source that applies them', () => {
    const config = loadConfig({}) as unknown as Record<string, Record<string, unknown>>;
    const e = new Exporter(loadConfig({ flags: { 'log.level': 'silent' } }), pino({ level: 'silent' }));
    for (const entry of SOURCES) {
      for (const key of entry.liveKeys) {
        const [section, name] = key.split('.');
        expect(Object.keys(config[section] ?? {}), key).toContain(name);
      }
      if (entry.liveKeys.length > 0) expect(typeof e.source(entry.key).reload).toBe('function');
    }
  });

  it('starts, shows and stops every source from the list alone', async () => {
    exporter = await startExporter({ 'syslog.listen-address': '127.0.0.1:0' });
    expect(exporter.ready).toBe(true);
    const endpoints = exporter.sources.flatMap((source) => source.endpoints());
    expect(endpoints.map((endpoint) => endpoint.name)).toEqual(['HEP v1/v2/v3', 'syslog RFC 3164/5424']);
    for (const endpoint of endpoints) expect(endpoint.address).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    await exporter.stop();
    expect(exporter.ready).toBe(false);
    expect(exporter.source('hep').listener?.ready).toBe(false);
    exporter = undefined;
  });

  it('gives a source that is off no endpoints and counts it ready', async () => {
    exporter = await startExporter({ 'hep.listen-address': '', 'syslog.listen-address': '' });
    expect(exporter.sources.flatMap((source) => source.endpoints())).toEqual([]);
    expect(exporter.sources.every((source) => source.ready)).toBe(true);
    const config: Config = exporter.config;
    expect([config.hep.listen_address, config.syslog.listen_address]).toEqual([null, null]);
  });
});
