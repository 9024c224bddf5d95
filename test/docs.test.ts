import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { envName, OPTIONS } from '../src/config/options.js';
import { PARSE_ERROR_INFO } from '../src/errors.js';
import { Exporter, LIVE_KEYS } from '../src/exporter.js';

const root = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** The docs are written by hand; these checks keep them from drifting from the code. */
describe('documentation matches the code', () => {
  it('documents every option with its flag, environment name and file key', () => {
    const doc = read('docs/configuration.md');
    for (const spec of OPTIONS) {
      expect(doc).toContain(`\`--${spec.flag}\``);
      expect(doc).toContain(`\`${envName(spec)}\``);
      expect(doc).toContain(`\`${spec.path.join('.')}\``);
      if (spec.defaultText !== '') expect(doc).toContain(`\`${spec.defaultText}\``);
    }
  });

  it('documents every metric the exporter serves and every parse error reason', async () => {
    const doc = read('docs/metrics.md');
    const exporter = new Exporter(
      loadConfig({ flags: { 'log.level': 'silent' } }),
      pino({ level: 'silent' }),
    );
    const names = (await exporter.registry.getMetricsAsJSON())
      .map((m) => m.name)
      .filter((n) => n.startsWith('sip_'));
    expect(names.length).toBeGreaterThan(15);
    for (const name of names) expect(doc).toContain(`\`${name}\``);
    for (const info of PARSE_ERROR_INFO.slice(1)) expect(doc).toContain(`\`${info.label}\``);
  });

  it('ships an example config file that loads and shows the real defaults', () => {
    const example = loadConfig({ file: join(root, 'deploy/sip-response-exporter.yml') });
    expect(example).toEqual(loadConfig({}));
  });

  it('lists exactly the keys that apply on SIGHUP, as LIVE_KEYS has them', () => {
    const doc = read('docs/configuration.md');
    const section = doc.slice(
      doc.indexOf('## Reloading'),
      doc.indexOf('\n## ', doc.indexOf('## Reloading') + 1),
    );
    const listed = [...section.matchAll(/^- `([a-z_.]+)`/gm)].map((match) => match[1]);
    expect(listed).toEqual(LIVE_KEYS.map((entry) => entry.key));
  });
});
