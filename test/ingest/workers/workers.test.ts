import type { Socket as UdpSocket } from 'node:dgram';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CODE, ListenError } from '../../../src/errors.js';
import type { Exporter } from '../../../src/exporter.js';
import { udpBatchAvailability } from '../../../src/ingest/udp-batch.js';
import { samples, sampleValue, scrape, startExporter } from '../../helpers/exporter.js';
import { hep3 } from '../../helpers/hep.js';
import { closeUdp, eventually, sendUdp, udpSender } from '../../helpers/net.js';
import { sipRequest, sipResponse } from '../../helpers/sip.js';

/**
 * Several ingest workers against one node that sends from many source ports, so that the
 * kernel's SO_REUSEPORT hash (by 4-tuple) spreads one node's messages, and the two trace copies
 * of each message, over different workers. Without the native addon (the suite's dgram pass)
 * the same tests run on the one ingest thread there is then, and must count the same.
 */
const BATCH = udpBatchAvailability().available;
const PORTS = 16;

const running: Exporter[] = [];
afterEach(async () => {
  for (const e of running.splice(0)) await e.stop();
});
const senders: UdpSocket[] = Array.from({ length: PORTS }, () => udpSender());
afterAll(async () => {
  for (const s of senders) await closeUdp(s);
});

async function start(flags: Record<string, string> = {}): Promise<Exporter> {
  const e = await startExporter({ 'ingest.workers': '2', ...flags });
  running.push(e);
  if (BATCH) expect(e.workers?.count).toBe(2);
  else expect(e.workers).toBeNull();
  return e;
}

const PHRASES: Record<number, string> = {
  200: 'OK',
  180: 'Ringing',
  183: 'Session Progress',
  486: 'Busy Here',
};
const hepPackets = 'sip_exporter_packets_received_total{listener="hep",transport="udp"}';

/** Sends every packet twice, from two different source ports: the copy received and the copy sent. */
async function traceTwice(e: Exporter, packets: readonly Buffer[]): Promise<string> {
  const port = e.source('hep').listener!.udpPort;
  const before = sampleValue(await scrape(e), hepPackets) ?? 0;
  for (let i = 0; i < packets.length; i++) {
    await sendUdp(senders[i % PORTS], packets[i], port);
    await sendUdp(senders[(i + 5) % PORTS], packets[i], port);
  }
  return eventually(
    () => scrape(e),
    (t) => sampleValue(t, hepPackets) === before + 2 * packets.length,
  );
}

/** Packets each worker read, from its own cells; one entry per worker. */
async function perWorker(e: Exporter): Promise<number[]> {
  const snapshots = await e.workers!.snapshots();
  return snapshots.map((metrics) => {
    const family = metrics.find((m) => m.name === 'sip_exporter_packets_received_total')!;
    return family.values
      .filter((v) => v.labels.listener === 'hep' && v.labels.transport === 'udp')
      .reduce((sum, v) => sum + v.value, 0);
  });
}

