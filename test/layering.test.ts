import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/** The lower layers, and the upper ones they must not reach into. */
const LOWER = ['src/sip', 'src/count', 'src/metrics'];
const UPPER = ['src/ingest', 'src/http'];

function filesUnder(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

/** Every module a file imports or re-exports, statically or dynamically, as written. */
function importedSpecifiers(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\sfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) found.push(match[1]);
  return found;
}

/** The repository path a relative import resolves to, or null for a package. */
function resolved(file: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  return relative(root, resolve(root, dirname(file), specifier));
}

describe('layering', () => {
  it('finds the imports of every form', () => {
    const text = [
      "import { a } from '../ingest/x.js';",
      "import type {\n  B,\n} from '../http/y.js';",
      "export { c } from './z.js';",
      "import './side-effect.js';",
      "const d = await import('../ingest/w.js');",
    ].join('\n');
    expect(importedSpecifiers(text)).toEqual([
      '../ingest/x.js',
      '../http/y.js',
      './z.js',
      './side-effect.js',
      '../ingest/w.js',
    ]);
  });

  it('keeps src/sip, src/count and src/metrics from importing src/ingest or src/http', () => {
    const files = LOWER.flatMap(filesUnder);
    expect(files.length).toBeGreaterThan(10);
    const crossings: string[] = [];
    for (const file of files) {
      for (const specifier of importedSpecifiers(readFileSync(join(root, file), 'utf8'))) {
        const target = resolved(file, specifier);
        if (target !== null && UPPER.some((upper) => target === upper || target.startsWith(`${upper}/`)))
          crossings.push(`${file} imports ${specifier}`);
      }
    }
    expect(crossings).toEqual([]);
  });
});
