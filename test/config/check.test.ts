import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { configWarnings, environmentWarnings } from '../../src/config/check.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { loadWebConfig } from '../../src/http/web-config.js';
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

describe('environment warnings', () => {
  it('names a variable under the prefix that sets nothing, with the one meant', () => {
    expect(
      environmentWarnings({
        SIP_EXPORTER_SYSLOG_LISTEN_ADRESS: ':1',
        SIP_EXPORTER_LOGLEVEL: 'debug',
        SIP_EXPORTER_WHATEVER: 'x',
        SIP_EXPORTER_HEP_LISTEN_ADDRESS: ':1',
        SIP_EXPORTER_ARGS: '--nodes.limit 5',
        SIP_EXPORTER_REVISION: 'abc1234',
        HOME: '/root',
      }),
    ).toEqual([
      {
        code: 'SRE_WARN_UNKNOWN_ENV',
        message:
          'SIP_EXPORTER_LOGLEVEL is not an option and is ignored; did you mean SIP_EXPORTER_LOG_LEVEL?',
      },
      {
        code: 'SRE_WARN_UNKNOWN_ENV',
        message:
          'SIP_EXPORTER_SYSLOG_LISTEN_ADRESS is not an option and is ignored; did you mean SIP_EXPORTER_SYSLOG_LISTEN_ADDRESS?',
      },
      { code: 'SRE_WARN_UNKNOWN_ENV', message: 'SIP_EXPORTER_WHATEVER is not an option and is ignored' },
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
    expect(loadWebConfig(good).tls).not.toBeNull();
    const bad = webConfig(`tls_server_config:\n  cert_file: ${f.cert}\n  key_file: ${f.otherKey}\n`);
    expect(() => loadWebConfig(bad)).toThrow(ConfigError);
    expect(() => loadWebConfig(bad)).toThrow(
      `web config ${bad}: tls_server_config.key_file: the private key in ${f.otherKey} does not match`,
    );
  });

  it('checks the basic auth users too, as start does', () => {
    expect(() => loadWebConfig(webConfig('basic_auth_users:\n  a: plaintext\n'))).toThrow(/bcrypt/);
  });
});
