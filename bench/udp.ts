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

const RATES = (process.env.BENCH_UDP_RATES ?? '200000,450000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_UDP_SECONDS ?? 5);
export const RECEIVE_BUFFER = 8 * 1024 * 1024;
/**
 * Seconds of the same blast each exporter gets before the measured one (0: none). Every packet a
 * cold exporter drops arrives in its first second, while V8 compiles the hot path (measured: some
 * 10,000 to 17,000 at 200,000/s, none after); the figure is the steady rate, and the start-up
 * loss is printed apart.
 */
const WARMUP_SECONDS = Number(process.env.BENCH_UDP_WARMUP ?? 1);

/** One exporter run under the blast, on one UDP receive path. */
export interface ExporterRun {
  /** what the exporter's /metrics says it used */
  path: string;
  sent: number;
  packets: number;
  counted: number;
  drops: number;
  /** counted / sent: the figure */
  countedPerSent: number;
  /** counted / what the do-nothing Node receiver took in under the same blast */
  ratio: number;
  peakRssMb: number;
  /** the warm-up blast before the measured one: sent, counted, dropped by the kernel */
  warmup: { seconds: number; sent: number; counted: number; drops: number };
}

export interface UdpResult {
  rate: number;
  seconds: number;
  /** sent to the do-nothing Node dgram receiver */
  sent: number;
  nullReceived: number;
  /** the same for a do-nothing receiver on the native batched socket */
  nullBatchSent: number;
  nullBatchReceived: number;
  batch: ExporterRun;
  dgram: ExporterRun;
}

export function buildBlaster(): string {
  mkdirSync(buildDir, { recursive: true });
  const binary = join(buildDir, 'blast');
  execFileSync('cc', ['-O2', '-Wall', '-o', binary, join(here, 'blast.c')], { stdio: 'inherit' });
  return binary;
}

export function lines(child: ChildProcess): AsyncIterableIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}

export async function stopAndRead(child: ChildProcess, it: AsyncIterableIterator<string>): Promise<string> {
  child.kill('SIGTERM');
  const next = await it.next();
  await once(child, 'exit');
  return next.value as string;
}

export interface StartedExporter {
  exporter: ChildProcess;
  /** The UDP port of the listener under test. */
  port: number;
  webAddress: string;
  /** the listener's `listening` log line (with `ingest_workers` for HEP) */
  listening: Record<string, unknown>;
}

/**
 * Starts the exporter with `listener` on a free port (the other listener off) and `flags`;
 * resolves once the listener and the web server are up, from their log lines.
 */
export async function startExporter(listener: 'hep' | 'syslog', flags: string[]): Promise<StartedExporter> {
  const other = listener === 'hep' ? 'syslog' : 'hep';
  const exporter = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'src/cli.ts'),
      '--web.listen-address',
      '127.0.0.1:0',
      `--${listener}.listen-address`,
      '127.0.0.1:0',
      `--${other}.listen-address`,
      '',
      `--${listener}.udp-receive-buffer`,
      String(RECEIVE_BUFFER),
      ...flags,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const it = lines(exporter);
  let listening: Record<string, unknown> | null = null;
  let webAddress = '';
  while (listening === null || webAddress === '') {
    const { value, done } = await it.next();
    if (done) throw new Error('exporter exited before listening');
    const log = JSON.parse(value as string) as { msg: string; address?: string };
    if (log.msg === `${listener}: listening`) listening = log;
    if (log.msg === 'web: listening') webAddress = log.address!;
  }
  const listenAddress = String(listening.address);
  return {
    exporter,
    port: Number(listenAddress.slice(listenAddress.lastIndexOf(':') + 1)),
    webAddress,
    listening,
  };
}

export function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

export function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

export interface UdpComparison {
  /** the datagram to send; COUNTER_WIDTH digits at `offset` are rewritten for each copy */
  template: Buffer;
  offset: number;
  listener: 'hep' | 'syslog';
  /** the sip_responses_total series every datagram adds to */
  series: string;
  rate: number;
  seconds: number;
}