describe('ingest workers', () => {
  it('count one node sending from many ports exactly, each message traced twice, once with dedupe', async () => {
    const e = await start();
    const n = 1500;
    const packets: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      packets.push(
        i % 3 === 0
          ? hep3({ payload: sipRequest('INVITE', `spread-${i}`), nodeName: 'edge' })
          : hep3({
              payload: sipResponse({ code: i % 3 === 1 ? 180 : 200, callId: `spread-${i}` }),
              nodeName: 'edge',
            }),
      );
    }
    const text = await traceTwice(e, packets);
    expect(samples(text, 'sip_responses_total')).toEqual({
      '{code="180",class="1xx",reason="Ringing",method="INVITE",node="edge"}': n / 3,
      '{code="200",class="2xx",reason="OK",method="INVITE",node="edge"}': n / 3,
    });
    expect(samples(text, 'sip_requests_total')).toEqual({ '{method="INVITE",node="edge"}': n / 3 });
    expect(samples(text, 'sip_exporter_dedupe_hits_total')).toEqual({
      '{kind="response"}': (2 * n) / 3,
      '{kind="request"}': n / 3,
    });
    expect(sampleValue(text, 'sip_exporter_dedupe_entries')).toBe(n);
    expect(sampleValue(text, 'sip_exporter_nodes')).toBe(1);
    expect(sampleValue(text, 'sip_exporter_series{metric="sip_responses_total"}')).toBe(2);
    // The landing page sees the datagrams whichever thread read them.
    const udp = e
      .source('hep')
      .endpoints()[0]
      .activity!.find((a) => a.transport === 'udp')!;
    expect(udp.packets).toBe(2 * n);
    expect(udp.lastPacketAt).not.toBeNull();
    if (BATCH) {
      // Both workers had a share: the test really spread the node over threads.
      const shares = await perWorker(e);
      expect(shares).toHaveLength(2);
      expect(shares[0] + shares[1]).toBe(2 * n);
      expect(Math.min(...shares)).toBeGreaterThan(0);
    }
  });

  it('hold the node limit for the process: the same nodes get labels, the rest are other', async () => {
    const e = await start({ 'nodes.limit': '3' });
    // The first three nodes are named before the others arrive; then every node, from every port.
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
    const first = nodes
      .slice(0, 3)
      .map((node) => hep3({ payload: sipResponse({ code: 200, callId: `first-${node}` }), nodeName: node }));
    await traceTwice(e, first);
    const packets: Buffer[] = [];
    for (let i = 0; i < 600; i++)
      packets.push(
        hep3({ payload: sipResponse({ code: 486, callId: `limit-${i}` }), nodeName: nodes[i % 6] }),
      );
    const text = await traceTwice(e, packets);
    expect(sampleValue(text, 'sip_exporter_nodes')).toBe(3);
    const busy = samples(text, 'sip_responses_total');
    for (const node of ['n1', 'n2', 'n3'])
      expect(busy[`{code="486",class="4xx",reason="Busy Here",method="INVITE",node="${node}"}`]).toBe(100);
    // Messages of the three nodes past the limit share `other`, deduplicated there too.
    expect(busy['{code="486",class="4xx",reason="Busy Here",method="INVITE",node="other"}']).toBe(300);
    // Each message of an unnamed node, both copies, is counted as a node past the limit.
    expect(sampleValue(text, 'sip_exporter_node_overflow_total')).toBe(600);
  });

  it('hold the series cap for the process, folding the same label sets into overflow in every worker', async () => {
    const e = await start({ 'metrics.max-series': '4' });
    const codes = [200, 180, 183, 486, 404, 503, 202, 603];
    // The first four codes become series before the rest arrive.
    await traceTwice(
      e,
      codes
        .slice(0, 4)
        .map((code) =>
          hep3({ payload: sipResponse({ code, callId: `cap-first-${code}` }), nodeName: 'edge' }),
        ),
    );
    const packets: Buffer[] = [];
    for (let i = 0; i < 400; i++) {
      const code = codes[i % codes.length];
      packets.push(hep3({ payload: sipResponse({ code, callId: `cap-${i}` }), nodeName: 'edge' }));
    }
    const text = await traceTwice(e, packets);
    const responses = samples(text, 'sip_responses_total');
    const regular = Object.keys(responses).filter((k) => !k.includes('code="other"'));
    expect(regular).toHaveLength(4);
    // Each of the four: its first message and its 50 of the 400.
    for (const code of [200, 180, 183, 486])
      expect(
        responses[
          `{code="${code}",class="${String(code)[0]}xx",reason="${PHRASES[code]}",method="INVITE",node="edge"}`
        ],
      ).toBe(51);
    expect(responses['{code="other",class="4xx",reason="other",method="other",node="edge"}']).toBe(50);
    expect(responses['{code="other",class="5xx",reason="other",method="other",node="edge"}']).toBe(50);
    expect(responses['{code="other",class="2xx",reason="other",method="other",node="edge"}']).toBe(50);
    expect(responses['{code="other",class="6xx",reason="other",method="other",node="edge"}']).toBe(50);
    expect(sampleValue(text, 'sip_exporter_series_overflow_total{metric="sip_responses_total"}')).toBe(200);
    expect(sampleValue(text, 'sip_exporter_series{metric="sip_responses_total"}')).toBe(8);
  });

  it('apply a reload in every worker: a new HEP auth key is checked by each', async () => {
    const e = await start({ 'hep.auth-key': 'old-key' });
    const signed = (key: string, tag: string) =>
      Array.from({ length: 200 }, (_, i) =>
        hep3({ payload: sipResponse({ code: 200, callId: `${tag}-${i}` }), nodeName: 'edge', authKey: key }),
      );
    let text = await traceTwice(e, signed('new-key', 'before'));
    expect(sampleValue(text, 'sip_exporter_auth_failures_total{listener="hep"}')).toBe(400);
    const restart = e.reload({ ...e.config, hep: { ...e.config.hep, auth_key: 'new-key' } });
    expect(restart).toEqual([]);
    // A worker applies the reload between two batches; the first packets after it show it.
    const after = signed('new-key', 'after');
    const port = e.source('hep').listener!.udpPort;
    await eventually(
      async () => {
        await sendUdp(
          senders[0],
          hep3({
            payload: sipResponse({ code: 100, callId: 'probe' }),
            nodeName: 'edge',
            authKey: 'new-key',
          }),
          port,
        );
        return scrape(e);
      },
      (t) =>
        (sampleValue(
          t,
          'sip_responses_total{code="100",class="1xx",reason="Trying",method="INVITE",node="edge"}',
        ) ?? 0) > 0,
    );
    text = await traceTwice(e, after);
    expect(sampleValue(text, 'sip_exporter_auth_failures_total{listener="hep"}')).toBe(400);
    expect(
      sampleValue(
        text,
        'sip_responses_total{code="200",class="2xx",reason="OK",method="INVITE",node="edge"}',
      ),
    ).toBe(200);
    if (BATCH) expect(Math.min(...(await perWorker(e)))).toBeGreaterThan(0);
  });

  it('refuse a second exporter on the same port with the busy-port error, SO_REUSEPORT or not', async () => {
    const e = await start();
    const port = e.source('hep').listener!.udpPort;
    for (const workers of ['2', '1']) {
      const second = startExporter({ 'ingest.workers': workers, 'hep.listen-address': `127.0.0.1:${port}` });
      await expect(second).rejects.toBeInstanceOf(ListenError);
      await expect(second).rejects.toMatchObject({ code: CODE.SRE_ERR_LISTEN });
    }
    // The first still takes all the traffic.
    const text = await traceTwice(
      e,
      Array.from({ length: 100 }, (_, i) =>
        hep3({ payload: sipResponse({ code: 200, callId: `busy-${i}` }), nodeName: 'edge' }),
      ),
    );
    expect(
      sampleValue(
        text,
        'sip_responses_total{code="200",class="2xx",reason="OK",method="INVITE",node="edge"}',
      ),
    ).toBe(100);
  });
});
