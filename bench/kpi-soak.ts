/**
 * Memory soak of the counting path with call KPIs on: HEP decode, scan, SipCounter with dedupe,
 * the KPI observer and engine at their default table sizes, scraped as Prometheus would. The
 * call mix of bench/call-mix.ts (INVITE, 100, 180, 200, ACK, BYE and its 200, each traced in and
 * out: 14 packets a call) is paced at a steady rate of calls per second, and the capture time
 * the packets carry is the time since the start, so the tables hold what they would at that
 * rate. Calls hold 60, 120, 180, 240 or 300 s (mean 180 s, the hold docs/kpis.md sizes the
 * dialog table for): at 10,000 calls/s about 1,800,000 dialogs are active once the longest
 * calls end (after 300 s). RSS and heap are sampled every 10 s.
 *
 *   npx tsx bench/kpi-soak.ts [--seconds 600] [--rate 10000] [--set exporter.flag=value ...]
 *   npm run bench -- kpi-soak [--seconds 600]
 *
 * Paced in real time, not a throughput figure: it runs for --seconds whatever the machine.
 * It exits 1 when the KPI tables evicted anything or the counts disagree with what was sent.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import { OK } from '../src/errors.js';
import { Exporter } from '../src/exporter.js';
import { applyV8Flags } from '../src/v8-flags.js';
import { callPackets, TEMPLATE } from './call-mix.js';
import { COUNTER_WIDTH, writeCounter } from './packets.js';

const HOLD_S = [60, 120, 180, 240, 300];
/** Capture-time offsets (ms from the call's INVITE) of the 14 packets, in and out copies 1 ms apart. */
const SETUP_MS = [0, 1, 20, 21, 300, 301, 2000, 2001, 2010, 2011];
const TEARDOWN_MS = [0, 1, 5, 6];
const SETUP_PACKETS = SETUP_MS.length;
/** Capture time of the first call: an arbitrary epoch second. */
const BASE_SECONDS = 1_795_600_000;
const SAMPLE_MS = 10_000;
const SCRAPE_MS = 15_000;
const MiB = 2 ** 20;

export interface KpiSoakResult {
  seconds: number;
  rate: number;
  flags: Record<string, string>;
  calls: number;
  ended: number;
  packets: number;
  maxRssMiB: number;
  maxHeapMiB: number;
  activeSessions: number;
  /** evicted dialogs that were still up at the end (the rest had their BYE find no dialog) */
  cutUp: number;
  evictions: { attempts: number; linger: number; dialogs: number };
  dedupeEvictions: number;
  /** the furthest the loop fell behind its schedule, in ms */
  maxLagMs: number;
  /** "elapsed rss heap active" lines, one per sample */
  samples: string[];
  /**
   * What did not add up; empty when every count is what was sent, evicted dialogs (cut, and
   * counted) accounted for.
   */
  mismatches: string[];
}

/** Offsets of the HEPv3 capture-time chunks (0x0009 seconds, 0x000a microseconds) in a packet. */
function timeOffsets(packet: Buffer): { seconds: number; micros: number } {
  let seconds = -1;
  let micros = -1;
  for (let at = 6; at + 6 <= packet.length; ) {
    const type = packet.readUInt16BE(at + 2);
    const length = packet.readUInt16BE(at + 4);
    if (type === 0x0009) seconds = at + 6;
    if (type === 0x000a) micros = at + 6;
    at += length;
  }
  if (seconds < 0 || micros < 0) throw new Error('HEP packet without time chunks');
  return { seconds, micros };
}

/** The kernel's own peak RSS of this process (VmHWM), which no sampling can miss; 0 off Linux. */
function peakRss(): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface KpiSoakOptions {
  seconds: number;
  rate: number;
  /** exporter flags over the defaults, such as `dedupe.max-entries` */
  flags: Record<string, string>;
  log: (line: string) => void;
}

