import type { Registry } from 'prom-client';
import { DedupeWindow, type SharedDedupe } from '../count/dedupe.js';
import { KeyHasher } from '../count/key-hasher.js';
import type { NodeLabels } from '../count/nodes.js';
import { KIND_RESPONSE, type Observation, type TextRef } from '../count/observation.js';
import { DIRECTION_RECEIVED, DIRECTION_SENT, DIRECTION_UNKNOWN, type MessageEnds } from '../kpi/types.js';
import { type CounterCell, HotCounter } from '../metrics/hot-counter.js';
import type { SelfMetrics } from '../metrics/self-metrics.js';
import { METHOD_COUNT, METHOD_LABELS } from '../sip/methods.js';
import { MIN_STATUS_CODE, reasonPhrase, statusClass } from '../sip/status-codes.js';
import { parseAddressTextInto } from './address.js';
import {
  AddressSet,
  EMPTY_ADDRESS_SET,
  PEER_OTHER,
  PEER_OTHER_LABEL,
  PEER_SELF,
  type PeerMatcher,
} from './matcher.js';

export const DIRECTION_FROM_PEER = 0;
export const DIRECTION_TO_PEER = 1;
const DIRECTION_LABELS = ['from_peer', 'to_peer'] as const;
/** Value of the labels an overflow series folds; no code, method or node label of a real series reads so. */
const OVERFLOW = 'other';
/** `nodes.self_addresses` key whose addresses belong to every node. */
export const ALL_NODES = '*';
const CODE_SLOTS = 600;
/** No address at that end of the message: it is not counted, and says nothing of direction. */
const NO_ADDRESS = -2;

type Cells = Array<CounterCell | undefined>;

/**
 * Everything counted for one peer, kept by name across reloads so that a reordered or extended
 * list keeps its series and their counts. Rows are indexed by node * 2 + direction.
 */
interface PeerState {
  readonly name: string;
  /** stable for the life of the process, unlike the peer index: it goes into the dedupe key */
  readonly id: number;
  /** inner index: compact code slot * METHOD_COUNT + method */
  readonly responses: Array<Cells | undefined>;
  /** inner index: method */
  readonly requests: Array<Cells | undefined>;
  readonly retransmissions: Array<Cells | undefined>;
}

export interface PeerCounterOptions {
  /** series cap of each family, as --metrics.max-series */
  maxSeries: number;
  /** dedupe window in ms; 0 counts every copy and sees no retransmission */
  dedupeWindowMs: number;
  /** entries of the per-peer dedupe table, as --dedupe.max-entries */
  dedupeEntries: number;
  /** sip_exporter_dedupe_evictions_total, shared with the main dedupe table */
  dedupeEvictions?: CounterCell;
  /** with several ingest threads: the per-peer dedupe table they share */
  sharedDedupe?: SharedDedupe;
  /** with several ingest threads: the process-wide series cap of a family by name */
  admitSeries?: (family: string) => ((labels: Readonly<Record<string, string>>) => boolean) | undefined;
}

/**
 * Attributes every counted SIP message to the configured peers at its two ends:
 * `direction="from_peer"` for the peer its source address belongs to, `to_peer` for its
 * destination's, both for a message between two peers, neither for an end that is the node
 * itself (`self_addresses`) or unknown. An address that matches no entry is `peer="other"`.
 *
 * Deduplication is per (node, direction, peer), in a table of its own rather than in the one
 * sip_responses_total uses: the same response traced in from a carrier and out to a customer
 * must count once for each, which the main key (no direction, no peer) would hide; and a table
 * of its own keeps the main counts independent of whether peers are configured (shared, each
 * message would take up to two more entries and evict main entries sooner). A hit here is a
 * message seen again at the same end in the same direction: a retransmission (or a capture that
 * repeats itself), never the other trace copy, which has the other direction or another peer.
 *
 * Nothing here allocates per message: cells are resolved once per (peer, node, direction, code,
 * method) into flat arrays; peer states are looked up by index in an array rebuilt per load.
 *
 * It also tells the call KPIs which end of a message is the node (MessageEnds): `resolve` looks
 * both addresses up once per message, for the KPI adapter and then for `count`.
 */
