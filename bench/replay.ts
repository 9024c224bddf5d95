/**
 * Replay throughput: packets per second from a pcap file on one core, counted end to end as
 * `sip-response-exporter replay` counts them (capture reader, SIP scan, observation, dedupe,
 * series cells, call KPIs), with the files of bench/capture.ts. Also with the OpenMetrics
 * timeline on, which samples the counters every step of capture time. Every packet of that file
 * is a 200 OK to an INVITE of a call the capture does not show; a second file of whole calls
 * traced in and out at a proxy (bench/call-mix.ts) has the call KPIs follow every message.
 *
 *   npx tsx bench/replay.ts [packets]
 *
 * The machine may be shared: run it once, not in a loop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { summarize } from '../src/replay/output.js';
import { replayFiles } from '../src/replay/replay.js';
import { applyV8Flags } from '../src/v8-flags.js';
import { generate, generateCalls } from './capture-file.js';

// As the CLI runs the exporter (src/v8-flags.ts).
applyV8Flags();

const PACKETS = Number(process.argv[2] ?? 300_000);
const RUNS = 3;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const dir = mkdtempSync(join(tmpdir(), 'sre-bench-replay-'));
try {
  const path = join(dir, 'bench.pcap');
  generate(path, false, PACKETS);
  const config = loadConfig({ flags: {}, env: {} });
  for (const stepMs of [undefined, 15_000]) {
    let best = 0;
    let responses = 0;
    for (let run = 0; run < RUNS; run++) {
      const began = process.hrtime.bigint();
      const result = await replayFiles([path], { config, stepMs });
      const seconds = Number(process.hrtime.bigint() - began) / 1e9;
      responses = summarize(result).totals.responses;
      if (responses !== PACKETS) throw new Error(`counted ${responses} of ${PACKETS} responses`);
      best = Math.max(best, PACKETS / seconds);
    }
    console.log(
      `replay ${stepMs === undefined ? 'table/json ' : 'openmetrics'}: ${fmt(best)} packets/s (best of ${RUNS}; ${fmt(PACKETS)} packets, ${fmt(responses)} responses counted)`,
    );
  }
  const calls = join(dir, 'calls.pcap');
  const packets = generateCalls(calls, PACKETS);
  let best = 0;
  let answered = 0;
  for (let run = 0; run < RUNS; run++) {
    const began = process.hrtime.bigint();
    const result = await replayFiles([calls], { config });
    const seconds = Number(process.hrtime.bigint() - began) / 1e9;
    answered = summarize(result).kpis.reduce((n, k) => n + (k.attempts.answered ?? 0), 0);
    if (answered !== packets / 14) throw new Error(`answered ${answered} of ${packets / 14} calls`);
    best = Math.max(best, packets / seconds);
  }
  console.log(
    `replay whole calls: ${fmt(best)} packets/s (best of ${RUNS}; ${fmt(packets)} packets, ${fmt(answered)} calls answered)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
