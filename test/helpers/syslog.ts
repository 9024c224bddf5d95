import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requirePeer } from './peers.js';

const run = promisify(execFile);

/** Sends lines with util-linux logger, one message per line, as an operator's script would. */
export async function logger(args: string[], lines: string[]): Promise<void> {
  const program = requirePeer('logger', 'bsdutils');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`logger exited ${code}: ${stderr}`)),
    );
    child.stdin.end(`${lines.join('\n')}\n`);
  });
}

export interface Rsyslogd {
  socket: string;
  /** everything rsyslogd printed, for failure messages */
  output: () => string;
  stop: () => Promise<void>;
}

/**
 * A private rsyslogd: it reads a Unix socket of its own (imuxsock, not the system's /dev/log) and
 * forwards everything to the exporter with omfwd, as a proxy host's rsyslog would.
 */
export async function startRsyslogd(forward: { port: number; protocol: 'udp' | 'tcp' }): Promise<Rsyslogd> {
  const program = requirePeer('rsyslogd', 'rsyslog');
  const dir = mkdtempSync(join(tmpdir(), 'sre-rsyslog-'));
  const socket = join(dir, 'log.sock');
  const tcp =
    forward.protocol === 'tcp'
      ? ' TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"'
      : '';
  writeFileSync(
    join(dir, 'rsyslog.conf'),
    [
      `global(workDirectory="${dir}")`,
      'module(load="imuxsock" SysSock.Use="off")',
      `input(type="imuxsock" Socket="${socket}")`,
      `*.* action(type="omfwd" target="127.0.0.1" port="${forward.port}" protocol="${forward.protocol}"${tcp})`,
      '',
    ].join('\n'),
  );
  const child = spawn(program, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      readFileSync(socket);
    } catch (err) {
      // A socket cannot be read as a file; ENXIO means it exists.
      if ((err as NodeJS.ErrnoException).code === 'ENXIO') break;
    }
    if (child.exitCode !== null) throw new Error(`rsyslogd exited ${child.exitCode}: ${output}`);
    if (Date.now() > deadline) throw new Error(`rsyslogd did not create its socket: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    socket,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A throwaway CA, server certificate and client certificate, made with openssl. */
export async function makeCertificates(): Promise<{
  dir: string;
  ca: string;
  cert: string;
  key: string;
  clientCert: string;
  clientKey: string;
}> {
  const openssl = requirePeer('openssl', 'openssl');
  const dir = mkdtempSync(join(tmpdir(), 'sre-tls-'));
  const p = (name: string) => join(dir, name);
  const ossl = (args: string[]) => run(openssl, args, { cwd: dir });
  await ossl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=test-ca',
  ]);
  for (const name of ['server', 'client']) {
    await ossl([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.csr`),
      '-subj',
      `/CN=${name === 'server' ? 'localhost' : 'proxy-client'}`,
    ]);
    await ossl([
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.pem'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p(`${name}.pem`),
      '-days',
      '1',
    ]);
  }
  return {
    dir,
    ca: p('ca.pem'),
    cert: p('server.pem'),
    key: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
  };
}
