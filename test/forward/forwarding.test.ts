import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../lab/processes.js';
import type { Exporter } from '../../src/exporter.js';
import type { TcpForwarder } from '../../src/forward/tcp-forwarder.js';
import type { UdpForwarder } from '../../src/forward/udp-forwarder.js';
import { udpBatchAvailability } from '../../src/ingest/udp-batch.js';
import { samples, sampleValue, scrape, startExporter } from '../helpers/exporter.js';
import { hep3, hep12 } from '../helpers/hep.js';
import { closeUdp, eventually, sendUdp, tcpConnect, udpSender, write } from '../helpers/net.js';
import { sipResponse } from '../helpers/sip.js';
import { type Collector, responses, tcpCollector, udpCollector } from './collectors.js';

const running: Exporter[] = [];
const collectors: Collector[] = [];

afterEach(async () => {
  for (const e of running.splice(0)) await e.stop();
  for (const c of collectors.splice(0)) await c.close();
});

async function exporter(flags: Record<string, string>): Promise<Exporter> {
  const e = await startExporter({ 'syslog.listen-address': '', ...flags });
  running.push(e);
  return e;
}

const hepPort = (e: Exporter) => e.source('hep').listener!.udpPort;

async function sendAll(port: number, packets: Buffer[]): Promise<void> {
  const socket = udpSender();
  for (const p of packets) await sendUdp(socket, p, port);
  await closeUdp(socket);
}

function forwarded(text: string, target: string, result: string): number | undefined {
  return sampleValue(text, `sip_exporter_hep_forwarded_total{target="${target}",result="${result}"}`);
}

/** Waits until `e` shows its forwarding to `target` as connected (1) or not (0). */
async function untilConnected(e: Exporter, target: string, value: 0 | 1, timeoutMs?: number): Promise<void> {
  await eventually(
    async () => sampleValue(await scrape(e), `sip_exporter_hep_forward_connected{target="${target}"}`),
    (v) => v === value,
    timeoutMs,
  );
}

/**
 * Waits until `collector` has as many packets as `expected`, then, `settleMs` later (time for
 * anything that should not come to come), checks it got exactly those, in order.
 */
async function expectReceived(collector: Collector, expected: Buffer[], settleMs = 0): Promise<void> {
  await eventually(
    () => collector.received.length,
    (n) => n >= expected.length,
  );
  if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
  expect(collector.received).toEqual(expected);
}

