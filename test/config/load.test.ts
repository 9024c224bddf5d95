import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig, suggestKey } from '../../src/config/load.js';
import { envName, OPTIONS } from '../../src/config/options.js';
import type { Config } from '../../src/config/schema.js';
import { errorOf } from '../helpers/errors.js';

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sre-config-'));
  const path = join(dir, 'config.yml');
  writeFileSync(path, text);
  return path;
}

describe('configuration', () => {
  it('has defaults that start a useful exporter', () => {
    const config = loadConfig({});
    expect(config.web.listen_address).toEqual({ host: undefined, port: 9467 });
    expect(config.web.telemetry_path).toBe('/metrics');
    expect(config.hep.listen_address).toEqual({ host: undefined, port: 9060 });
    expect(config.dedupe.window).toBe(32_000);
    expect(config.nodes.limit).toBe(100);
  });

  it('layers file, environment and flags, each winning over the one before', () => {
    const file = configFile(
      'hep:\n  listen_address: ":1000"\n  max_connections: 5\ndedupe:\n  window: 10s\n',
    );
    const config = loadConfig({
      file,
      env: { SIP_EXPORTER_HEP_LISTEN_ADDRESS: ':2000', SIP_EXPORTER_DEDUPE_WINDOW: '1m' },
      flags: { 'hep.listen-address': '127.0.0.1:3000' },
    });
    expect(config.hep.listen_address).toEqual({ host: '127.0.0.1', port: 3000 });
    expect(config.hep.max_connections).toBe(5);
    expect(config.dedupe.window).toBe(60_000);
  });

  it('reads node names and the auth key from the file', () => {
    const file = configFile(
      'hep:\n  auth_key: s3cret\nnodes:\n  limit: 3\n  names:\n    "2001": edge-1\n    kam2: core\n',
    );
    const config = loadConfig({ file });
    expect(config.hep.auth_key).toBe('s3cret');
    expect(config.nodes.names).toEqual({ '2001': 'edge-1', kam2: 'core' });
  });

  it('rejects unknown keys, naming each with its full path', () => {
    const err = errorOf(() => loadConfig({ file: configFile('hep:\n  listen_adress: ":1"\nextra: 1\n') }));
    expect(err.code).toBe('SRE_ERR_CONFIG');
    expect(err.message).toContain('"hep.listen_adress"');
    expect(err.message).toContain('"extra"');
  });

  it('suggests the key meant, and underscores for a key written as its flag', () => {
    const err = errorOf(() =>
      loadConfig({
        file: configFile(
          'hep:\n  listen-address: ":1"\ndedupe:\n  windw: 5s\nsyslog:\n  tls:\n    cert-file: /x\n  extractors:\n    - name: x\n      regexp: "(?<code>\\\\d+)"\nlgo:\n  level: info\nextra: 1\n',
        ),
      }),
    );
    expect(err.message).toContain(
      'unknown key "hep.listen-address"; did you mean listen_address? (file keys use underscores',
    );
    expect(err.message).toContain('unknown key "dedupe.windw"; did you mean window?');
    expect(err.message).toContain('unknown key "syslog.tls.cert-file"; did you mean cert_file?');
    expect(err.message).toContain('unknown key "syslog.extractors.0.regexp"; did you mean regex?');
    expect(err.message).toContain('unknown key "lgo"; did you mean log?');
    expect(err.message).toMatch(/unknown key "extra"$/m);
  });

  it('suggests a known key for any one-letter slip in a key of four letters or more', () => {
    const leaves = [...new Set(OPTIONS.map((spec) => spec.path[spec.path.length - 1]))];
    for (const spec of OPTIONS) {
      const leaf = spec.path[spec.path.length - 1];
      if (leaf.includes('_'))
        expect(suggestKey(leaf.replace(/_/g, '-'), leaves)).toContain(`did you mean ${leaf}?`);
    }
    fc.assert(
      fc.property(
        fc.constantFrom(...leaves.filter((k) => k.length >= 4)),
        fc.nat(),
        fc.constantFrom('delete', 'insert', 'replace', 'swap'),
        fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz_'),
        (key, at, edit, letter) => {
          const i = at % (key.length - 1);
          const typo =
            edit === 'delete'
              ? key.slice(0, i) + key.slice(i + 1)
              : edit === 'insert'
                ? key.slice(0, i) + letter + key.slice(i)
                : edit === 'replace'
                  ? key.slice(0, i) + letter + key.slice(i + 1)
                  : key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2);
          fc.pre(!leaves.includes(typo));
          const hint = suggestKey(typo, leaves);
          expect(hint).toMatch(/^; did you mean [a-z_]+\?/);
          expect(leaves).toContain(/did you mean ([a-z_]+)\?/.exec(hint)![1]);
        },
      ),
    );
    fc.assert(fc.property(fc.string(), (key) => typeof suggestKey(key, leaves) === 'string'));
  });

  it('names only where a bad value came from, on one line when it is the only one', () => {
    const err = errorOf(() =>
      loadConfig({
        file: configFile('nodes:\n  limit: 5\n'),
        env: { SIP_EXPORTER_DEDUPE_WINDOW: '1m', SIP_EXPORTER_SYSLOG_LISTEN_ADDRESS: '5514' },
        flags: { 'hep.listen-address': '127.0.0.1:0', 'web.listen-address': '127.0.0.1:0' },
      }),
    );
    expect(err.message).not.toContain('\n');
    expect(err.message).toMatch(
      /^invalid configuration \(file .*config\.yml\): syslog\.listen_address: "5514" has no port .*write ":5514".* \(from SIP_EXPORTER_SYSLOG_LISTEN_ADDRESS\)$/,
    );
    for (const other of ['DEDUPE', '--hep', '--web']) expect(err.message).not.toContain(other);
    const fromFile = errorOf(() => loadConfig({ file: configFile('hep:\n  listen_address: 9060\n') }));
    expect(fromFile.message).toMatch(
      /hep\.listen_address: expected an address in quotes such as ":9060".*got 9060$/,
    );
  });

  it('rejects bad values, naming the key and what it expects', () => {
    const err = errorOf(() =>
      loadConfig({
        flags: {
          'dedupe.window': '3 days',
          'nodes.limit': '-1',
          'hep.listen-address': 'nohost',
          'web.telemetry-path': 'metrics',
        },
      }),
    );
    expect(err.message).toMatch(/dedupe\.window: expected a duration/);
    expect(err.message).toMatch(/nodes\.limit: expected a whole number from 1 to 100000/);
    expect(err.message).toMatch(/hep\.listen_address: "nohost" has no port/);
    expect(err.message).toMatch(/web\.telemetry_path/);
    expect(errorOf(() => loadConfig({ flags: { 'web.listen-address': '' } })).message).toMatch(
      /web\.listen_address: the web listener cannot be disabled/,
    );
    expect(errorOf(() => loadConfig({ flags: { 'hep.listen-address': ':70000' } })).message).toMatch(
      /not a port/,
    );
  });

  it('rejects a file that is not YAML or not a mapping, and one that is missing', () => {
    expect(errorOf(() => loadConfig({ file: configFile('hep: [unclosed\n') })).message).toMatch(
      /not valid YAML/,
    );
    expect(errorOf(() => loadConfig({ file: configFile('- a\n- b\n') })).message).toMatch(/mapping/);
    expect(errorOf(() => loadConfig({ file: configFile('hep: 5\n') })).message).toMatch(
      /^invalid configuration/,
    );
    expect(errorOf(() => loadConfig({ file: '/nonexistent/sre.yml' })).message).toMatch(
      /cannot read config file/,
    );
  });

  it('disables the HEP listener with an empty address', () => {
    expect(loadConfig({ env: { SIP_EXPORTER_HEP_LISTEN_ADDRESS: '' } }).hep.listen_address).toBeNull();
  });

  it('gives every option an environment name under one prefix', () => {
    expect(OPTIONS.map(envName)).toContain('SIP_EXPORTER_HEP_AUTH_KEY');
    expect(new Set(OPTIONS.map(envName)).size).toBe(OPTIONS.length);
  });
});

