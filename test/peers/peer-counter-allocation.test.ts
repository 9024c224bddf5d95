import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { KeyHasher } from '../../src/count/key-hasher.js';
import { NodeLabels } from '../../src/count/nodes.js';
import { Observation } from '../../src/count/observation.js';
import { hashCallId, hashMessageKey } from '../../src/count/sip-counter.js';
import { SelfMetrics } from '../../src/metrics/self-metrics.js';
import { peersSchema, selfAddressesSchema } from '../../src/peers/config.js';
import { PeerCounter } from '../../src/peers/peer-counter.js';
import { SipMessageScan, scanSipMessage } from '../../src/sip/scan.js';
import { expectAllocatesNothing } from '../helpers/gc.js';
import { sipResponse } from '../helpers/sip.js';

const STEPS = 4_000_000;

/**
 * Once its cells exist, counting a message per peer must allocate nothing: millions of counts
 * that allocated even a small object each would fill the young generation and show a scavenge.
 */
describe('per-peer counting', () => {
  it.each([
    ['with dedupe (every repeat a retransmission)', 32_000, false, true],
    ['without dedupe', 0, false, true],
    ['with text addresses, as syslog extractors give them', 0, true, true],
    ['resolving only the direction, with own addresses and no peers', 0, false, false],
  ])('allocates nothing %s', async (_, windowMs, text, withPeers) => {
    const registry = new Registry();
    const self = new SelfMetrics(registry);
    const nodes = new NodeLabels(10, new Map(), self.nodeOverflow.cell({}));
    const counter = new PeerCounter(registry, nodes, self, {
      maxSeries: 1000,
      dedupeWindowMs: windowMs,
      dedupeEntries: 1024,
    });
    counter.configure(
      peersSchema.parse(
        withPeers
          ? [
              { name: 'carrier-a', addresses: ['192.0.2.0/24'] },
              { name: 'customer-x', addresses: ['203.0.113.0/24', 'fd00::/8'] },
            ]
          : [],
      ),
      { edge: selfAddressesSchema.parse(['10.0.0.1']) },
    );
    const buf = Buffer.from(sipResponse({ code: 503, callId: 'alloc@x', toTag: 't' }));
    const scan = new SipMessageScan();
    expect(scanSipMessage(buf, 0, buf.length, scan)).toBe(0);
    const o = new Observation();
    o.setSip(scan, buf);
    o.node = nodes.fromText('edge');
    const addresses = new Uint8Array([
      192,
      0,
      2,
      9,
      10,
      0,
      0,
      1,
      203,
      0,
      113,
      4,
      0xfd,
      ...new Array(15).fill(0),
    ]);
    // (source, destination): carrier to proxy, proxy to customer, carrier to customer over IPv6's
    // peer, unmatched to proxy.
    const pairs = [
      [0, 4, 4, 4],
      [4, 4, 8, 4],
      [0, 4, 12, 16],
      [8, 4, 4, 4],
    ];
    // The same pairs as text, made once: the strings an extractor hands over already exist.
    const texts = [
      ['192.0.2.9', '10.0.0.1'],
      ['10.0.0.1', '203.0.113.4'],
      ['192.0.2.9', '[fd00::]'],
      ['203.0.113.4', '10.0.0.1'],
    ];
    // As SipCounter hands it over: the message's dedupe key, hashed once.
    const hasher = new KeyHasher();
    // What the KPI adapter reads from each resolve, summed so that the work is not optimised away.
    let ends = 0;
    const countPeers = (o: Observation) => {
      counter.resolve(o);
      ends += counter.direction + counter.peer;
      hashCallId(hasher, o);
      counter.count(o, hashMessageKey(hasher, o), hasher);
    };
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        if (text) {
          const [src, dst] = texts[i & 3];
          o.sourceAddress.setText(src);
          o.destinationAddress.setText(dst);
          o.now = i & 1023;
          countPeers(o);
          continue;
        }
        const [s, sl, d, dl] = pairs[i & 3];
        o.sourceAddress.setBytes(addresses, s, s + sl);
        o.destinationAddress.setBytes(addresses, d, d + dl);
        o.now = i & 1023;
        countPeers(o);
      }
    };
    // Warmed by several calls, not one long one: a single call is compiled on-stack mid-loop, and
    // what V8 then inlines (and so whether a hash word crossing a call is boxed) varies by run.
    for (let k = 0; k < 10; k++) run(20_000);
    await expectAllocatesNothing(STEPS, () => {
      run(STEPS);
      return counter.countedResponses() + ends;
    });
  });
});
