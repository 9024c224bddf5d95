/**
 * What a series of sip_responses_total costs: heap per series, and the time of one scrape, at
 * the default --metrics.max-series. Run with a collectable heap:
 *
 *   node --expose-gc --import tsx bench/series.ts [series]
 *
 * It makes `series` distinct (node, code, method) combinations through the real counter (100
 * nodes, the rest spread over codes and methods), scrapes once so prom-client holds its own copy
 * as it does in production, and reports heap and RSS growth per series and the median of
 * registry.metrics() over several scrapes.
 */
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { NodeLabels } from '../src/count/nodes.js';
import { KIND_RESPONSE, Observation } from '../src/count/observation.js';
import { SipCounter } from '../src/count/sip-counter.js';
import { SelfMetrics } from '../src/metrics/self-metrics.js';
import { METHOD_COUNT } from '../src/sip/methods.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with node --expose-gc --import tsx bench/series.ts');
  process.exit(2);
}

const series = Number(process.argv[2] ?? 20_000);
const NODES = 100;
const SCRAPES = 15;

function settle(): NodeJS.MemoryUsage {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage();
}

const registry = new Registry();
const self = new SelfMetrics(registry);
const nodes = new NodeLabels(NODES, new Map(), self.nodeOverflow.cell({}));
const counter = new SipCounter(registry, nodes, null, self, { maxSeries: series });
const nodeIds = Array.from({ length: NODES }, (_, i) => nodes.fromText(`edge-${String(i).padStart(3, '0')}`));
await registry.metrics();
const before = settle();

const observation = new Observation();
observation.kind = KIND_RESPONSE;
let made = 0;
for (let code = 100; code < 700 && made < series; code++) {
  for (let method = 0; method < METHOD_COUNT && made < series; method++) {
    for (let n = 0; n < NODES && made < series; n++) {
      observation.node = nodeIds[n];
      observation.statusCode = code;
      observation.method = method;
      counter.count(observation);
      made++;
    }
  }
}
const first = performance.now();
const body = await registry.metrics();
const firstMs = performance.now() - first;
const after = settle();

const times: number[] = [];
for (let i = 0; i < SCRAPES; i++) {
  const t = performance.now();
  await registry.metrics();
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);

const perSeries = (a: number, b: number) => ((b - a) / made).toFixed(0);
console.log(
  JSON.stringify(
    {
      series: made,
      heapBytesPerSeries: Number(perSeries(before.heapUsed, after.heapUsed)),
      rssBytesPerSeries: Number(perSeries(before.rss, after.rss)),
      heapUsedMb: Number((after.heapUsed / 2 ** 20).toFixed(1)),
      rssMb: Number((after.rss / 2 ** 20).toFixed(1)),
      firstScrapeMs: Number(firstMs.toFixed(1)),
      scrapeMedianMs: Number(times[times.length >> 1].toFixed(1)),
      scrapeMaxMs: Number(times[times.length - 1].toFixed(1)),
      exposureBytes: Buffer.byteLength(body),
    },
    null,
    2,
  ),
);
