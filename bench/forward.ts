import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COUNTER_WIDTH, counterOffset, realisticPacket } from './packets.js';
import { buildBlaster, lines, peakRssMb, RECEIVE_BUFFER, sample, startExporter, stopAndRead } from './udp.js';

const here = dirname(fileURLToPath(import.meta.url));
const RATES = (process.env.BENCH_FORWARD_RATES ?? '100000,200000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_FORWARD_SECONDS ?? 5);
/** USER_HZ, the unit of /proc/PID/stat's times; 100 on every Linux architecture Node runs on */
const CLOCK_TICKS = 100;

/** [user, system] CPU seconds a process has used, from /proc/PID/stat. */
function cpuSeconds(pid: number): [number, number] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(fields[11]) / CLOCK_TICKS, Number(fields[12]) / CLOCK_TICKS];
}

/** One exporter forwarding a blast to one UDP target, on one send path. */
export interface ForwardRun {
  /** the exporter's UDP receive path, which also picks the send path: batch (sendmmsg) or dgram */
  path: string;
  sent: number;
  /** HEP packets the exporter read and counted */
  packets: number;
  counted: number;
  /** sip_exporter_hep_forwarded_total by result */
  forwarded: number;
  droppedQueueFull: number;
  sendErrors: number;
  /** what the do-nothing target took in */
  targetReceived: number;
  /** forwarded / sent: the figure */
  forwardedPerSent: number;
  /**
   * The exporter's CPU time (user, system) over the blast, per packet it read: unlike the rates,
   * this hardly depends on what else the machine runs.
   */
  userUsPerPacket: number;
  systemUsPerPacket: number;
  peakRssMb: number;
}

export interface ForwardResult {
  rate: number;
  seconds: number;
  /** the same exporter and blast without forwarding, batched receive: what forwarding costs */
  baseline: ForwardRun;
  batch: ForwardRun;
  dgram: ForwardRun;
}

/**
 * The forwarding rate: HEP blasted at the exporter at each of BENCH_FORWARD_RATES packets/s
 * (default 100,000 and 200,000) for BENCH_FORWARD_SECONDS (5), every packet forwarded to one UDP
 * target, a do-nothing receiver on the native batched socket (so the target is never the
 * bottleneck); once with the addon (recvmmsg in, sendmmsg out), once without (dgram both ways),
 * and once with the addon and no forwarding, in the same sitting, for what forwarding costs.
 */
export async function runForward(): Promise<ForwardResult[]> {
  const binary = buildBlaster();
  const template = realisticPacket(0);
  const templateFile = join(here, '.build', 'template.forward');
  writeFileSync(templateFile, template);
  let rate = 0;
  const blastAt = (port: number) =>
    Number(
      execFileSync(binary, [
        '127.0.0.1',
        String(port),
        String(rate),
        String(SECONDS),
        templateFile,
        String(counterOffset(template)),
        String(COUNTER_WIDTH),
      ])
        .toString()
        .trim(),
    );

  const run = async (batch: boolean, forward = true): Promise<ForwardRun> => {
    const target = spawn(
      process.execPath,
      ['--import', 'tsx', join(here, 'null-batch-receiver.ts'), String(RECEIVE_BUFFER)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const targetLines = lines(target);
    const targetPort = Number((await targetLines.next()).value);
    const { exporter, port, webAddress } = await startExporter('hep', [
      ...(forward ? ['--hep.forward-address', `127.0.0.1:${targetPort}`] : []),
      `--ingest.udp-batch=${batch}`,
    ]);
    // Settled after start (tsx compiles the sources on the way up), then measured over the blast.
    await new Promise((r) => setTimeout(r, 1000));
    const [user0, system0] = cpuSeconds(exporter.pid!);
    const sent = blastAt(port);
    await new Promise((r) => setTimeout(r, 1000));
    const [user1, system1] = cpuSeconds(exporter.pid!);
    const text = await (await fetch(`http://${webAddress}/metrics`)).text();
    const peak = peakRssMb(exporter.pid!);
    exporter.kill('SIGTERM');
    await once(exporter, 'exit');
    const targetReceived = Number(await stopAndRead(target, targetLines));
    const result = (r: string) =>
      sample(text, `sip_exporter_hep_forwarded_total{target="127.0.0.1:${targetPort}",result="${r}"}`);
    const path = ['batch', 'dgram'].find(
      (p) => sample(text, `sip_exporter_udp_receive_path{listener="hep",path="${p}"}`) === 1,
    );
    const forwarded = result('sent');
    const packets = sample(text, 'sip_exporter_packets_received_total{listener="hep",transport="udp"}');
    return {
      path: path ?? 'unknown',
      sent,
      packets,
      counted: sample(
        text,
        'sip_responses_total{code="200",class="2xx",reason="OK",method="INVITE",node="kamailio-edge-1"}',
      ),
      forwarded,
      droppedQueueFull: result('dropped_queue_full'),
      sendErrors: result('send_error'),
      targetReceived,
      forwardedPerSent: forwarded / sent,
      userUsPerPacket: ((user1 - user0) * 1e6) / packets,
      systemUsPerPacket: ((system1 - system0) * 1e6) / packets,
      peakRssMb: peak,
    };
  };
  const results: ForwardResult[] = [];
  for (rate of RATES) {
    const baseline = await run(true, false);
    results.push({ rate, seconds: SECONDS, baseline, batch: await run(true), dgram: await run(false) });
  }
  return results;
}
