import type { AddressRange } from './address.js';
import {
  buildRangeTable,
  findSegment4,
  findSegment6,
  loadKeyWord,
  type OwnedRange,
  type RangeTable,
} from './range-table.js';

/** Peer index of an address that belongs to no configured peer; its label is `other`. */
export const PEER_OTHER = 0;
export const PEER_OTHER_LABEL = 'other';
/** What `lookup` returns for one of the node's own addresses: that end is not a peer at all. */
export const PEER_SELF = -1;

/** One `peers` entry, parsed: what the matcher is built from. */
export interface PeerEntry {
  readonly name: string;
  readonly ranges: readonly AddressRange[];
  /** sorted, distinct; null matches every port */
  readonly ports: readonly number[] | null;
}

/**
 * Where an address is in a 16-byte field: IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is looked up as
 * the IPv4 address it carries, since a dual-stack socket reports IPv4 peers that way and the
 * operator wrote them as IPv4.
 */
function isV4Mapped(buf: Uint8Array, p: number): boolean {
  return (
    buf[p] === 0 &&
    buf[p + 1] === 0 &&
    buf[p + 2] === 0 &&
    buf[p + 3] === 0 &&
    buf[p + 4] === 0 &&
    buf[p + 5] === 0 &&
    buf[p + 6] === 0 &&
    buf[p + 7] === 0 &&
    buf[p + 8] === 0 &&
    buf[p + 9] === 0 &&
    buf[p + 10] === 0xff &&
    buf[p + 11] === 0xff
  );
}

/** Segment value of an address in a pair of tables; -1 when the field is not 4 or 16 bytes in range. */
function segmentValue(
  v4: RangeTable,
  v6: RangeTable,
  buf: Uint8Array,
  offset: number,
  length: number,
): number {
  if (offset < 0 || offset + length > buf.length) return -1;
  if (length === 4) {
    loadKeyWord(buf, offset, 0);
    return v4.values[findSegment4(v4.starts, v4.segments)];
  }
  if (length !== 16) return -1;
  if (isV4Mapped(buf, offset)) {
    loadKeyWord(buf, offset + 12, 0);
    return v4.values[findSegment4(v4.starts, v4.segments)];
  }
  loadKeyWord(buf, offset, 0);
  loadKeyWord(buf, offset + 4, 1);
  loadKeyWord(buf, offset + 8, 2);
  loadKeyWord(buf, offset + 12, 3);
  return v6.values[findSegment6(v6.starts, v6.segments)];
}

function split(ranges: readonly { range: AddressRange; owner: number }[]) {
  const v4: OwnedRange[] = [];
  const v6: OwnedRange[] = [];
  for (const { range, owner } of ranges)
    (range.family === 4 ? v4 : v6).push({ first: range.first, last: range.last, owner });
  return { v4, v6 };
}

/**
 * A set of addresses (a node's own, say): membership in O(log n), no allocation.
 */
export class AddressSet {
  private readonly v4: RangeTable;
  private readonly v6: RangeTable;

  constructor(readonly ranges: readonly AddressRange[]) {
    const { v4, v6 } = split(ranges.map((range) => ({ range, owner: 0 })));
    const decide = (owners: readonly number[]) => (owners.length > 0 ? 1 : 0);
    this.v4 = buildRangeTable(v4, 32, decide);
    this.v6 = buildRangeTable(v6, 128, decide);
  }

  /** Whether the 4- or 16-byte address at `buf[offset]` is in the set. */
  has(buf: Uint8Array, offset: number, length: number): boolean {
    // A node with no own addresses (the usual case before they are configured) costs no search.
    if (this.ranges.length === 0) return false;
    return segmentValue(this.v4, this.v6, buf, offset, length) === 1;
  }
}

export const EMPTY_ADDRESS_SET = new AddressSet([]);

/**
 * Maps an address and port to the first `peers` entry that matches both, in O(log n) with no
 * allocation.
 *
 * Built once per configuration: the ranges of all entries are cut into non-overlapping segments
 * (one table for IPv4, one for IPv6). Each segment keeps a decision: the entries covering it in
 * configuration order, up to and including the first that takes every port, since nothing after
 * that can match there. A decision is stored as a default peer (that last entry, or `other`) and
 * a sorted list of (port, peer) for the ports the port-restricted entries before it name,
 * resolved first-match-wins at build time. A lookup is then two binary searches: the segment,
 * and, only when the segment has port-restricted entries, the port. Segments with the same
 * decision share it, so a thousand ranges of one carrier cost one decision.
 */
