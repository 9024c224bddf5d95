import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DedupeWindow } from '../../src/count/dedupe.js';
import { NodeLabels } from '../../src/count/nodes.js';
import { KIND_REQUEST, KIND_RESPONSE, Observation } from '../../src/count/observation.js';
import { SipCounter } from '../../src/count/sip-counter.js';
import { SelfMetrics } from '../../src/metrics/self-metrics.js';
import { methodIndexOfString } from '../../src/sip/methods.js';
import { SipMessageScan, scanSipMessage } from '../../src/sip/scan.js';
import { samples } from '../helpers/exporter.js';
import { sipRequest, sipResponse } from '../helpers/sip.js';

function setup(windowMs = 32_000, maxSeries?: number) {
  const registry = new Registry();
  const self = new SelfMetrics(registry);
  const nodes = new NodeLabels(10, new Map(), self.nodeOverflow.cell({}));
  const counter = new SipCounter(
    registry,
    nodes,
    windowMs > 0 ? new DedupeWindow(windowMs, 1000) : null,
    self,
    { maxSeries },
  );
  const scan = new SipMessageScan();
  const observation = new Observation();
  /** A SIP message on the wire, through the scanner and the step every SIP-reading source takes. */
  const count = (text: string, node: number, now = 0) => {
    const buf = Buffer.from(text);
    expect(scanSipMessage(buf, 0, buf.length, scan)).toBe(0);
    observation.setSip(scan, buf);
    observation.node = node;
    observation.now = now;
    counter.count(observation);
  };
  /** A message as a text extractor reports it: strings, a code for a response, the rest optional. */
  const countEvent = (node: number, event: TextEvent, now: number) => {
    observation.kind = event.code === undefined ? KIND_REQUEST : KIND_RESPONSE;
    observation.statusCode = event.code ?? 0;
    observation.method = event.method;
    observation.cseqNumber = event.cseq ?? -1;
    observation.callId.setText(event.callId);
    observation.toTag.setText(event.toTag);
    observation.node = node;
    observation.now = now;
    counter.count(observation);
  };
  return { registry, counter, nodes, count, countEvent };
}

interface TextEvent {
  code?: number;
  method: number;
  callId?: string;
  cseq?: number;
  toTag?: string;
}

