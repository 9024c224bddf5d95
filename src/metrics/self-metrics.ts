import { Counter, Gauge, type Registry } from 'prom-client';
import { PARSE_ERROR_INFO } from '../errors.js';
import { REVISION, VERSION } from '../version.js';
import { type GaugeCell, GaugeCells } from './gauge-cells.js';
import { type CounterCell, HotCounter } from './hot-counter.js';
import { readUdpDrops } from './proc-net-udp.js';

/** A listener's label value; the families take any, so a new source needs no change here. */
export type ListenerName = string;
export type Transport = 'udp' | 'tcp' | 'tls';
/**
 * Why a TCP or TLS connection ended: the peer closed it, it sat idle, it sent a bad frame, it failed,
 * we stopped, or a frame (or TLS handshake) was not complete within the frame deadline.
 */
export type CloseReason = 'peer' | 'idle' | 'parse_error' | 'socket_error' | 'shutdown' | 'frame_timeout';

/** What a listener counts beyond packets, bytes, parse errors, responses and connections. */
export interface ListenerStatsOptions<E extends number = number> {
  /** only the listener's own transports get series */
  transports: readonly Transport[];
  /** the ParseError ids this listener can produce */
  parseErrorIds: readonly E[];
  /** whether the listener checks an auth key, so that failures are a series of their own */
  authFailures?: boolean;
  /** whether the listener sees requests; otherwise a request series would always read 0 */
  requests?: boolean;
}

/**
 * One listener's `sip_exporter_parse_errors_total` cells, indexed by the parse error ids its
 * sources produce (`E`, a union of branded id types), so an id from another source does not type.
 */
export class ParseErrorCells<E extends number> {
  private readonly cells: CounterCell[] = [];

  constructor(metrics: SelfMetrics, listener: ListenerName, ids: readonly E[]) {
    for (const id of ids) {
      this.cells[id] = metrics.parseErrors.cell({ listener, reason: PARSE_ERROR_INFO[id].label });
    }
  }

  count(id: E): void {
    this.cells[id].value++;
  }

  cell(id: E): CounterCell {
    return this.cells[id];
  }
}

/**
 * The cells one listener bumps, resolved once from the families at construction, so the hot path
 * only does `cell.value++`. The listener owns them; the families do not know it.
 */
export class ListenerStats<E extends number = number> {
  /** only the listener's own transports have cells */
  readonly packets: Record<Transport, CounterCell>;
  readonly bytes: Record<Transport, CounterCell>;
  readonly parseErrors: ParseErrorCells<E>;
  /** a listener without an auth key counts into a cell that is never exported */
  readonly authFailures: CounterCell;
  readonly responses: CounterCell;
  readonly requests: CounterCell;
  readonly connectionsAccepted: CounterCell;
  readonly connectionsRejected: CounterCell;
  readonly connectionsClosed: Record<CloseReason, CounterCell>;
  private readonly openCell: GaugeCell;

  constructor(metrics: SelfMetrics, listener: ListenerName, options: ListenerStatsOptions<E>) {
    const unused: CounterCell = { value: 0 };
    this.packets = { udp: unused, tcp: unused, tls: unused };
    this.bytes = { udp: unused, tcp: unused, tls: unused };
    for (const transport of options.transports) {
      this.packets[transport] = metrics.packets.cell({ listener, transport });
      this.bytes[transport] = metrics.bytes.cell({ listener, transport });
    }
    this.parseErrors = new ParseErrorCells(metrics, listener, options.parseErrorIds);
    this.authFailures = options.authFailures ? metrics.authFailures.cell({ listener }) : unused;
    this.responses = metrics.messages.cell({ listener, kind: 'response' });
    this.requests = options.requests ? metrics.messages.cell({ listener, kind: 'request' }) : unused;
    this.connectionsAccepted = metrics.connections.cell({ listener, result: 'accepted' });
    this.connectionsRejected = metrics.connections.cell({ listener, result: 'rejected_limit' });
    const closed = (reason: CloseReason) => metrics.connectionsClosed.cell({ listener, reason });
    this.connectionsClosed = {
      peer: closed('peer'),
      idle: closed('idle'),
      parse_error: closed('parse_error'),
      socket_error: closed('socket_error'),
      shutdown: closed('shutdown'),
      frame_timeout: closed('frame_timeout'),
    };
    this.openCell = metrics.openConnections.cell({ listener });
  }

