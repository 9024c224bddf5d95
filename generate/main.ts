/**
 * Writes what the repository ships from the code in this folder: the Prometheus rules
 * (deploy/prometheus), the Grafana dashboards (dashboards/) and the tables in docs/ that the
 * code defines (docs.ts). `npm run generate` after any change here or to those tables; a test
 * fails while the committed files differ from what this writes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedDocs } from './docs.js';
import { generatedFiles } from './files.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
for (const [path, content] of [...generatedFiles(), ...generatedDocs(root)]) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
  process.stdout.write(`wrote ${path}\n`);
}
