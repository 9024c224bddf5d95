import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DedupeWindow } from '../../src/count/dedupe.js';
import { NodeLabels } from '../../src/count/nodes.js';
import { Observation } from '../../src/count/observation.js';
import { SipCounter } from '../../src/count/sip-counter.js';
import { SelfMetrics } from '../../src/metrics/self-metrics.js';
import { SipMessageScan, scanSipMessage } from '../../src/sip/scan.js';
import { sipRequest, sipResponse } from '../helpers/sip.js';

/** A counter of its own, fed scanned SIP text as a HEP batch would feed it. */
function counterWith(entries: number) {
  const registry = new Registry();
  const self = new SelfMetrics(registry);
  const nodes = new NodeLabels(10, new Map(), self.nodeOverflow.cell({}));
  const counter = new SipCounter(registry, nodes, new DedupeWindow(1_000, entries, 0), self);
  const scan = new SipMessageScan();
  const o = new Observation();
  const count = (buf: Buffer, node: number, now: number) => {
    expect(scanSipMessage(buf, 0, buf.length, scan)).toBe(0);
    o.setSip(scan, buf);
    o.node = node;
    o.now = now;
    counter.count(o);
  };
  const text = async () => {
    counter.flush();
    return (await registry.metrics())
      .split('\n')
      .filter((line) =>
        /^sip_(responses|requests)_total|^sip_exporter_dedupe_(hits|evictions)_total/.test(line),
      )
      .sort()
      .join('\n');
  };
  return { counter, nodes, count, text };
}

const messages = [
  sipRequest('INVITE', 'a'),
  sipRequest('INVITE', 'b'),
  sipRequest('BYE', 'a', 2),
  sipResponse({ code: 180, toTag: 't1', callId: 'a' }),
  sipResponse({ code: 180, toTag: 't2', callId: 'a' }),
  sipResponse({ code: 200, toTag: 't1', callId: 'a' }),
  sipResponse({ code: 503, toTag: 't3', callId: 'b' }),
  sipResponse({ code: 200, method: 'BYE', cseq: 2, toTag: 't1', callId: 'a' }),
].map((text) => Buffer.from(text));

describe('SIP counter, dedupe deferred over a batch', () => {
  it('counts exactly what it counts one message at a time, whatever the batches', async () => {
    const event = fc.record({
      message: fc.nat(messages.length - 1),
      node: fc.nat(2),
      // Time steps inside and past the 1 s window.
      step: fc.oneof(fc.constant(0), fc.nat(50), fc.integer({ min: 900, max: 1200 })),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { maxLength: 600, size: 'max' }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 10 }),
        // A tiny table evicts, so the order of lookups shows in the counts.
        fc.constantFrom(4, 16, 4096),
        async (events, batchSizes, entries) => {
          const one = counterWith(entries);
          const batched = counterWith(entries);
          const nodesOne = [0, 1, 2].map((n) => one.nodes.fromText(`n${n}`));
          const nodesBatched = [0, 1, 2].map((n) => batched.nodes.fromText(`n${n}`));
          let now = 0;
          let at = 0;
          // Batches of the sizes given, round and round; batches longer than the queue (256) too.
          for (let b = 0; at < events.length; b++) {
            const size = batchSizes[b % batchSizes.length];
            batched.counter.deferDedupe();
            for (const e of events.slice(at, at + size)) {
              now += e.step;
              one.count(messages[e.message], nodesOne[e.node], now);
              batched.count(messages[e.message], nodesBatched[e.node], now);
            }
            batched.counter.flush();
            at += size;
          }
          expect(await batched.text()).toBe(await one.text());
        },
      ),
      // No shrinking: a counterexample of hundreds of messages shrinks for minutes.
      { numRuns: 100, endOnFailure: true },
    );
  });

  it('counts nothing twice and loses nothing when flushed without a batch, or twice', async () => {
    const { counter, nodes, count, text } = counterWith(4096);
    counter.flush();
    counter.deferDedupe();
    count(messages[0], nodes.fromText('edge'), 0);
    count(messages[0], nodes.fromText('edge'), 1);
    expect(counter.countedResponses()).toBe(0);
    counter.flush();
    counter.flush();
    count(messages[3], nodes.fromText('edge'), 2);
    expect(counter.countedResponses()).toBe(1);
    const metrics = await text();
    expect(metrics).toContain('sip_requests_total{method="INVITE",node="edge"} 1');
    expect(metrics).toContain('sip_exporter_dedupe_hits_total{kind="request"} 1');
  });
});