  get openConnections(): number {
    return this.openCell.value;
  }

  set openConnections(open: number) {
    this.openCell.value = open;
  }
}

/** Where one node's messages come from: `sip_exporter_node_info{node, source, sender}`. */
export interface NodeInfo {
  node: string;
  source: ListenerName;
  sender: string;
}

/**
 * Kernel drops on UDP sockets, read from /proc/net/udp when scraped. A listener hands in its
 * socket's local port once bound; the family knows no listener.
 */
export class UdpDrops {
  private readonly watches: Array<{ listener: ListenerName; port: number }> = [];

  constructor(registry: Registry) {
    const watches = this.watches;
    new Counter({
      name: 'sip_exporter_udp_receive_drops_total',
      help: 'Datagrams the kernel dropped on the exporter UDP sockets because the receive buffer was full (Linux).',
      labelNames: ['listener'],
      registers: [registry],
      collect() {
        this.reset();
        if (watches.length === 0) return;
        const drops = readUdpDrops();
        for (const watch of watches) this.inc({ listener: watch.listener }, drops.get(watch.port) ?? 0);
      },
    });
  }

  watch(listener: ListenerName, port: number): void {
    this.watches.push({ listener, port });
  }
}

/**
 * Every `sip_exporter_*` self-metric, defined in one place. Label values are bounded sets:
 * listener, transport, parse error reason, payload type (a u8) and connection result.
 */
export class SelfMetrics {
  readonly packets: HotCounter<'listener' | 'transport'>;
  readonly bytes: HotCounter<'listener' | 'transport'>;
  readonly parseErrors: HotCounter<'listener' | 'reason'>;
  readonly authFailures: HotCounter<'listener'>;
  readonly messages: HotCounter<'listener' | 'kind'>;
  readonly hepPayloadTypes: HotCounter<'type'>;
  readonly hepPayloadTypeCells: CounterCell[] = [];
  readonly dedupeHits: HotCounter<'kind'>;
  readonly dedupeEvictions: HotCounter<never>;
  readonly nodeOverflow: HotCounter<never>;
  readonly connections: HotCounter<'listener' | 'result'>;
  readonly connectionsClosed: HotCounter<'listener' | 'reason'>;
  readonly syslogMatches: HotCounter<'extractor'>;
  readonly syslogUnmatched: HotCounter<never>;
  readonly openConnections: GaugeCells<'listener'>;
  readonly dedupeEntries: GaugeCells<never>;
  readonly nodes: GaugeCells<never>;
  readonly listenerUp: GaugeCells<'listener' | 'transport'>;
  readonly udpDrops: UdpDrops;
  private reloadSuccessful = 1;
  private reloadSuccessTime = Date.now() / 1000;
  /** the capped families, for sip_exporter_series and sip_exporter_series_overflow_total */
  private readonly cappedFamilies: HotCounter<string>[] = [];
  readonly nodeSenderOverflow: HotCounter<never>;
  /** one entry per (node, source, sender) recorded, for sip_exporter_node_info */
  nodeInfo: () => Iterable<NodeInfo> = () => [];
  sendersMultipleSources: () => number = () => 0;
  readonly udpBatches: HotCounter<'listener'>;
  /** how each listener's UDP datagrams reach JavaScript: 'batch' (recvmmsg) or 'dgram' */
  readonly udpReceivePath: GaugeCells<'listener' | 'path'>;
  /** HEP forwarding (src/forward/); series exist only for configured targets */
  readonly hepForwarded: HotCounter<'target' | 'result'>;
  readonly hepForwardQueue: GaugeCells<'target'>;
  readonly hepForwardConnected: GaugeCells<'target'>;

