import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import bcrypt from 'bcryptjs';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';
import type { Exporter } from '../src/exporter.js';
import { CLI } from './helpers/cli.js';
import { samples, sampleValue, startExporter } from './helpers/exporter.js';
import { hep3 } from './helpers/hep.js';
import {
  CLIENT_AUTH_OUTCOMES,
  type HttpsClient,
  httpsGet,
  httpsOutcome,
  type Presented,
} from './helpers/https.js';
import { closeUdp, eventually, sendUdp, udpSender } from './helpers/net.js';
import { sipResponse } from './helpers/sip.js';
import { makeCertificates } from './helpers/syslog.js';

type Certificates = Awaited<ReturnType<typeof makeCertificates>>;

let exporter: Exporter | null = null;
afterEach(async () => {
  await exporter?.stop();
  exporter = null;
});

const flags = {
  'web.listen-address': '127.0.0.1:0',
  'hep.listen-address': '127.0.0.1:0',
  'syslog.listen-address': '127.0.0.1:0',
  'log.level': 'silent',
};

describe('reloading the configuration while running', () => {
  it('applies the auth key, extractors and node names at once, and lists what needs a restart', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sre-reload-')), 'config.yml');
    writeFileSync(file, 'nodes:\n  names:\n    "1": first\n');
    exporter = await startExporter({}, { file });
    const http = request(`http://127.0.0.1:${exporter.httpPort}`);
    const s = udpSender();
    const { udpPort } = exporter.source('hep').listener!;
    await sendUdp(
      s,
      hep3({ payload: sipResponse({ code: 200, callId: 'a' }), captureId: 1, nodeName: '' }),
      udpPort,
    );
    await eventually(
      async () => (await http.get('/metrics')).text,
      (t) => sampleValue(t, 'sip_exporter_packets_received_total{listener="hep",transport="udp"}') === 1,
    );

    writeFileSync(
      file,
      'hep:\n  auth_key: k2\nnodes:\n  names:\n    "2": second\nsyslog:\n  extractors: [sip-message]\ndedupe:\n  window: 5s\n',
    );
    const restart = exporter.reload(loadConfig({ file, flags }));
    expect(restart).toEqual(['dedupe.window']);
    expect(exporter.config.dedupe.window).toBe(32_000);
    expect(exporter.config.hep.auth_key).toBe('k2');

    await sendUdp(
      s,
      hep3({ payload: sipResponse({ code: 486, callId: 'b' }), captureId: 2, nodeName: '' }),
      udpPort,
    );
    await sendUdp(
      s,
      hep3({ payload: sipResponse({ code: 487, callId: 'c' }), captureId: 2, nodeName: '', authKey: 'k2' }),
      udpPort,
    );
    await sendUdp(
      s,
      Buffer.from(
        '<13>Nov 25 10:20:30 h k: ACC: transaction answered: timestamp=1;method=INVITE;call_id=x;code=404;reason=x',
      ),
      exporter.source('syslog').listener!.plain!.udpPort,
    );
    const text = await eventually(
      async () => (await http.get('/metrics')).text,
      (t) => sampleValue(t, 'sip_exporter_syslog_unmatched_total') === 1,
    );
    expect(samples(text, 'sip_responses_total')).toEqual({
      '{code="200",class="2xx",reason="OK",method="INVITE",node="first"}': 1,
      '{code="487",class="4xx",reason="Request Terminated",method="INVITE",node="second"}': 1,
    });
    expect(sampleValue(text, 'sip_exporter_auth_failures_total{listener="hep"}')).toBe(1);
    expect(samples(text, 'sip_exporter_syslog_matches_total')).toEqual({
      '{extractor="kamailio-acc"}': 0,
      '{extractor="opensips-acc"}': 0,
      '{extractor="kamailio-xlog"}': 0,
      '{extractor="sip-message"}': 0,
    });
    await closeUdp(s);
  });
});

