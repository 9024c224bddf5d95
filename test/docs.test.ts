import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { generatedDocs, markdownTable, withSections } from '../generate/docs.js';
import { loadConfig } from '../src/config/load.js';
import { envName, OPTIONS } from '../src/config/options.js';
import { PARSE_ERROR_INFO } from '../src/errors.js';
import { Exporter, LIVE_KEYS } from '../src/exporter.js';
import { BasicAuth } from '../src/http/basic-auth.js';
import { DEFAULT_EXTRACTORS, EXTRACTOR_GROUPS } from '../src/ingest/syslog/extractors.js';

const root = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** The cells of each Markdown table row in text whose first cell matches `first`. */
function tableRows(text: string, first: RegExp): string[][] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    )
    .filter((cells) => first.test(cells[0]));
}

/** The part of a page from one heading to the next of the same level. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n${heading}\n`);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const level = heading.slice(0, heading.indexOf(' ') + 1);
  const end = text.indexOf(`\n${level}`, start + heading.length + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** The prose is written by hand; these checks keep each table's rows equal to what the code defines. */
describe('documentation matches the code', () => {
  it('commits the generated tables (error codes, parse error reasons) as `npm run generate` writes them', () => {
    for (const [path, content] of generatedDocs(root)) {
      expect(read(path), `${path} differs from the generator; run npm run generate`).toBe(content);
    }
  });

  it('rewrites only what is between the markers, and refuses a page without them', () => {
    const page = 'intro\n<!-- generated:t -->\nstale\n<!-- /generated -->\nafter\n';
    const table = markdownTable(['a', 'b'], [['x|y', 'z']]);
    expect(withSections('p.md', page, { t: table })).toBe(
      'intro\n<!-- generated:t -->\n| a | b |\n| --- | --- |\n| x\\|y | z |\n<!-- /generated -->\nafter\n',
    );
    expect(() => withSections('p.md', 'intro\n', { t: table })).toThrow(/generated:t/);
    expect(() => withSections('p.md', page, {})).toThrow(/no generator for section "t"/);
  });

  it('lists every option in the flags table, in order, with its environment name, file key and default', () => {
    const rows = tableRows(read('docs/configuration.md'), /^`--/).map((r) => r.slice(0, 4));
    const code = (s: string) => (s === '' ? '' : `\`${s}\``);
    expect(rows).toEqual([
      ...OPTIONS.map((spec) => [
        `\`--${spec.flag}\``,
        code(envName(spec)),
        code(spec.path.join('.')),
        spec.defaultText === '' ? 'empty' : code(spec.defaultText),
      ]),
      ['`--config.file`', '', '', ''],
      ['`--config.check`', '', '', ''],
      ['`--demo`', '', '', ''],
      ['`--demo.speed`', '', '', '`1`'],
    ]);
  });

  it('shows in --help and the docs the defaults the schema really has', () => {
    const defaults = loadConfig({});
    for (const spec of OPTIONS) {
      // The shown default, given as a flag, must change nothing: then it is the default.
      expect(
        loadConfig({ flags: { [spec.flag]: spec.defaultText } }),
        `--${spec.flag} ${spec.defaultText}`,
      ).toEqual(defaults);
    }
  });

  it('has one row per metric, with its type and labels, in the metric tables', async () => {
    const exporter = new Exporter(
      loadConfig({ flags: { 'log.level': 'silent' } }),
      pino({ level: 'silent' }),
    );
    // The HTTP side registers its metric when it starts; register it the same way here.
    const auth = new BasicAuth(exporter.registry);
    const served: string[][] = [];
    // prom-client's metric objects have get() and labelNames; its MetricObject type shows neither.
    type Described = { get(): Promise<{ name: string; type: string }>; labelNames: readonly string[] };
    for (const metric of exporter.registry.getMetricsAsArray() as unknown as Described[]) {
      const { name, type } = await metric.get();
      if (!name.startsWith('sip_')) continue;
      const labels = metric.labelNames;
      served.push([`\`${name}\``, String(type), labels.map((l) => `\`${l}\``).join(', ')]);
    }
    await auth.pool.close();
    expect(served.length).toBeGreaterThan(25);
    const doc = read('docs/metrics.md');
    const documented = [
      ...tableRows(section(doc, '## SIP traffic'), /^`sip_/),
      ...tableRows(section(doc, '## Exporter self-metrics'), /^`sip_/),
    ].map((r) => r.slice(0, 3));
    const byName = (a: string[], b: string[]) => a[0].localeCompare(b[0]);
    expect(documented.sort(byName)).toEqual(served.sort(byName));
  });

  it('names every parse error reason and its code in the reasons table', () => {
    const rows = tableRows(section(read('docs/metrics.md'), '## Parse error reasons'), /^`[a-z0-9_]+`$/);
    expect(rows.map((r) => r.slice(0, 2))).toEqual(
      PARSE_ERROR_INFO.slice(1).map((info) => [`\`${info.label}\``, `\`${info.code}\``]),
    );
  });

  it('shows the default extractors in order and names every group a custom extractor may have', () => {
    const text = section(read('docs/configuration.md'), '## Syslog extractors');
    const example = /```yaml\n([\s\S]*?)```/.exec(text)?.[1] ?? '';
    const builtIns = [...example.matchAll(/^ {4}- ([a-z0-9-]+)$/gm)].map((m) => m[1]);
    expect(builtIns).toEqual(DEFAULT_EXTRACTORS);
    const prose = text.slice(0, text.indexOf('```')).replace(/\s+/g, ' ');
    expect(prose).toContain(
      `named groups: \`${EXTRACTOR_GROUPS[0]}\` (required), and any of ${EXTRACTOR_GROUPS.slice(1, -1)
        .map((g) => `\`${g}\``)
        .join(', ')} and \`${EXTRACTOR_GROUPS.at(-1)}\``,
    );
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
