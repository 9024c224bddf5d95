import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AddressRange, formatIPv4, formatIPv6, parseAddressRange } from '../../src/peers/address.js';
import {
  AddressSet,
  EMPTY_ADDRESS_SET,
  PEER_OTHER,
  PEER_SELF,
  type PeerEntry,
  PeerMatcher,
} from '../../src/peers/matcher.js';
import { bytesOf, referenceLookup, referencePeerOf } from './reference.js';

function ranges(...texts: string[]): AddressRange[] {
  return texts.map((text) => {
    const parsed = parseAddressRange(text);
    if (!parsed.ok) throw new Error(parsed.message);
    return parsed.range;
  });
}

function entry(name: string, addresses: string[], ports: number[] | null = null): PeerEntry {
  return { name, ranges: ranges(...addresses), ports };
}

/** Address text as the bytes a HEP packet carries, at an offset inside a larger buffer. */
function bytes(text: string, at = 3): { buf: Uint8Array; offset: number; length: number } {
  const r = ranges(text)[0];
  const v4Length = text.includes(':') ? 16 : 4;
  const raw =
    r.family === 4 && v4Length === 16 ? bytesOf((0xffffn << 32n) | r.first, 16) : bytesOf(r.first, v4Length);
  const buf = new Uint8Array(raw.length + at + 5).fill(0xee);
  buf.set(raw, at);
  return { buf, offset: at, length: raw.length };
}

function peer(m: PeerMatcher, text: string, port = 5060): string {
  const { buf, offset, length } = bytes(text);
  return m.names[m.peerOf(buf, offset, length, port)];
}

