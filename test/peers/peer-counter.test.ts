import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DedupeWindow } from '../../src/count/dedupe.js';
import { NodeLabels } from '../../src/count/nodes.js';
import { Observation } from '../../src/count/observation.js';
import { SipCounter } from '../../src/count/sip-counter.js';
import { ParseError } from '../../src/errors.js';
import {
  buildExtractors,
  DEFAULT_EXTRACTORS,
  type ExtractedResponse,
  observeExtracted,
} from '../../src/ingest/syslog/extractors.js';
import { SyslogIngest } from '../../src/ingest/syslog/syslog-ingest.js';
import { DIRECTION_RECEIVED, DIRECTION_SENT, DIRECTION_UNKNOWN } from '../../src/kpi/types.js';
import { SelfMetrics } from '../../src/metrics/self-metrics.js';
import { parseAddressRange } from '../../src/peers/address.js';
import { peersSchema, selfAddressesSchema } from '../../src/peers/config.js';
import type { AddressSet } from '../../src/peers/matcher.js';
import { PeerCounter } from '../../src/peers/peer-counter.js';
import { SipMessageScan, scanSipMessage } from '../../src/sip/scan.js';
import { samples } from '../helpers/exporter.js';
import { sipRequest, sipResponse } from '../helpers/sip.js';
import { bytesOf } from './reference.js';

const PEERS = `
- name: carrier-a
  addresses: ["192.0.2.0/24", "2001:db8:a::/48"]
- name: carrier-b
  addresses: ["198.51.100.10"]
  ports: [5060]
- name: customer-x
  addresses: ["203.0.113.0/24"]
`;
const PROXY = '10.0.0.1';
const CARRIER_A = '192.0.2.10';
const CUSTOMER = '203.0.113.5';
const STRANGER = '100.64.0.9';

