import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import { Exporter } from '../src/exporter.js';
import { COUNTER_WIDTH } from './packets.js';
import { compareUdp, type UdpResult } from './udp.js';

const here = dirname(fileURLToPath(import.meta.url));
const buildDir = join(here, '.build');

const LINES = 300_000;
const CODES = [200, 200, 200, 180, 486, 404, 503, 487, 401, 603];
const UDP_RATE = Number(process.env.BENCH_SYSLOG_UDP_RATE ?? 100_000);
const UDP_SECONDS = Number(process.env.BENCH_UDP_SECONDS ?? 5);

function accLine(i: number, code: number): string {
  return `<142>Nov 25 10:20:30 proxy${i % 4} /usr/sbin/kamailio[${1000 + (i % 8)}]: NOTICE: {1 ${i % 90} INVITE ${String(i).padStart(COUNTER_WIDTH, '0')}-3c26700a5e8f@192.168.1.10} acc [acc.c:285]: acc_log_request(): ACC: transaction answered: timestamp=1795599837;method=INVITE;from_tag=as5f3a2c1b;to_tag=7f3e9a1c;call_id=${String(i).padStart(COUNTER_WIDTH, '0')}-3c26700a5e8f@192.168.1.10;code=${code};reason=Whatever`;
}

/** Kamailio's syslog as rsyslog writes it: four in five lines from acc, the rest other log lines. */
export function syslogLines(count: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 5 === 4) {
      lines.push(
        `<134>Nov 25 10:20:30 proxy${i % 4} /usr/sbin/kamailio[${1000 + (i % 8)}]: INFO: <script>: routing call ${i} to 192.0.2.${i % 250}`,
      );
    } else lines.push(accLine(i, CODES[i % CODES.length]));
  }
  return lines;
}

export interface SyslogResult {
  lines: number;
  oursPerSecond: number;
  mtail: { perSecond: number; cpuSeconds: number; perCpuSecond: number } | null;
  udp: UdpResult;
}

/** Lines per second through header parsing, extraction and counting, on this thread. */
function inProcess(lines: string[]): number {
  const config = loadConfig({
    flags: { 'hep.listen-address': '', 'syslog.listen-address': '', 'log.level': 'silent' },
  });
  const exporter = new Exporter(config, pino({ level: 'silent' }));
  const buffers = lines.map((l) => Buffer.from(l));
  const ingest = exporter.source('syslog').ingest;
  for (let i = 0; i < 50_000; i++) ingest.handle(buffers[i % buffers.length], '10.0.0.1', 0);
  const before = exporter.counter.countedResponses();
  const started = process.hrtime.bigint();
  for (let i = 0; i < buffers.length; i++) ingest.handle(buffers[i], '10.0.0.1', 1);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const counted = exporter.counter.countedResponses() - before;
  if (counted !== (lines.length * 4) / 5)
    throw new Error(`counted ${counted}, expected ${(lines.length * 4) / 5}`);
  return buffers.length / seconds;
}

/** mtail --one_shot over the same lines from a file, timed by GNU time; null without mtail. */
function mtail(file: string): SyslogResult['mtail'] {
  try {
    execFileSync('sh', ['-c', 'command -v mtail && test -x /usr/bin/time'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const progs = join(buildDir, 'mtail-progs');
  mkdirSync(progs, { recursive: true });
  copyFileSync(join(here, 'syslog.mtail'), join(progs, 'sip.mtail'));
  const timeFile = join(buildDir, 'mtail-time.txt');
  const stdout = execFileSync(
    '/usr/bin/time',
    [
      '-o',
      timeFile,
      '-f',
      '%e %U %S',
      'mtail',
      '--progs',
      progs,
      '--logs',
      file,
      '--one_shot',
      '--one_shot_format',
      'prometheus',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 * 1024 * 1024 },
  );
  const counted = stdout
    .split('\n')
    .filter((l) => l.startsWith('sip_responses_total{'))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  if (counted !== (LINES * 4) / 5)
    throw new Error(`mtail counted ${counted} responses, expected ${(LINES * 4) / 5}`);
  const [wall, user, sys] = readFileSync(timeFile, 'utf8').trim().split(/\s+/).map(Number);
  return { perSecond: LINES / wall, cpuSeconds: user + sys, perCpuSecond: LINES / (user + sys) };
}

export async function runSyslog(): Promise<SyslogResult> {
  mkdirSync(buildDir, { recursive: true });
  const lines = syslogLines(LINES);
  const file = join(buildDir, 'kamailio.log');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const oursPerSecond = inProcess(lines);
  const m = mtail(file);
  const template = Buffer.from(accLine(0, 503));
  const udp = await compareUdp({
    template,
    offset: template.indexOf('-3c26700a5e8f') - COUNTER_WIDTH,
    listener: 'syslog',
    series: '{code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="proxy0"}',
    rate: UDP_RATE,
    seconds: UDP_SECONDS,
  });
  return { lines: LINES, oursPerSecond, mtail: m, udp };
}