describe('peer matcher', () => {
  const example = new PeerMatcher([
    entry('carrier-a', ['192.0.2.0/24', '2001:db8:a::/48']),
    entry('carrier-b', ['198.51.100.10', '198.51.100.11', '2001:db8:b::/48']),
    entry('customer-x', ['203.0.113.0/24', '10.0.0.0/8']),
  ]);

  it('names the entry whose range holds the address, and other when none does', () => {
    expect(peer(example, '192.0.2.0')).toBe('carrier-a');
    expect(peer(example, '192.0.2.255')).toBe('carrier-a');
    expect(peer(example, '192.0.3.0')).toBe('other');
    expect(peer(example, '192.0.1.255')).toBe('other');
    expect(peer(example, '198.51.100.11')).toBe('carrier-b');
    expect(peer(example, '198.51.100.12')).toBe('other');
    expect(peer(example, '2001:db8:b::5060')).toBe('carrier-b');
    expect(peer(example, '2001:db8:a:ffff:ffff:ffff:ffff:ffff')).toBe('carrier-a');
    expect(peer(example, '2001:db8:c::')).toBe('other');
    expect(peer(example, '10.255.255.255')).toBe('customer-x');
    expect(example.names[PEER_OTHER]).toBe('other');
    expect(example.size).toBe(3);
  });

  it('matches IPv4-mapped IPv6 against the IPv4 entries, and only those', () => {
    expect(peer(example, '::ffff:192.0.2.9')).toBe('carrier-a');
    expect(peer(example, '::ffff:203.0.113.1')).toBe('customer-x');
    expect(peer(example, '::ffff:8.8.8.8')).toBe('other');
    const v6CatchAll = new PeerMatcher([entry('v6', ['::/0'])]);
    expect(peer(v6CatchAll, '2001:db8::1')).toBe('v6');
    expect(peer(v6CatchAll, '::ffff:192.0.2.9')).toBe('other');
    expect(peer(v6CatchAll, '192.0.2.9')).toBe('other');
    const mappedEntry = new PeerMatcher([entry('m', ['::ffff:192.0.2.0/120'])]);
    expect(peer(mappedEntry, '192.0.2.77')).toBe('m');
  });

  it('handles /0, /32 and /128 at the very ends of the address space', () => {
    const m = new PeerMatcher([
      entry('top4', ['255.255.255.255/32']),
      entry('zero4', ['0.0.0.0']),
      entry('top6', ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128']),
      entry('zero6', ['::']),
      entry('all', ['0.0.0.0/0', '::/0']),
    ]);
    expect(peer(m, '255.255.255.255')).toBe('top4');
    expect(peer(m, '255.255.255.254')).toBe('all');
    expect(peer(m, '0.0.0.0')).toBe('zero4');
    expect(peer(m, '0.0.0.1')).toBe('all');
    expect(peer(m, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe('top6');
    expect(peer(m, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe')).toBe('all');
    expect(peer(m, '::')).toBe('zero6');
    expect(peer(m, '::1')).toBe('all');
  });

  it('resolves overlaps in configuration order, whichever range is wider', () => {
    const narrowFirst = new PeerMatcher([entry('sbc', ['192.0.2.10']), entry('carrier', ['192.0.2.0/24'])]);
    expect(peer(narrowFirst, '192.0.2.10')).toBe('sbc');
    expect(peer(narrowFirst, '192.0.2.9')).toBe('carrier');
    expect(peer(narrowFirst, '192.0.2.11')).toBe('carrier');
    const wideFirst = new PeerMatcher([entry('carrier', ['192.0.2.0/24']), entry('sbc', ['192.0.2.10'])]);
    expect(peer(wideFirst, '192.0.2.10')).toBe('carrier');
    expect(wideFirst.unreachable).toEqual(['sbc']);
    expect(narrowFirst.unreachable).toEqual([]);
  });

  it('tries the next entry when the address matches but the port does not', () => {
    const m = new PeerMatcher([
      entry('trunk-tls', ['192.0.2.0/24'], [5061]),
      entry('trunk-udp', ['192.0.2.0/24'], [5060, 5080]),
      entry('carrier', ['192.0.2.0/23']),
      entry('late', ['192.0.2.0/24'], [5090]),
    ]);
    expect(peer(m, '192.0.2.1', 5061)).toBe('trunk-tls');
    expect(peer(m, '192.0.2.1', 5060)).toBe('trunk-udp');
    expect(peer(m, '192.0.2.1', 5080)).toBe('trunk-udp');
    expect(peer(m, '192.0.2.1', 5090)).toBe('carrier');
    expect(peer(m, '192.0.3.1', 5061)).toBe('carrier');
    // Port 0 means the port is not known: only entries without ports match.
    expect(peer(m, '192.0.2.1', 0)).toBe('carrier');
    expect(m.unreachable).toEqual(['late']);
    const portsOnly = new PeerMatcher([entry('sip', ['0.0.0.0/0'], [5060])]);
    expect(peer(portsOnly, '192.0.2.1', 5060)).toBe('sip');
    expect(peer(portsOnly, '192.0.2.1', 5061)).toBe('other');
  });

  it('never attributes the node’s own addresses, even to a catch-all', () => {
    const m = new PeerMatcher([entry('carrier', ['192.0.2.0/24']), entry('rest', ['0.0.0.0/0', '::/0'])]);
    const self = new AddressSet(ranges('192.0.2.5', '2001:db8::/64'));
    const at = (text: string) => {
      const { buf, offset, length } = bytes(text);
      return m.lookup(buf, offset, length, 5060, self);
    };
    expect(at('192.0.2.5')).toBe(PEER_SELF);
    expect(at('::ffff:192.0.2.5')).toBe(PEER_SELF);
    expect(at('192.0.2.6')).toBe(1);
    expect(at('2001:db8::99')).toBe(PEER_SELF);
    expect(at('2001:db8:0:1::')).toBe(2);
    const { buf, offset, length } = bytes('192.0.2.5');
    expect(m.lookup(buf, offset, length, 5060, EMPTY_ADDRESS_SET)).toBe(1);
  });

  it('answers other, never throws, for a field that is not 4 or 16 bytes inside the buffer', () => {
    const m = new PeerMatcher([entry('all', ['0.0.0.0/0', '::/0'])]);
    const buf = new Uint8Array(20);
    expect(m.peerOf(buf, 0, 4, 1)).toBe(1);
    expect(m.peerOf(buf, 0, 16, 1)).toBe(1);
    for (const [offset, length] of [
      [0, 0],
      [0, 5],
      [0, 8],
      [17, 4],
      [5, 16],
      [-1, 4],
    ])
      expect(m.peerOf(buf, offset, length, 1)).toBe(PEER_OTHER);
    expect(new AddressSet(ranges('0.0.0.0/0')).has(buf, 18, 4)).toBe(false);
  });

  it('shares one decision among the many ranges of one carrier', () => {
    const many = Array.from({ length: 1000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const m = new PeerMatcher([entry('carrier', many), entry('other-carrier', ['172.16.0.0/12'])]);
    expect(m.stats.decisions).toBe(3);
    // Adjacent /24s of one entry merge into one segment.
    expect(m.stats.segments4).toBe(5);
  });
});

/** Addresses near a few hot spots, so that random ranges overlap and nest. */
const HOT4 = [0x0a000000n, 0xc0000200n, 0xc0000280n, 0xffffff00n, 0n];
const HOT6 = [
  0x20010db8n << 96n,
  (0x20010db8n << 96n) | (1n << 64n),
  0xffffn << 32n,
  0n,
  (1n << 128n) - 256n,
];

const address4 = fc
  .tuple(fc.constantFrom(...HOT4), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 24 }))
  .map(([base, noise, shift]) => (base ^ (BigInt(noise) << BigInt(shift))) & 0xffffffffn);
const address6 = fc
  .tuple(fc.constantFrom(...HOT6), fc.bigInt({ min: 0n, max: 0xffffn }), fc.integer({ min: 0, max: 112 }))
  .map(([base, noise, shift]) => (base ^ (noise << BigInt(shift))) & ((1n << 128n) - 1n));

const cidr = fc.oneof(
  fc.tuple(address4, fc.integer({ min: 0, max: 32 })).map(([a, prefix]) => {
    const host = (1n << BigInt(32 - prefix)) - 1n;
    return `${formatIPv4(a & ~host)}/${prefix}`;
  }),
  fc.tuple(address6, fc.integer({ min: 0, max: 128 })).map(([a, prefix]) => {
    const host = (1n << BigInt(128 - prefix)) - 1n;
    return `${formatIPv6(a & ~host & ((1n << 128n) - 1n))}/${prefix}`;
  }),
);

const PORTS = [5060, 5061, 5080];
const peerEntries = fc.array(
  fc.record({
    addresses: fc.array(cidr, { minLength: 1, maxLength: 4 }),
    ports: fc.option(fc.uniqueArray(fc.constantFrom(...PORTS), { minLength: 1 }), { nil: null }),
  }),
  { maxLength: 8 },
);

/** A probe address: random near the hot spots, or just inside or outside one of the ranges. */
function probes(entries: readonly PeerEntry[]) {
  const edges = entries.flatMap((e) =>
    e.ranges.flatMap((r) =>
      [r.first, r.last, r.first - 1n, r.last + 1n].map((v) => ({ family: r.family, v })),
    ),
  );
  const pick = edges.length === 0 ? fc.constant(null) : fc.constantFrom(...edges);
  return fc.oneof(
    address4.map((v) => ({ family: 4 as const, v })),
    address6.map((v) => ({ family: 6 as const, v })),
    pick,
  );
}

function encode(family: 4 | 6, v: bigint, mapped: boolean): Uint8Array | null {
  const max = family === 4 ? 0xffffffffn : (1n << 128n) - 1n;
  if (v < 0n || v > max) return null;
  if (family === 4) return mapped ? bytesOf((0xffffn << 32n) | v, 16) : bytesOf(v, 4);
  return bytesOf(v, 16);
}

describe('peer matcher against a linear scan of the entries', () => {
  it('gives the same peer for every address and port', () => {
    fc.assert(
      fc.property(
        peerEntries.chain((raw) => {
          const entries = raw.map((r, i) => entry(`p${i}`, r.addresses, r.ports && [...r.ports].sort()));
          return fc.tuple(
            fc.constant(entries),
            fc.array(fc.tuple(probes(entries), fc.constantFrom(0, ...PORTS, 9999), fc.boolean()), {
              minLength: 1,
              maxLength: 30,
            }),
          );
        }),
        ([entries, queries]) => {
          const m = new PeerMatcher(entries);
          for (const [probe, port, mapped] of queries) {
            if (probe === null) continue;
            const raw = encode(probe.family, probe.v, mapped);
            if (raw === null) continue;
            expect(m.peerOf(raw, 0, raw.length, port)).toBe(referencePeerOf(entries, raw, port));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives PEER_SELF exactly for the self addresses, and the peer otherwise', () => {
    fc.assert(
      fc.property(
        peerEntries,
        fc.array(cidr, { maxLength: 4 }),
        fc.array(
          fc.tuple(
            fc.oneof(
              address4.map((v) => [4, v] as const),
              address6.map((v) => [6, v] as const),
            ),
            fc.boolean(),
          ),
        ),
        (raw, selfTexts, queries) => {
          const entries = raw.map((r, i) => entry(`p${i}`, r.addresses, r.ports && [...r.ports].sort()));
          const selfRanges = ranges(...selfTexts);
          const m = new PeerMatcher(entries);
          const self = new AddressSet(selfRanges);
          for (const [[family, v], mapped] of queries) {
            const bytes = encode(family, v, mapped)!;
            expect(m.lookup(bytes, 0, bytes.length, 5060, self)).toBe(
              referenceLookup(entries, selfRanges, bytes, 5060),
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('lists as unreachable exactly the entries no probe can reach', () => {
    fc.assert(
      fc.property(peerEntries, (raw) => {
        const entries = raw.map((r, i) => entry(`p${i}`, r.addresses, r.ports && [...r.ports].sort()));
        const m = new PeerMatcher(entries);
        // Every segment starts at some range's first address or just past its last, so probing
        // those points with every listed port (and an unlisted one) reaches every decision.
        const reached = new Set<number>();
        for (const e of entries)
          for (const r of e.ranges)
            for (const v of [r.first, r.last + 1n]) {
              const b = encode(r.family, v, false);
              if (b === null) continue;
              for (const port of [0, ...PORTS]) reached.add(m.peerOf(b, 0, b.length, port));
            }
        const unreachable = entries.map((e) => e.name).filter((_, i) => !reached.has(i + 1));
        expect(m.unreachable).toEqual(unreachable);
      }),
      { numRuns: 200 },
    );
  });
});
