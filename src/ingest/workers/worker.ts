import { parentPort, workerData } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { DedupeWindow } from '../../count/dedupe.js';
import { NodeLabels } from '../../count/nodes.js';
import { SipCounter } from '../../count/sip-counter.js';
import type { KpiEngine } from '../../kpi/engine.js';
import { KpiObserver } from '../../kpi/observer.js';
import { SelfMetrics } from '../../metrics/self-metrics.js';
import { AddressSet, PeerMatcher } from '../../peers/matcher.js';
import { PeerCounter } from '../../peers/peer-counter.js';
import { HepIngest } from '../hep/hep-ingest.js';
import { UdpBatchSocket } from '../udp-batch.js';
import { monotonicBase } from './clock.js';
import { KpiRingWriter } from './kpi-ring.js';
import type { FromWorker, PeersWire, SenderReport, ToWorker, WorkerInit } from './protocol.js';
import { PROGRESS_DRAINED_AT, PROGRESS_PACKETS, seriesAdmission } from './shared-state.js';

/**
 * One ingest worker: its own SO_REUSEPORT socket joined to the group the main thread opened, its
 * own HEP ingest and cells, and the tables every ingest thread shares. It counts what the kernel
 * hands its socket; the main thread sums its cells into each scrape.
 */

// Sender reports go to the main thread at least this often, so the landing page stays current.
const SENDER_REPORT_MS = 250;

function post(message: FromWorker): void {
  parentPort!.postMessage(message);
}

function peersOf(wire: PeersWire): { matcher: PeerMatcher; self: Record<string, AddressSet> } {
  const self: Record<string, AddressSet> = {};
  for (const [label, ranges] of Object.entries(wire.selfAddresses)) self[label] = new AddressSet(ranges);
  return { matcher: new PeerMatcher(wire.entries), self };
}

function run(init: WorkerInit): void {
  const { state } = init;
  const registry = new Registry();
  const self = new SelfMetrics(registry);
  const nodes = new NodeLabels(
    init.nodeLimit,
    new Map(Object.entries(init.live.nodeNames)),
    self.nodeOverflow.cell({}),
    self.nodes.cell({}),
    state.nodes,
  );
  const evictions = self.dedupeEvictions.cell({});
  const dedupe =
    state.dedupe === null
      ? null
      : DedupeWindow.create(
          init.dedupeWindow,
          init.dedupeEntries,
          state.dedupe.origin,
          { evictions, entries: self.dedupeEntries.cell({}) },
          state.dedupe,
        );
  const kpiSignal = new Int32Array(state.kpiSignal);
  const ringMemory = state.kpiRings[init.index];
  const ring =
    ringMemory === undefined
      ? null
      : new KpiRingWriter(ringMemory, () => {
          Atomics.add(kpiSignal, 0, 1);
          Atomics.notify(kpiSignal, 0);
        });
  const admitSeries = seriesAdmission(state);
  // The observer hashes each message here and writes the engine's message to the ring: the
  // engine itself runs on the main thread, the one place every copy of a call's messages meets.
  const observer = ring === null ? null : new KpiObserver(ring as unknown as KpiEngine);
  const counter = new SipCounter(registry, nodes, dedupe, self, {
    maxSeries: init.maxSeries,
    kpi: observer ?? undefined,
    admitSeries,
  });
  const peers = new PeerCounter(registry, nodes, self, {
    maxSeries: init.maxSeries,
    dedupeWindowMs: init.dedupeWindow,
    dedupeEntries: init.dedupeEntries,
    dedupeEvictions: evictions,
    sharedDedupe: state.peerDedupe ?? undefined,
    admitSeries,
  });
  const configurePeers = (wire: PeersWire) => {
    const { matcher, self: own } = peersOf(wire);
    peers.configure(matcher, own);
  };
  configurePeers(init.live.peers);
  counter.peers = peers;
  // Direction and peer of each message, as on the main thread: the peer ids are the
  // configuration's, so the main thread names them alike.
  if (observer !== null) observer.ends = peers;

  // Which senders each node comes from is kept on the main thread (the landing page, node_info,
  // and the warning when one sender reports through HEP and syslog): a new sender for a node is
  // reported there, with how many messages came from it, not kept here.
  const lastSender: string[] = [];
  let reports = new Map<string, SenderReport>();
  counter.sources.seen = (_source, node, sender) => {
    if (lastSender[node] === sender) return;
    lastSender[node] = sender;
    const key = `${node}\u0000${sender}`;
    const report = reports.get(key);
    if (report === undefined) reports.set(key, [node, sender, 1]);
    else report[2]++;
  };
  const takeReports = (): SenderReport[] => {
    const taken = [...reports.values()];
    reports = new Map();
    return taken;
  };

  const ingest = new HepIngest(counter, self, {
    authKey: init.live.authKey === '' ? undefined : init.live.authKey,
    maxInflatedSize: init.maxInflatedSize,
    timeOrigin: state.origin,
  });

  const progress = new BigInt64Array(state.progress[init.index]);
  let socket: UdpBatchSocket;
  try {
    socket = new UdpBatchSocket({ ...init.socket, reusePort: 'join', progress });
  } catch (err) {
    post({ type: 'error', message: (err as Error).message, code: (err as NodeJS.ErrnoException).code });
    return;
  }
  // Times on the main thread's clock, which the shared tables compare.
  const offset = monotonicBase() - state.mainBase;
  const stats = ingest.stats;
  const packets = stats.packets.udp;
  const bytes = stats.bytes.udp;
  const batches = self.udpBatches.cell({ listener: 'hep' });
  socket.start(
    (buf, start, end, sender, now) => {
      ingest.handle(buf, start, end, sender, now + offset);
    },
    (datagrams, length) => {
      // Counted before the progress below says this batch is done.
      ingest.endBatch();
      batches.value++;
      packets.value += datagrams;
      bytes.value += length;
      ring?.flush();
      // Everything that arrived before this read is handled now if the read emptied the socket:
      // the engine's thread may pass on what other workers read up to then (pool.ts, drain).
      if (datagrams < socket.maxBatch)
        Atomics.store(progress, PROGRESS_DRAINED_AT, Atomics.load(progress, 1));
      Atomics.store(progress, PROGRESS_PACKETS, BigInt(packets.value));
      Atomics.store(progress, 0, 0n);
    },
    () => ingest.beginBatch(),
  );
  const timer = setInterval(() => {
    if (reports.size > 0) post({ type: 'senders', senders: takeReports() });
  }, SENDER_REPORT_MS);
  timer.unref();

  parentPort!.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'snapshot':
        void registry.getMetricsAsJSON().then((metrics) => {
          post({ type: 'snapshot', id: message.id, metrics, senders: takeReports() });
        });
        break;
      case 'reload':
        nodes.setNames(new Map(Object.entries(message.live.nodeNames)));
        ingest.setAuthKey(message.live.authKey);
        configurePeers(message.live.peers);
        break;
      case 'stop':
        socket.close();
        clearInterval(timer);
        ring?.flush();
        void registry.getMetricsAsJSON().then((metrics) => {
          post({ type: 'stopped', metrics, senders: takeReports() });
          parentPort!.close();
        });
        break;
    }
  });
  post({ type: 'ready', fd: socket.fd });
}

run(workerData as WorkerInit);
