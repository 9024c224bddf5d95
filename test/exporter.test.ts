import { execFileSync } from 'node:child_process';
import { deflateSync, gzipSync } from 'node:zlib';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { Exporter } from '../src/exporter.js';
import { samples, sampleValue, startExporter } from './helpers/exporter.js';
import { chunk, hep3, hep3FromChunks, hep12, u8, u32 } from './helpers/hep.js';
import { closed, closeUdp, eventually, sendUdp, tcpConnect, udpSender, write } from './helpers/net.js';
import { requirePeer } from './helpers/peers.js';
import { REALISTIC_200_OK, sipRequest, sipResponse } from './helpers/sip.js';

let exporter: Exporter | null = null;
afterEach(async () => {
  await exporter?.stop();
  exporter = null;
});

async function metrics(e: Exporter): Promise<string> {
  const res = await request(`http://127.0.0.1:${e.httpPort}`).get('/metrics').expect(200);
  return res.text;
}

async function packetsSeen(e: Exporter, transport: string): Promise<number> {
  return (
    sampleValue(
      await metrics(e),
      `sip_exporter_packets_received_total{listener="hep",transport="${transport}"}`,
    ) ?? 0
  );
}

const series = (code: number, reason: string, method: string, node: string) =>
  `{code="${code}",class="${String(code)[0]}xx",reason="${reason}",method="${method}",node="${node}"}`;

/** A call as a tracing proxy sees it: every response is captured on the way in and again on the way out. */
function tracedCall(callId: string, final: number, finalPhrase: string): string[] {
  const messages = [
    sipRequest('INVITE', callId),
    sipResponse({ code: 100, phrase: 'trying -- your call is important to us', callId }),
    sipResponse({ code: 180, phrase: 'Ringing', callId, toTag: `t-${callId}` }),
    sipResponse({ code: final, phrase: finalPhrase, callId, toTag: `t-${callId}` }),
  ];
  return [...messages, ...messages.slice(1)];
}

