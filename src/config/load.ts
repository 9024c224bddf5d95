import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLError } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { envName, OPTIONS } from './options.js';
import { type Config, configSchema } from './schema.js';

export interface ConfigSources {
  /** path of the YAML config file, if any */
  file?: string;
  /** values from flags, by flag name (`hep.listen-address`) */
  flags?: Readonly<Record<string, string | undefined>>;
  env?: Readonly<Record<string, string | undefined>>;
}

/** Edit distance counting a swap of two neighbours as one edit, as typos usually are. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

let defaults: Record<string, unknown> | undefined;

/** The keys allowed at `path`: every one has a default, so the parsed defaults list them all. */
function knownKeys(path: readonly PropertyKey[]): string[] {
  // A custom extractor is the one object inside a list.
  if (path.length === 3 && path[0] === 'syslog' && path[1] === 'extractors') return ['name', 'regex'];
  defaults ??= configSchema.parse({}) as unknown as Record<string, unknown>;
  let node: unknown = defaults;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return [];
    node = (node as Record<string, unknown>)[String(key)];
  }
  return node !== null && typeof node === 'object' && !Array.isArray(node) ? Object.keys(node) : [];
}

/**
 * A hint for a misspelt key, as commander gives for a misspelt flag. Flags are written with
 * dashes and file keys with underscores, so `listen-address` in YAML gets its own hint.
 */
export function suggestKey(key: string, known: readonly string[]): string {
  const underscored = key.replace(/-/g, '_');
  if (underscored !== key && known.includes(underscored)) {
    return `; did you mean ${underscored}? (file keys use underscores where flags use dashes)`;
  }
  const best = closestKey(underscored, known);
  return best === undefined ? '' : `; did you mean ${best}?`;
}

/** The known key within a third of its length in edits (at least one), ignoring case. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(key.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Where each key's value came from, when not from the file: `--hep.listen-address`, an env name. */
type Origins = ReadonlyMap<string, string>;

function describeIssue(issue: z.core.$ZodIssue, origins: Origins): string[] {
  const where = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(issue.path);
    return issue.keys.map(
      (k) => `unknown key "${where === '' ? k : `${where}.${k}`}"${suggestKey(k, known)}`,
    );
  }
  if (issue.code === 'invalid_union') {
    // "Invalid input" says nothing; the branch of the right type (an extractor written as an
    // object rather than a name) knows what is wrong inside it.
    const typed = issue.errors.filter(
      (branch) => !(branch.length === 1 && branch[0].code === 'invalid_type' && branch[0].path.length === 0),
    );
    if (typed.length === 1) {
      return typed[0].flatMap((inner) =>
        describeIssue({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue, origins),
      );
    }
  }
  const origin = origins.get(where);
  return [`${where === '' ? '(top level)' : where}: ${issue.message}${origin ? ` (from ${origin})` : ''}`];
}

/**
 * Validates a raw config object; throws a ConfigError naming every bad key, and for a value
 * given by a flag or the environment, which one gave it.
 */
export function parseConfig(raw: unknown, origin: string, origins: Origins = new Map()): Config {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) {
    const lines = result.error.issues.flatMap((issue) => describeIssue(issue, origins));
    const where = origin === '' ? '' : ` (${origin})`;
    throw new ConfigError(
      lines.length === 1
        ? `invalid configuration${where}: ${lines[0]}`
        : `invalid configuration${where}:\n  ${lines.join('\n  ')}`,
    );
  }
  return result.data;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const detail = err instanceof YAMLError ? err.message : String(err);
    throw new ConfigError(`config file ${path} is not valid YAML: ${detail}`, { cause: err });
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`config file ${path}: expected a mapping at the top level`);
  }
  return raw as Record<string, unknown>;
}

/**
 * Builds the configuration from defaults, then the config file, then the environment, then
 * flags (each later source wins), and validates the result as a whole.
 */
export function loadConfig(sources: ConfigSources): Config {
  const raw: Record<string, unknown> = sources.file ? readConfigFile(sources.file) : {};
  const origins = new Map<string, string>();
  const set = (path: readonly string[], value: string, origin: string) => {
    let node: Record<string, unknown> = raw;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (next === undefined || next === null) node[key] = {};
      else if (typeof next !== 'object' || Array.isArray(next)) return; // the schema reports it by name
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
    origins.set(path.join('.'), origin);
  };
  const env = sources.env ?? {};
  for (const spec of OPTIONS) {
    const value = env[envName(spec)];
    if (value !== undefined) set(spec.path, value, envName(spec));
  }
  const flags = sources.flags ?? {};
  for (const spec of OPTIONS) {
    const value = flags[spec.flag];
    if (value !== undefined) set(spec.path, value, `--${spec.flag}`);
  }
  // The header names the file; a value from a flag or the environment is named on its own line.
  return parseConfig(raw, sources.file ? `file ${sources.file}` : '', origins);
}