describe('reloading the web config file', () => {
  const webFlags = (file: string) => ({ ...flags, 'web.config.file': file });
  const hash = (password: string) => bcrypt.hashSync(password, 4);
  const tlsBlock = (pki: Certificates, mode = 'NoClientCert') =>
    `tls_server_config:\n  cert_file: ${pki.cert}\n  key_file: ${pki.key}\n  client_auth_type: ${mode}\n  client_ca_file: ${pki.ca}\n`;

  it('adds and removes basic auth users, and a changed password stops the old one at once', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sre-reload-')), 'web.yml');
    writeFileSync(file, `basic_auth_users:\n  alice: "${hash('a1')}"\n`);
    exporter = await startExporter({ 'web.config.file': file });
    const http = request(`http://127.0.0.1:${exporter.httpPort}`);
    // Twice: the second one is answered from the cache of good checks.
    await http.get('/metrics').auth('alice', 'a1').expect(200);
    await http.get('/metrics').auth('alice', 'a1').expect(200);
    await http.get('/metrics').auth('bob', 'b1').expect(401);

    writeFileSync(file, `basic_auth_users:\n  alice: "${hash('a2')}"\n  bob: "${hash('b1')}"\n`);
    expect(exporter.reload(loadConfig({ flags: webFlags(file) }))).toEqual([]);
    await http.get('/metrics').auth('alice', 'a1').expect(401);
    await http.get('/metrics').auth('alice', 'a2').expect(200);
    await http.get('/metrics').auth('bob', 'b1').expect(200);

    writeFileSync(file, `basic_auth_users:\n  alice: "${hash('a2')}"\n`);
    expect(exporter.reload(loadConfig({ flags: webFlags(file) }))).toEqual([]);
    await http.get('/metrics').auth('bob', 'b1').expect(401);
    await http.get('/metrics').auth('alice', 'a2').expect(200);

    // No users: open again.
    writeFileSync(file, 'http_server_config:\n  headers:\n    X-Frame-Options: deny\n');
    exporter.reload(loadConfig({ flags: webFlags(file) }));
    const open = await http.get('/metrics').expect(200);
    expect(open.headers['x-frame-options']).toBe('deny');
  });

  it('refuses a broken web config file whole and keeps the old one', async () => {
    const pki = await makeCertificates();
    const other = await makeCertificates();
    const file = join(mkdtempSync(join(tmpdir(), 'sre-reload-')), 'web.yml');
    const good = `${tlsBlock(pki)}basic_auth_users:\n  alice: "${hash('a1')}"\n`;
    writeFileSync(file, good);
    exporter = await startExporter({ 'web.config.file': file });
    const ca = readFileSync(pki.ca);
    const broken = [
      'basic_auth_users: [oops\n',
      `${tlsBlock(pki)}basic_auth_users:\n  alice: plain\n`,
      `${tlsBlock(pki)}basic_auth_userz:\n  alice: "${hash('a2')}"\n`,
      // a key that does not fit the certificate
      `tls_server_config:\n  cert_file: ${pki.cert}\n  key_file: ${other.key}\nbasic_auth_users:\n  alice: "${hash('a2')}"\n`,
      `tls_server_config:\n  cert_file: ${pki.cert}\n  key_file: /nonexistent/key.pem\n`,
      `${tlsBlock(pki, 'RequireAndVerifyClientCert').replace(/ {2}client_ca_file:.*\n/, '')}`,
    ];
    for (const text of broken) {
      writeFileSync(file, text);
      expect(() => exporter!.reload(loadConfig({ flags: webFlags(file) })), text).toThrow(ConfigError);
      const res = await httpsGet(exporter.httpPort, '/metrics', { ca, auth: 'alice:a1' });
      expect(res.status, text).toBe(200);
      expect(res.peer.fingerprint256).toBe(new X509Certificate(readFileSync(pki.cert)).fingerprint256);
      expect((await httpsGet(exporter.httpPort, '/metrics', { ca, auth: 'alice:a2' })).status).toBe(401);
    }
  });

  it('serves a renewed certificate to new connections', async () => {
    const first = await makeCertificates();
    const renewed = await makeCertificates();
    const dir = mkdtempSync(join(tmpdir(), 'sre-reload-'));
    const paths = { ca: first.ca, cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') } as Certificates;
    copyFileSync(first.cert, paths.cert);
    copyFileSync(first.key, paths.key);
    const file = join(dir, 'web.yml');
    writeFileSync(file, `tls_server_config:\n  cert_file: ${paths.cert}\n  key_file: ${paths.key}\n`);
    exporter = await startExporter({ 'web.config.file': file });
    const port = exporter.httpPort;
    const fingerprint = (path: string) => new X509Certificate(readFileSync(path)).fingerprint256;
    const before = await httpsGet(port, '/healthz', { ca: readFileSync(first.ca) });
    expect(before.peer.fingerprint256).toBe(fingerprint(first.cert));

    // Renewed in place, as certbot or cert-manager do, under the same names.
    copyFileSync(renewed.cert, paths.cert);
    copyFileSync(renewed.key, paths.key);
    expect(exporter.reload(loadConfig({ flags: webFlags(file) }))).toEqual([]);
    const after = await httpsGet(port, '/healthz', { ca: readFileSync(renewed.ca) });
    expect(after.status).toBe(200);
    expect(after.peer.fingerprint256).toBe(fingerprint(renewed.cert));
    await expect(httpsGet(port, '/healthz', { ca: readFileSync(first.ca) })).rejects.toThrow();
  });

  it('reports switching TLS on or off as needing a restart and keeps serving as started', async () => {
    const pki = await makeCertificates();
    const ca = readFileSync(pki.ca);
    const dir = mkdtempSync(join(tmpdir(), 'sre-reload-'));
    const file = join(dir, 'web.yml');

    // Plain HTTP, then a file with TLS: still plain HTTP, but the new users apply.
    writeFileSync(file, `basic_auth_users:\n  alice: "${hash('a1')}"\n`);
    exporter = await startExporter({ 'web.config.file': file });
    const http = request(`http://127.0.0.1:${exporter.httpPort}`);
    writeFileSync(
      file,
      `${tlsBlock(pki, 'RequireAnyClientCert')}basic_auth_users:\n  bob: "${hash('b1')}"\n`,
    );
    expect(exporter.reload(loadConfig({ flags: webFlags(file) }))).toEqual([
      'web.config_file (TLS on or off)',
    ]);
    await http.get('/metrics').auth('bob', 'b1').expect(200);
    await http.get('/metrics').auth('alice', 'a1').expect(401);
    await exporter.stop();

    // HTTPS requiring a client certificate, then a file without TLS, then no file at all: still
    // HTTPS, and still requiring the certificate.
    writeFileSync(file, tlsBlock(pki, 'RequireAnyClientCert'));
    exporter = await startExporter({ 'web.config.file': file });
    const port = exporter.httpPort;
    const withCert = { ca, cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) };
    for (const text of [`basic_auth_users:\n  bob: "${hash('b1')}"\n`, null]) {
      if (text !== null) writeFileSync(file, text);
      const next = loadConfig({ flags: text === null ? flags : webFlags(file) });
      expect(exporter.reload(next)).toEqual(['web.config_file (TLS on or off)']);
      expect(await httpsOutcome(port, '/healthz', { ca })).toBe(403);
      expect(await httpsOutcome(port, '/healthz', withCert)).toBe(200);
    }
  });

  it('applies every change of client_auth_type to new connections and to kept-alive ones', async () => {
    const pki = await makeCertificates();
    const other = await makeCertificates();
    const ca = readFileSync(pki.ca);
    const clients: Record<Presented, HttpsClient> = {
      none: { ca },
      'right CA': { ca, cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) },
      'other CA': { ca, cert: readFileSync(other.clientCert), key: readFileSync(other.clientKey) },
    };
    const file = join(mkdtempSync(join(tmpdir(), 'sre-reload-')), 'web.yml');
    const modes = Object.keys(CLIENT_AUTH_OUTCOMES);
    const switchTo = (mode: string) => {
      writeFileSync(file, `${tlsBlock(pki, mode)}http_server_config:\n  headers:\n    X-Mode: ${mode}\n`);
      expect(exporter!.reload(loadConfig({ flags: webFlags(file) }))).toEqual([]);
    };
    writeFileSync(file, tlsBlock(pki));
    exporter = await startExporter({ 'web.config.file': file });
    const port = exporter.httpPort;
    for (const from of modes) {
      for (const to of modes) {
        if (from === to) continue;
        switchTo(from);
        switchTo(to);
        const seen: Record<string, number | 'refused'> = {};
        for (const [name, client] of Object.entries(clients))
          seen[name] = await httpsOutcome(port, '/healthz', client, { 'X-Mode': to });
        expect({ from, to, ...seen }).toEqual({ from, to, ...CLIENT_AUTH_OUTCOMES[to] });
      }
    }

    // A connection opened without a certificate under a lax mode is held to the stricter one
    // on its next request.
    switchTo('NoClientCert');
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
    const kept = { ca, agent };
    expect((await httpsGet(port, '/healthz', kept)).status).toBe(200);
    for (const mode of ['RequireAnyClientCert', 'RequireAndVerifyClientCert']) {
      switchTo(mode);
      const res = await httpsGet(port, '/healthz', kept);
      expect(res.reused).toBe(true);
      expect(res.status).toBe(403);
    }
    agent.destroy();
  });
});

