import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { COUNTER_WIDTH, counterOffset, realisticPacket } from './packets.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const buildDir = join(here, '.build');

const RATE = Number(process.env.BENCH_UDP_RATE ?? 200_000);
const SECONDS = Number(process.env.BENCH_UDP_SECONDS ?? 5);
const RECEIVE_BUFFER = 8 * 1024 * 1024;

export interface UdpResult {
  rate: number;
  seconds: number;
  sent: number;
  nullReceived: number;
  exporterPackets: number;
  exporterCounted: number;
  exporterDrops: number;
  ratio: number;
  peakRssMb: number;
}

function buildBlaster(): string {
  mkdirSync(buildDir, { recursive: true });
  const binary = join(buildDir, 'blast');
  execFileSync('cc', ['-O2', '-Wall', '-o', binary, join(here, 'blast.c')], { stdio: 'inherit' });
  return binary;
}

function blast(binary: string, port: number, template: string, offset: number): number {
  const out = execFileSync(binary, [
    '127.0.0.1',
    String(port),
    String(RATE),
    String(SECONDS),
    template,
    String(offset),
    String(COUNTER_WIDTH),
  ]);
  return Number(out.toString().trim());
}

function lines(child: ChildProcess): AsyncIterableIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}

async function stopAndRead(child: ChildProcess, it: AsyncIterableIterator<string>): Promise<string> {
  child.kill('SIGTERM');
  const next = await it.next();
  await once(child, 'exit');
  return next.value as string;
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** The exporter's UDP throughput against a do-nothing Node receiver under the same blast. */
export async function runUdp(): Promise<UdpResult> {
  const binary = buildBlaster();
  const packet = realisticPacket(0);
  const template = join(buildDir, 'template.hep');
  writeFileSync(template, packet);
  const offset = counterOffset(packet);

  const receiver = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'null-receiver.ts'), String(RECEIVE_BUFFER)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const receiverLines = lines(receiver);
  const receiverPort = Number((await receiverLines.next()).value);
  blast(binary, receiverPort, template, offset);
  await new Promise((r) => setTimeout(r, 1000));
  const nullReceived = Number(await stopAndRead(receiver, receiverLines));

  const exporter = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'src/cli.ts'),
      '--web.listen-address',
      '127.0.0.1:0',
      '--hep.listen-address',
      '127.0.0.1:0',
      '--hep.udp-receive-buffer',
      String(RECEIVE_BUFFER),
      ...(process.env.BENCH_EXPORTER_FLAGS ?? '').split(' ').filter((f) => f !== ''),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exporterLines = lines(exporter);
  let hepAddress = '';
  let webAddress = '';
  while (hepAddress === '' || webAddress === '') {
    const { value, done } = await exporterLines.next();
    if (done) throw new Error('exporter exited before listening');
    const log = JSON.parse(value as string) as { msg: string; address?: string };
    if (log.msg === 'hep: listening') hepAddress = log.address!;
    if (log.msg === 'web: listening') webAddress = log.address!;
  }
  const hepPort = Number(hepAddress.slice(hepAddress.lastIndexOf(':') + 1));
  const sent = blast(binary, hepPort, template, offset);
  await new Promise((r) => setTimeout(r, 1000));
  const text = await (await fetch(`http://${webAddress}/metrics`)).text();
  const peak = peakRssMb(exporter.pid!);
  exporter.kill('SIGTERM');
  await once(exporter, 'exit');

  const exporterCounted = sample(
    text,
    'sip_responses_total{code="200",class="2xx",reason="OK",method="INVITE",node="kamailio-edge-1"}',
  );
  return {
    rate: RATE,
    seconds: SECONDS,
    sent,
    nullReceived,
    exporterPackets: sample(text, 'sip_exporter_packets_received_total{listener="hep",transport="udp"}'),
    exporterCounted,
    exporterDrops: sample(text, 'sip_exporter_udp_receive_drops_total{listener="hep"}'),
    ratio: exporterCounted / nullReceived,
    peakRssMb: peak,
  };
}
