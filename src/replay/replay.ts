import { stat } from 'node:fs/promises';
import { Registry } from 'prom-client';
import {
  type CapturedPacket,
  CaptureSession,
  type CaptureStats,
  DEFAULT_HEP_PORT,
  dropsByLabel,
  newDropCounters,
  readFileChunks,
} from '../capture/index.js';
import type { Config } from '../config/schema.js';
import { DedupeWindow } from '../count/dedupe.js';
import { NodeLabels } from '../count/nodes.js';
import { SipCounter } from '../count/sip-counter.js';
import { CODE, SreError } from '../errors.js';
import type { HotCounter } from '../metrics/hot-counter.js';
import { SelfMetrics } from '../metrics/self-metrics.js';
import { PeerCounter } from '../peers/peer-counter.js';
import { CaptureIngest, REPLAY_LISTENER } from './capture-ingest.js';
import { type OpenAttempts, ReplayKpi } from './kpi.js';
import { counterFamily, type SampledFamily, Timeline } from './timeline.js';

/** Default of --replay.node: the node label of raw SIP in a capture. */
export const DEFAULT_REPLAY_NODE = 'replay';
/** Default of --replay.step, in ms. */
export const DEFAULT_REPLAY_STEP_MS = 15_000;

export interface ReplayOptions {
  /** the counting configuration: dedupe, nodes, series cap, HEP auth key and inflate bound */
  config: Config;
  /** node label of the raw SIP (HEP packets name their own node) */
  node?: string;
  /** UDP ports whose datagrams are HEP (default 9060) */
  hepPorts?: readonly number[];
  /** when set, sample the counters every stepMs of capture time (the OpenMetrics output) */
  stepMs?: number;
  /** called after each chunk of a file: bytes read of the file so far, and its size */
  onProgress?: (file: string, bytesRead: number, size: number) => void;
}

/** What a replay of one file read. */
export interface ReplayFileStats {
  file: string;
  /** records (pcap) or packet blocks (pcapng) read */
  records: number;
  /** SIP messages and HEP packets handed to counting */
  messages: number;
  /** messages rebuilt from IP fragments */
  reassembled: number;
}

export interface ReplayResult {
  files: ReplayFileStats[];
  /** the registry the replay counted into: the exporter's families, as /metrics would show them */
  registry: Registry;
  self: SelfMetrics;
  counter: SipCounter;
  ingest: CaptureIngest;
  /** capture drops by reason label, over all files */
  captureDrops: Record<string, number>;
  /** capture time of the first and last message counted, in ms since the epoch (NaN: none) */
  firstMs: number;
  lastMs: number;
  /** the sampled counters, when stepMs was given */
  timeline: Timeline | null;
  /** steps the timeline holds */
  steps: number;
  /** the counter families with a series cap (sip_responses_total, ...) */
  families: readonly HotCounter<string>[];
  /** the families sampled and written as OpenMetrics: those above, then the call KPIs' */
  sampled: readonly SampledFamily[];
  /** the call KPIs (null with --kpi.enabled=false) */
  kpi: ReplayKpi | null;
  /** attempts the capture left without an outcome, by node label (empty without KPIs) */
  openAttempts: ReadonlyMap<string, OpenAttempts>;
}

/** Self-metrics that also hand over the families they watch, which are the ones a replay samples. */
class ReplaySelfMetrics extends SelfMetrics {
  readonly watched: HotCounter<string>[] = [];

  override watchSeries(family: HotCounter<string>): void {
    this.watched.push(family);
    super.watchSeries(family);
  }
}