export class PeerCounter implements MessageEnds {
  /** DIRECTION_* of the message last resolved: the node received it, sent it, or cannot tell. */
  direction = DIRECTION_UNKNOWN;
  /** Stable id of the peer at the other end of the message last resolved; 0 for none. */
  peer = 0;
  /** Peer index (or PEER_SELF, NO_ADDRESS) of each end of the message last resolved. */
  private from: number = NO_ADDRESS;
  private to: number = NO_ADDRESS;
  private readonly responses: HotCounter<
    'peer' | 'direction' | 'code' | 'class' | 'reason' | 'method' | 'node'
  >;
  private readonly requests: HotCounter<'peer' | 'direction' | 'method' | 'node'>;
  private readonly retransmissions: HotCounter<'peer' | 'direction' | 'method' | 'node'>;
  private readonly hasher = new KeyHasher();
  private readonly stateByName = new Map<string, PeerState>();
  /** peer name by stable id (index 0 unused): what a per-peer KPI leg holds is the id */
  private readonly nameById: string[] = [''];
  /** by peer index of the matcher in force; index 0 is `other` */
  private byIndex: PeerState[] = [];
  private matcher: PeerMatcher | null = null;
  private selfByLabel = new Map<string, AddressSet>();
  /** by node index, resolved on first sight of the node; emptied on reload */
  private selfByNode: Array<AddressSet | undefined> = [];
  private dedupe: DedupeWindow | null = null;
  /** peer index by name, for a source that names the peer (`other` is index 0 too) */
  private indexByName = new Map<string, number>();
  /** a text address parsed to its raw form: one buffer, reused for every message */
  private readonly scratch = new Uint8Array(16);
  /** compact slot by code - MIN_STATUS_CODE, -1 until the code is first counted */
  private readonly codeSlot = new Int16Array(CODE_SLOTS).fill(-1);
  private codeSlots = 0;

  constructor(
    registry: Registry,
    private readonly nodes: NodeLabels,
    self: SelfMetrics,
    private readonly options: PeerCounterOptions,
  ) {
    const { maxSeries } = options;
    const admit = options.admitSeries ?? (() => undefined);
    // Past the cap the peer, direction and class stay exact (the question is "which carrier"),
    // and the rest folds: at most 12 overflow series per peer for responses, 2 for the others.
    this.responses = new HotCounter(
      registry,
      'sip_peer_responses_total',
      'SIP responses by configured peer at either end, direction, status code, class, canonical reason phrase, CSeq method and reporting node.',
      ['peer', 'direction', 'code', 'class', 'reason', 'method', 'node'],
      {
        maxSeries,
        admit: admit('sip_peer_responses_total'),
        overflowLabels: (l) => ({
          peer: l.peer,
          direction: l.direction,
          code: OVERFLOW,
          class: l.class,
          reason: OVERFLOW,
          method: OVERFLOW,
          node: OVERFLOW,
        }),
      },
    );
    const fold = (l: Record<'peer' | 'direction' | 'method' | 'node', string>) => ({
      peer: l.peer,
      direction: l.direction,
      method: OVERFLOW,
      node: OVERFLOW,
    });
    this.requests = new HotCounter(
      registry,
      'sip_peer_requests_total',
      'SIP requests by configured peer at either end, direction, method and reporting node.',
      ['peer', 'direction', 'method', 'node'],
      { maxSeries, overflowLabels: fold, admit: admit('sip_peer_requests_total') },
    );
    this.retransmissions = new HotCounter(
      registry,
      'sip_peer_retransmissions_total',
      'SIP requests and responses seen again from or to the same peer in the same direction within the dedupe window, by CSeq method and reporting node.',
      ['peer', 'direction', 'method', 'node'],
      { maxSeries, overflowLabels: fold, admit: admit('sip_peer_retransmissions_total') },
    );
    self.watchSeries(this.responses);
    self.watchSeries(this.requests);
    self.watchSeries(this.retransmissions);
  }