export class PeerMatcher {
  /** label by peer index; index 0 is `other` */
  readonly names: readonly string[];
  /** entries that no address and port can reach: earlier entries cover all they list */
  readonly unreachable: readonly string[];
  private readonly v4: RangeTable;
  private readonly v6: RangeTable;
  /** by decision: the peer when no port entry applies */
  private readonly decisionDefault: Int32Array;
  /** by decision: its (port, peer) pairs are portKeys/portPeers[portStart[d] .. portStart[d + 1]) */
  private readonly portStart: Int32Array;
  private readonly portKeys: Uint16Array;
  private readonly portPeers: Int32Array;

  constructor(readonly entries: readonly PeerEntry[]) {
    this.names = [PEER_OTHER_LABEL, ...entries.map((e) => e.name)];
    const defaults: number[] = [PEER_OTHER];
    // portStart[d] is where decision d's rows begin, portStart[d + 1] where they end; decision 0
    // (no entry covers the segment) has none.
    const starts: number[] = [0, 0];
    const keys: number[] = [];
    const peers: number[] = [];
    const reachable = new Uint8Array(entries.length + 1);
    const decisions = new Map<string, number>([['', 0]]);

    const decide = (owners: readonly number[]): number => {
      let end = 0;
      while (end < owners.length && entries[owners[end]].ports !== null) end++;
      const chain = owners.slice(0, Math.min(end + 1, owners.length));
      const id = chain.join(',');
      const known = decisions.get(id);
      if (known !== undefined) return known;
      const byPort = new Map<number, number>();
      let fallback = PEER_OTHER;
      for (const owner of chain) {
        const ports = entries[owner].ports;
        if (ports === null) {
          fallback = owner + 1;
          break;
        }
        for (const port of ports) if (!byPort.has(port)) byPort.set(port, owner + 1);
      }
      reachable[fallback] = 1;
      for (const [port, peer] of [...byPort].sort((a, b) => a[0] - b[0])) {
        // A port whose entry is the default anyway needs no row.
        if (peer === fallback) continue;
        keys.push(port);
        peers.push(peer);
        reachable[peer] = 1;
      }
      defaults.push(fallback);
      starts.push(keys.length);
      decisions.set(id, defaults.length - 1);
      return defaults.length - 1;
    };

    const { v4, v6 } = split(entries.flatMap((e, owner) => e.ranges.map((range) => ({ range, owner }))));
    this.v4 = buildRangeTable(v4, 32, decide);
    this.v6 = buildRangeTable(v6, 128, decide);
    this.decisionDefault = Int32Array.from(defaults);
    this.portStart = Int32Array.from(starts);
    this.portKeys = Uint16Array.from(keys);
    this.portPeers = Int32Array.from(peers);
    this.unreachable = entries.filter((_, i) => reachable[i + 1] === 0).map((e) => e.name);
  }

  /** Number of configured peers (`other` not included). */
  get size(): number {
    return this.entries.length;
  }

  /** Segments in the IPv4 and IPv6 tables, and distinct decisions: what a lookup searches. */
  get stats(): { segments4: number; segments6: number; decisions: number; portRows: number } {
    return {
      segments4: this.v4.segments,
      segments6: this.v6.segments,
      decisions: this.decisionDefault.length,
      portRows: this.portKeys.length,
    };
  }

  /**
   * Peer index (1..size) of the 4- or 16-byte address at `buf[offset]` with `port`, or
   * PEER_OTHER. Port 0 (unknown) matches only entries without `ports`. Any other length, or a
   * field past the end of `buf`, is PEER_OTHER: this never throws.
   */
  peerOf(buf: Uint8Array, offset: number, length: number, port: number): number {
    const d = segmentValue(this.v4, this.v6, buf, offset, length);
    if (d <= 0) return PEER_OTHER;
    let lo = this.portStart[d];
    let hi = this.portStart[d + 1] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const key = this.portKeys[mid];
      if (key === port) return this.portPeers[mid];
      if (key < port) lo = mid + 1;
      else hi = mid - 1;
    }
    return this.decisionDefault[d];
  }

  /**
   * As peerOf, but PEER_SELF for an address in `self` (the node's own addresses): every traced
   * copy has the proxy at one end, and a range that covers the proxy, or a catch-all, must not
   * take its own traffic.
   */
  lookup(buf: Uint8Array, offset: number, length: number, port: number, self: AddressSet): number {
    if (self.has(buf, offset, length)) return PEER_SELF;
    return this.peerOf(buf, offset, length, port);
  }
}