describe('HEP forwarding over UDP', () => {
  it('sends every accepted packet, byte for byte and in order, and nothing else', async () => {
    const collector = await udpCollector();
    collectors.push(collector);
    const target = `127.0.0.1:${collector.port}`;
    const e = await exporter({ 'hep.forward-address': target, 'hep.auth-key': 'secret' });
    const udp = e.source('hep').forwarder!.targets[0] as UdpForwarder;
    await eventually(
      () => udp.path,
      (path) => path !== null,
    );
    // The path the suite's pass chose: sendmmsg with the addon, dgram without it.
    expect(udp.path).toBe(udpBatchAvailability().available ? 'batch' : 'dgram');

    const good = responses(300, 'udp', 'secret');
    const rtcp = hep3({ payload: '{"type":200}', payloadType: 5, authKey: 'secret' });
    const wrongKey = responses(10, 'wrong', 'guess');
    const garbage = [Buffer.from('not hep at all'), Buffer.from('HEP3\x00\x02')];
    const mixed: Buffer[] = [];
    const expected: Buffer[] = [];
    good.forEach((p, i) => {
      mixed.push(p);
      expected.push(p);
      if (i % 30 === 0) {
        mixed.push(wrongKey[i / 30], garbage[(i / 30) % 2]);
        mixed.push(rtcp);
        expected.push(rtcp);
      }
    });
    await sendAll(hepPort(e), mixed);
    await expectReceived(collector, expected, 100);

    const text = await scrape(e);
    expect(forwarded(text, target, 'sent')).toBe(expected.length);
    expect(forwarded(text, target, 'dropped_queue_full')).toBe(0);
    expect(forwarded(text, target, 'dropped_disconnected')).toBe(0);
    expect(forwarded(text, target, 'send_error')).toBe(0);
    expect(sampleValue(text, `sip_exporter_hep_forward_connected{target="${target}"}`)).toBe(1);
    expect(sampleValue(text, `sip_exporter_hep_forward_queue_packets{target="${target}"}`)).toBe(0);
    // The exporter counts them too.
    expect(sampleValue(text, 'sip_exporter_sip_messages_total{listener="hep",kind="response"}')).toBe(300);
    expect(sampleValue(text, 'sip_exporter_auth_failures_total{listener="hep"}')).toBe(10);
  });

  it('sends HEPv1 and HEPv2 as they came', async () => {
    const collector = await udpCollector();
    collectors.push(collector);
    const e = await exporter({ 'hep.forward-address': `127.0.0.1:${collector.port}` });
    await eventually(
      () => (e.source('hep').forwarder!.targets[0] as UdpForwarder).path,
      (path) => path !== null,
    );
    const packets = [1, 2].map((v) =>
      hep12(v as 1 | 2, sipResponse({ code: 200, callId: `v${v}@forward.test` })),
    );
    await sendAll(hepPort(e), packets);
    await expectReceived(collector, packets);
  });

  it('sends each packet of a HEP TCP stream to every target', async () => {
    const a = await udpCollector();
    const b = await udpCollector();
    collectors.push(a, b);
    const e = await exporter({ 'hep.forward-address': `127.0.0.1:${a.port},127.0.0.1:${b.port}` });
    await eventually(
      () => e.source('hep').forwarder!.targets.every((t) => (t as UdpForwarder).path !== null),
      (up) => up,
    );
    const packets = responses(200, 'tcp-in');
    const stream = Buffer.concat(packets);
    const socket = await tcpConnect(e.source('hep').listener!.tcpPort);
    // Cut at odd places, so that packets span reads.
    for (let at = 0; at < stream.length; at += 977) await write(socket, stream.subarray(at, at + 977));
    socket.end();
    for (const c of [a, b]) await expectReceived(c, packets);
  });

  it('keeps sending to a port nothing listens on, shows it as not connected, and recovers', async () => {
    const port = await freePort();
    const target = `127.0.0.1:${port}`;
    const e = await exporter({ 'hep.forward-address': target });
    await eventually(
      () => (e.source('hep').forwarder!.targets[0] as UdpForwarder).path,
      (path) => path !== null,
    );
    const paced = async (packets: Buffer[]) => {
      const socket = udpSender();
      for (const p of packets) {
        await sendUdp(socket, p, hepPort(e));
        // Time for the ICMP port unreachable to come back before the next send.
        await new Promise((r) => setTimeout(r, 5));
      }
      await closeUdp(socket);
    };
    await paced(responses(40, 'refused'));
    let text = await eventually(
      () => scrape(e),
      (t) => forwarded(t, target, 'sent') === 40,
    );
    // UDP cannot know which datagram a port unreachable was for: every packet was sent, none is
    // counted as an error, and the target shows as not connected.
    expect(forwarded(text, target, 'send_error')).toBe(0);
    expect(sampleValue(text, `sip_exporter_hep_forward_connected{target="${target}"}`)).toBe(0);

    const collector = await udpCollector(port);
    collectors.push(collector);
    await new Promise((r) => setTimeout(r, 1100));
    const later = responses(10, 'listening');
    await paced(later);
    await expectReceived(collector, later);
    // A refusal of the last datagram sent to nobody may be reported on the first send after
    // (the kernel keeps it until then): connected comes back once a second passes without one.
    await new Promise((r) => setTimeout(r, 1100));
    await paced(responses(1, 'quiet'));
    text = await eventually(
      () => scrape(e),
      (t) => forwarded(t, target, 'sent') === 51,
    );
    expect(sampleValue(text, `sip_exporter_hep_forward_connected{target="${target}"}`)).toBe(1);
    expect(forwarded(text, target, 'send_error')).toBe(0);
  });

  it('counts what arrives before the target is reachable as dropped_disconnected', async () => {
    // A name that never resolves (.invalid, RFC 6761): the target stays down and is retried.
    const e = await exporter({ 'hep.forward-address': 'collector.invalid:9999' });
    await sendAll(hepPort(e), responses(25, 'nowhere'));
    const text = await eventually(
      () => scrape(e),
      (t) => forwarded(t, 'collector.invalid:9999', 'dropped_disconnected') === 25,
    );
    expect(sampleValue(text, 'sip_exporter_sip_messages_total{listener="hep",kind="response"}')).toBe(25);
    expect(sampleValue(text, 'sip_exporter_hep_forward_connected{target="collector.invalid:9999"}')).toBe(0);
  });
});