  /**
   * Applies a peers list and the nodes' own addresses (a load or a reload). Counts are kept by
   * peer name: a peer that stays keeps its series, a removed one keeps its last values, a new
   * one starts at its first count. An empty list turns counting off (no `other` series either).
   */
  configure(matcher: PeerMatcher, selfAddresses: Readonly<Record<string, AddressSet>>): void {
    this.byIndex = matcher.names.map((name) => {
      let state = this.stateByName.get(name);
      if (state === undefined) {
        state = { name, id: this.stateByName.size + 1, responses: [], requests: [], retransmissions: [] };
        this.stateByName.set(name, state);
        this.nameById.push(name);
      }
      return state;
    });
    this.indexByName = new Map(matcher.names.map((name, i) => [name, i]));
    this.selfByLabel = new Map(Object.entries(selfAddresses));
    this.selfByNode = [];
    this.matcher = matcher.size > 0 ? matcher : null;
    if (this.matcher !== null && this.dedupe === null && this.options.dedupeWindowMs > 0) {
      // Built on first use, so an exporter without peers spends no memory on it.
      this.dedupe = DedupeWindow.create(
        this.options.dedupeWindowMs,
        this.options.dedupeEntries,
        performance.now(),
        { evictions: this.options.dedupeEvictions ?? { value: 0 }, entries: { value: 0 } },
        this.options.sharedDedupe,
      );
    }
  }

  /** The name of a peer by its stable id (as PeerCounter.peer gave it); ids outlive reloads. */
  nameOf(id: number): string {
    return this.nameById[id] ?? PEER_OTHER_LABEL;
  }

  /**
   * Looks up both ends of a message once: the peer at each (for `count`), and for the call KPIs
   * which way the node saw it and the peer at the other end. The node received a copy whose
   * destination is one of its own addresses and whose source is not; it sent one the other way
   * round. Both or neither its own (a node talking to itself, or addresses not configured): the
   * direction is unknown and no peer is named. Call it before `count`, for every message.
   */
  resolve(o: Observation): void {
    const self = this.selfOf(o.node);
    const matcher = this.matcher;
    if (matcher === null) {
      this.from = NO_ADDRESS;
      this.to = NO_ADDRESS;
      this.peer = 0;
      // Without peers, the own addresses still tell the KPIs which copy the node received.
      if (self.ranges.length === 0) {
        this.direction = DIRECTION_UNKNOWN;
        return;
      }
      const srcSelf = this.isSelf(o.sourceAddress, self);
      const dstSelf = this.isSelf(o.destinationAddress, self);
      this.direction =
        dstSelf && !srcSelf && o.sourceAddress.length > 0
          ? DIRECTION_RECEIVED
          : srcSelf && !dstSelf && o.destinationAddress.length > 0
            ? DIRECTION_SENT
            : DIRECTION_UNKNOWN;
      return;
    }
    const named = o.sourcePeer.text;
    const from =
      named !== null
        ? (this.indexByName.get(named) ?? PEER_OTHER)
        : this.peerAt(matcher, o.sourceAddress, o.sourcePort, self);
    const to = this.peerAt(matcher, o.destinationAddress, o.destinationPort, self);
    this.from = from;
    this.to = to;
    if (to === PEER_SELF && from >= 0) {
      this.direction = DIRECTION_RECEIVED;
      this.peer = this.byIndex[from].id;
    } else if (from === PEER_SELF && to >= 0) {
      this.direction = DIRECTION_SENT;
      this.peer = this.byIndex[to].id;
    } else {
      this.direction = DIRECTION_UNKNOWN;
      this.peer = 0;
    }
  }

  private isSelf(address: TextRef, self: AddressSet): boolean {
    const text = address.text;
    if (text !== null) {
      const length = parseAddressTextInto(text, this.scratch);
      return length > 0 && self.has(this.scratch, 0, length);
    }
    const length = address.end - address.start;
    return length > 0 && self.has(address.buf, address.start, length);
  }

  /**
   * Counts one observation (resolved just before, by `resolve`) at each end that is a peer or
   * `other`; reads its fields during the call only. `key` holds the message's dedupe key as
   * SipCounter hashed it, valid when `keyed` (false for a message without Call-ID or CSeq number,
   * which is never deduplicated). The hasher itself is passed, not its two words: a uint32 above
   * 2^30 passed to a call V8 does not inline is boxed.
   */
  count(o: Observation, keyed: boolean, key: KeyHasher): void {
    if (this.matcher === null) return;
    const from = this.from;
    const to = this.to;
    if (from >= 0) this.countAt(o, DIRECTION_FROM_PEER, this.byIndex[from], keyed, key);
    if (to >= 0) this.countAt(o, DIRECTION_TO_PEER, this.byIndex[to], keyed, key);
  }

