import { accessSync, constants, statSync } from 'node:fs';
import { z } from 'zod';
import { type ForwardTarget, parseForwardTargets } from '../forward/target.js';
import { type ListenAddress, parseListenAddress } from '../ingest/listen-address.js';
import { buildExtractors, DEFAULT_EXTRACTORS, type Extractor } from '../ingest/syslog/extractors.js';
import { defaultIngestWorkers, MAX_INGEST_WORKERS } from '../ingest/workers/plan.js';
import { peersSchema, selfAddressesSchema } from '../peers/config.js';
import { parseDuration } from './duration.js';
import { loadTlsMaterial, type TlsMaterial, TlsMaterialError } from './tls-material.js';

function isReadableFile(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Whole numbers from YAML numbers or from the strings that flags and the environment give. */
function integer(min: number, max: number) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return n;
  });
}

/** Milliseconds from "32s", "5m", "0". */
function duration() {
  return z.union([z.string(), z.number()]).transform((value, ctx) => {
    const ms = typeof value === 'number' && value === 0 ? 0 : parseDuration(String(value));
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration such as "500ms", "32s" or "5m", got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

/**
 * `host:port`, `[v6]:port`, `:port`, or empty to disable (null). Parsed here, once: the code
 * binds what this returns and never reads the text again.
 */
const listenAddress = z
  .string({
    // YAML reads `listen_address: 9060` as a number; say how to write it rather than "expected string".
    error: (issue) =>
      `expected an address in quotes such as ":9060" or "127.0.0.1:9060", got ${JSON.stringify(issue.input) ?? 'nothing'}`,
  })
  .transform((value, ctx): ListenAddress | null => {
    try {
      return parseListenAddress(value, 'address');
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^address: /, '') });
      return z.NEVER;
    }
  });

/**
 * HEP forwarding targets: a list in the file, or one string of targets separated by commas (as a
 * flag or the environment gives it). Parsed here, once; names are looked up when forwarding starts.
 */