/** The exporter's UDP throughput against a do-nothing Node receiver under the same blast. */
export async function compareUdp(c: UdpComparison): Promise<UdpResult> {
  const binary = buildBlaster();
  const templateFile = join(buildDir, `template.${c.listener}`);
  writeFileSync(templateFile, c.template);
  // The warm-up's Call-IDs start with a 9 where the measured ones start with 0, so that none of
  // them is a dedupe hit for the other; the blaster writes the digits after it.
  const warmFile = join(buildDir, `template-warm.${c.listener}`);
  const warm = Buffer.from(c.template);
  warm[c.offset] = 0x39;
  writeFileSync(warmFile, warm);
  const blastAt = (
    port: number,
    seconds = c.seconds,
    file = templateFile,
    offset = c.offset,
    width = COUNTER_WIDTH,
  ) =>
    Number(
      execFileSync(binary, [
        '127.0.0.1',
        String(port),
        String(c.rate),
        String(seconds),
        file,
        String(offset),
        String(width),
      ])
        .toString()
        .trim(),
    );

  const nullRun = async (script: string) => {
    const receiver = spawn(
      process.execPath,
      ['--import', 'tsx', join(here, script), String(RECEIVE_BUFFER)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const receiverLines = lines(receiver);
    const receiverPort = Number((await receiverLines.next()).value);
    const sent = blastAt(receiverPort);
    await new Promise((r) => setTimeout(r, 1000));
    return { sent, received: Number(await stopAndRead(receiver, receiverLines)) };
  };
  const { sent: nullSent, received: nullReceived } = await nullRun('null-receiver.ts');
  const { sent: nullBatchSent, received: nullBatchReceived } = await nullRun('null-batch-receiver.ts');

  const runExporter = async (batch: boolean): Promise<ExporterRun> => {
    const { exporter, port, webAddress } = await startExporter(c.listener, [
      `--ingest.udp-batch=${batch}`,
      ...(process.env.BENCH_EXPORTER_FLAGS ?? '').split(' ').filter((f) => f !== ''),
    ]);
    const scrape = async () => {
      const text = await (await fetch(`http://${webAddress}/metrics`)).text();
      return {
        text,
        counted: sample(text, `sip_responses_total${c.series}`),
        packets: sample(
          text,
          `sip_exporter_packets_received_total{listener="${c.listener}",transport="udp"}`,
        ),
        drops: sample(text, `sip_exporter_udp_receive_drops_total{listener="${c.listener}"}`),
      };
    };
    let warmupSent = 0;
    if (WARMUP_SECONDS > 0) {
      warmupSent = blastAt(port, WARMUP_SECONDS, warmFile, c.offset + 1, COUNTER_WIDTH - 1);
      await new Promise((r) => setTimeout(r, 500));
    }
    const before = await scrape();
    const sent = blastAt(port);
    await new Promise((r) => setTimeout(r, 1000));
    const after = await scrape();
    const peak = peakRssMb(exporter.pid!);
    exporter.kill('SIGTERM');
    await once(exporter, 'exit');
    const counted = after.counted - before.counted;
    const path = ['batch', 'dgram'].find(
      (p) => sample(after.text, `sip_exporter_udp_receive_path{listener="${c.listener}",path="${p}"}`) === 1,
    );
    return {
      path: path ?? 'unknown',
      sent,
      packets: after.packets - before.packets,
      counted,
      drops: after.drops - before.drops,
      countedPerSent: counted / sent,
      ratio: counted / nullReceived,
      peakRssMb: peak,
      warmup: { seconds: WARMUP_SECONDS, sent: warmupSent, counted: before.counted, drops: before.drops },
    };
  };
  const batch = await runExporter(true);
  const dgram = await runExporter(false);
  return {
    rate: c.rate,
    seconds: c.seconds,
    sent: nullSent,
    nullReceived,
    nullBatchSent,
    nullBatchReceived,
    batch,
    dgram,
  };
}

/**
 * HEP: realistic 200 OK packets, every one a distinct response, dedupe on; at BENCH_UDP_RATES
 * (default 200,000 and 450,000 packets/s, the figures the batched receive path is held to).
 */
export async function runUdp(): Promise<UdpResult[]> {
  const packet = realisticPacket(0);
  const results: UdpResult[] = [];
  for (const rate of RATES) {
    results.push(
      await compareUdp({
        template: packet,
        offset: counterOffset(packet),
        listener: 'hep',
        series: '{code="200",class="2xx",reason="OK",method="INVITE",node="kamailio-edge-1"}',
        rate,
        seconds: SECONDS,
      }),
    );
  }
  return results;
}
