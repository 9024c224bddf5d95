import fc from 'fast-check';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { MAX_SENDERS_PER_NODE, SOURCE_HEP, SOURCE_SYSLOG } from '../../src/count/node-sources.js';
import { NodeLabels } from '../../src/count/nodes.js';
import { SipCounter } from '../../src/count/sip-counter.js';
import { Exporter } from '../../src/exporter.js';
import { SelfMetrics } from '../../src/metrics/self-metrics.js';
import { samples } from '../helpers/exporter.js';
import { hep3 } from '../helpers/hep.js';
import { closeUdp, eventually, sendUdp, tcpConnect, udpSender, write } from '../helpers/net.js';
import { sipResponse } from '../helpers/sip.js';

function setup(limit = 10) {
  const registry = new Registry();
  const self = new SelfMetrics(registry);
  const nodes = new NodeLabels(limit, new Map(), self.nodeOverflow.cell({}));
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const counter = new SipCounter(registry, nodes, null, self, { logger });
  return { registry, nodes, sources: counter.sources, logs };
}

describe('node sources', () => {
  it('exports each node with its source and sender once, whatever the message count', async () => {
    const { registry, nodes, sources } = setup();
    const edge = nodes.fromCaptureId(2001);
    const host = nodes.fromText('kam-2');
    for (let i = 0; i < 100; i++) {
      sources.seen(SOURCE_HEP, edge, '10.0.0.1');
      sources.seen(SOURCE_SYSLOG, host, '10.0.0.2');
    }
    // A dual-stack TCP socket reports an IPv4 peer as ::ffff:a.b.c.d; it is the same sender.
    sources.seen(SOURCE_HEP, edge, '::ffff:10.0.0.1');
    sources.seen(SOURCE_HEP, edge, '10.0.0.3');
    const text = await registry.metrics();
    expect(samples(text, 'sip_exporter_node_info')).toEqual({
      '{node="2001",source="hep",sender="10.0.0.1"}': 1,
      '{node="2001",source="hep",sender="10.0.0.3"}': 1,
      '{node="kam-2",source="syslog",sender="10.0.0.2"}': 1,
    });
    expect(samples(text, 'sip_exporter_senders_multiple_sources')).toEqual({ '': 0 });
    expect(samples(text, 'sip_exporter_node_senders_overflow_total')).toEqual({ '': 0 });
  });

  it('keeps a few senders per node and counts each message from a further one', async () => {
    const { registry, nodes, sources } = setup();
    const edge = nodes.fromText('edge');
    for (let i = 0; i < MAX_SENDERS_PER_NODE + 2; i++) {
      sources.seen(SOURCE_HEP, edge, `10.0.0.${i}`);
      sources.seen(SOURCE_HEP, edge, `10.0.0.${i}`);
    }
    const text = await registry.metrics();
    expect(Object.keys(samples(text, 'sip_exporter_node_info'))).toHaveLength(MAX_SENDERS_PER_NODE);
    expect(samples(text, 'sip_exporter_node_senders_overflow_total')).toEqual({ '': 4 });
  });

  it('warns once when one sender reports through both HEP and syslog, and counts the sender', async () => {
    const { registry, nodes, sources, logs } = setup();
    const byId = nodes.fromCaptureId(2001);
    const byHost = nodes.fromText('kam-1');
    for (let i = 0; i < 3; i++) {
      sources.seen(SOURCE_HEP, byId, '10.0.0.1');
      sources.seen(SOURCE_SYSLOG, byHost, '10.0.0.1');
    }
    sources.seen(SOURCE_SYSLOG, nodes.fromText('kam-1b'), '10.0.0.1');
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      level: 40,
      code: 'SRE_WARN_NODE_TWO_SOURCES',
      sender: '10.0.0.1',
      hep_nodes: ['2001'],
      syslog_nodes: ['kam-1'],
    });
    expect(samples(await registry.metrics(), 'sip_exporter_senders_multiple_sources')).toEqual({ '': 1 });
  });

  it('warns once when one node label is fed by both sources from different senders', () => {
    const { nodes, sources, logs } = setup();
    const edge = nodes.fromText('edge-1');
    sources.seen(SOURCE_HEP, edge, '10.0.0.1');
    sources.seen(SOURCE_SYSLOG, edge, '10.0.0.9');
    sources.seen(SOURCE_SYSLOG, edge, '10.0.0.8');
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ code: 'SRE_WARN_NODE_TWO_SOURCES', node: 'edge-1' });
    expect(sources.multipleSources).toBe(0);
  });

  it('stays bounded by nodes x sources x senders under any sender churn (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.nat({ max: 30 }), fc.ipV4()), { maxLength: 400 }),
        (events) => {
          const { nodes, sources } = setup(5);
          for (const [hep, id, sender] of events)
            sources.seen(hep ? SOURCE_HEP : SOURCE_SYSLOG, nodes.fromCaptureId(id), sender);
          const info = [...sources.info()];
          expect(info.length).toBeLessThanOrEqual(6 * 2 * MAX_SENDERS_PER_NODE);
          expect(new Set(info.map((i) => `${i.node}|${i.source}|${i.sender}`)).size).toBe(info.length);
        },
      ),
    );
  });
});

