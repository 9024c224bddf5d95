import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's own folder and package.json, found from this module whether it runs from src/ or dist/src/. */
function readPackageJson(): { name: string; version: string; root: string | undefined } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (json.name === 'sip-response-exporter' && typeof json.version === 'string') {
        return { name: json.name, version: json.version, root: dir };
      }
    } catch {
      // not here; look one folder up
    }
    dir = dirname(dir);
  }
  return { name: 'sip-response-exporter', version: '0.0.0', root: undefined };
}

/**
 * The commit this copy was built from: SIP_EXPORTER_REVISION when set (the image sets it from a
 * build argument, as its build has no .git), else `git rev-parse` when the package's own folder
 * is a git checkout (`npm start`). Only the package's own folder is asked, so an install inside
 * some other repository never reports that repository's commit; without git it is empty.
 */
export function readRevision(
  env: Readonly<Record<string, string | undefined>>,
  root: string | undefined,
): string {
  const given = env.SIP_EXPORTER_REVISION?.trim();
  if (given) return given;
  if (root === undefined || !existsSync(join(root, '.git'))) return '';
  try {
    const out = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2_000,
    }).trim();
    return /^[0-9a-f]{4,64}$/.test(out) ? out : '';
  } catch {
    return '';
  }
}

const pkg = readPackageJson();
export const PACKAGE_NAME = pkg.name;
export const VERSION = pkg.version;
export const PACKAGE_ROOT = pkg.root;
/** The git commit, for sip_exporter_build_info; empty when it cannot be known. */
export const REVISION = readRevision(process.env, pkg.root);