describe('HEP forwarding over TCP', () => {
  it('sends every accepted packet as one HEP frame, byte for byte and in order', async () => {
    const collector = await tcpCollector();
    collectors.push(collector);
    const target = `127.0.0.1:${collector.port}`;
    const e = await exporter({ 'hep.forward-address': target, 'hep.forward-transport': 'tcp' });
    await untilConnected(e, target, 1);
    const packets = responses(400, 'tcp-out');
    // HEPv1/v2 have no length field, so a stream could not be split: counted, not sent.
    const unframed = [1, 2].map((v) =>
      hep12(v as 1 | 2, sipResponse({ code: 200, callId: `v${v}@forward.test` })),
    );
    await sendAll(hepPort(e), [...packets.slice(0, 200), ...unframed, ...packets.slice(200)]);
    await expectReceived(collector, packets);
    const text = await scrape(e);
    expect(forwarded(text, target, 'sent')).toBe(400);
    expect(forwarded(text, target, 'dropped_hep_v1_v2')).toBe(2);
    expect(sampleValue(text, 'sip_exporter_sip_messages_total{listener="hep",kind="response"}')).toBe(402);
    expect(collector.connections).toBe(1);
  });

  it('on stop, forwards what the listener still drains before closing', async () => {
    const collector = await tcpCollector();
    collectors.push(collector);
    const target = `127.0.0.1:${collector.port}`;
    const e = await exporter({ 'hep.forward-address': target, 'hep.forward-transport': 'tcp' });
    await untilConnected(e, target, 1);
    const packets = responses(300, 'stop');
    const input = await tcpConnect(e.source('hep').listener!.tcpPort);
    await write(input, Buffer.concat(packets));
    // Stop at once: the listener drains the connection, then the forwarder sends what it queued.
    const stopped = e.stop();
    running.splice(running.indexOf(e), 1);
    input.end();
    await stopped;
    await expectReceived(collector, packets);
  });

  it('drops and counts while the target is down, then reconnects with backoff and sends', async () => {
    const port = await freePort();
    const target = `127.0.0.1:${port}`;
    const e = await exporter({ 'hep.forward-address': target, 'hep.forward-transport': 'tcp' });
    const tcp = e.source('hep').forwarder!.targets[0] as TcpForwarder;
    await sendAll(hepPort(e), responses(20, 'down'));
    let text = await eventually(
      () => scrape(e),
      (t) => forwarded(t, target, 'dropped_disconnected') === 20,
    );
    expect(sampleValue(text, `sip_exporter_hep_forward_connected{target="${target}"}`)).toBe(0);
    // Refused attempts go on, each wait longer than the last.
    await eventually(
      () => tcp.attempts,
      (n) => n >= 3,
    );
    const collector = await tcpCollector(port);
    collectors.push(collector);
    await untilConnected(e, target, 1, 40_000);
    const later = responses(30, 'up');
    await sendAll(hepPort(e), later);
    await expectReceived(collector, later);
    text = await scrape(e);
    expect(forwarded(text, target, 'sent')).toBe(30);
    expect(forwarded(text, target, 'dropped_disconnected')).toBe(20);
    expect(sampleValue(text, 'sip_exporter_sip_messages_total{listener="hep",kind="response"}')).toBe(50);

    // The receiver goes away: the exporter notices, counts, and connects again when it is back.
    await collector.close();
    collectors.pop();
    await untilConnected(e, target, 0);
    const again = await tcpCollector(port);
    collectors.push(again);
    await untilConnected(e, target, 1, 40_000);
    const last = responses(10, 'again');
    await sendAll(hepPort(e), last);
    await expectReceived(again, last);
  }, 90_000);

  it('holds its queue bound against a target that never reads, counting drops while ingest counts all', async () => {
    const collector = await tcpCollector(0, false);
    collectors.push(collector);
    const target = `127.0.0.1:${collector.port}`;
    const queueBytes = 65_535;
    const e = await exporter({
      'hep.forward-address': target,
      'hep.forward-transport': 'tcp',
      'hep.forward-queue': '100',
      'hep.forward-queue-bytes': String(queueBytes),
      'dedupe.window': '0',
    });
    await untilConnected(e, target, 1);
    // Far more than the kernel's buffers on both sides of the stalled connection hold (a few MB).
    const packet = hep3({ payload: sipResponse({ code: 200, callId: `stall@forward.test` }) });
    const total = Math.ceil((24 * 1024 * 1024) / packet.length);
    const input = await tcpConnect(e.source('hep').listener!.tcpPort);
    const chunk = Buffer.concat(Array.from({ length: 1000 }, () => packet));
    for (let sent = 0; sent < total; sent += 1000) await write(input, chunk);
    const rounded = Math.ceil(total / 1000) * 1000;
    const text = await eventually(
      () => scrape(e),
      (t) => sampleValue(t, 'sip_exporter_sip_messages_total{listener="hep",kind="response"}') === rounded,
      20_000,
    );
    input.destroy();
    const sent = forwarded(text, target, 'sent')!;
    const full = forwarded(text, target, 'dropped_queue_full')!;
    const queued = sampleValue(text, `sip_exporter_hep_forward_queue_packets{target="${target}"}`)!;
    expect(full).toBeGreaterThan(rounded / 2);
    expect(queued).toBeLessThanOrEqual(100);
    expect(sent + full + queued).toBe(rounded);
    // What the stalled socket holds in user space is the queue's own bytes, never more.
    const tcp = e.source('hep').forwarder!.targets[0] as TcpForwarder;
    expect(tcp.queue.bytes).toBeLessThanOrEqual(queueBytes);
    const socket = (tcp as unknown as { socket: { writableLength: number } }).socket;
    expect(socket.writableLength).toBeLessThanOrEqual(queueBytes);
  }, 60_000);
});

describe('a second exporter as the forwarding target', () => {
  for (const transport of ['udp', 'tcp'] as const) {
    it(`counts exactly what the first counted (${transport})`, async () => {
      const second = await exporter({ 'log.level': 'silent' });
      const target = `127.0.0.1:${hepPort(second)}`;
      const first = await exporter({ 'hep.forward-address': target, 'hep.forward-transport': transport });
      await untilConnected(first, target, 1);
      await sendAll(hepPort(first), responses(600, `second-${transport}`));
      const a = await eventually(
        async () => samples(await scrape(first), 'sip_responses_total'),
        (s) => Object.values(s).reduce((n, v) => n + v, 0) === 600,
      );
      const b = await eventually(
        async () => samples(await scrape(second), 'sip_responses_total'),
        (s) => Object.values(s).reduce((n, v) => n + v, 0) >= 600,
      );
      expect(b).toEqual(a);
      expect(Object.keys(a).length).toBeGreaterThan(5);
    });
  }
});