describe('syslog configuration', () => {
  it('has the built-in extractors in order by default, and takes custom ones', () => {
    const names = (config: Config) => config.syslog.extractors.map((extractor) => extractor.name);
    expect(names(loadConfig({}))).toEqual(['kamailio-acc', 'opensips-acc', 'kamailio-xlog', 'sip-message']);
    const file = configFile(
      'syslog:\n  extractors:\n    - kamailio-acc\n    - name: sbc\n      regex: "status=(?<code>\\\\d+)"\n',
    );
    const custom = loadConfig({ file });
    expect(names(custom)).toEqual(['kamailio-acc', 'sbc']);
    // The custom regex is compiled as written: it finds the code in a line.
    expect(custom.syslog.extractors[1].extract('x status=486 y')?.code).toBe(486);
  });

  it('rejects bad extractors and an incomplete TLS listener at load time, naming the key', () => {
    const bad = configFile(
      'syslog:\n  extractors:\n    - kamailio-accc\n    - name: x\n      regex: "(?<method>\\\\w+)"\n',
    );
    expect(errorOf(() => loadConfig({ file: bad })).message).toMatch(
      /syslog\.extractors: unknown syslog extractor "kamailio-accc"/,
    );
    const tls = errorOf(() =>
      loadConfig({
        flags: { 'syslog.tls.listen-address': ':6514', 'syslog.tls.key-file': '/nonexistent/key.pem' },
      }),
    );
    expect(tls.message).toMatch(/syslog\.tls\.cert_file: required when the TLS listener is on/);
    expect(tls.message).toMatch(/syslog\.tls\.key_file: cannot read \/nonexistent\/key\.pem/);
  });
});