describe('SIGHUP with a broken web config file', () => {
  it('logs the error, keeps the old users and reports the failed reload in its metric', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sre-reload-')), 'web.yml');
    writeFileSync(file, `basic_auth_users:\n  alice: "${bcrypt.hashSync('a1', 4)}"\n`);
    const child = spawn(
      process.execPath,
      [
        ...CLI,
        '--web.listen-address',
        '127.0.0.1:0',
        '--web.config.file',
        file,
        '--hep.listen-address',
        '',
        '--syslog.listen-address',
        '',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines: Array<{ msg: string; address?: string; code?: string }> = [];
    createInterface({ input: child.stdout! }).on('line', (text) => lines.push(JSON.parse(text)));
    const logged = (msg: string, after = 0) =>
      eventually(
        () => lines.slice(after).find((l) => l.msg === msg),
        (l) => l !== undefined || child.exitCode !== null,
        20_000,
      ).then((l) => {
        if (l === undefined) throw new Error(`exited with ${child.exitCode} before logging "${msg}"`);
        return l;
      });
    try {
      const web = await logged('web: listening');
      const http = request(`http://${web.address}`);
      const reloaded = async (user: string, password: string) =>
        sampleValue(
          (await http.get('/metrics').auth(user, password).expect(200)).text,
          'sip_exporter_config_last_reload_successful',
        );
      expect(await reloaded('alice', 'a1')).toBe(1);

      writeFileSync(file, 'basic_auth_users:\n  alice: not-a-hash\n');
      let mark = lines.length;
      child.kill('SIGHUP');
      const failed = await logged('configuration reload failed; the old configuration stays', mark);
      expect(failed.code).toBe('SRE_ERR_CONFIG');
      expect(await reloaded('alice', 'a1')).toBe(0);

      writeFileSync(file, `basic_auth_users:\n  bob: "${bcrypt.hashSync('b1', 4)}"\n`);
      mark = lines.length;
      child.kill('SIGHUP');
      await logged('configuration reloaded', mark);
      expect(await reloaded('bob', 'b1')).toBe(1);
      await http.get('/metrics').auth('alice', 'a1').expect(401);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
