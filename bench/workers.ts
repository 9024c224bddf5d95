import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COUNTER_WIDTH, counterOffset, realisticPacket } from './packets.js';
import { buildBlaster, peakRssMb, sample, startExporter } from './udp.js';

const here = dirname(fileURLToPath(import.meta.url));

const RATE = Number(process.env.BENCH_WORKERS_RATE ?? 900_000);
const SECONDS = Number(process.env.BENCH_WORKERS_SECONDS ?? 5);
/** Source ports the blast cycles through: SO_REUSEPORT spreads by 4-tuple, so one would reach one worker. */
const FLOWS = 16;
const SERIES = '{code="200",class="2xx",reason="OK",method="INVITE",node="kamailio-edge-1"}';

export interface WorkersRun {
  workers: number;
  sent: number;
  counted: number;
  drops: number;
  /** counted per second of blast */
  perSecond: number;
  /** how long the blast took to send (longer than asked when the sender is short of CPU) */
  blastSeconds: number;
  peakRssMb: number;
}

/** One exporter with --ingest.workers `workers` under a blast from FLOWS source ports beyond what it can take. */
async function run(blast: string, template: string, offset: number, workers: number): Promise<WorkersRun> {
  const {
    exporter,
    port,
    webAddress: web,
    listening,
  } = await startExporter('hep', ['--ingest.workers', String(workers)]);
  if (listening.ingest_workers !== workers)
    throw new Error(`asked for ${workers} workers, got ${listening.ingest_workers}`);
  const args = [
    '127.0.0.1',
    String(port),
    String(RATE),
    String(SECONDS),
    template,
    String(offset),
    String(COUNTER_WIDTH),
    String(FLOWS),
  ];
  const started = performance.now();
  const sent = Number(execFileSync(blast, args).toString().trim());
  // A sender short of CPU takes longer than asked to send its count: rates are per second it took.
  const blastSeconds = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 1500));
  const text = await (await fetch(`http://${web}/metrics`)).text();
  const peak = peakRssMb(exporter.pid!);
  exporter.kill('SIGTERM');
  await once(exporter, 'exit');
  const counted = sample(text, `sip_responses_total${SERIES}`);
  return {
    workers,
    sent,
    counted,
    drops: sample(text, 'sip_exporter_udp_receive_drops_total{listener="hep"}'),
    perSecond: counted / blastSeconds,
    blastSeconds,
    peakRssMb: peak,
  };
}

/** Counted per second with 1 and with 2 ingest workers under the same over-capacity blast. */
export async function runWorkers(): Promise<{ one: WorkersRun; two: WorkersRun; ratio: number }> {
  const blast = buildBlaster();
  const packet = realisticPacket(0);
  const template = join(here, '.build', 'template.workers');
  writeFileSync(template, packet);
  const offset = counterOffset(packet);
  const one = await run(blast, template, offset, 1);
  const two = await run(blast, template, offset, 2);
  return { one, two, ratio: two.perSecond / one.perSecond };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const r = await runWorkers();
  console.log(
    `HEP over UDP, ${fmt(RATE)}/s offered for ${SECONDS}s from ${FLOWS} source ports, dedupe and call KPIs on`,
  );
  for (const w of [r.one, r.two])
    console.log(
      `  --ingest.workers ${w.workers}: ${fmt(w.counted)} counted of ${fmt(w.sent)} sent in ${w.blastSeconds.toFixed(1)} s (${fmt(w.perSecond)} counted/s), ${fmt(w.drops)} kernel drops, peak RSS ${w.peakRssMb.toFixed(0)} MB`,
    );
  console.log(`  2 workers / 1: ${r.ratio.toFixed(2)}`);
}
