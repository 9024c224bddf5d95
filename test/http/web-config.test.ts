import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import type { Exporter } from '../../src/exporter.js';
import { loadWebConfig } from '../../src/http/web-config.js';
import { startExporter } from '../helpers/exporter.js';
import { CLIENT_AUTH_OUTCOMES, httpsGet, httpsOutcome, type Presented } from '../helpers/https.js';
import { makeCertificates } from '../helpers/syslog.js';

let exporter: Exporter | null = null;
afterEach(async () => {
  await exporter?.stop();
  exporter = null;
});

function webConfig(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sre-web-')), 'web.yml');
  writeFileSync(path, text);
  return path;
}

describe('--web.config.file', () => {
  it('asks for basic auth with a bcrypt hash on metrics and the landing page, not on the probes', async () => {
    const hash = bcrypt.hashSync('s3cret', 4);
    exporter = await startExporter({
      'web.config.file': webConfig(`basic_auth_users:\n  prometheus: "${hash}"\n`),
    });
    const http = request(`http://127.0.0.1:${exporter.httpPort}`);
    const denied = await http.get('/metrics').expect(401);
    expect(denied.headers['www-authenticate']).toMatch(/^Basic realm=/);
    await http.get('/metrics').auth('prometheus', 'wrong').expect(401);
    await http.get('/metrics').auth('nobody', 's3cret').expect(401);
    const ok = await http.get('/metrics').auth('prometheus', 's3cret').expect(200);
    expect(ok.text).toContain('sip_exporter_build_info');
    await http.get('/metrics').auth('prometheus', 's3cret').expect(200);
    await http.get('/').expect(401);
    await http.get('/healthz').expect(200);
    await http.get('/readyz').expect(200);
  });

  it('serves HTTPS and, with RequireAndVerifyClientCert, only to clients with a certificate from the CA', async () => {
    const pki = await makeCertificates();
    exporter = await startExporter({
      'web.config.file': webConfig(
        `tls_server_config:\n  cert_file: ${pki.cert}\n  key_file: ${pki.key}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${pki.ca}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n`,
      ),
    });
    const ca = readFileSync(pki.ca);
    const ok = await httpsGet(exporter.httpPort, '/metrics', {
      ca,
      cert: readFileSync(pki.clientCert),
      key: readFileSync(pki.clientKey),
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('sip_exporter_build_info');
    await expect(httpsGet(exporter.httpPort, '/metrics', { ca })).rejects.toThrow();
  });

  it('serves HTTPS with a server certificate alone', async () => {
    const pki = await makeCertificates();
    exporter = await startExporter({
      'web.config.file': webConfig(`tls_server_config:\n  cert_file: ${pki.cert}\n  key_file: ${pki.key}\n`),
    });
    const res = await httpsGet(exporter.httpPort, '/healthz', { ca: readFileSync(pki.ca) });
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: 'ok\n' });
  });

  it('does what each client_auth_type says with no certificate, one from the CA and one from another CA', async () => {
    const pki = await makeCertificates();
    const other = await makeCertificates();
    const ca = readFileSync(pki.ca);
    const clients: Record<Presented, { ca: Buffer; cert?: Buffer; key?: Buffer }> = {
      none: { ca },
      'right CA': { ca, cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) },
      'other CA': { ca, cert: readFileSync(other.clientCert), key: readFileSync(other.clientKey) },
    };
    const headers = { 'X-Frame-Options': 'deny', 'Cache-Control': 'no-store' };
    for (const [mode, expected] of Object.entries(CLIENT_AUTH_OUTCOMES)) {
      exporter = await startExporter({
        'web.config.file': webConfig(
          `tls_server_config:\n  cert_file: ${pki.cert}\n  key_file: ${pki.key}\n  client_auth_type: ${mode}\n  client_ca_file: ${pki.ca}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n    Cache-Control: no-store\n`,
        ),
      });
      const seen: Record<string, number | 'refused'> = {};
      for (const [name, client] of Object.entries(clients))
        seen[name] = await httpsOutcome(exporter.httpPort, '/metrics', client, headers);
      expect({ mode, ...seen }).toEqual({ mode, ...expected });
      await exporter.stop();
      exporter = null;
    }
  });

  it('rejects unknown keys, plain-text passwords and a verify mode without a CA, naming the key', () => {
    const cases: Array<[string, RegExp]> = [
      ['basic_auth_user:\n  a: b\n', /unknown key "basic_auth_user"/],
      ['basic_auth_users:\n  a: plaintext\n', /basic_auth_users\.a: expected a bcrypt hash/],
      [
        'tls_server_config:\n  cert_file: /x\n  key_file: /y\n  client_auth_type: Sometimes\n',
        /client_auth_type/,
      ],
      [
        'tls_server_config:\n  cert_file: /x\n  key_file: /y\n  client_auth_type: RequireAndVerifyClientCert\n',
        /needs tls_server_config\.client_ca_file/,
      ],
      [
        'tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: /y\n',
        /tls_server_config\.cert_file: cannot read/,
      ],
    ];
    for (const [text, message] of cases) {
      expect(() => loadWebConfig(webConfig(text))).toThrow(ConfigError);
      expect(() => loadWebConfig(webConfig(text))).toThrow(message);
    }
  });

  it('suggests the key meant for a misspelt one, as the config file does', () => {
    const file = webConfig('basic_auth_user:\n  a: b\ntls_server_config:\n  cert_fle: /x\n  key_file: /y\n');
    expect(() => loadWebConfig(file)).toThrow(
      `invalid web config file ${file}:\n` +
        '  tls_server_config.cert_file: Invalid input: expected string, received undefined\n' +
        '  unknown key "tls_server_config.cert_fle"; did you mean cert_file?\n' +
        '  unknown key "basic_auth_user"; did you mean basic_auth_users?',
    );
  });
});
