/**
 * The tables in docs/ whose rows the code defines: error codes, parse error and capture drop reasons. Each
 * sits between `<!-- generated:NAME -->` and `<!-- /generated -->` in its page; `npm run
 * generate` rewrites what is between the markers and leaves the prose around them alone, and a
 * test fails while a committed page differs from what this writes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CAPTURE_DROP_INFO, CODES, type Code, PARSE_ERROR_INFO } from '../src/errors.js';

/** A Markdown table; a `|` inside a cell is escaped so it cannot split the cell. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const LEVEL_TEXT = { error: 'error', warn: 'warning', info: 'info', counted: 'counted' } as const;

/** Every code that is logged or printed, in table order. */
function loggedCodesTable(): string {
  const rows = Object.entries(CODES)
    .filter(([, info]) => info.level !== 'counted')
    .map(([code, info]) => [`\`${code}\``, LEVEL_TEXT[info.level], info.meaning, info.action]);
  return markdownTable(['code', 'level', 'meaning', 'what to do'], rows);
}

/** Every parse error, as a code (docs/errors.md) or as a `reason` label (docs/metrics.md). */
function parseErrorsTable(by: 'code' | 'reason'): string {
  const rows = PARSE_ERROR_INFO.slice(1).map((info) => [
    by === 'code' ? `\`${info.code}\`` : `\`${info.label}\``,
    by === 'code' ? `\`${info.label}\`` : `\`${info.code}\``,
    info.description,
    info.action,
  ]);
  return markdownTable(
    by === 'code' ? ['code', 'reason', 'meaning', 'what to do'] : ['reason', 'code', 'meaning', 'what to do'],
    rows,
  );
}

/** Every drop reason of the capture readers (docs/replay.md, docs/errors.md). */
function captureDropsTable(): string {
  const rows = CAPTURE_DROP_INFO.slice(1).map((info) => [
    `\`${info.label}\``,
    `\`${info.code}\``,
    info.description,
    info.action,
  ]);
  return markdownTable(['reason', 'code', 'meaning', 'what to do'], rows);
}

/** The codes start and `--config.check` print: errors that stop the start, and warnings about the configuration. */
const START_CODES: readonly Code[] = [
  'SRE_ERR_CONFIG',
  'SRE_ERR_LISTEN',
  'SRE_ERR_START',
  'SRE_WARN_NO_LISTENERS',
  'SRE_WARN_UNKNOWN_ENV',
  'SRE_WARN_TLS_UNUSED',
  'SRE_WARN_PEER_HIDDEN',
  'SRE_WARN_HEP_FORWARD_UNUSED',
  'SRE_WARN_DEMO',
  'SRE_ERR_DEMO_FILE',
];

function startCodesTable(): string {
  return markdownTable(
    ['code', 'when'],
    START_CODES.map((code) => {
      const info = CODES[code];
      return [`\`${code}\``, `${info.level === 'warn' ? 'warning: ' : ''}${info.meaning}`];
    }),
  );
}

/** The generated sections of each page, by path from the repository root. */
export function docSections(): Map<string, Record<string, string>> {
  return new Map<string, Record<string, string>>([
    [
      'docs/errors.md',
      {
        'logged-codes': loggedCodesTable(),
        'parse-error-codes': parseErrorsTable('code'),
        'capture-drops': captureDropsTable(),
      },
    ],
    ['docs/metrics.md', { 'parse-error-reasons': parseErrorsTable('reason') }],
    ['docs/configuration.md', { 'start-codes': startCodesTable() }],
    ['docs/replay.md', { 'capture-drops': captureDropsTable() }],
  ]);
}

const SECTION = /(<!-- generated:([a-z-]+) -->\n)[\s\S]*?(<!-- \/generated -->)/g;

/** The page with every marked section replaced; throws when a section is missing or unknown. */
export function withSections(path: string, text: string, sections: Record<string, string>): string {
  const seen = new Set<string>();
  const out = text.replace(SECTION, (_, open: string, name: string, close: string) => {
    const content = sections[name];
    if (content === undefined) throw new Error(`${path}: no generator for section "${name}"`);
    seen.add(name);
    return `${open}${content}\n${close}`;
  });
  for (const name of Object.keys(sections)) {
    if (!seen.has(name)) {
      throw new Error(`${path}: add <!-- generated:${name} --> and <!-- /generated --> where the table goes`);
    }
  }
  return out;
}

/** Every page with generated sections, as `npm run generate` writes it, by path from the repository root. */
export function generatedDocs(root: string): Map<string, string> {
  const pages = new Map<string, string>();
  for (const [path, sections] of docSections()) {
    pages.set(path, withSections(path, readFileSync(join(root, path), 'utf8'), sections));
  }
  return pages;
}