let exporter: Exporter | null = null;
afterEach(async () => {
  await exporter?.stop();
  exporter = null;
});

describe('node sources over real sockets', () => {
  it('shows a proxy sending HEP and syslog as one sender on two sources, and warns once', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const config = loadConfig({
      flags: {
        'web.listen-address': '127.0.0.1:0',
        'hep.listen-address': '127.0.0.1:0',
        'syslog.listen-address': '127.0.0.1:0',
      },
    });
    exporter = new Exporter(
      config,
      pino({ level: 'warn' }, { write: (line: string) => logs.push(JSON.parse(line)) }),
    );
    await exporter.start();
    const s = udpSender();
    const acc = (id: string) =>
      `<142>Nov 25 10:20:30 kam-1 kamailio[1]: NOTICE: acc [acc.c:285]: ACC: transaction answered: timestamp=1;method=INVITE;from_tag=a;to_tag=b;call_id=${id};code=486;reason=Busy Here`;
    for (let i = 0; i < 3; i++) {
      await sendUdp(
        s,
        hep3({ payload: sipResponse({ code: 486, callId: `h${i}` }), captureId: 2001 }),
        exporter.source('hep').listener!.udpPort,
      );
      await sendUdp(s, Buffer.from(acc(`s${i}`)), exporter.source('syslog').listener!.plain!.udpPort);
    }
    const tcp = await tcpConnect(exporter.source('hep').listener!.tcpPort);
    await write(tcp, hep3({ payload: sipResponse({ code: 200, callId: 't1' }), captureId: 2001 }));
    const http = request(`http://127.0.0.1:${exporter.httpPort}`);
    const text = await eventually(
      async () => (await http.get('/metrics')).text,
      (t) =>
        t.includes('sip_exporter_sip_messages_total{listener="hep",kind="response"} 4') &&
        t.includes('sip_exporter_sip_messages_total{listener="syslog",kind="response"} 3'),
    );
    tcp.destroy();
    expect(samples(text, 'sip_exporter_node_info')).toEqual({
      '{node="2001",source="hep",sender="127.0.0.1"}': 1,
      '{node="kam-1",source="syslog",sender="127.0.0.1"}': 1,
    });
    expect(samples(text, 'sip_exporter_senders_multiple_sources')).toEqual({ '': 1 });
    const warnings = logs.filter((l) => l.code === 'SRE_WARN_NODE_TWO_SOURCES');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ sender: '127.0.0.1', hep_nodes: ['2001'], syslog_nodes: ['kam-1'] });
    await closeUdp(s);
  });
});
