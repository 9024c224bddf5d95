import hep from 'hep-js';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import { Exporter } from '../src/exporter.js';
import { counterOffset, median, realisticPacket, writeCounter } from './packets.js';

export interface InProcessResult {
  /** messages/s handed over one at a time, as dgram and TCP do */
  ours: number;
  /** messages/s handed over in reads of BATCH, as the batched UDP receive (recvmmsg) does */
  batched: number;
  baseline: number;
  ratio: number;
  heapGrowthMb: number;
}

/**
 * Packets are rewritten in place with a new Call-ID number before each is handled, so every
 * message is distinct (as in the UDP benchmark) while the packet bytes are warm in cache, as
 * a datagram the kernel has just copied in is. Building millions of distinct packets up front
 * would measure DRAM misses instead.
 */
const SLOTS = 256;
const MESSAGES = 2_000_000;
const WARMUP = 300_000;
const RUNS = 5;
/** The batched UDP receive's largest read (UdpBatchSocket maxBatch). */
const BATCH = 256;

/** Messages per second of decode + scan + dedupe + count on this thread, every message distinct. */
export function runInProcess(): InProcessResult {
  const packets = Array.from({ length: SLOTS }, () => realisticPacket(0));
  const at = counterOffset(packets[0]);
  // Call KPIs off: this figure is decode + scan + dedupe + count; the call mix below measures the
  // KPIs on traffic they can follow (these responses belong to no INVITE the engine has seen).
  const config = loadConfig({
    flags: { 'hep.listen-address': '', 'log.level': 'silent', 'kpi.enabled': 'false' },
  });
  const exporter = new Exporter(config, pino({ level: 'silent' }));
  const ingest = exporter.source('hep').ingest;

  let serial = 0;
  const measure = (count: number, batch: number) => {
    const started = process.hrtime.bigint();
    // The clock advances 1 ms per 200 messages, as at 200,000 messages/s.
    for (let i = 0; i < count; ) {
      // In batches, as the batched UDP listener hands a read over (hep/listener.ts).
      if (batch > 1) ingest.beginBatch();
      for (const end = Math.min(count, i + batch); i < end; i++, serial++) {
        const packet = packets[serial % SLOTS];
        writeCounter(packet, at, serial);
        ingest.handle(packet, 0, packet.length, '10.0.0.1', serial / 200);
      }
      if (batch > 1) ingest.endBatch();
    }
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  measure(WARMUP, 1);
  measure(WARMUP, BATCH);
  const heapBefore = process.memoryUsage().heapUsed;
  // The median of several runs, one at a time and batched in turn: a shared machine makes single
  // runs swing by a third.
  const rates: number[] = [];
  const batchedRates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    rates.push(MESSAGES / RUNS / measure(MESSAGES / RUNS, 1));
    batchedRates.push(MESSAGES / RUNS / measure(MESSAGES / RUNS, BATCH));
  }
  const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
  const ours = median(rates);
  const batched = median(batchedRates);
  const counted = exporter.counter.countedResponses();
  const expected = 2 * (WARMUP + MESSAGES);
  if (counted !== expected) throw new Error(`counted ${counted} responses, expected ${expected}`);

  // What a Node collector built on the reference library does: decapsulate, then a regex.
  const statusLine = /^SIP\/2\.0 (\d{3}) /;
  let matched = 0;
  const baselineRun = (count: number) => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < count; i++, serial++) {
      const packet = packets[serial % SLOTS];
      writeCounter(packet, at, serial);
      const decoded = hep.decapsulate(packet);
      if (decoded && statusLine.exec(decoded.payload) !== null) matched++;
    }
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  baselineRun(20_000);
  const baselineRates: number[] = [];
  for (let run = 0; run < RUNS; run++) baselineRates.push(40_000 / baselineRun(40_000));
  const baseline = median(baselineRates);
  if (matched !== 20_000 + RUNS * 40_000) throw new Error(`baseline matched ${matched}`);
  return { ours, batched, baseline, ratio: ours / baseline, heapGrowthMb };
}
