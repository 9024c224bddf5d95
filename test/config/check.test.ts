import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkWebConfig, configWarnings } from '../../src/config/check.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { makeTlsFixtures, type TlsFixtures } from '../helpers/tls.js';

function webConfig(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sre-check-')), 'web.yml');
  writeFileSync(path, text);
  return path;
}

describe('configuration warnings', () => {
  const codes = (flags: Record<string, string>) => configWarnings(loadConfig({ flags })).map((w) => w.code);

  it('warns when every listener is off', () => {
    expect(codes({ 'hep.listen-address': '', 'syslog.listen-address': ' ' })).toEqual([
      'SRE_WARN_NO_LISTENERS',
    ]);
    expect(codes({ 'hep.listen-address': '' })).toEqual([]);
    expect(codes({})).toEqual([]);
  });

  it('warns when TLS files are given without a TLS listener, naming each', () => {
    const warnings = configWarnings(
      loadConfig({ flags: { 'syslog.tls.cert-file': 'a.pem', 'syslog.tls.key-file': 'a.key' } }),
    );
    expect(warnings).toEqual([
      {
        code: 'SRE_WARN_TLS_UNUSED',
        message: expect.stringMatching(
          /^syslog\.tls\.cert_file, syslog\.tls\.key_file are set but .* --syslog\.tls\.listen-address/,
        ),
      },
    ]);
  });
});

describe('web config check', () => {
  let f: TlsFixtures;
  beforeAll(async () => {
    f = await makeTlsFixtures();
  }, 60_000);

  it('accepts a certificate with its own key, and refuses another key naming the file', () => {
    const good = webConfig(`tls_server_config:\n  cert_file: ${f.cert}\n  key_file: ${f.key}\n`);
    expect(checkWebConfig(good).tls).not.toBeNull();
    const bad = webConfig(`tls_server_config:\n  cert_file: ${f.cert}\n  key_file: ${f.otherKey}\n`);
    expect(() => checkWebConfig(bad)).toThrow(ConfigError);
    expect(() => checkWebConfig(bad)).toThrow(
      `web config ${bad}: tls_server_config.key_file: the private key in ${f.otherKey} does not match`,
    );
  });

  it('checks the basic auth users too, as start does', () => {
    expect(() => checkWebConfig(webConfig('basic_auth_users:\n  a: plaintext\n'))).toThrow(/bcrypt/);
  });
});
