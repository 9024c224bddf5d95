/**
 * Writes what the repository ships from the code in this folder: the Prometheus rules
 * (deploy/prometheus) and the Grafana dashboards (dashboards/). `npm run generate` after any
 * change here; a test fails while the committed files differ from what this writes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedFiles } from './files.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
for (const [path, content] of generatedFiles()) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
  process.stdout.write(`wrote ${path}\n`);
}
