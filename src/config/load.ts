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

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (where === '' ? k : `${where}.${k}`));
    return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
  }
  return `${where === '' ? '(top level)' : where}: ${issue.message}`;
}

/** Validates a raw config object; throws a ConfigError naming every bad key. */
export function parseConfig(raw: unknown, origin: string): Config {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) {
    const lines = result.error.issues.map(describeIssue);
    throw new ConfigError(`invalid configuration (${origin}):\n  ${lines.join('\n  ')}`);
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
  const origin: string[] = [];
  if (sources.file) origin.push(`file ${sources.file}`);
  const set = (path: readonly string[], value: string) => {
    let node: Record<string, unknown> = raw;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (next === undefined || next === null) node[key] = {};
      else if (typeof next !== 'object' || Array.isArray(next)) return; // the schema reports it by name
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
  };
  const env = sources.env ?? {};
  for (const spec of OPTIONS) {
    const value = env[envName(spec)];
    if (value !== undefined) {
      set(spec.path, value);
      origin.push(envName(spec));
    }
  }
  const flags = sources.flags ?? {};
  for (const spec of OPTIONS) {
    const value = flags[spec.flag];
    if (value !== undefined) {
      set(spec.path, value);
      origin.push(`--${spec.flag}`);
    }
  }
  return parseConfig(raw, origin.length > 0 ? origin.join(', ') : 'defaults');
}