  private peerAt(matcher: PeerMatcher, address: TextRef, port: number, self: AddressSet): number {
    const text = address.text;
    if (text !== null) {
      // A syslog extractor's address: parsed into the scratch buffer, then looked up as raw
      // bytes. Text that is not an address (a host name, say) cannot be attributed: `other`.
      const length = parseAddressTextInto(text, this.scratch);
      if (length === 0) return PEER_OTHER;
      return matcher.lookup(this.scratch, 0, length, port, self);
    }
    const length = address.end - address.start;
    if (length <= 0) return NO_ADDRESS;
    return matcher.lookup(address.buf, address.start, length, port, self);
  }

  private selfOf(node: number): AddressSet {
    const known = this.selfByNode[node];
    if (known !== undefined) return known;
    const own = this.selfByLabel.get(this.nodes.labels[node]);
    const all = this.selfByLabel.get(ALL_NODES);
    const set =
      own !== undefined && all !== undefined
        ? new AddressSet([...all.ranges, ...own.ranges])
        : (own ?? all ?? EMPTY_ADDRESS_SET);
    this.selfByNode[node] = set;
    return set;
  }

  private countAt(o: Observation, direction: number, peer: PeerState, keyed: boolean, key: KeyHasher): void {
    const node = o.node;
    const method = o.method;
    const isResponse = o.kind === KIND_RESPONSE;
    const row = node * 2 + direction;
    if (this.dedupe !== null && keyed) {
      // The message's key, narrowed to this direction and peer.
      const h = this.hasher.begin();
      h.uint32(key.hi).uint32(key.lo).uint32(direction).uint32(peer.id).end();
      if (this.dedupe.seen(h.hi, h.lo, o.now)) {
        let cells = peer.retransmissions[row];
        if (cells === undefined) {
          cells = new Array<CounterCell | undefined>(METHOD_COUNT);
          peer.retransmissions[row] = cells;
        }
        let cell = cells[method];
        if (cell === undefined) {
          cell = this.retransmissions.cell(this.shortLabels(peer, direction, method, node));
          cells[method] = cell;
        }
        cell.value++;
        return;
      }
    }
    if (isResponse) this.countResponse(peer, row, direction, o.statusCode, method, node);
    else {
      let cells = peer.requests[row];
      if (cells === undefined) {
        cells = new Array<CounterCell | undefined>(METHOD_COUNT);
        peer.requests[row] = cells;
      }
      let cell = cells[method];
      if (cell === undefined) {
        cell = this.requests.cell(this.shortLabels(peer, direction, method, node));
        cells[method] = cell;
      }
      cell.value++;
    }
  }

  private countResponse(
    peer: PeerState,
    row: number,
    direction: number,
    code: number,
    method: number,
    node: number,
  ): void {
    // Codes are compacted to the ones seen so far, so a row is a few hundred slots, not 9,600:
    // rows exist per peer, node and direction, and there may be thousands.
    let slot = this.codeSlot[code - MIN_STATUS_CODE];
    if (slot < 0) {
      slot = this.codeSlots++;
      this.codeSlot[code - MIN_STATUS_CODE] = slot;
    }
    const index = slot * METHOD_COUNT + method;
    let cells = peer.responses[row];
    if (cells === undefined || cells.length <= index) {
      const grown = new Array<CounterCell | undefined>(this.codeSlots * METHOD_COUNT);
      if (cells !== undefined) for (let i = 0; i < cells.length; i++) grown[i] = cells[i];
      cells = grown;
      peer.responses[row] = cells;
    }
    let cell = cells[index];
    if (cell === undefined) {
      cell = this.responses.cell({
        peer: peer.name,
        direction: DIRECTION_LABELS[direction],
        code: String(code),
        class: statusClass(code),
        reason: reasonPhrase(code),
        method: METHOD_LABELS[method],
        node: this.nodes.labels[node],
      });
      cells[index] = cell;
    }
    cell.value++;
  }

  private shortLabels(peer: PeerState, direction: number, method: number, node: number) {
    return {
      peer: peer.name,
      direction: DIRECTION_LABELS[direction],
      method: METHOD_LABELS[method],
      node: this.nodes.labels[node],
    };
  }

  /** Responses counted over every series, for tests. */
  countedResponses(): number {
    return this.responses.total();
  }
}