describe('exporter over real sockets', () => {
  it('counts HEP from several UDP senders exactly, once per node, in every HEP version', async () => {
    exporter = await startExporter();
    const port = exporter.source('hep').listener!.udpPort;
    const senders = [udpSender(), udpSender(), udpSender()];
    const sent: Buffer[][] = [[], [], []];
    for (let i = 0; i < 5; i++) {
      for (const m of tracedCall(`a-${i}`, 200, 'OK'))
        sent[0].push(hep3({ payload: m, captureId: 2001, nodeName: 'edge-a' }));
      for (const m of tracedCall(`b-${i}`, 486, 'Busy')) sent[1].push(hep3({ payload: m, captureId: 2002 }));
      for (const m of tracedCall(`c-${i}`, 503, 'Overloaded')) sent[2].push(hep12(2, m, { captureId: 7 }));
    }
    sent[2].push(hep12(1, sipResponse({ code: 603, callId: 'v1' })));
    await Promise.all(
      senders.map(async (s, i) => {
        for (const p of sent[i]) await sendUdp(s, p, port);
      }),
    );
    const total = sent.reduce((n, list) => n + list.length, 0);
    await eventually(
      () => packetsSeen(exporter!, 'udp'),
      (n) => n === total,
    );
    const text = await metrics(exporter);
    // hep-js always adds a capture agent name chunk; without a name it writes the ID there.
    expect(samples(text, 'sip_responses_total')).toEqual({
      [series(100, 'Trying', 'INVITE', 'edge-a')]: 5,
      [series(180, 'Ringing', 'INVITE', 'edge-a')]: 5,
      [series(200, 'OK', 'INVITE', 'edge-a')]: 5,
      [series(100, 'Trying', 'INVITE', '2002')]: 5,
      [series(180, 'Ringing', 'INVITE', '2002')]: 5,
      [series(486, 'Busy Here', 'INVITE', '2002')]: 5,
      [series(100, 'Trying', 'INVITE', '7')]: 5,
      [series(180, 'Ringing', 'INVITE', '7')]: 5,
      [series(503, 'Service Unavailable', 'INVITE', '7')]: 5,
      [series(603, 'Decline', 'INVITE', '127.0.0.1')]: 1,
    });
    expect(samples(text, 'sip_requests_total')).toEqual({
      '{method="INVITE",node="edge-a"}': 5,
      '{method="INVITE",node="2002"}': 5,
      '{method="INVITE",node="7"}': 5,
    });
    expect(sampleValue(text, 'sip_exporter_dedupe_hits_total{kind="response"}')).toBe(45);
    await Promise.all(senders.map(closeUdp));
  });

  it('counts every copy with dedupe off: relayed responses exactly twice', async () => {
    exporter = await startExporter({ 'dedupe.window': '0' });
    const s = udpSender();
    const packets = tracedCall('x', 404, 'Not Found').map((m) => hep3({ payload: m, captureId: 1 }));
    for (const p of packets) await sendUdp(s, p, exporter.source('hep').listener!.udpPort);
    await eventually(
      () => packetsSeen(exporter!, 'udp'),
      (n) => n === packets.length,
    );
    const counts = samples(await metrics(exporter), 'sip_responses_total');
    expect(counts[series(404, 'Not Found', 'INVITE', '1')]).toBe(2);
    expect(counts[series(180, 'Ringing', 'INVITE', '1')]).toBe(2);
    await closeUdp(s);
  });

  it('splits HEP over TCP: several packets per write, one packet over many writes, several connections', async () => {
    exporter = await startExporter();
    const port = exporter.source('hep').listener!.tcpPort;
    const a = await tcpConnect(port);
    const b = await tcpConnect(port);
    const batch = [200, 180, 183].map((code, i) =>
      hep3({ payload: sipResponse({ code, callId: `tcp-${i}` }), nodeName: 'tcp-a' }),
    );
    await write(a, Buffer.concat(batch));
    const big = hep3({ payload: REALISTIC_200_OK, nodeName: 'tcp-b' });
    for (let at = 0; at < big.length; at += 7) await write(b, big.subarray(at, Math.min(at + 7, big.length)));
    await eventually(
      () => packetsSeen(exporter!, 'tcp'),
      (n) => n === 4,
    );
    const text = await metrics(exporter);
    expect(samples(text, 'sip_responses_total')).toEqual({
      [series(200, 'OK', 'INVITE', 'tcp-a')]: 1,
      [series(180, 'Ringing', 'INVITE', 'tcp-a')]: 1,
      [series(183, 'Session Progress', 'INVITE', 'tcp-a')]: 1,
      [series(200, 'OK', 'INVITE', 'tcp-b')]: 1,
    });
    expect(sampleValue(text, 'sip_exporter_tcp_connections_open{listener="hep"}')).toBe(2);
    a.destroy();
    b.destroy();
  });

  it('survives garbage on UDP and TCP, counts each reason, and closes only the bad connection', async () => {
    exporter = await startExporter();
    const { udpPort, tcpPort } = exporter.source('hep').listener!;
    const s = udpSender();
    const garbage = [
      Buffer.from('hello'),
      Buffer.alloc(0),
      Buffer.from('HEP3\xff\xff', 'latin1'),
      hep3FromChunks([chunk(0, 0x000b, u32(1))]),
      hep3({ payload: 'NOT SIP AT ALL' }),
      hep3({ payload: 'SIP/2.0 999 Nope\r\n\r\n' }),
    ];
    for (const g of garbage) await sendUdp(s, g, udpPort);
    const good = await tcpConnect(tcpPort);
    const bad = await tcpConnect(tcpPort);
    await write(bad, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await closed(bad);
    await write(good, hep3({ payload: sipResponse({ code: 481 }), nodeName: 'survivor' }));
    await sendUdp(s, hep3({ payload: sipResponse({ code: 482 }), nodeName: 'survivor' }), udpPort);
    await eventually(
      () => packetsSeen(exporter!, 'udp'),
      (n) => n === garbage.length + 1,
    );
    await eventually(
      () => packetsSeen(exporter!, 'tcp'),
      (n) => n === 1,
    );
    const text = await metrics(exporter);
    expect(samples(text, 'sip_exporter_parse_errors_total')).toMatchObject({
      '{listener="hep",reason="hep_bad_magic"}': 1,
      '{listener="hep",reason="hep_too_short"}': 1,
      '{listener="hep",reason="hep_bad_length"}': 1,
      '{listener="hep",reason="hep_bad_chunk"}': 1,
      '{listener="hep",reason="sip_bad_start_line"}': 1,
      '{listener="hep",reason="sip_bad_status_code"}': 1,
      '{listener="hep",reason="hep_stream_not_v3"}': 1,
    });
    expect(
      sampleValue(text, 'sip_exporter_tcp_connections_closed_total{listener="hep",reason="parse_error"}'),
    ).toBe(1);
    expect(samples(text, 'sip_responses_total')).toEqual({
      [series(481, 'Call/Transaction Does Not Exist', 'INVITE', 'survivor')]: 1,
      [series(482, 'Loop Detected', 'INVITE', 'survivor')]: 1,
    });
    expect(good.destroyed).toBe(false);
    good.destroy();
    await closeUdp(s);
  });

  it('rejects packets without the right auth key and counts them', async () => {
    exporter = await startExporter({ 'hep.auth-key': 'myHep' });
    const s = udpSender();
    const port = exporter.source('hep').listener!.udpPort;
    await sendUdp(s, hep3({ payload: sipResponse({ code: 200, callId: '1' }), authKey: 'myHep' }), port);
    await sendUdp(s, hep3({ payload: sipResponse({ code: 200, callId: '2' }), authKey: 'wrong' }), port);
    await sendUdp(s, hep3({ payload: sipResponse({ code: 200, callId: '3' }), authKey: 'myHe' }), port);
    await sendUdp(s, hep3({ payload: sipResponse({ code: 200, callId: '4' }) }), port);
    await sendUdp(s, hep12(2, sipResponse({ code: 200, callId: '5' })), port);
    await eventually(
      () => packetsSeen(exporter!, 'udp'),
      (n) => n === 5,
    );
    const text = await metrics(exporter);
    expect(sampleValue(text, 'sip_exporter_auth_failures_total{listener="hep"}')).toBe(4);
    expect(Object.values(samples(text, 'sip_responses_total'))).toEqual([1]);
    await closeUdp(s);
  });

  it('inflates zlib and gzip payloads and refuses one that inflates past the bound', async () => {
    exporter = await startExporter({ 'hep.max-inflated-size': '4096' });
    const s = udpSender();
    const port = exporter.source('hep').listener!.udpPort;
    const compressed = (data: Buffer) =>
      hep3FromChunks([chunk(0, 0x000c, u32(5)), chunk(0, 0x000b, u8(1)), chunk(0, 0x0010, data)]);
    await sendUdp(s, compressed(deflateSync(sipResponse({ code: 488, callId: 'z1' }))), port);
    await sendUdp(s, compressed(gzipSync(sipResponse({ code: 488, callId: 'z2' }))), port);
    await sendUdp(s, compressed(deflateSync(Buffer.alloc(1_000_000, 'a'))), port);
    await sendUdp(s, compressed(Buffer.from('not zlib')), port);
    await eventually(
      () => packetsSeen(exporter!, 'udp'),
      (n) => n === 4,
    );
    const text = await metrics(exporter);
    expect(samples(text, 'sip_responses_total')).toEqual({
      [series(488, 'Not Acceptable Here', 'INVITE', '5')]: 2,
    });
    expect(
      sampleValue(text, 'sip_exporter_parse_errors_total{listener="hep",reason="hep_inflate_too_large"}'),
    ).toBe(1);
    expect(
      sampleValue(text, 'sip_exporter_parse_errors_total{listener="hep",reason="hep_inflate_failed"}'),
    ).toBe(1);
    await closeUdp(s);
  });

  it('counts payload types other than SIP without reading them', async () => {
    exporter = await startExporter();
    const s = udpSender();
    await sendUdp(
      s,
      hep3({ payload: '{"type":"rtcp"}', payloadType: 5 }),
      exporter.source('hep').listener!.udpPort,
    );
    await sendUdp(
      s,
      hep3({ payload: 'a log line', payloadType: 100 }),
      exporter.source('hep').listener!.udpPort,
    );
    await eventually(
      () => packetsSeen(exporter!, 'udp'),
      (n) => n === 2,
    );
    const text = await metrics(exporter);
    expect(samples(text, 'sip_exporter_hep_payload_types_total')).toEqual({
      '{type="1"}': 0,
      '{type="5"}': 1,
      '{type="100"}': 1,
    });
    expect(samples(text, 'sip_responses_total')).toEqual({});
    await closeUdp(s);
  });

  it('caps nodes: the ones past the limit are counted as other', async () => {
    exporter = await startExporter({ 'nodes.limit': '2' });
    const s = udpSender();
    for (let id = 1; id <= 5; id++) {
      await sendUdp(
        s,
        hep3({ payload: sipResponse({ code: 500 }), captureId: id, nodeName: `n${id}` }),
        exporter.source('hep').listener!.udpPort,
      );
    }
    await eventually(
      () => packetsSeen(exporter!, 'udp'),
      (n) => n === 5,
    );
    const text = await metrics(exporter);
    expect(samples(text, 'sip_responses_total')).toEqual({
      [series(500, 'Server Internal Error', 'INVITE', 'n1')]: 1,
      [series(500, 'Server Internal Error', 'INVITE', 'n2')]: 1,
      // Three nodes share one dedupe key under "other": the same response seen at each counts once there.
      [series(500, 'Server Internal Error', 'INVITE', 'other')]: 1,
    });
    expect(sampleValue(text, 'sip_exporter_node_overflow_total')).toBe(3);
    expect(sampleValue(text, 'sip_exporter_nodes')).toBe(2);
    await closeUdp(s);
  });

  it('bounds TCP connections and closes idle ones', async () => {
    // The idle timeout must outlast the scrape below on a loaded machine, or a and b go idle
    // before c arrives and c is let in.
    exporter = await startExporter({ 'hep.max-connections': '2', 'hep.idle-timeout': '2s' });
    const port = exporter.source('hep').listener!.tcpPort;
    const a = await tcpConnect(port);
    const b = await tcpConnect(port);
    await eventually(
      () => metrics(exporter!),
      (t) => sampleValue(t, 'sip_exporter_tcp_connections_open{listener="hep"}') === 2,
    );
    const c = await tcpConnect(port);
    await closed(c);
    await Promise.all([closed(a), closed(b)]);
    const text = await metrics(exporter);
    expect(
      sampleValue(text, 'sip_exporter_tcp_connections_total{listener="hep",result="rejected_limit"}'),
    ).toBe(1);
    expect(sampleValue(text, 'sip_exporter_tcp_connections_closed_total{listener="hep",reason="idle"}')).toBe(
      2,
    );
    expect(sampleValue(text, 'sip_exporter_tcp_connections_open{listener="hep"}')).toBe(0);
  });
});

describe('HTTP endpoints', () => {
  it('serves metrics with the explicit exposition content type on the configured path', async () => {
    exporter = await startExporter({ 'web.telemetry-path': '/custom' });
    const http = request(`http://127.0.0.1:${exporter.httpPort}`);
    const res = await http.get('/custom').expect(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.text).toMatch(
      /^sip_exporter_build_info\{version="\d+\.\d+\.\d+",revision="[^"]*",nodejs="v\d+/m,
    );
    expect(res.text).toContain('process_cpu_seconds_total');
    await http.get('/metrics').expect(404);
  });

  it('has a landing page with links and listeners, and health and readiness probes', async () => {
    exporter = await startExporter();
    const http = request(`http://127.0.0.1:${exporter.httpPort}`);
    const landing = await http.get('/').expect(200).expect('Content-Type', /html/);
    expect(landing.text).toContain('href="/metrics"');
    expect(landing.text).toContain(`127.0.0.1:${exporter.source('hep').listener!.udpPort}`);
    await http.get('/healthz').expect(200, 'ok\n');
    await http.get('/readyz').expect(200, 'ready\n');
    await exporter.source('hep').listener!.stop();
    await http.get('/readyz').expect(503);
  });

  it('runs with the HEP listener disabled', async () => {
    exporter = await startExporter({ 'hep.listen-address': '' });
    expect(exporter.source('hep').listener).toBeNull();
    await request(`http://127.0.0.1:${exporter.httpPort}`).get('/readyz').expect(200);
  });

  it('passes promtool check metrics with traffic counted', async () => {
    const promtool = requirePeer('promtool', 'prometheus');
    exporter = await startExporter();
    const s = udpSender();
    await sendUdp(
      s,
      hep3({ payload: sipResponse({ code: 503 }), nodeName: 'quote"and\\slash' }),
      exporter.source('hep').listener!.udpPort,
    );
    await eventually(
      () => packetsSeen(exporter!, 'udp'),
      (n) => n === 1,
    );
    const text = await metrics(exporter);
    expect(text).toContain('node="quote\\"and\\\\slash"');
    const out = execFileSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(out).toBe('');
    await closeUdp(s);
  });
});
