import { HepSource } from './hep/source.js';
import type { SourceEntry } from './source.js';
import { SyslogSource } from './syslog/source.js';

/**
 * Every source the exporter can run, in start order (which is also the order of their series
 * and landing-page rows). A new source adds its folder and one entry here.
 */
export const SOURCES = [
  { key: 'hep', liveKeys: ['hep.auth_key'], build: (config, deps) => new HepSource(config.hep, deps) },
  {
    key: 'syslog',
    liveKeys: ['syslog.extractors'],
    build: (config, deps) => new SyslogSource(config.syslog, deps),
  },
] as const satisfies readonly SourceEntry[];

export type SourceKey = (typeof SOURCES)[number]['key'];
/** The source an entry builds, by key, so that a caller asking for 'hep' gets a HepSource. */
export type SourceOf<K extends SourceKey> = ReturnType<
  Extract<(typeof SOURCES)[number], { key: K }>['build']
>;