/** Opens a file for reading, turning a missing or unreadable file into SRE_ERR_REPLAY_FILE. */
async function fileSize(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error('not a regular file');
    return info.size;
  } catch (err) {
    throw new SreError(CODE.SRE_ERR_REPLAY_FILE, `cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * Replays capture files into a fresh registry through the exporter's own counting path (see
 * CaptureIngest), in the order given, as one run: dedupe spans the files, so give them in time
 * order. Throws CaptureFormatError (SRE_ERR_CAPTURE_FORMAT) for a file that is not a capture and
 * SreError SRE_ERR_REPLAY_FILE for one that cannot be read; damage inside a capture is counted in
 * `captureDrops`.
 */
export async function replayFiles(files: readonly string[], options: ReplayOptions): Promise<ReplayResult> {
  const { config } = options;
  const sizes: number[] = [];
  // Every file is checked before any is read, so a typo in the last one fails at once.
  for (const file of files) sizes.push(await fileSize(file));

  const registry = new Registry();
  const self = new ReplaySelfMetrics(registry);
  const names = new Map(Object.entries(config.nodes.names));
  const nodes = new NodeLabels(config.nodes.limit, names, self.nodeOverflow.cell({}), self.nodes.cell({}));
  const dedupeCells = { evictions: self.dedupeEvictions.cell({}), entries: self.dedupeEntries.cell({}) };
  // Origin 0: the window keeps capture times in ms modulo 2^32, which is all it compares.
  const dedupe =
    config.dedupe.window > 0
      ? new DedupeWindow(config.dedupe.window, config.dedupe.max_entries, 0, dedupeCells)
      : null;
  // The call KPIs as the exporter builds them, on capture time (src/replay/kpi.ts).
  const kpi = config.kpi.enabled ? new ReplayKpi(registry, nodes, config) : null;
  const counter = new SipCounter(registry, nodes, dedupe, self, {
    maxSeries: config.metrics.max_series,
    kpi: kpi?.observer,
  });
  // Per-peer counts as the exporter builds them: `peers` and `nodes.self_addresses` from the file.
  const peers = new PeerCounter(registry, nodes, self, {
    maxSeries: config.metrics.max_series,
    dedupeWindowMs: config.dedupe.window,
    dedupeEntries: config.dedupe.max_entries,
    dedupeEvictions: dedupeCells.evictions,
  });
  peers.configure(config.peers, config.nodes.self_addresses);
  counter.peers = peers;
  const ingest = new CaptureIngest(counter, self, {
    node: options.node ?? DEFAULT_REPLAY_NODE,
    authKey: config.hep.auth_key === '' ? undefined : config.hep.auth_key,
    maxInflatedSize: config.hep.max_inflated_size,
  });
  const sampled = [...self.watched.map(counterFamily), ...(kpi?.sampled() ?? [])];
  const timeline = options.stepMs === undefined ? null : new Timeline(options.stepMs, sampled);
  if (timeline !== null && kpi !== null) timeline.beforeStep = (ms) => kpi.catchUp(ms);

  let firstMs = Number.NaN;
  let lastMs = Number.NaN;
  const onPacket = (packet: CapturedPacket) => {
    const ms = packet.tsSec * 1000 + packet.tsNsec / 1e6;
    if (Number.isNaN(firstMs) || ms < firstMs) firstMs = ms;
    if (Number.isNaN(lastMs) || ms > lastMs) lastMs = ms;
    timeline?.advance(ms);
    ingest.handle(packet);
  };

  const drops = newDropCounters();
  const stats: ReplayFileStats[] = [];
  const hepPorts = options.hepPorts ?? [DEFAULT_HEP_PORT];
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    // A session per file: a file has its own container header and its own TCP streams.
    const session = new CaptureSession(onPacket, { hepPorts });
    let read = 0;
    let result: CaptureStats;
    try {
      await readFileChunks(file, (chunk) => {
        session.push(chunk);
        read += chunk.length;
        options.onProgress?.(file, read, sizes[i]);
      });
      result = session.end();
    } catch (err) {
      if (err instanceof SreError) {
        err.message = `${file}: ${err.message}`;
        throw err;
      }
      throw new SreError(CODE.SRE_ERR_REPLAY_FILE, `cannot read ${file}: ${(err as Error).message}`);
    }
    for (let id = 1; id < drops.length; id++) drops[id] += result.drops[id];
    stats.push({ file, records: result.records, messages: result.emitted, reassembled: result.reassembled });
  }
  kpi?.settle(lastMs);
  const steps = timeline?.finish() ?? 0;
  const openAttempts = new Map<string, OpenAttempts>();
  for (const [node, open] of kpi?.openAttempts(lastMs) ?? [])
    openAttempts.set(nodes.labels[node] ?? 'unknown', open);
  return {
    files: stats,
    registry,
    self,
    counter,
    ingest,
    captureDrops: dropsByLabel(drops),
    firstMs,
    lastMs,
    timeline,
    steps,
    families: self.watched,
    sampled,
    kpi,
    openAttempts,
  };
}

export { REPLAY_LISTENER };