/** The 4- or 16-byte network-order form of an address, as HEP carries it. */
function addressBytes(text: string): Uint8Array {
  const parsed = parseAddressRange(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return bytesOf(parsed.range.first, parsed.range.family === 4 ? 4 : 16);
}

function selfAddresses(spec: Record<string, string[]>): Record<string, AddressSet> {
  return Object.fromEntries(
    Object.entries(spec).map(([node, list]) => [node, selfAddressesSchema.parse(list)]),
  );
}

interface Setup {
  windowMs?: number;
  maxSeries?: number;
  peers?: string;
  self?: Record<string, string[]>;
}

function setup({
  windowMs = 32_000,
  maxSeries = 20_000,
  peers = PEERS,
  self = { 'edge-1': [PROXY] },
}: Setup = {}) {
  const registry = new Registry();
  const metrics = new SelfMetrics(registry);
  const nodes = new NodeLabels(10, new Map(), metrics.nodeOverflow.cell({}));
  const counter = new SipCounter(
    registry,
    nodes,
    windowMs > 0 ? new DedupeWindow(windowMs, 4096) : null,
    metrics,
    { maxSeries },
  );
  const peerCounter = new PeerCounter(registry, nodes, metrics, {
    maxSeries,
    dedupeWindowMs: windowMs,
    dedupeEntries: 4096,
  });
  peerCounter.configure(peersSchema.parse(parseYaml(peers)), selfAddresses(self));
  counter.peers = peerCounter;
  const node = nodes.fromText('edge-1');
  const scan = new SipMessageScan();
  const o = new Observation();
  /** One traced copy of a message, from `src` to `dst`, through the scanner and the counter. */
  const send = (
    text: string,
    src: string,
    dst: string,
    opts: { now?: number; srcPort?: number; at?: number } = {},
  ) => {
    const buf = Buffer.from(text);
    expect(scanSipMessage(buf, 0, buf.length, scan)).toBe(0);
    o.setSip(scan, buf);
    o.node = opts.at ?? node;
    o.now = opts.now ?? 0;
    const s = addressBytes(src);
    const d = addressBytes(dst);
    o.sourceAddress.setBytes(s, 0, s.length);
    o.destinationAddress.setBytes(d, 0, d.length);
    o.sourcePort = opts.srcPort ?? 5060;
    o.destinationPort = 5060;
    counter.count(o);
  };
  const series = async (metric: string) => samples(await registry.metrics(), metric);
  return { registry, metrics, counter, peerCounter, nodes, send, series };
}

const r503 = (callId = 'c1@x', toTag = 't1') => sipResponse({ code: 503, callId, toTag });

describe('PeerCounter', () => {
  it('counts a relayed response once from the carrier that sent it and once to the customer it went to', async () => {
    const { send, series } = setup();
    send(r503(), CARRIER_A, PROXY);
    send(r503(), PROXY, CUSTOMER);
    expect(await series('sip_peer_responses_total')).toEqual({
      '{peer="carrier-a",direction="from_peer",code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="edge-1"}': 1,
      '{peer="customer-x",direction="to_peer",code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="edge-1"}': 1,
    });
    // The node-level count sees one response: the second copy is its dedupe hit.
    expect(Object.values(await series('sip_responses_total'))).toEqual([1]);
    expect(await series('sip_peer_retransmissions_total')).toEqual({});
  });

  it('counts a message between two peers for each of them', async () => {
    const { send, series } = setup();
    send(sipRequest('INVITE', 'between@x'), CUSTOMER, CARRIER_A);
    expect(await series('sip_peer_requests_total')).toEqual({
      '{peer="customer-x",direction="from_peer",method="INVITE",node="edge-1"}': 1,
      '{peer="carrier-a",direction="to_peer",method="INVITE",node="edge-1"}': 1,
    });
  });

  it('never attributes the node’s own addresses, even to a catch-all listed first', async () => {
    const { send, series } = setup({ peers: '- name: everyone\n  addresses: ["0.0.0.0/0", "::/0"]' });
    send(r503(), PROXY, CARRIER_A);
    expect(Object.keys(await series('sip_peer_responses_total'))).toEqual([
      '{peer="everyone",direction="to_peer",code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="edge-1"}',
    ]);
  });

  it('counts an address that matches no peer as peer="other", and port-restricted entries by port', async () => {
    const { send, series } = setup();
    send(sipRequest('OPTIONS', 'o1@x'), STRANGER, PROXY);
    send(sipRequest('OPTIONS', 'o2@x'), '198.51.100.10', PROXY, { srcPort: 5060 });
    send(sipRequest('OPTIONS', 'o3@x'), '198.51.100.10', PROXY, { srcPort: 40000 });
    expect(await series('sip_peer_requests_total')).toEqual({
      '{peer="other",direction="from_peer",method="OPTIONS",node="edge-1"}': 2,
      '{peer="carrier-b",direction="from_peer",method="OPTIONS",node="edge-1"}': 1,
    });
  });

  it('matches IPv6 and IPv4-mapped IPv6 addresses', async () => {
    const { send, series } = setup();
    send(r503('v6@x'), '2001:db8:a::7', PROXY);
    send(r503('mapped@x'), '::ffff:192.0.2.77', PROXY);
    expect(Object.values(await series('sip_peer_responses_total'))).toEqual([2]);
  });

  it('attributes text addresses, as syslog extractors give them, as it does raw ones', async () => {
    const { counter, nodes, series } = setup();
    const o = new Observation();
    const found = (srcIp?: string, dstIp?: string, extra: Partial<ExtractedResponse> = {}) => {
      observeExtracted(
        { code: 503, method: 'INVITE', callId: `t${Math.random()}`, srcIp, dstIp, ...extra },
        o,
      );
      o.node = nodes.fromText('edge-1');
      counter.count(o);
    };
    found(CARRIER_A, CUSTOMER);
    found('[2001:db8:a::7]', PROXY);
    found('::ffff:192.0.2.77', undefined);
    // port-restricted carrier-b: the port comes from the line too
    found('198.51.100.10', PROXY, { srcPort: '5060' });
    found('198.51.100.10', PROXY, { srcPort: '40000' });
    // a host name cannot be matched: `other`, never a series of its own
    found('carrier.example.com', PROXY);
    expect(await series('sip_peer_responses_total')).toEqual({
      '{peer="carrier-a",direction="from_peer",code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="edge-1"}': 3,
      '{peer="customer-x",direction="to_peer",code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="edge-1"}': 1,
      '{peer="carrier-b",direction="from_peer",code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="edge-1"}': 1,
      '{peer="other",direction="from_peer",code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="edge-1"}': 2,
    });
  });

  it('takes a peer named by the line for the source end; an unknown name is `other`', async () => {
    const { counter, nodes, series } = setup();
    const o = new Observation();
    for (const [peer, dstIp] of [
      ['carrier-b', CUSTOMER],
      ['customer-x', undefined],
      ['no-such-peer', undefined],
      ['other', undefined],
    ] as const) {
      // The name wins over an address for the same end.
      observeExtracted(
        { code: 486, method: 'INVITE', callId: `${peer}@x`, peer, srcIp: CARRIER_A, dstIp },
        o,
      );
      o.node = nodes.fromText('edge-1');
      counter.count(o);
    }
    expect(await series('sip_peer_responses_total')).toEqual({
      '{peer="carrier-b",direction="from_peer",code="486",class="4xx",reason="Busy Here",method="INVITE",node="edge-1"}': 1,
      '{peer="customer-x",direction="to_peer",code="486",class="4xx",reason="Busy Here",method="INVITE",node="edge-1"}': 1,
      '{peer="customer-x",direction="from_peer",code="486",class="4xx",reason="Busy Here",method="INVITE",node="edge-1"}': 1,
      '{peer="other",direction="from_peer",code="486",class="4xx",reason="Busy Here",method="INVITE",node="edge-1"}': 2,
    });
  });

  it('takes self addresses from `*` for every node, on top of the node’s own', async () => {
    const { send, series, nodes } = setup({ self: { '*': ['10.9.9.9'], 'edge-2': [PROXY] } });
    const edge2 = nodes.fromText('edge-2');
    send(r503('s1@x'), CARRIER_A, '10.9.9.9');
    send(r503('s2@x'), CARRIER_A, PROXY, { at: edge2 });
    const counted = await series('sip_peer_responses_total');
    // edge-1 does not own PROXY, so it is `other` there; edge-2 owns both.
    expect(Object.keys(counted).filter((k) => k.includes('peer="other"'))).toEqual([]);
    expect(Object.values(counted)).toEqual([1, 1]);
  });

  it('counts a copy seen again in the same direction as a retransmission, not as a response', async () => {
    const { send, series } = setup();
    send(r503(), CARRIER_A, PROXY, { now: 0 });
    send(r503(), CARRIER_A, PROXY, { now: 500 });
    send(r503(), CARRIER_A, PROXY, { now: 1500 });
    send(sipRequest('INVITE', 'rt@x'), PROXY, CARRIER_A, { now: 0 });
    send(sipRequest('INVITE', 'rt@x'), PROXY, CARRIER_A, { now: 500 });
    expect(await series('sip_peer_responses_total')).toEqual({
      '{peer="carrier-a",direction="from_peer",code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="edge-1"}': 1,
    });
    expect(await series('sip_peer_retransmissions_total')).toEqual({
      '{peer="carrier-a",direction="from_peer",method="INVITE",node="edge-1"}': 2,
      '{peer="carrier-a",direction="to_peer",method="INVITE",node="edge-1"}': 1,
    });
    // Past the window the message counts again, as sip_responses_total does.
    send(r503(), CARRIER_A, PROXY, { now: 40_000 });
    expect(Object.values(await series('sip_peer_responses_total'))).toEqual([2]);
  });

  it('counts every copy and sees no retransmission with dedupe off', async () => {
    const { send, series } = setup({ windowMs: 0 });
    send(r503(), CARRIER_A, PROXY);
    send(r503(), CARRIER_A, PROXY);
    expect(Object.values(await series('sip_peer_responses_total'))).toEqual([2]);
    expect(await series('sip_peer_retransmissions_total')).toEqual({});
  });

  it('keeps each peer’s series and counts across a reload that reorders and extends the list', async () => {
    const { send, series, peerCounter } = setup();
    send(r503('before@x'), CARRIER_A, PROXY);
    peerCounter.configure(
      peersSchema.parse(
        parseYaml(`
- name: carrier-new
  addresses: ["100.64.0.0/10"]
- name: customer-x
  addresses: ["203.0.113.0/24"]
- name: carrier-a
  addresses: ["192.0.2.0/24"]
`),
      ),
      selfAddresses({ 'edge-1': [PROXY] }),
    );
    send(r503('after@x'), CARRIER_A, PROXY);
    send(r503('stranger@x'), STRANGER, PROXY);
    // The same message again after the reload is still a retransmission: the key is the peer, not its position.
    send(r503('after@x'), CARRIER_A, PROXY);
    const counted = await series('sip_peer_responses_total');
    expect(counted).toEqual({
      '{peer="carrier-a",direction="from_peer",code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="edge-1"}': 2,
      '{peer="carrier-new",direction="from_peer",code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="edge-1"}': 1,
    });
    expect(Object.values(await series('sip_peer_retransmissions_total'))).toEqual([1]);
  });

  it('counts nothing and adds no series while no peer is configured', async () => {
    const { send, registry } = setup({ peers: '[]' });
    send(r503(), CARRIER_A, PROXY);
    const text = await registry.metrics();
    expect(text).not.toMatch(/^sip_peer_\w+\{/m);
    expect(samples(text, 'sip_responses_total')).not.toEqual({});
  });

  it('folds series past the cap into one per peer, direction and class', async () => {
    const { send, series, registry } = setup({ maxSeries: 2 });
    const codes = [500, 502, 503, 504, 580];
    codes.forEach((code, i) => {
      send(sipResponse({ code, callId: `cap${i}@x`, toTag: 't' }), CARRIER_A, PROXY);
    });
    const counted = await series('sip_peer_responses_total');
    expect(Object.keys(counted)).toHaveLength(3);
    expect(
      counted[
        '{peer="carrier-a",direction="from_peer",code="other",class="5xx",reason="other",method="other",node="other"}'
      ],
    ).toBe(3);
    const overflow = samples(await registry.metrics(), 'sip_exporter_series_overflow_total');
    expect(overflow['{metric="sip_peer_responses_total"}']).toBe(3);
  });
});

describe('PeerCounter property', () => {
  const names = new Set(['carrier-a', 'carrier-b', 'customer-x', 'other']);
  const address = fc.oneof(
    fc.constantFrom(
      PROXY,
      CARRIER_A,
      CUSTOMER,
      STRANGER,
      '198.51.100.10',
      '2001:db8:a::1',
      '::ffff:192.0.2.1',
    ),
    fc.ipV4(),
    fc.ipV6(),
  );
  it('adds no series outside the configured peers and other, and no label value outside its set', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            src: address,
            dst: address,
            srcPort: fc.integer({ min: 0, max: 65535 }),
            code: fc.integer({ min: 100, max: 699 }),
            request: fc.boolean(),
            method: fc.constantFrom('INVITE', 'OPTIONS', 'BYE', 'FOO'),
            callId: fc.constantFrom('a@x', 'b@x', 'c@x'),
          }),
          { maxLength: 40 },
        ),
        async (messages) => {
          const { send, registry } = setup({ maxSeries: 25 });
          for (const m of messages) {
            const text = m.request
              ? sipRequest(m.method, m.callId)
              : sipResponse({ code: m.code, method: m.method, callId: m.callId, toTag: 't' });
            send(text, m.src, m.dst, { srcPort: m.srcPort });
          }
          const text = await registry.metrics();
          for (const metric of [
            'sip_peer_responses_total',
            'sip_peer_requests_total',
            'sip_peer_retransmissions_total',
          ]) {
            const keys = Object.keys(samples(text, metric));
            // 25 regular series plus at most 12 overflow series per peer (4 peers, other included).
            expect(keys.length).toBeLessThanOrEqual(25 + 12 * names.size);
            for (const key of keys) {
              expect(names.has(/peer="([^"]*)"/.exec(key)?.[1] ?? '')).toBe(true);
              expect(/direction="(from_peer|to_peer)"/.test(key)).toBe(true);
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('syslog lines with any address, port or peer value add no series outside the peers and never throw', async () => {
    const value = fc.oneof(
      address,
      fc.constantFrom('', '<null>', '-', 'carrier-a', 'customer-x', 'other', 'carrier.example.com', '[::1]'),
      fc.string({ maxLength: 20 }).map((t) => t.replace(/[;\s]/g, '')),
    );
    const port = fc.oneof(
      fc.integer({ min: -1, max: 70000 }).map(String),
      fc.constantFrom('', '<null>', '5060x'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            acc: fc.boolean(),
            code: fc.integer({ min: 100, max: 699 }),
            src: value,
            dst: value,
            srcPort: port,
            dstPort: port,
            peer: fc.option(value, { nil: undefined }),
          }),
          { maxLength: 30 },
        ),
        async (lines) => {
          const { counter, metrics, registry } = setup({ maxSeries: 25 });
          const ingest = new SyslogIngest(counter, metrics, buildExtractors(DEFAULT_EXTRACTORS));
          lines.forEach((l, i) => {
            const pairs = `src_ip=${l.src};src_port=${l.srcPort};dst_ip=${l.dst};dst_port=${l.dstPort}${l.peer === undefined ? '' : `;peer=${l.peer}`}`;
            const text = l.acc
              ? `ACC: transaction answered: method=INVITE;call_id=p${i};code=${l.code};reason=x;${pairs}`
              : `sip_response code=${l.code} method=INVITE cseq=1 callid=p${i} totag=t ${pairs.replaceAll(';', ' ')}`;
            ingest.handle(Buffer.from(`<133>Nov 27 10:56:40 edge-1 kamailio: ${text}`), '127.0.0.1', i);
          });
          // Every line is a counted response: a bad address or peer costs its attribution, not the line.
          expect(ingest.stats.parseErrors.cell(ParseError.SYSLOG_UNPARSEABLE).value).toBe(0);
          expect(metrics.syslogMatches.total()).toBe(lines.length);
          const keys = Object.keys(samples(await registry.metrics(), 'sip_peer_responses_total'));
          expect(keys.length).toBeLessThanOrEqual(25 + 12 * names.size);
          for (const key of keys) expect(names.has(/peer="([^"]*)"/.exec(key)?.[1] ?? '')).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('PeerCounter ends, for the call KPIs', () => {
  const invite = sipRequest('INVITE', 'ends@x');
  const ends = (p: PeerCounter) => [p.direction, p.direction === DIRECTION_UNKNOWN ? '' : p.nameOf(p.peer)];

  it('tells a copy the node received from one it sent, and names the peer at the other end', () => {
    const { send, peerCounter } = setup();
    send(invite, CUSTOMER, PROXY);
    expect(ends(peerCounter)).toEqual([DIRECTION_RECEIVED, 'customer-x']);
    send(invite, PROXY, CARRIER_A);
    expect(ends(peerCounter)).toEqual([DIRECTION_SENT, 'carrier-a']);
    send(invite, PROXY, STRANGER);
    expect(ends(peerCounter)).toEqual([DIRECTION_SENT, 'other']);
    // Both ends the node's, or neither: no direction, no peer.
    for (const [src, dst] of [
      [PROXY, PROXY],
      [CARRIER_A, CUSTOMER],
    ]) {
      send(invite, src, dst);
      expect([peerCounter.direction, peerCounter.peer]).toEqual([DIRECTION_UNKNOWN, 0]);
    }
    // A node with no own addresses configured cannot tell.
    send(invite, CUSTOMER, PROXY, { at: 0 });
    expect([peerCounter.direction, peerCounter.peer]).toEqual([DIRECTION_UNKNOWN, 0]);
  });

  it('tells the direction from own addresses alone when no peer is configured', () => {
    const { send, peerCounter, series } = setup({ peers: '[]' });
    send(invite, CUSTOMER, PROXY);
    expect([peerCounter.direction, peerCounter.peer]).toEqual([DIRECTION_RECEIVED, 0]);
    send(invite, PROXY, CARRIER_A);
    expect([peerCounter.direction, peerCounter.peer]).toEqual([DIRECTION_SENT, 0]);
    send(invite, CARRIER_A, CUSTOMER);
    expect([peerCounter.direction, peerCounter.peer]).toEqual([DIRECTION_UNKNOWN, 0]);
    return expect(series('sip_peer_requests_total')).resolves.toEqual({});
  });

  it('keeps a peer’s id across a reload that reorders the list, so a leg in flight keeps its name', () => {
    const { send, peerCounter } = setup();
    send(invite, PROXY, CARRIER_A);
    const id = peerCounter.peer;
    peerCounter.configure(
      peersSchema.parse(parseYaml(`- name: carrier-z\n  addresses: ["192.0.2.0/25"]\n${PEERS}`)),
      selfAddresses({ 'edge-1': [PROXY] }),
    );
    expect(peerCounter.nameOf(id)).toBe('carrier-a');
    send(invite, PROXY, '192.0.2.200');
    expect([peerCounter.peer, peerCounter.nameOf(peerCounter.peer)]).toEqual([id, 'carrier-a']);
    send(invite, PROXY, CARRIER_A);
    expect(peerCounter.nameOf(peerCounter.peer)).toBe('carrier-z');
    expect(peerCounter.nameOf(10_000)).toBe('other');
  });
});