const forwardTargets = z
  .union([z.string(), z.array(z.string())], {
    error: () => 'expected "host:port", "host:port,host:port" or a list of "host:port"',
  })
  .transform((value, ctx): ForwardTarget[] => {
    const parsed = parseForwardTargets(value);
    if (parsed.length > 0 && typeof parsed[0] === 'string') {
      for (const message of parsed as string[]) ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    return parsed as ForwardTarget[];
  });

/** The ordered extractor list, built once; an unknown name or a bad regex is an issue here. */
const extractors = z
  .array(
    z.union([
      z.string(),
      z.strictObject({
        name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'expected lower-case letters, digits, - and _'),
        regex: z.string().min(1),
      }),
    ]),
  )
  .min(1, 'list at least one extractor')
  .transform((specs, ctx): readonly Extractor[] => {
    try {
      return buildExtractors(specs);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

/**
 * The whole configuration. Every object is strict: an unknown key is an error that names it,
 * so a misspelt option never silently falls back to its default.
 */
export const configSchema = z.strictObject({
  web: z
    .strictObject({
      listen_address: listenAddress
        .refine((value) => value !== null, 'the web listener cannot be disabled')
        .transform((value) => value as ListenAddress)
        .prefault(':9467'),
      telemetry_path: z
        .string()
        .regex(/^\/[^\s?#]*$/, 'expected a path starting with "/"')
        .default('/metrics'),
      /** the web config file's path; undefined when there is none */
      config_file: z
        .string()
        .prefault('')
        .transform((path) => (path === '' ? undefined : path)),
    })
    .prefault({}),
  hep: z
    .strictObject({
      listen_address: listenAddress.prefault(':9060'),
      auth_key: z.string().default(''),
      max_connections: integer(1, 65535).default(1024),
      idle_timeout: duration().default(300_000),
      frame_timeout: duration().default(30_000),
      max_packet_size: integer(64, 65535).default(65535),
      max_inflated_size: integer(1024, 16 * 1024 * 1024).default(262_144),
      udp_receive_buffer: integer(0, 1024 * 1024 * 1024).default(8 * 1024 * 1024),
      forward_address: forwardTargets.prefault(''),
      forward_transport: z.enum(['udp', 'tcp']).default('udp'),
      forward_queue: integer(1, 1_000_000).default(4096),
      // At least one largest HEP packet must fit.
      forward_queue_bytes: integer(65_535, 1024 * 1024 * 1024).default(4 * 1024 * 1024),
    })
    .prefault({}),
  syslog: z
    .strictObject({
      listen_address: listenAddress.prefault(':5514'),
      max_connections: integer(1, 65535).default(1024),
      idle_timeout: duration().default(300_000),
      frame_timeout: duration().default(30_000),
      max_frame_size: integer(480, 16 * 1024 * 1024).default(65_536),
      udp_receive_buffer: integer(0, 1024 * 1024 * 1024).default(8 * 1024 * 1024),
      extractors: extractors.prefault([...DEFAULT_EXTRACTORS]),
      tls: z
        .strictObject({
          listen_address: listenAddress.prefault(''),
          cert_file: z.string().default(''),
          key_file: z.string().default(''),
          client_ca_file: z.string().default(''),
        })
        .prefault({})
        // The PEM files are read and checked here, once: the listener takes what this returns.
        .transform((tls, ctx): typeof tls & { material: TlsMaterial | null } => {
          const off = { ...tls, material: null };
          if (tls.listen_address === null) return off;
          let missing = false;
          for (const key of ['cert_file', 'key_file', 'client_ca_file'] as const) {
            const path = tls[key];
            if (path === '') {
              if (key !== 'client_ca_file') {
                missing = true;
                ctx.addIssue({
                  code: 'custom',
                  path: [key],
                  message: 'required when the TLS listener is on',
                });
              }
            } else if (!isReadableFile(path)) {
              missing = true;
              ctx.addIssue({ code: 'custom', path: [key], message: `cannot read ${path}` });
            }
          }
          if (missing) return z.NEVER;
          try {
            const material = loadTlsMaterial(
              { cert: tls.cert_file, key: tls.key_file, ca: tls.client_ca_file },
              { cert: 'syslog.tls.cert_file', key: 'syslog.tls.key_file', ca: 'syslog.tls.client_ca_file' },
            );
            return { ...tls, material };
          } catch (err) {
            if (!(err instanceof TlsMaterialError)) throw err;
            ctx.addIssue({ code: 'custom', path: [err.key.replace('syslog.tls.', '')], message: err.detail });
            return z.NEVER;
          }
        }),
    })
    .prefault({}),
  dedupe: z
    .strictObject({
      window: duration().default(32_000),
      max_entries: integer(1, 50_000_000).default(1_000_000),
    })
    .prefault({}),
  nodes: z
    .strictObject({
      limit: integer(1, 100_000).default(100),
      names: z.record(z.string(), z.string().min(1, 'a node name cannot be empty')).default({}),
      /** each node's own addresses by node label (`*`: every node's), never attributed to a peer */
      self_addresses: z.record(z.string(), selfAddressesSchema).default({}),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      max_series: integer(1, 10_000_000).default(20_000),
    })
    .prefault({}),
  ingest: z
    .strictObject({
      // Flags and the environment give "true"/"false" as text, YAML gives a boolean.
      udp_batch: z.union([z.boolean(), z.stringbool()]).default(true),
      // `auto`: the CPUs this process may use, capped (ingest/workers/plan.ts).
      workers: z
        .union([z.number(), z.string()])
        .default('auto')
        .transform((value, ctx) => {
          if (value === 'auto') return defaultIngestWorkers();
          const n =
            typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
          if (Number.isInteger(n) && n >= 1 && n <= MAX_INGEST_WORKERS) return n;
          ctx.addIssue({
            code: 'custom',
            message: `expected auto or a whole number from 1 to ${MAX_INGEST_WORKERS}, got ${JSON.stringify(value)}`,
          });
          return z.NEVER;
        }),
    })
    .prefault({}),
  kpi: z
    .strictObject({
      enabled: z.union([z.boolean(), z.stringbool()]).default(true),
      // The engine needs each of these to be at least 1 ms; under a second is a typo.
      invite_timeout: duration()
        .refine((ms) => ms >= 1000 && ms < 2 ** 31, 'expected from 1s to 24d')
        .default(190_000),
      non_invite_timeout: duration()
        .refine((ms) => ms >= 1000 && ms < 2 ** 31, 'expected from 1s to 24d')
        .default(32_000),
      max_session_duration: duration()
        .refine((ms) => ms >= 1000 && ms < 2 ** 31, 'expected from 1s to 24d')
        .default(4 * 3_600_000),
      max_entries: integer(64, 1 << 28).default(1 << 20),
      max_dialogs: integer(64, 1 << 28).default(1 << 22),
    })
    .prefault({}),
  /** the peers list, compiled once per load; empty when absent */
  // prefault: absent is an empty list (a bare transform would make the key required)
  peers: peersSchema.prefault(null),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