export async function runKpiSoak({ seconds, rate, flags, log }: KpiSoakOptions): Promise<KpiSoakResult> {
  const packets = callPackets();
  const callIdAt = packets.map((p) => p.indexOf(TEMPLATE) - COUNTER_WIDTH);
  const timeAt = packets.map(timeOffsets);
  // Defaults everywhere (table sizes, dedupe window and entries) unless --set: no listeners.
  const config = loadConfig({
    flags: { 'hep.listen-address': '', 'log.level': 'silent', ...flags },
    env: {},
  });
  const exporter = new Exporter(config, pino({ level: 'silent' }));
  const ingest = exporter.source('hep').ingest;
  const kpi = exporter.kpi;
  if (kpi === null) throw new Error('call KPIs are off by default?');
  const engine = kpi.engine;
  // The exporter's clock (`now`: the dedupe window, timeouts, linger) is the schedule's, as a
  // live exporter that keeps up sees it: on a busy machine that falls behind, the work comes late
  // but in the same order and at the same clock, so the tables hold what they would at the rate.
  // The engine sweeps from each message; the observer's timer, on the wall clock, stays off.

  let sent = 0;
  let errors = 0;
  const send = (i: number, call: number, captureMs: number, now: number) => {
    const p = packets[i];
    writeCounter(p, callIdAt[i], call);
    const whole = Math.floor(captureMs / 1000);
    p.writeUInt32BE(BASE_SECONDS + whole, timeAt[i].seconds);
    p.writeUInt32BE(Math.round((captureMs - whole * 1000) * 1000), timeAt[i].micros);
    if (ingest.handle(p, 0, p.length, '10.0.0.1', now) !== OK) errors++;
    sent++;
  };
  const startMs = (call: number) => (call * 1000) / rate;

  const durationMs = seconds * 1000;
  const total = Math.floor(seconds * rate);
  const classes = HOLD_S.length;
  /** per hold class k, the next call (n % classes === k) whose BYE is due */
  const nextBye = HOLD_S.map((_, k) => k);
  let calls = 0;
  let ended = 0;
  let maxLagMs = 0;
  let maxRss = 0;
  let maxHeap = 0;
  const samples: string[] = [];
  const sample = (elapsedMs: number) => {
    const { rss, heapUsed } = process.memoryUsage();
    maxRss = Math.max(maxRss, rss);
    maxHeap = Math.max(maxHeap, heapUsed);
    const line = `${(elapsedMs / 1000).toFixed(0).padStart(4)} s  rss ${(rss / MiB).toFixed(0).padStart(4)} MiB  heap ${(heapUsed / MiB).toFixed(1).padStart(5)} MiB  calls ${calls}  active ${engine.stats.activeSessions}`;
    samples.push(line);
    log(line);
  };

  const t0 = performance.now();
  /** Capture and clock time run in slices of the schedule: setups and BYEs due in a slice, in turn. */
  const SLICE_MS = 10;
  let slice = 0;
  const runSlice = (from: number) => {
    const to = Math.min(from + SLICE_MS, durationMs);
    const now = t0 + to;
    for (; calls < total && startMs(calls) < to; calls++) {
      const at = startMs(calls);
      for (let i = 0; i < SETUP_PACKETS; i++) send(i, calls, at + SETUP_MS[i], now);
    }
    for (let k = 0; k < classes; k++) {
      const hold = HOLD_S[k] * 1000;
      for (let n = nextBye[k]; n < calls && startMs(n) + hold < to; n += classes) {
        const at = startMs(n) + hold;
        for (let i = 0; i < TEARDOWN_MS.length; i++) send(SETUP_PACKETS + i, n, at + TEARDOWN_MS[i], now);
        ended++;
        nextBye[k] = n + classes;
      }
    }
  };
  let nextSample = 0;
  let nextScrape = SCRAPE_MS;
  for (;;) {
    const elapsed = performance.now() - t0;
    maxLagMs = Math.max(maxLagMs, elapsed - slice);
    for (; slice < durationMs && slice + SLICE_MS <= elapsed; slice += SLICE_MS) runSlice(slice);
    maxRss = Math.max(maxRss, process.memoryUsage.rss());
    if (elapsed >= nextSample) {
      sample(elapsed);
      nextSample += SAMPLE_MS;
    }
    if (elapsed >= nextScrape) {
      // What a Prometheus scrape costs and keeps, on the same heap.
      await exporter.registry.metrics();
      nextScrape += SCRAPE_MS;
    }
    if (slice >= durationMs) break;
    await sleep(5);
  }
  sample(performance.now() - t0);

  const s = engine.stats;
  const mismatches: string[] = [];
  const check = (what: string, got: number, want: number) => {
    if (got !== want) mismatches.push(`${what}: ${got}, expected ${want}`);
  };
  const attempts = await exporter.registry.getSingleMetric('sip_session_attempts_total')?.get();
  const answered = attempts?.values.find((v) => v.labels.outcome === 'answered')?.value ?? 0;
  check('answered attempts', answered, calls);
  // An evicted dialog is cut, and counted: if it would still be up at the end it is missing from
  // the active count, else the BYE that would have ended it finds no dialog. The two shortfalls
  // add up to the evictions exactly, or something was lost uncounted.
  const cutUp = calls - ended - s.activeSessions;
  // Each ended call's BYE is traced twice; the observer leaves the second copy out when its copy
  // memory still holds the first (kpi/copies), and any other reaches the engine as unmatched.
  const byeCopiesSeen = ended - (exporter.kpi?.copyMemory?.byes ?? 0);
  const cutEnded = s.unmatchedByes - byeCopiesSeen;
  if (cutUp < 0 || cutEnded < 0 || cutUp + cutEnded !== s.dialogEvictions)
    mismatches.push(
      `active sessions ${s.activeSessions} (expected ${calls - ended}) and unmatched BYEs ${s.unmatchedByes} (expected ${byeCopiesSeen}) are off by ${cutUp + cutEnded}, not by the ${s.dialogEvictions} dialogs evicted`,
    );
  // 100, 180 and 200 per call, the BYE's 200 per ended call: the out copies are dedupe hits.
  check('responses counted', exporter.counter.countedResponses(), 3 * calls + ended);
  check('packets not OK', errors, 0);
  return {
    seconds,
    rate,
    flags,
    calls,
    ended,
    packets: sent,
    maxRssMiB: Math.max(maxRss, peakRss()) / MiB,
    maxHeapMiB: maxHeap / MiB,
    activeSessions: s.activeSessions,
    cutUp,
    evictions: { attempts: s.attemptEvictions, linger: s.lingerEvictions, dialogs: s.dialogEvictions },
    dedupeEvictions: Number(
      (await exporter.registry.getSingleMetric('sip_exporter_dedupe_evictions_total')?.get())?.values[0]
        ?.value ?? 0,
    ),
    maxLagMs,
    samples,
    mismatches,
  };
}