  constructor(readonly registry: Registry) {
    const r = registry;
    this.packets = new HotCounter(
      r,
      'sip_exporter_packets_received_total',
      'Packets (HEP) or messages (syslog) received, by listener and transport.',
      ['listener', 'transport'],
    );
    this.bytes = new HotCounter(
      r,
      'sip_exporter_bytes_received_total',
      'Bytes received, by listener and transport.',
      ['listener', 'transport'],
    );
    this.parseErrors = new HotCounter(
      r,
      'sip_exporter_parse_errors_total',
      'Packets or frames rejected as malformed, by listener and reason. See docs/metrics.md for each reason.',
      ['listener', 'reason'],
    );
    this.authFailures = new HotCounter(
      r,
      'sip_exporter_auth_failures_total',
      'HEP packets rejected because their auth key chunk was missing or wrong.',
      ['listener'],
    );
    this.messages = new HotCounter(
      r,
      'sip_exporter_sip_messages_total',
      'SIP messages read from the listeners before deduplication, by listener and kind.',
      ['listener', 'kind'],
    );
    this.hepPayloadTypes = new HotCounter(
      r,
      'sip_exporter_hep_payload_types_total',
      'HEP packets by payload type (1 is SIP; other types are counted here and not read further).',
      ['type'],
    );
    this.hepPayloadTypeCells[1] = this.hepPayloadTypes.cell({ type: '1' });
    this.dedupeHits = new HotCounter(
      r,
      'sip_exporter_dedupe_hits_total',
      'SIP messages not counted because the same message from the same node was seen within the dedupe window.',
      ['kind'],
    );
    this.dedupeEvictions = new HotCounter(
      r,
      'sip_exporter_dedupe_evictions_total',
      'Dedupe entries dropped before their window ended because the dedupe table was full.',
      [],
    );
    this.nodeOverflow = new HotCounter(
      r,
      'sip_exporter_node_overflow_total',
      'SIP messages counted as node="other" because the node limit was reached.',
      [],
    );
    this.connections = new HotCounter(
      r,
      'sip_exporter_tcp_connections_total',
      'TCP and TLS connections, by result.',
      ['listener', 'result'],
    );
    this.connectionsClosed = new HotCounter(
      r,
      'sip_exporter_tcp_connections_closed_total',
      'TCP and TLS connections closed by the exporter or the peer, by reason.',
      ['listener', 'reason'],
    );

    this.syslogMatches = new HotCounter(
      r,
      'sip_exporter_syslog_matches_total',
      'Syslog messages that an extractor turned into a SIP response, by extractor (the first match wins).',
      ['extractor'],
    );
    this.syslogUnmatched = new HotCounter(
      r,
      'sip_exporter_syslog_unmatched_total',
      'Well-formed syslog messages that no extractor matched (not an error: most log lines are not responses).',
      [],
    );

    const self = this;
    this.openConnections = new GaugeCells(
      r,
      'sip_exporter_tcp_connections_open',
      'TCP and TLS connections open now.',
      ['listener'],
    );
    this.dedupeEntries = new GaugeCells(
      r,
      'sip_exporter_dedupe_entries',
      'Dedupe table entries in use (an expired entry counts until it is reused).',
      [],
    );
    this.nodes = new GaugeCells(
      r,
      'sip_exporter_nodes',
      'Distinct node label values in use (node="other" excluded).',
      [],
    );
    this.listenerUp = new GaugeCells(
      r,
      'sip_exporter_listener_up',
      '1 when the listener is bound and accepting, 0 otherwise.',
      ['listener', 'transport'],
    );
    this.udpDrops = new UdpDrops(r);
    new Gauge({
      name: 'sip_exporter_config_last_reload_successful',
      help: '1 when the last configuration reload (SIGHUP) succeeded, 0 when it failed and the old configuration stayed.',
      registers: [r],
      collect() {
        this.set(self.reloadSuccessful);
      },
    });
    new Gauge({
      name: 'sip_exporter_config_last_reload_success_timestamp_seconds',
      help: 'When the configuration was last loaded successfully, at start or on SIGHUP.',
      registers: [r],
      collect() {
        this.set(self.reloadSuccessTime);
      },
    });
    new Gauge({
      name: 'sip_exporter_build_info',
      help: 'A metric with a constant 1 value labeled by version, revision and Node.js version.',
      labelNames: ['version', 'revision', 'nodejs'],
      registers: [r],
    }).set({ version: VERSION, revision: REVISION, nodejs: process.version }, 1);

    new Gauge({
      name: 'sip_exporter_series',
      help: 'Series of a capped metric family now, overflow series included (see --metrics.max-series).',
      labelNames: ['metric'],
      registers: [r],
      collect() {
        this.reset();
        for (const family of self.cappedFamilies) this.set({ metric: family.name }, family.seriesCount);
      },
    });
    new Counter({
      name: 'sip_exporter_series_overflow_total',
      help: 'Increments counted into an overflow series because the metric family had reached its series cap.',
      labelNames: ['metric'],
      registers: [r],
      collect() {
        this.reset();
        for (const family of self.cappedFamilies) this.inc({ metric: family.name }, family.overflowed());
      },
    });
    new Gauge({
      name: 'sip_exporter_node_info',
      help: 'Constant 1 for each node, the source it reports through (hep or syslog) and a sender address it comes from.',
      labelNames: ['node', 'source', 'sender'],
      registers: [r],
      collect() {
        this.reset();
        for (const info of self.nodeInfo())
          this.set({ node: info.node, source: info.source, sender: info.sender }, 1);
      },
    });
    this.nodeSenderOverflow = new HotCounter(
      r,
      'sip_exporter_node_senders_overflow_total',
      'SIP messages whose sender is not in sip_exporter_node_info because the node already lists the most senders kept.',
      [],
    );
    new Gauge({
      name: 'sip_exporter_senders_multiple_sources',
      help: 'Sender addresses seen reporting through both HEP and syslog: a proxy sending both is counted twice.',
      registers: [r],
      collect() {
        this.set(self.sendersMultipleSources());
      },
    });
    this.udpBatches = new HotCounter(
      r,
      'sip_exporter_udp_batches_total',
      'Reads of a UDP socket that handed datagrams to the exporter: one recvmmsg batch, or one datagram on the dgram path.',
      ['listener'],
    );
    this.udpReceivePath = new GaugeCells(
      r,
      'sip_exporter_udp_receive_path',
      'The way UDP datagrams reach the exporter, 1 for the path in use: batch (native recvmmsg) or dgram (Node).',
      ['listener', 'path'],
    );
    this.hepForwarded = new HotCounter(
      r,
      'sip_exporter_hep_forwarded_total',
      'HEP packets to forward, by target and result: sent, dropped_queue_full, dropped_disconnected, dropped_hep_v1_v2 (TCP targets) or send_error.',
      ['target', 'result'],
    );
    this.hepForwardQueue = new GaugeCells(
      r,
      'sip_exporter_hep_forward_queue_packets',
      'HEP packets waiting in the forwarding queue of a target (over TCP, those being written included).',
      ['target'],
    );
    this.hepForwardConnected = new GaugeCells(
      r,
      'sip_exporter_hep_forward_connected',
      '1 when a forwarding target can be sent to (TCP connected; UDP socket open, no port unreachable in the last second), 0 otherwise.',
      ['target'],
    );
  }

  /** Exports the series count and overflow of a capped family; called once per family. */
  watchSeries(family: HotCounter<string>): void {
    this.cappedFamilies.push(family);
  }

  recordReload(success: boolean): void {
    this.reloadSuccessful = success ? 1 : 0;
    if (success) this.reloadSuccessTime = Date.now() / 1000;
  }

  payloadTypeCell(type: number): CounterCell {
    let cell = this.hepPayloadTypeCells[type];
    if (cell === undefined) {
      cell = this.hepPayloadTypes.cell({ type: String(type) });
      this.hepPayloadTypeCells[type] = cell;
    }
    return cell;
  }
}