describe('SIP counter', () => {
  it('labels a response with code, class, canonical reason, method and node', async () => {
    const { registry, nodes, count } = setup();
    count(sipResponse({ code: 503, phrase: 'Overloaded, go away' }), nodes.fromText('edge'));
    expect(samples(await registry.metrics(), 'sip_responses_total')).toEqual({
      '{code="503",class="5xx",reason="Service Unavailable",method="INVITE",node="edge"}': 1,
    });
  });

  it('counts a message traced twice by one node once, and once per node', async () => {
    const { registry, nodes, count } = setup();
    const edge = nodes.fromText('edge');
    const core = nodes.fromText('core');
    const ringing = sipResponse({ code: 180, toTag: 't1' });
    count(ringing, edge, 0);
    count(ringing, edge, 5);
    count(ringing, core, 5);
    count(sipRequest('INVITE'), edge, 0);
    count(sipRequest('INVITE'), edge, 1);
    const text = await registry.metrics();
    expect(samples(text, 'sip_responses_total')).toEqual({
      '{code="180",class="1xx",reason="Ringing",method="INVITE",node="edge"}': 1,
      '{code="180",class="1xx",reason="Ringing",method="INVITE",node="core"}': 1,
    });
    expect(samples(text, 'sip_requests_total')).toEqual({ '{method="INVITE",node="edge"}': 1 });
    expect(samples(text, 'sip_exporter_dedupe_hits_total')).toEqual({
      '{kind="response"}': 1,
      '{kind="request"}': 1,
    });
  });

  it('keeps responses apart that differ in code, To tag, CSeq or Call-ID', async () => {
    const { registry, nodes, count } = setup();
    const node = nodes.fromText('edge');
    count(sipResponse({ code: 180, toTag: 'a' }), node);
    count(sipResponse({ code: 180, toTag: 'b' }), node); // a second fork
    count(sipResponse({ code: 200, toTag: 'a' }), node);
    count(sipResponse({ code: 200, toTag: 'a', cseq: 2 }), node);
    count(sipResponse({ code: 200, toTag: 'a', callId: 'other' }), node);
    count(sipResponse({ code: 200, toTag: 'a', method: 'BYE' }), node);
    const counts = samples(await registry.metrics(), 'sip_responses_total');
    expect(counts['{code="180",class="1xx",reason="Ringing",method="INVITE",node="edge"}']).toBe(2);
    expect(counts['{code="200",class="2xx",reason="OK",method="INVITE",node="edge"}']).toBe(3);
    expect(counts['{code="200",class="2xx",reason="OK",method="BYE",node="edge"}']).toBe(1);
  });

  it('counts every copy when dedupe is off, and messages without Call-ID always', async () => {
    const { registry, nodes, count } = setup(0);
    const node = nodes.fromText('edge');
    for (let i = 0; i < 3; i++) count(sipResponse({ code: 486 }), node);
    const withDedupe = setup();
    const other = withDedupe.nodes.fromText('edge');
    for (let i = 0; i < 2; i++)
      withDedupe.count('SIP/2.0 408 Request Timeout\r\nCSeq: 1 INVITE\r\n\r\n', other);
    expect(samples(await registry.metrics(), 'sip_responses_total')).toEqual({
      '{code="486",class="4xx",reason="Busy Here",method="INVITE",node="edge"}': 3,
    });
    expect(samples(await withDedupe.registry.metrics(), 'sip_responses_total')).toEqual({
      '{code="408",class="4xx",reason="Request Timeout",method="INVITE",node="edge"}': 2,
    });
  });

  it('dedupes syslog events the same way, with the same key as the wire bytes', async () => {
    const { registry, nodes, count, countEvent } = setup();
    const node = nodes.fromText('edge');
    count(sipResponse({ code: 486, callId: 'c1', cseq: 3, toTag: 'tt' }), node);
    countEvent(
      node,
      { code: 486, method: methodIndexOfString('INVITE'), callId: 'c1', cseq: 3, toTag: 'tt' },
      1,
    );
    countEvent(
      node,
      { code: 486, method: methodIndexOfString('INVITE'), callId: 'c2', cseq: 3, toTag: 'tt' },
      1,
    );
    expect(samples(await registry.metrics(), 'sip_responses_total')).toEqual({
      '{code="486",class="4xx",reason="Busy Here",method="INVITE",node="edge"}': 2,
    });
  });

  it('keys a message only when it has both a Call-ID and a CSeq number, whatever the source', async () => {
    const { registry, nodes, count, countEvent } = setup();
    const node = nodes.fromText('edge');
    const noCSeq = 'SIP/2.0 486 Busy Here\r\nCall-ID: c-no-cseq\r\nTo: <sip:b@x>;tag=t\r\n\r\n';
    const badCSeq = 'SIP/2.0 480 Temporarily Unavailable\r\nCall-ID: c-bad\r\nCSeq: x INVITE\r\n\r\n';
    const emptyCallId = 'SIP/2.0 603 Decline\r\nCall-ID:\r\nCSeq: 1 INVITE\r\n\r\n';
    for (let i = 0; i < 2; i++) {
      count(noCSeq, node);
      count(badCSeq, node);
      count(emptyCallId, node);
      countEvent(node, { code: 404, method: methodIndexOfString('INVITE'), callId: 'acc-1' }, 0);
    }
    const text = await registry.metrics();
    expect(samples(text, 'sip_responses_total')).toEqual({
      '{code="486",class="4xx",reason="Busy Here",method="",node="edge"}': 2,
      '{code="480",class="4xx",reason="Temporarily Unavailable",method="",node="edge"}': 2,
      '{code="603",class="6xx",reason="Decline",method="INVITE",node="edge"}': 2,
      '{code="404",class="4xx",reason="Not Found",method="INVITE",node="edge"}': 2,
    });
    expect(samples(text, 'sip_exporter_dedupe_hits_total')['{kind="response"}']).toBe(0);
  });

  it('past --metrics.max-series, counts new series into per-node, per-class overflow series', async () => {
    const { registry, counter, nodes, countEvent } = setup(0, 3);
    const edge = nodes.fromText('edge');
    const core = nodes.fromText('core');
    const invite = methodIndexOfString('INVITE');
    const bye = methodIndexOfString('BYE');
    const events: Array<[number, number, number]> = [
      [edge, 200, invite],
      [edge, 486, invite],
      [core, 200, invite],
      // the cap of 3 is reached: what follows is new and folds into overflow
      [edge, 503, invite],
      [edge, 500, bye],
      [edge, 404, invite],
      [core, 603, invite],
      // known series keep counting into their own cells
      [edge, 200, invite],
      [core, 200, invite],
      [edge, 503, invite],
    ];
    for (const [node, code, method] of events) countEvent(node, { code, method }, 0);
    for (let i = 0; i < 5; i++) countEvent(edge, { method: methodIndexOfString('OPTIONS') }, 0);
    const text = await registry.metrics();
    expect(samples(text, 'sip_responses_total')).toEqual({
      '{code="200",class="2xx",reason="OK",method="INVITE",node="edge"}': 2,
      '{code="486",class="4xx",reason="Busy Here",method="INVITE",node="edge"}': 1,
      '{code="200",class="2xx",reason="OK",method="INVITE",node="core"}': 2,
      '{code="other",class="5xx",reason="other",method="other",node="edge"}': 3,
      '{code="other",class="4xx",reason="other",method="other",node="edge"}': 1,
      '{code="other",class="6xx",reason="other",method="other",node="core"}': 1,
    });
    // Per node and class the sums are exact, overflow or not.
    expect(counter.countedResponses()).toBe(events.length);
    expect(samples(text, 'sip_exporter_series_overflow_total')).toEqual({
      '{metric="sip_responses_total"}': 5,
      '{metric="sip_requests_total"}': 0,
    });
    expect(samples(text, 'sip_exporter_series')).toEqual({
      '{metric="sip_responses_total"}': 6,
      '{metric="sip_requests_total"}': 1,
    });
  });

  it('caps sip_requests_total apart, keeping the node in its overflow series', async () => {
    const { registry, nodes, countEvent } = setup(0, 2);
    const edge = nodes.fromText('edge');
    for (const method of ['INVITE', 'BYE', 'ACK', 'CANCEL', 'INVITE'])
      countEvent(edge, { method: methodIndexOfString(method) }, 0);
    const text = await registry.metrics();
    expect(samples(text, 'sip_requests_total')).toEqual({
      '{method="INVITE",node="edge"}': 2,
      '{method="BYE",node="edge"}': 1,
      '{method="other",node="edge"}': 2,
    });
    expect(samples(text, 'sip_exporter_series_overflow_total')['{metric="sip_requests_total"}']).toBe(2);
  });
});
