import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's own package.json, found from this module whether it runs from src/ or dist/src/. */
function readPackageJson(): { name: string; version: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (json.name === 'sip-response-exporter' && typeof json.version === 'string') {
        return { name: json.name, version: json.version };
      }
    } catch {
      // not here; look one folder up
    }
    dir = dirname(dir);
  }
  return { name: 'sip-response-exporter', version: '0.0.0' };
}

const pkg = readPackageJson();
export const PACKAGE_NAME = pkg.name;
export const VERSION = pkg.version;
/** Set at image build time (see the Dockerfile); empty when run from a checkout. */
export const REVISION = process.env.SIP_EXPORTER_REVISION ?? '';
