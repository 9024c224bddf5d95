import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { REVISION, VERSION } from '../src/version.js';
import { CLI, FREE_PORTS } from './helpers/cli.js';
import { makeCertificates } from './helpers/syslog.js';
import { makeTlsFixtures, type TlsFixtures } from './helpers/tls.js';

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [...CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    // A start that should fail but does not would otherwise hang the suite.
    timeout: 30_000,
  });
}

/** Holds a loopback TCP or UDP port, as another program would. */
async function takePort(kind: 'tcp' | 'udp'): Promise<{ port: number; release: () => Promise<void> }> {
  if (kind === 'tcp') {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      port: (server.address() as AddressInfo).port,
      release: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    release: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

/** stderr of a start or check that failed as an operator should see it: one coded line, no stack. */
function expectOneCodedLine(stderr: string, code: string): string {
  expect(stderr).toMatch(new RegExp(`^sip-response-exporter: ${code}: [^\\n]+\\n$`));
  expect(stderr).not.toMatch(/^\s+at /m);
  return stderr.trim();
}

interface LogLine {
  msg: string;
  address?: string;
  level: number;
}

/** Starts the CLI and collects its JSON log lines. */
function start(args: string[]): {
  child: ChildProcess;
  lines: LogLine[];
  waitFor: (msg: string) => Promise<LogLine>;
} {
  const child = spawn(process.execPath, [...CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  const waiters: Array<{ msg: string; resolve: (l: LogLine) => void }> = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = JSON.parse(text) as LogLine;
    lines.push(line);
    for (const w of waiters.filter((w) => w.msg === line.msg)) w.resolve(line);
  });
  const waitFor = (msg: string) =>
    new Promise<LogLine>((resolve, reject) => {
      const found = lines.find((l) => l.msg === msg);
      if (found) return resolve(found);
      waiters.push({ msg, resolve });
      child.once('exit', (code) => reject(new Error(`exited with ${code} before logging "${msg}"`)));
    });
  return { child, lines, waitFor };
}

describe('command line', () => {
  it('prints its version and help', () => {
    expect(run(['--version']).stdout.trim()).toBe(VERSION);
    const help = run(['--help']);
    expect(help.status).toBe(0);
    for (const flag of [
      '--web.listen-address',
      '--web.telemetry-path',
      '--hep.listen-address',
      '--config.file',
      '--config.check',
      '--dedupe.window',
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });

  it('checks a configuration and exits 0, or 2 naming the bad key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sre-cli-'));
    const good = join(dir, 'good.yml');
    writeFileSync(good, 'hep:\n  listen_address: ":19060"\nnodes:\n  names:\n    "2001": edge\n');
    const ok = run(['--config.file', good, '--config.check']);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('configuration OK');
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'dedupe:\n  windw: 5s\n');
    const failed = run(['--config.file', bad, '--config.check']);
    expect(failed.status).toBe(2);
    expect(failed.stderr).toContain('SRE_ERR_CONFIG');
    expect(failed.stderr).toContain('"dedupe.windw"');
    const badEnv = run(['--config.check'], { SIP_EXPORTER_NODES_LIMIT: 'many' });
    expect(badEnv.status).toBe(2);
    expect(badEnv.stderr).toMatch(/nodes\.limit: expected a whole number/);
    expect(run(['--no-such-flag']).status).not.toBe(0);
  });

  it('starts, logs one line per listener, serves metrics, and exits 0 on SIGTERM', async () => {
    const { child, lines, waitFor } = start(FREE_PORTS);
    try {
      await waitFor('sip-response-exporter started');
      const web = lines.find((l) => l.msg === 'web: listening')!;
      expect(lines.filter((l) => l.msg === 'hep: listening')).toHaveLength(1);
      expect(lines.filter((l) => l.msg === 'syslog: listening')).toHaveLength(1);
      const res = await request(`http://${web.address}`).get('/metrics').expect(200);
      expect(res.text).toContain('sip_exporter_listener_up{listener="hep",transport="udp"} 1');
      // Run from this checkout, build_info names its commit.
      expect(REVISION).toMatch(/^[0-9a-f]{4,}$/);
      expect(res.text).toContain(`revision="${REVISION}"`);
      const started = Date.now();
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(lines.map((l) => l.msg)).toContain('stopped');
    } finally {
      child.kill('SIGKILL');
    }
  });

  describe('exits 2 naming the flag to change when a port is taken', () => {
    let pki: Awaited<ReturnType<typeof makeCertificates>>;
    beforeAll(async () => {
      pki = await makeCertificates();
    }, 60_000);

    const cases: Array<{
      listener: string;
      flag: string;
      key: string;
      taken: 'tcp' | 'udp';
      extra?: () => string[];
    }> = [
      { listener: 'hep', flag: 'hep.listen-address', key: 'hep.listen_address', taken: 'tcp' },
      { listener: 'hep', flag: 'hep.listen-address', key: 'hep.listen_address', taken: 'udp' },
      { listener: 'syslog', flag: 'syslog.listen-address', key: 'syslog.listen_address', taken: 'tcp' },
      {
        listener: 'syslog TLS',
        flag: 'syslog.tls.listen-address',
        key: 'syslog.tls.listen_address',
        taken: 'tcp',
        extra: () => ['--syslog.tls.cert-file', pki.cert, '--syslog.tls.key-file', pki.key],
      },
      { listener: 'web', flag: 'web.listen-address', key: 'web.listen_address', taken: 'tcp' },
    ];
    for (const { listener, flag, key, taken, extra } of cases) {
      it(`${listener}, with only its ${taken.toUpperCase()} port taken`, async () => {
        const held = await takePort(taken);
        try {
          const address = `127.0.0.1:${held.port}`;
          // Every other listener on a free port: the one taken port is the only reason to fail.
          const second = run([
            ...FREE_PORTS,
            '--syslog.tls.listen-address',
            listener === 'syslog TLS' ? address : '',
            ...(extra?.() ?? []),
            `--${flag}`,
            address,
          ]);
          expect(second.status).toBe(2);
          expect(second.stderr).toContain('SRE_ERR_LISTEN');
          const disable = listener === 'web' ? '' : ' or to "" to disable';
          expect(expectOneCodedLine(second.stderr, 'SRE_ERR_LISTEN')).toBe(
            `sip-response-exporter: SRE_ERR_LISTEN: ${listener}: ${address} is in use (EADDRINUSE); set --${flag} (${key}) to another address${disable}`,
          );
          // Listeners bound before the failure are closed again, so none may be logged as listening.
          expect(second.stdout).not.toContain('listening');
          expect(second.stdout).not.toContain('started');
        } finally {
          await held.release();
        }
      });
    }
  });

  describe('refuses bad TLS files with one coded line, from --config.check and from start', () => {
    let f: TlsFixtures;
    beforeAll(async () => {
      f = await makeTlsFixtures();
    }, 60_000);

    const bad: Array<{ name: string; files: () => { cert: string; key: string; ca: string }; says: RegExp }> =
      [
        {
          name: "a key that is not the certificate's",
          files: () => ({ cert: f.cert, key: f.otherKey, ca: '' }),
          says: /key_file: the private key .*does not match the certificate/,
        },
        {
          name: 'a certificate file that is garbage',
          files: () => ({ cert: f.garbage, key: f.key, ca: '' }),
          says: /cert_file: .*garbage\.pem holds no PEM certificate/,
        },
        {
          name: 'a certificate block that does not parse',
          files: () => ({ cert: f.brokenCert, key: f.key, ca: '' }),
          says: /cert_file: the certificate in .*broken\.pem does not parse/,
        },
        {
          name: 'a missing key file',
          files: () => ({ cert: f.cert, key: f.missing, ca: '' }),
          says: /key_file: cannot read .*missing\.pem/,
        },
        {
          name: 'a CA file that is not a certificate',
          files: () => ({ cert: f.cert, key: f.key, ca: f.key }),
          says: /client_ca_file: .* holds no PEM certificate/,
        },
      ];

    for (const { name, files, says } of bad) {
      it(`syslog TLS: ${name}`, () => {
        const { cert, key, ca } = files();
        const args = [
          ...FREE_PORTS,
          '--syslog.tls.listen-address',
          '127.0.0.1:0',
          '--syslog.tls.cert-file',
          cert,
          '--syslog.tls.key-file',
          key,
          '--syslog.tls.client-ca-file',
          ca,
        ];
        for (const result of [run([...args, '--config.check']), run(args)]) {
          expect(result.status).toBe(2);
          expect(expectOneCodedLine(result.stderr, 'SRE_ERR_CONFIG')).toMatch(says);
          expect(result.stderr).toContain('syslog.tls.');
          expect(result.stdout).not.toContain('listening');
        }
      });

      it(`web config: ${name}`, () => {
        const { cert, key, ca } = files();
        const dir = mkdtempSync(join(tmpdir(), 'sre-cli-'));
        const web = join(dir, 'web.yml');
        writeFileSync(
          web,
          `tls_server_config:\n  cert_file: ${cert}\n  key_file: ${key}\n${ca === '' ? '' : `  client_ca_file: ${ca}\n  client_auth_type: RequireAndVerifyClientCert\n`}`,
        );
        const args = [...FREE_PORTS, '--web.config.file', web];
        for (const result of [run([...args, '--config.check']), run(args)]) {
          expect(result.status).toBe(2);
          expect(expectOneCodedLine(result.stderr, 'SRE_ERR_CONFIG')).toMatch(says);
          expect(result.stderr).toContain('tls_server_config.');
          expect(result.stdout).not.toContain('listening');
        }
      });
    }

    it('passes the good files, and checks them without binding a port', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sre-cli-'));
      const web = join(dir, 'web.yml');
      writeFileSync(web, `tls_server_config:\n  cert_file: ${f.cert}\n  key_file: ${f.key}\n`);
      // The check must pass even with every configured port held by someone else.
      const held = await takePort('tcp');
      try {
        const address = `127.0.0.1:${held.port}`;
        const ok = run([
          '--config.check',
          '--web.config.file',
          web,
          '--web.listen-address',
          address,
          '--hep.listen-address',
          address,
          '--syslog.listen-address',
          address,
          '--syslog.tls.listen-address',
          address,
          '--syslog.tls.cert-file',
          f.cert,
          '--syslog.tls.key-file',
          f.key,
          '--syslog.tls.client-ca-file',
          f.ca,
        ]);
        expect(ok.stderr).toBe('');
        expect(ok.status).toBe(0);
        expect(ok.stdout).toContain('configuration OK');
      } finally {
        await held.release();
      }
    });
  });

  it('warns when no listener would count anything, and when TLS files have no TLS listener', async () => {
    const args = [
      '--hep.listen-address',
      '',
      '--syslog.listen-address',
      '',
      '--syslog.tls.cert-file',
      'tls.crt',
    ];
    const checked = run([...args, '--config.check']);
    expect(checked.status).toBe(0);
    expect(checked.stderr).toMatch(/^sip-response-exporter: warning: SRE_WARN_NO_LISTENERS: /m);
    expect(checked.stderr).toMatch(
      /^sip-response-exporter: warning: SRE_WARN_TLS_UNUSED: syslog\.tls\.cert_file is set but syslog\.tls\.listen_address is empty/m,
    );
    expect(run(['--config.check', '--hep.listen-address', '']).stderr).toBe('');
    const typo = run(['--config.check'], { SIP_EXPORTER_HEP_LISTEN_ADRESS: '' });
    expect(typo.status).toBe(0);
    expect(typo.stderr).toBe(
      'sip-response-exporter: warning: SRE_WARN_UNKNOWN_ENV: SIP_EXPORTER_HEP_LISTEN_ADRESS is not an option and is ignored; did you mean SIP_EXPORTER_HEP_LISTEN_ADDRESS?\n',
    );

    const { child, lines, waitFor } = start([...FREE_PORTS, ...args]);
    try {
      await waitFor('sip-response-exporter started');
      const codes = lines.filter((l) => l.level === 40).map((l) => (l as unknown as { code: string }).code);
      expect(codes).toEqual(['SRE_WARN_NO_LISTENERS', 'SRE_WARN_TLS_UNUSED']);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('reloads its configuration on SIGHUP, keeping the old one when the new one is bad', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sre-cli-'));
    const file = join(dir, 'config.yml');
    writeFileSync(file, 'nodes:\n  limit: 10\n');
    const { child, lines, waitFor } = start([
      '--config.file',
      file,
      '--web.listen-address',
      '127.0.0.1:0',
      '--hep.listen-address',
      '',
      '--syslog.listen-address',
      '',
    ]);
    try {
      await waitFor('sip-response-exporter started');
      const web = lines.find((l) => l.msg === 'web: listening')!;
      const http = request(`http://${web.address}`);
      const reloaded = (t: string) => /^sip_exporter_config_last_reload_successful (\d)/m.exec(t)?.[1];

      writeFileSync(file, 'nodes:\n  limitt: 10\n');
      child.kill('SIGHUP');
      await waitFor('configuration reload failed; the old configuration stays');
      expect(reloaded((await http.get('/metrics').expect(200)).text)).toBe('0');

      writeFileSync(file, 'nodes:\n  limit: 20\n  names:\n    "7": seven\n');
      child.kill('SIGHUP');
      await waitFor('configuration reloaded');
      const restart = await waitFor('these changes take effect only after a restart');
      expect((restart as unknown as { keys: string[] }).keys).toEqual(['nodes.limit']);
      expect(reloaded((await http.get('/metrics').expect(200)).text)).toBe('1');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