const USAGE =
  'usage: npx tsx bench/kpi-soak.ts [--seconds 600] [--rate 10000] [--set exporter.flag=value ...]';

/** Reads --seconds, --rate and --set from `args`; exits 2 with the usage on anything else. */
export function soakArguments(args: string[]): Omit<KpiSoakOptions, 'log'> {
  try {
    const { values } = parseArgs({
      args,
      options: {
        seconds: { type: 'string', default: '600' },
        rate: { type: 'string', default: '10000' },
        set: { type: 'string', multiple: true, default: [] },
      },
    });
    const seconds = Number(values.seconds);
    const rate = Number(values.rate);
    if (!(seconds > 0 && rate > 0)) throw new Error('--seconds and --rate must be positive numbers');
    const flags: Record<string, string> = {};
    for (const pair of values.set) {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`--set takes flag=value, got ${JSON.stringify(pair)}`);
      flags[pair.slice(0, at)] = pair.slice(at + 1);
    }
    return { seconds, rate, flags };
  } catch (err) {
    process.stderr.write(`kpi-soak: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * Prints the soak's figures; returns false when it must fail: a count that does not add up, or
 * an open attempt evicted (its outcome is lost). Evicted dialogs and lingering attempts are
 * counted losses, reported above; size the tables to avoid them.
 */
export function printKpiSoak(r: KpiSoakResult): boolean {
  const e = r.evictions;
  console.log(
    `KPI soak (${fmt(r.rate)} calls/s for ${r.seconds} s, 14 HEP packets a call, holds ${HOLD_S.join('/')} s, dedupe on, ${
      Object.keys(r.flags).length === 0
        ? 'default tables'
        : Object.entries(r.flags)
            .map(([k, v]) => `--${k} ${v}`)
            .join(' ')
    })`,
  );
  console.log(
    `  calls processed        : ${fmt(r.calls)} (${fmt(r.ended)} ended), ${fmt(r.packets)} packets`,
  );
  console.log(
    `  max RSS                : ${r.maxRssMiB.toFixed(0)} MiB (heap at most ${r.maxHeapMiB.toFixed(1)} MiB)`,
  );
  console.log(`  active sessions at end : ${fmt(r.activeSessions)}`);
  console.log(
    `  KPI evictions          : attempts ${e.attempts}, linger ${e.linger}, dialogs ${e.dialogs} (${fmt(r.cutUp)} still up at the end, ${fmt(e.dialogs - r.cutUp)} whose BYE found none)`,
  );
  console.log(`  dedupe evictions       : ${fmt(r.dedupeEvictions)}`);
  console.log(`  most behind schedule   : ${r.maxLagMs.toFixed(0)} ms`);
  for (const m of r.mismatches) console.log(`  MISMATCH ${m}`);
  return r.mismatches.length === 0 && e.attempts === 0;
}

/**
 * Compiles this script and what it imports with tsc into bench/.build, so that the soak runs on
 * plain Node as the exporter does in production (`node dist/src/cli.js`): the tsx loader adds
 * some 35 MiB of RSS of its own. Returns the compiled entry point.
 */
function compile(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = dirname(here);
  const out = join(here, '.build', 'kpi-soak');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  // The compiler options of tsconfig.json that matter for emitting, given here because tsc takes
  // either a project or files; the two declaration files stand in for untyped packages.
  const options = [
    ...['--outDir', out, '--rootDir', root, '--module', 'nodenext', '--moduleResolution', 'nodenext'],
    ...['--target', 'es2022', '--lib', 'es2023', '--types', 'node', '--strict', '--skipLibCheck'],
    ...['--esModuleInterop', '--resolveJsonModule', '--verbatimModuleSyntax'],
  ];
  const files = ['bench/kpi-soak.ts', 'src/ingest/syslog/glossy.d.ts', 'test/helpers/hep-js.d.ts'];
  execFileSync(process.execPath, [tsc, ...options, ...files.map((f) => join(root, f))], { stdio: 'inherit' });
  return join(out, 'bench', 'kpi-soak.js');
}

/** Runs the soak compiled, in a plain Node child, printing as it goes; returns its exit code. */
export function soakCompiled(args: string[]): number {
  soakArguments(args);
  return spawnSync(process.execPath, [compile(), ...args], { stdio: 'inherit' }).status ?? 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  if (import.meta.url.endsWith('.ts')) process.exitCode = soakCompiled(args);
  else {
    // As the CLI runs the exporter.
    applyV8Flags();
    const r = await runKpiSoak({ ...soakArguments(args), log: (line) => console.log(line) });
    if (!printKpiSoak(r)) process.exitCode = 1;
  }
}
