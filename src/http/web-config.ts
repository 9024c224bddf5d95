import type { SecureContextOptions, TlsOptions } from 'node:tls';
import { z } from 'zod';
import { invalidConfigError, readYamlFile } from '../config/load.js';
import { loadTlsMaterial } from '../config/tls-material.js';
import { ConfigError } from '../errors.js';

/**
 * The web configuration file of Prometheus exporters (exporter-toolkit's `--web.config.file`):
 * TLS for the HTTP side and HTTP basic auth with bcrypt hashes, so the exporter fits the same
 * Prometheus `scrape_config` (`scheme: https`, `basic_auth`) as node_exporter.
 */
const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;

const webConfigSchema = z.strictObject({
  tls_server_config: z
    .strictObject({
      cert_file: z.string().min(1),
      key_file: z.string().min(1),
      client_auth_type: z.enum(CLIENT_AUTH_TYPES).default('NoClientCert'),
      client_ca_file: z.string().default(''),
      min_version: z.enum(['TLS12', 'TLS13']).default('TLS12'),
    })
    .optional(),
  http_server_config: z
    .strictObject({
      headers: z.record(z.string(), z.string()).default({}),
    })
    .optional(),
  basic_auth_users: z
    .record(
      z.string().min(1),
      z.string().regex(/^\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}$/, 'expected a bcrypt hash ($2y$...)'),
    )
    .optional(),
});

export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

export interface WebConfig {
  tls: TlsOptions | null;
  clientAuthType: ClientAuthType;
  headers: Record<string, string>;
  users: ReadonlyMap<string, string>;
}

/** Reads and validates the web config file; a ConfigError names any bad key. */
export function loadWebConfig(path: string): WebConfig {
  const result = webConfigSchema.safeParse(readYamlFile(path, 'web config file'));
  if (!result.success) throw invalidConfigError(`web config file ${path}`, result.error, webConfigSchema);
  const config = result.data;
  let tls: TlsOptions | null = null;
  const t = config.tls_server_config;
  if (t !== undefined) {
    const verify =
      t.client_auth_type === 'VerifyClientCertIfGiven' || t.client_auth_type === 'RequireAndVerifyClientCert';
    if (verify && t.client_ca_file === '') {
      throw new ConfigError(
        `web config: client_auth_type ${t.client_auth_type} needs tls_server_config.client_ca_file`,
      );
    }
    // Every PEM file parses, the key fits the certificate and OpenSSL takes the set: found here,
    // by --config.check and by a reload, never when the server starts or a client connects.
    const material = loadTlsMaterial(
      { cert: t.cert_file, key: t.key_file, ca: t.client_ca_file },
      {
        cert: 'web config tls_server_config.cert_file',
        key: `web config ${path}: tls_server_config.key_file`,
        ca: 'web config tls_server_config.client_ca_file',
      },
    );
    const options: SecureContextOptions & TlsOptions = {
      cert: material.cert,
      key: material.key,
      minVersion: t.min_version === 'TLS13' ? 'TLSv1.3' : 'TLSv1.2',
      requestCert: t.client_auth_type !== 'NoClientCert',
      // Node can only refuse unverified certificates outright; the "any" and "if given" modes
      // are enforced per request (server.ts).
      rejectUnauthorized: t.client_auth_type === 'RequireAndVerifyClientCert',
    };
    if (material.ca !== undefined) options.ca = material.ca;
    tls = options;
  }
  return {
    tls,
    clientAuthType: t?.client_auth_type ?? 'NoClientCert',
    headers: config.http_server_config?.headers ?? {},
    users: new Map(Object.entries(config.basic_auth_users ?? {})),
  };
}
