/**
 * Peer lookups per second with 1,000 peers and 10,000 CIDR ranges (mixed IPv4 and IPv6,
 * overlapping at random, a tenth of the peers restricted to ports), and whether lookups allocate.
 * Run with a collectable heap:
 *
 *   node --expose-gc --import tsx bench/peers.ts [peers] [ranges]
 *
 * Half the probe addresses fall inside configured ranges, half anywhere; a quarter of the IPv4
 * ones come IPv4-mapped in 16 bytes, as a dual-stack capture agent sends them. It reports the
 * build time, the table sizes, lookups per second (best of several rounds, one core), heap growth
 * across all the rounds and how many garbage collections ran during them: a lookup that allocated
 * would show as scavenges. It exits 1 when the heap grew or a collection ran.
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { formatIPv4, formatIPv6, parseAddressRange } from '../src/peers/address.js';
import { type PeerEntry, PeerMatcher } from '../src/peers/matcher.js';
import { applyV8Flags } from '../src/v8-flags.js';

// As the CLI runs the exporter (src/v8-flags.ts).
applyV8Flags();

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with node --expose-gc --import tsx bench/peers.ts');
  process.exit(2);
}

const PEERS = Number(process.argv[2] ?? 1_000);
const RANGES = Number(process.argv[3] ?? 10_000);
const PROBES = 1 << 16;
const ROUNDS = 7;
const LOOKUPS_PER_ROUND = 5_000_000;

/** mulberry32: the same tables and probes on every run. */
let seed = 0x5eed;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number) => Math.floor(random() * n);
const u32 = () => BigInt(int(0x100000000));

// Ranges cluster under a few hundred /8s and /32s so that they nest and overlap as real carrier
// lists do (a /16 of one carrier with /24s and single SBCs of others inside it).
const v4Roots = Array.from({ length: 200 }, () => BigInt(int(224)) << 24n);
const v6Roots = Array.from({ length: 100 }, () => (0x2000n + BigInt(int(0x1000))) << 112n);

function randomRange(): string {
  if (random() < 0.7) {
    const prefix = [8, 12, 16, 20, 22, 24, 24, 26, 28, 29, 30, 32, 32, 32][int(14)];
    const value = v4Roots[int(v4Roots.length)] | (u32() & 0xffffffn);
    const host = (1n << BigInt(32 - prefix)) - 1n;
    return `${formatIPv4(value & ~host)}/${prefix}`;
  }
  const prefix = [32, 36, 40, 44, 48, 48, 56, 64, 64, 96, 112, 128, 128][int(13)];
  const value =
    v6Roots[int(v6Roots.length)] | (u32() << 80n) | (u32() << 48n) | (u32() << 16n) | BigInt(int(65536));
  const host = (1n << BigInt(128 - prefix)) - 1n;
  return `${formatIPv6(value & ~host)}/${prefix}`;
}

const entries: PeerEntry[] = [];
for (let p = 0; p < PEERS; p++) {
  const count = Math.floor(RANGES / PEERS) + (p < RANGES % PEERS ? 1 : 0);
  const ranges = Array.from({ length: count }, () => {
    const parsed = parseAddressRange(randomRange());
    if (!parsed.ok) throw new Error(parsed.message);
    return parsed.range;
  });
  const ports = p % 10 === 0 ? [5060, 5061, 5080 + int(20)].sort((a, b) => a - b) : null;
  entries.push({ name: `peer-${p}`, ranges, ports });
}

const buildStart = performance.now();
const matcher = new PeerMatcher(entries);
const buildMs = performance.now() - buildStart;

// Probes: 16-byte slots in one buffer, with their length and port.
const probeBuf = new Uint8Array(PROBES * 16);
const probeLength = new Uint8Array(PROBES);
const probePort = new Uint16Array(PROBES);
const allRanges = entries.flatMap((e) => e.ranges);
function put(slot: number, value: bigint, bytes: number): void {
  for (let i = 0; i < bytes; i++)
    probeBuf[slot * 16 + i] = Number((value >> BigInt((bytes - 1 - i) * 8)) & 0xffn);
  probeLength[slot] = bytes;
}
for (let i = 0; i < PROBES; i++) {
  let family: 4 | 6;
  let value: bigint;
  if (random() < 0.5) {
    const r = allRanges[int(allRanges.length)];
    family = r.family;
    const span = r.last - r.first + 1n;
    value = r.first + ((u32() * u32()) % span);
  } else if (random() < 0.7) {
    family = 4;
    value = u32();
  } else {
    family = 6;
    value = (u32() << 96n) | (u32() << 64n) | (u32() << 32n) | u32();
  }
  if (family === 6) put(i, value, 16);
  else if (random() < 0.25) put(i, (0xffffn << 32n) | value, 16);
  else put(i, value, 4);
  probePort[i] = [5060, 5061, 5080, 40000 + int(20000)][int(4)];
}

const peerCounts = new Uint32Array(matcher.size + 1);
function round(lookups: number): number {
  let sum = 0;
  for (let i = 0; i < lookups; i++) {
    const slot = i & (PROBES - 1);
    sum += matcher.peerOf(probeBuf, slot * 16, probeLength[slot], probePort[slot]);
  }
  return sum;
}
for (let slot = 0; slot < PROBES; slot++)
  peerCounts[matcher.peerOf(probeBuf, slot * 16, probeLength[slot], probePort[slot])]++;

round(LOOKUPS_PER_ROUND); // warm up and optimise
gc();
gc();
const heapBefore = process.memoryUsage().heapUsed;
let collections = 0;
const observer = new PerformanceObserver((list) => {
  collections += list.getEntries().length;
});
observer.observe({ entryTypes: ['gc'] });

const rates: number[] = [];
let sink = 0;
for (let r = 0; r < ROUNDS; r++) {
  const t = performance.now();
  sink += round(LOOKUPS_PER_ROUND);
  rates.push(LOOKUPS_PER_ROUND / ((performance.now() - t) / 1000));
}
const heapAfterRounds = process.memoryUsage().heapUsed;
await new Promise((resolve) => setTimeout(resolve, 50));
observer.disconnect();

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const stats = matcher.stats;
const matched = PROBES - peerCounts[0];
console.log(
  `peers: ${fmt(PEERS)} peers, ${fmt(allRanges.length)} ranges (${fmt(allRanges.filter((r) => r.family === 4).length)} IPv4), a tenth with ports`,
);
console.log(`  build                : ${buildMs.toFixed(0)} ms`);
console.log(
  `  table                : ${fmt(stats.segments4)} IPv4 + ${fmt(stats.segments6)} IPv6 segments, ${fmt(stats.decisions)} decisions, ${fmt(stats.portRows)} port rows, ${fmt(matcher.unreachable.length)} unreachable entries`,
);
console.log(`  probes               : ${fmt(PROBES)}, ${fmt(matched)} of them matched a peer`);
rates.sort((a, b) => a - b);
console.log(
  `  lookups per second   : ${fmt(rates[rates.length - 1])} best, ${fmt(rates[rates.length >> 1])} median of ${ROUNDS} rounds of ${fmt(LOOKUPS_PER_ROUND)} (checksum ${sink})`,
);
console.log(
  `  heap during rounds   : ${fmt(heapAfterRounds - heapBefore)} bytes growth, ${collections} garbage collections`,
);
if (heapAfterRounds - heapBefore > 64 * 1024 || collections > 0) {
  console.log('  FAIL: lookups allocated');
  process.exit(1);
}
