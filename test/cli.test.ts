import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../src/version.js';

const CLI = ['--import', 'tsx', 'src/cli.ts'];

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [...CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
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
    const { child, lines, waitFor } = start([
      '--web.listen-address',
      '127.0.0.1:0',
      '--hep.listen-address',
      '127.0.0.1:0',
    ]);
    try {
      await waitFor('sip-response-exporter started');
      const web = lines.find((l) => l.msg === 'web: listening')!;
      expect(lines.filter((l) => l.msg === 'hep: listening')).toHaveLength(1);
      const res = await request(`http://${web.address}`).get('/metrics').expect(200);
      expect(res.text).toContain('sip_exporter_listener_up{listener="hep",transport="udp"} 1');
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

  it('exits 2 with a coded message when a port is taken', async () => {
    const first = start(['--web.listen-address', '127.0.0.1:0', '--hep.listen-address', '']);
    try {
      const web = await first.waitFor('web: listening');
      const second = run(['--web.listen-address', web.address!, '--hep.listen-address', '']);
      expect(second.status).toBe(2);
      expect(second.stderr).toContain('SRE_ERR_LISTEN');
    } finally {
      first.child.kill('SIGKILL');
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
