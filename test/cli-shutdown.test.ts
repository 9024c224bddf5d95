import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, FREE_PORTS } from './helpers/cli.js';
import { hep3 } from './helpers/hep.js';
import { closed, tcpConnect, write } from './helpers/net.js';
import { sipResponse } from './helpers/sip.js';

interface LogLine {
  msg: string;
  level: number;
  address?: string;
  code?: string;
  signal?: string;
  packets?: { hep: Record<string, number>; syslog: Record<string, number> };
}

const children: ChildProcess[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** Starts the real CLI on loopback with kernel-chosen ports and collects its JSON log lines. */
async function start(args: string[] = []) {
  const child = spawn(process.execPath, [...CLI, ...FREE_PORTS, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines: LogLine[] = [];
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      const line = JSON.parse(text) as LogLine;
      lines.push(line);
      if (line.msg === 'sip-response-exporter started') resolve();
    });
    void exited.then((code) => reject(new Error(`exited with ${code} before it started`)));
  });
  await ready;
  const port = (msg: string) =>
    Number(
      lines
        .find((l) => l.msg === msg)!
        .address!.split(':')
        .at(-1),
    );
  return {
    child,
    lines,
    exited,
    hepPort: port('hep: listening'),
    syslogPort: port('syslog: listening'),
    webPort: port('web: listening'),
  };
}

const HEP = hep3({ payload: sipResponse({ code: 503 }) });
const SYSLOG = Buffer.from(
  '<13>Nov 25 10:20:30 edge-1 kamailio: ACC: transaction answered: method=INVITE;call_id=d1;code=486;reason=Busy Here\n',
);

describe('stopping the CLI', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`on ${signal}, reads and counts everything a TCP client wrote before the stop, then exits 0`, async () => {
      const cli = await start();
      const hep = await tcpConnect(cli.hepPort);
      const syslog = await tcpConnect(cli.syslogPort);
      sockets.push(hep, syslog);
      // Megabytes, so that most of it still sits in the kernel's buffers when the signal lands.
      const hepPackets = 12_000;
      const syslogLines = 20_000;
      await Promise.all([
        write(hep, Buffer.concat(Array.from({ length: hepPackets }, () => HEP))),
        write(syslog, Buffer.concat(Array.from({ length: syslogLines }, () => SYSLOG))),
      ]);
      const signalled = Date.now();
      cli.child.kill(signal);
      expect(await cli.exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(5000);
      const stopping = cli.lines.find((l) => l.msg === 'stopping')!;
      expect(stopping.signal).toBe(signal);
      const stopped = cli.lines.find((l) => l.msg === 'stopped')!;
      expect(stopped.packets).toEqual({
        hep: { udp: 0, tcp: hepPackets },
        syslog: { udp: 0, tcp: syslogLines, tls: 0 },
      });
      // The exporter shut its side; the clients saw it.
      await Promise.all([closed(hep), closed(syslog)]);
    });
  }

  it('does not wait for a TCP client that stays connected and silent', async () => {
    const cli = await start();
    // allowHalfOpen: the client does not answer our FIN by closing, as a sender that never reads would.
    const silent = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: cli.hepPort, allowHalfOpen: true }, () => resolve(s));
      s.once('error', reject);
    });
    sockets.push(silent);
    await write(silent, Buffer.concat([HEP, HEP, HEP]));
    const signalled = Date.now();
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(3000);
    expect(cli.lines.find((l) => l.msg === 'stopped')!.packets!.hep.tcp).toBe(3);
  });

  it('exits 1 with SRE_ERR_SHUTDOWN_TIMEOUT when the stop cannot finish within the grace period', async () => {
    const cli = await start();
    // A scraper stuck halfway through its request holds the HTTP server's close.
    const stuck = await tcpConnect(cli.webPort);
    sockets.push(stuck);
    await write(stuck, Buffer.from('GET /metrics HTTP/1.1\r\nHost: exporter\r\n'));
    const signalled = Date.now();
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(1);
    const took = Date.now() - signalled;
    expect(took).toBeGreaterThanOrEqual(4900);
    expect(took).toBeLessThan(8000);
    const error = cli.lines.find((l) => l.code === 'SRE_ERR_SHUTDOWN_TIMEOUT');
    expect(error?.msg).toBe('stop took too long; exiting');
    expect(error?.level).toBe(50);
    expect(cli.lines.map((l) => l.msg)).not.toContain('stopped');
  });
});
