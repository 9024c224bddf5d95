import type { Logger } from 'pino';
import { CODE } from '../errors.js';
import type { CounterCell } from '../metrics/hot-counter.js';
import type { ListenerName, NodeInfo, SelfMetrics } from '../metrics/self-metrics.js';
import type { NodeLabels } from './nodes.js';

export const SOURCE_HEP = 0;
export const SOURCE_SYSLOG = 1;
export type SourceId = typeof SOURCE_HEP | typeof SOURCE_SYSLOG;
const SOURCE_NAMES: readonly ListenerName[] = ['hep', 'syslog'];
/** Sender addresses kept per node and source; a node behind a few load-balanced senders fits. */
export const MAX_SENDERS_PER_NODE = 4;
/** Node labels named per source in the two-sources warning. */
const NODES_IN_WARNING = 4;

interface SenderSeen {
  /** bit 1 << source for each source the address was seen on */
  sources: number;
  /** per source, the first few node indices the address reported */
  nodes: [number[], number[]];
}

/** `::ffff:10.0.0.1` from a dual-stack socket and `10.0.0.1` from an IPv4 one are one sender. */
function normalizeSender(sender: string): string {
  if (sender === '') return 'unknown';
  return sender.startsWith('::ffff:') && sender.includes('.') ? sender.slice(7) : sender;
}

/**
 * Which source (HEP or syslog) and which sender addresses each node comes from, for
 * `sip_exporter_node_info` and the landing page, and a warning when one sender address reports
 * through both sources: a proxy that sends HEP and syslog is counted twice, under two node labels
 * (a capture ID and a HOSTNAME) that nothing else ties together.
 *
 * The per-message cost is one string compare against the sender last seen for the node; the
 * rest runs once per new (node, sender) pair. Memory is bounded by the node limit: at most
 * MAX_SENDERS_PER_NODE senders per node and source, further ones counted and not kept.
 */
export class NodeSources {
  private readonly lastSender: [Array<string | undefined>, Array<string | undefined>] = [[], []];
  private readonly senders: [Array<string[] | undefined>, Array<string[] | undefined>] = [[], []];
  private readonly bySender = new Map<string, SenderSeen>();
  private readonly warnedNodes = new Set<number>();
  private readonly overflow: CounterCell;
  private multiple = 0;

  constructor(
    private readonly nodes: NodeLabels,
    self: SelfMetrics,
    private readonly logger?: Logger,
  ) {
    this.overflow = self.nodeSenderOverflow.cell({});
    self.nodeInfo = () => this.info();
    self.sendersMultipleSources = () => this.multiple;
  }

  /** Notes that `node` reported through `source` from `sender`; per message, so cheap when nothing is new. */
  seen(source: SourceId, node: number, sender: string): void {
    if (this.lastSender[source][node] === sender) return;
    this.record(source, node, sender);
  }

  /** Sender addresses seen on both HEP and syslog. */
  get multipleSources(): number {
    return this.multiple;
  }

  private record(source: SourceId, node: number, sender: string): void {
    const address = normalizeSender(sender);
    let list = this.senders[source][node];
    if (list === undefined) {
      list = [];
      this.senders[source][node] = list;
    }
    if (!list.includes(address)) {
      if (list.length >= MAX_SENDERS_PER_NODE) {
        // Not remembered as the last sender either, so each of its messages is counted here.
        this.overflow.value++;
        return;
      }
      list.push(address);
      this.noteSender(source, node, address);
      this.checkNode(source, node);
    }
    this.lastSender[source][node] = sender;
  }

  private noteSender(source: SourceId, node: number, address: string): void {
    let seen = this.bySender.get(address);
    if (seen === undefined) {
      seen = { sources: 0, nodes: [[], []] };
      this.bySender.set(address, seen);
    }
    const nodes = seen.nodes[source];
    if (nodes.length < NODES_IN_WARNING && !nodes.includes(node)) nodes.push(node);
    const before = seen.sources;
    seen.sources |= 1 << source;
    if (before !== seen.sources && seen.sources === 3) {
      this.multiple++;
      const labels = (s: SourceId) => seen.nodes[s].map((n) => this.nodes.labels[n]);
      this.logger?.warn(
        {
          code: CODE.SRE_WARN_NODE_TWO_SOURCES,
          sender: address,
          hep_nodes: labels(0),
          syslog_nodes: labels(1),
        },
        `sender ${address} reports through both HEP and syslog, so its messages are counted twice ` +
          'under two node labels: send one source per proxy',
      );
    }
  }

  /** One node label fed by both sources counts each message twice in one series. */
  private checkNode(source: SourceId, node: number): void {
    const other = this.senders[source === SOURCE_HEP ? SOURCE_SYSLOG : SOURCE_HEP][node];
    if (other === undefined || other.length === 0 || this.warnedNodes.has(node)) return;
    this.warnedNodes.add(node);
    this.logger?.warn(
      {
        code: CODE.SRE_WARN_NODE_TWO_SOURCES,
        node: this.nodes.labels[node],
        hep_senders: this.senders[SOURCE_HEP][node],
        syslog_senders: this.senders[SOURCE_SYSLOG][node],
      },
      `node ${this.nodes.labels[node]} reports through both HEP and syslog, so its messages are counted ` +
        'twice: send one source per proxy',
    );
  }

  /** Every (node, source, sender) recorded, nodes in the order first seen. */
  *info(): Generator<NodeInfo> {
    const count = Math.max(this.senders[0].length, this.senders[1].length);
    for (let node = 0; node < count; node++) {
      for (const source of [SOURCE_HEP, SOURCE_SYSLOG] as const) {
        const list = this.senders[source][node];
        if (list === undefined) continue;
        for (const sender of list)
          yield { node: this.nodes.labels[node], source: SOURCE_NAMES[source], sender };
      }
    }
  }

  /**
   * Up to `max` (node, source) pairs with their senders, in the order first seen, and how many
   * pairs there are in all.
   */
  list(max: number): {
    shown: Array<{ node: string; source: ListenerName; senders: string[] }>;
    total: number;
  } {
    const shown: Array<{ node: string; source: ListenerName; senders: string[] }> = [];
    let total = 0;
    const count = Math.max(this.senders[0].length, this.senders[1].length);
    for (let node = 0; node < count; node++) {
      for (const source of [SOURCE_HEP, SOURCE_SYSLOG] as const) {
        const list = this.senders[source][node];
        if (list === undefined || list.length === 0) continue;
        total++;
        if (shown.length < max)
          shown.push({ node: this.nodes.labels[node], source: SOURCE_NAMES[source], senders: [...list] });
      }
    }
    return { shown, total };
  }
}
