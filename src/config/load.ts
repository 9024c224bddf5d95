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

/** What a zod schema holds inside its wrappers (default, optional, transform...). */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  const def = schema._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
  const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
  return inner === undefined ? schema : unwrap(inner);
}

/** The keys a strict object in `schema` allows at `path`, read from the schema itself. */
function knownKeys(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  let node = unwrap(schema);
  for (const key of path) {
    const def = node._zod.def as {
      type: string;
      shape?: Record<string, z.core.$ZodType>;
      element?: z.core.$ZodType;
      valueType?: z.core.$ZodType;
    };
    if (def.type === 'object' && def.shape !== undefined && String(key) in def.shape) {
      node = unwrap(def.shape[String(key)]);
    } else if (def.type === 'array' && def.element !== undefined) node = unwrap(def.element);
    else if (def.type === 'record' && def.valueType !== undefined) node = unwrap(def.valueType);
    else return [];
  }
  // In a union (an extractor is a name or an object), the object is the one with keys.
  const def = node._zod.def as { type: string; options?: z.core.$ZodType[]; shape?: Record<string, unknown> };
  const object =
    def.type === 'union' ? def.options?.map(unwrap).find((o) => o._zod.def.type === 'object') : node;
  const shape = (object?._zod.def as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape === undefined ? [] : Object.keys(shape);
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

function describeIssue(issue: z.core.$ZodIssue, schema: z.core.$ZodType, origins: Origins): string[] {
  const where = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(schema, issue.path);
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
        describeIssue(
          { ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue,
          schema,
          origins,
        ),
      );
    }
  }
  const origin = origins.get(where);
  // A message that already says where (`peers[2] (carrier-a): ...`) is printed alone.
  const placed = where !== '' && issue.message.startsWith(`${where}[`);
  const prefix = placed ? '' : `${where === '' ? '(top level)' : where}: `;
  return [`${prefix}${issue.message}${origin ? ` (from ${origin})` : ''}`];
}

/**
 * The ConfigError for a failed parse of `schema` (the config, the web config file): one line per
 * issue, each naming its key, suggesting the key meant for an unknown one, and for a value given
 * by a flag or the environment, which one gave it.
 */
export function invalidConfigError(
  what: string,
  error: z.core.$ZodError,
  schema: z.core.$ZodType,
  origins: Origins = new Map(),
): ConfigError {
  const lines = error.issues.flatMap((issue) => describeIssue(issue, schema, origins));
  return new ConfigError(
    lines.length === 1 ? `invalid ${what}: ${lines[0]}` : `invalid ${what}:\n  ${lines.join('\n  ')}`,
  );
}

/**
 * Validates a raw config object; throws a ConfigError naming every bad key, and for a value
 * given by a flag or the environment, which one gave it.
 */
export function parseConfig(raw: unknown, origin: string, origins: Origins = new Map()): Config {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) {
    throw invalidConfigError(
      origin === '' ? 'configuration' : `configuration (${origin})`,
      result.error,
      configSchema,
      origins,
    );
  }
  return result.data;
}

/**
 * Reads a YAML file that holds a mapping (the config file, the web config file); `what` names it
 * in the ConfigError for a file that cannot be read, is not YAML, or holds something else.
 */
export function readYamlFile(path: string, what = 'config file'): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const detail = err instanceof YAMLError ? err.message : String(err);
    throw new ConfigError(`${what} ${path} is not valid YAML: ${detail}`, { cause: err });
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${what} ${path}: expected a mapping at the top level`);
  }
  return raw as Record<string, unknown>;
}

/**
 * Builds the configuration from defaults, then the config file, then the environment, then
 * flags (each later source wins), and validates the result as a whole.
 */
export function loadConfig(sources: ConfigSources): Config {
  const raw: Record<string, unknown> = sources.file ? readYamlFile(sources.file) : {};
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
