import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { boundPort, listeningLines, spawnExporter } from '../../lab/exporter-log.js';
import { waitFor } from '../../lab/processes.js';
import { loadConfig } from '../../src/config/load.js';
import { DEMO_CAPTURE, type DemoSource, demoMessages } from '../../src/demo/source.js';
import { Exporter } from '../../src/exporter.js';
import { summarize } from '../../src/replay/output.js';
import { replayFiles } from '../../src/replay/replay.js';
import { CLI } from '../helpers/cli.js';
import { scrape } from '../helpers/exporter.js';

const root = join(import.meta.dirname, '..', '..');
const CAPTURE = join(root, DEMO_CAPTURE);

/** Sum of a family's samples with `node="demo"`, by the value of `key` (or all under ''). */
function demoSeries(exposition: string, family: string, key?: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${family}{`) || !line.includes('node="demo"')) continue;
    const k = key === undefined ? '' : (new RegExp(`${key}="([^"]*)"`).exec(line)?.[1] ?? '');
    out[k] = (out[k] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

const times = (m: Record<string, number>, n: number) =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v * n]));

let exporter: Exporter | null = null;
const children: ChildProcess[] = [];
afterEach(async () => {
  await exporter?.stop();
  exporter = null;
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

describe('demo messages', () => {
  it('reads every SIP message of the bundled capture with room for the pass in its Call-ID', () => {
    const messages = demoMessages(readFileSync(CAPTURE));
    expect(messages.length).toBe(312);
    expect(messages.every((m) => m.passAt > 0)).toBe(true);
    const first = messages[0].payload.toString('latin1');
    expect(first).toMatch(/\r\nCall-ID: \S+-demo000000\r\n/);
    // Times from the first message, in order: one pass is the capture's 39 s.
    expect(messages[0].offsetMs).toBe(0);
    expect(messages.at(-1)!.offsetMs).toBeGreaterThan(30_000);
    expect(messages.at(-1)!.offsetMs).toBeLessThan(60_000);
  });
});

describe('--demo in process', () => {
  it('counts each pass as new calls: two passes are exactly twice what a replay of the file counts', async () => {
    const config = loadConfig({
      flags: {
        'web.listen-address': '127.0.0.1:0',
        'hep.listen-address': '',
        'syslog.listen-address': '',
      },
      env: {},
    });
    exporter = new Exporter(config, pino({ level: 'silent' }), { demo: { speed: 100 } });
    const demo = exporter.demo as DemoSource;
    const passes = new Promise<void>((resolve) => {
      demo.onPass = (pass) => {
        // Two whole passes played, none of the third.
        if (pass === 2) {
          void demo.stop();
          resolve();
        }
      };
    });
    await exporter.start();
    await passes;
    const metrics = await scrape(exporter);
    const one = summarize(
      await replayFiles([CAPTURE], { config: loadConfig({ env: {} }), node: 'demo', hepPorts: [] }),
    );
    const byCode: Record<string, number> = {};
    for (const r of one.responses)
      byCode[`${r.method} ${r.code}`] = (byCode[`${r.method} ${r.code}`] ?? 0) + r.count;
    const live: Record<string, number> = {};
    for (const line of metrics.split('\n')) {
      if (!line.startsWith('sip_responses_total{') || !line.includes('node="demo"')) continue;
      const key = `${/method="(\w+)"/.exec(line)![1]} ${/code="(\d+)"/.exec(line)![1]}`;
      live[key] = (live[key] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    expect(Object.keys(byCode).length).toBeGreaterThan(5);
    expect(live).toEqual(times(byCode, 2));
    const [kpi] = one.kpis;
    const attempts = demoSeries(metrics, 'sip_session_attempts_total', 'outcome');
    expect(attempts).toEqual(times(kpi.attempts, 2));
    expect(attempts.answered).toBe(32);
    expect(demoSeries(metrics, 'sip_registration_attempts_total', 'outcome')).toEqual(
      times(kpi.registrations, 2),
    );
    // Every message went to the demo node, none elsewhere.
    expect(metrics).not.toMatch(/^sip_responses_total\{(?![^}]*node="demo")[^}]*\} [1-9]/m);
    expect(metrics).toContain('sip_exporter_packets_received_total{listener="demo",transport="udp"} 624');
  });
});

/** Starts the CLI with `args`; resolves with the child and its web port once it answers. */
async function startCli(args: string[]): Promise<{ child: ChildProcess; port: number; log: () => string }> {
  const env = {
    ...process.env,
    SIP_EXPORTER_HEP_LISTEN_ADDRESS: undefined,
    SIP_EXPORTER_SYSLOG_LISTEN_ADDRESS: undefined,
  };
  const { child, web, log } = await spawnExporter(
    [...CLI, '--web.listen-address', '127.0.0.1:0', ...args],
    { cwd: root, env },
    children,
  );
  return { child, port: web, log };
}

// A start (up to 30 s) and then the demo's calls (up to 30 s more) on a loaded machine.
describe('--demo on the command line', { timeout: 90_000 }, () => {
  it('moves the response and call KPI counters of node="demo" with no listener, says so loudly, and stops on SIGTERM', async () => {
    const { child, port, log } = await startCli(['--demo', '--demo.speed', '20']);
    const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    // A pass at 20 times real time takes 2 s; its first call ends within a few hundred ms.
    await waitFor(
      'the demo counters to move',
      async () => {
        const text = await metrics();
        return (
          (demoSeries(text, 'sip_responses_total')[''] ?? 0) > 0 &&
          (demoSeries(text, 'sip_session_attempts_total')[''] ?? 0) > 0
        );
      },
      30_000,
    );
    const landing = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    expect(landing).toContain('DEMO: bundled lab capture, not real traffic');
    // The listeners left at their default addresses are off: nothing binds 9060 or 5514.
    expect(landing).not.toContain('HEP v1/v2/v3');
    expect(log()).toContain('"code":"SRE_WARN_DEMO"');
    expect(log()).not.toContain('SRE_WARN_NO_LISTENERS');
    expect(log()).not.toContain('"listener":"hep"');
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });

  it('keeps a listener whose address is given', async () => {
    const { child, port, log } = await startCli(['--demo', '--hep.listen-address', '127.0.0.1:0']);
    const hep = boundPort(listeningLines(log()), 'hep');
    const landing = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    expect(landing).toContain(`127.0.0.1:${hep}`);
    expect(landing).toContain('DEMO: bundled lab capture');
    child.kill('SIGTERM');
    expect((await once(child, 'exit'))[0]).toBe(0);
  });

  it('refuses a bad --demo.speed, and --demo.speed without --demo, with a coded line', async () => {
    for (const args of [
      ['--demo', '--demo.speed', '0'],
      ['--demo', '--demo.speed', 'fast'],
      ['--demo.speed', '2'],
    ]) {
      const child = spawn(process.execPath, [...CLI, '--web.listen-address', '127.0.0.1:0', ...args], {
        cwd: root,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      children.push(child);
      let err = '';
      child.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const [code] = await once(child, 'exit');
      expect(code, args.join(' ')).toBe(2);
      expect(err).toMatch(/^sip-response-exporter: SRE_ERR_CONFIG: --demo\.speed/);
    }
  });
});
