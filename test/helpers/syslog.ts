import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type RsyslogForward, startRsyslogd as startLabRsyslogd } from '../../lab/rsyslog.js';
import { requirePeer } from './peers.js';

const run = promisify(execFile);

/** Sends lines with util-linux logger, one message per line, as an operator's script would. */
export async function logger(args: string[], lines: string[]): Promise<void> {
  const program = requirePeer('logger', 'bsdutils');
  await new Promise<void>((resolve, reject) => {
    // With a message on the command line logger reads no input and may be gone before we write.
    const withInput = lines.length > 0;
    const child = spawn(program, args, { stdio: [withInput ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`logger exited ${code}: ${stderr}`)),
    );
    if (withInput) {
      child.stdin!.on('error', reject);
      child.stdin!.end(`${lines.join('\n')}\n`);
    }
  });
}

export interface Rsyslogd {
  socket: string;
  /** everything rsyslogd printed, for failure messages */
  output: () => string;
  stop: () => Promise<void>;
}

/** The lab's private rsyslogd, forwarding to the exporter. */
export async function startRsyslogd(forward: RsyslogForward): Promise<Rsyslogd> {
  const dir = mkdtempSync(join(tmpdir(), 'sre-rsyslog-'));
  const r = await startLabRsyslogd(dir, 'rsyslogd', forward);
  return { socket: r.socket, output: r.process.log, stop: r.process.stop };
}

/** The flags that turn on the syslog TLS listener, on a kernel-chosen port, with `pki`'s server pair. */
export function syslogTlsFlags(pki: { cert: string; key: string }): Record<string, string> {
  return {
    'syslog.tls.listen-address': '127.0.0.1:0',
    'syslog.tls.cert-file': pki.cert,
    'syslog.tls.key-file': pki.key,
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
