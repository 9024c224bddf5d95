import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HepStreamSplitter } from '../../src/ingest/hep/stream-splitter.js';
import { SyslogStreamSplitter } from '../../src/ingest/syslog/framing.js';
import { type FrameSplitter, frameReader, ReadState } from '../../src/ingest/tcp-server.js';
import { exporterPerTest, sampleValue } from '../helpers/exporter.js';
import { hep3 } from '../helpers/hep.js';
import { closed, eventually, tcpConnect, write } from '../helpers/net.js';
import { sipResponse } from '../helpers/sip.js';
import { makeCertificates, syslogTlsFlags } from '../helpers/syslog.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const run = exporterPerTest();
const { metrics, sockets } = run;

const closedBy = (text: string, listener: string, reason: string) =>
  sampleValue(text, `sip_exporter_tcp_connections_closed_total{listener="${listener}",reason="${reason}"}`);
const received = (text: string, listener: string, transport: string) =>
  sampleValue(text, `sip_exporter_packets_received_total{listener="${listener}",transport="${transport}"}`) ??
  0;

/** Writes `data` one byte every `everyMs` until the peer closes; resolves with how long that took. */
async function trickle(socket: Socket, data: Buffer, everyMs: number): Promise<number> {
  const started = Date.now();
  const gone = closed(socket);
  let done = false;
  void gone.then(() => {
    done = true;
  });
  for (let i = 0; i < data.length && !done; i++) {
    socket.write(data.subarray(i, i + 1), () => undefined);
    await sleep(everyMs);
  }
  await gone;
  return Date.now() - started;
}

const HEP = hep3({ payload: sipResponse({ code: 486 }) });
const SYSLOG_LINE = Buffer.from(
  '<13>Nov 25 10:20:30 edge-1 kamailio: ACC: transaction answered: method=INVITE;call_id=t1;code=486;reason=Busy Here\n',
);
const octets = (line: Buffer) => Buffer.concat([Buffer.from(`${line.length} `), line]);

describe('frame deadline against a peer that trickles bytes', () => {
  it('closes a HEP connection whose packet does not complete in time, and counts it', async () => {
    const exporter = await run.start({ 'hep.frame-timeout': '400ms' });
    const socket = await tcpConnect(exporter.source('hep').listener!.tcpPort);
    sockets.push(socket);
    socket.on('error', () => undefined);
    // 100 ms a byte resets the 5 min idle timer every time; only the frame deadline can end this.
    const took = await trickle(socket, HEP, 100);
    expect(took).toBeLessThan(3000);
    const text = await metrics();
    expect(closedBy(text, 'hep', 'frame_timeout')).toBe(1);
    expect(closedBy(text, 'hep', 'idle')).toBe(0);
    expect(sampleValue(text, 'sip_exporter_tcp_connections_open{listener="hep"}')).toBe(0);
  });

  it('closes a syslog TCP connection trickling a message, octet-counted or by line, or trickling blanks', async () => {
    const exporter = await run.start({ 'syslog.frame-timeout': '400ms' });
    const port = exporter.source('syslog').listener!.plain!.tcpPort;
    const peers = await Promise.all([tcpConnect(port), tcpConnect(port), tcpConnect(port)]);
    sockets.push(...peers);
    for (const s of peers) s.on('error', () => undefined);
    const took = await Promise.all([
      trickle(peers[0], SYSLOG_LINE, 100),
      trickle(peers[1], octets(SYSLOG_LINE), 100),
      trickle(peers[2], Buffer.alloc(200, 0x0a), 100),
    ]);
    // The blank run counts from its ninth byte, so allow it those 0.9 s.
    for (const ms of took) expect(ms).toBeLessThan(4000);
    const text = await metrics();
    expect(closedBy(text, 'syslog', 'frame_timeout')).toBe(3);
    expect(received(text, 'syslog', 'tcp')).toBe(0);
  });

  it('closes a syslog TLS connection trickling a message, and one that never finishes its handshake', async () => {
    const pki = await makeCertificates();
    const exporter = await run.start({
      'syslog.frame-timeout': '400ms',
      'syslog.tls.listen-address': '127.0.0.1:0',
      'syslog.tls.cert-file': pki.cert,
      'syslog.tls.key-file': pki.key,
    });
    const port = exporter.source('syslog').listener!.tlsPort;
    const secure = await new Promise<Socket>((resolve, reject) => {
      const s = tlsConnect(
        { host: '127.0.0.1', port, ca: readFileSync(pki.ca), servername: 'localhost' },
        () => resolve(s),
      );
      s.once('error', reject);
    });
    sockets.push(secure);
    secure.on('error', () => undefined);
    const silent = await tcpConnect(port);
    sockets.push(silent);
    silent.on('error', () => undefined);
    const [tookTrickle] = await Promise.all([trickle(secure, octets(SYSLOG_LINE), 100), closed(silent)]);
    expect(tookTrickle).toBeLessThan(3000);
    const text = await metrics();
    expect(closedBy(text, 'syslog', 'frame_timeout')).toBe(2);
    expect(received(text, 'syslog', 'tls')).toBe(0);
  });

  it('keeps connections that send whole frames slowly, each frame promptly, and counts every frame', async () => {
    const exporter = await run.start({ 'hep.frame-timeout': '600ms', 'syslog.frame-timeout': '600ms' });
    const hep = await tcpConnect(exporter.source('hep').listener!.tcpPort);
    const syslog = await tcpConnect(exporter.source('syslog').listener!.plain!.tcpPort);
    sockets.push(hep, syslog);
    const half = (b: Buffer) => [b.subarray(0, b.length >> 1), b.subarray(b.length >> 1)];
    const rounds = 8;
    // 3.2 s in all, five deadlines: a frame every 400 ms, each in two writes 100 ms apart, so
    // each frame spans reads and the connection outlives a deadline only if it is timed per frame.
    for (let i = 0; i < rounds; i++) {
      const [h1, h2] = half(HEP);
      const [s1, s2] = half(i % 2 === 0 ? SYSLOG_LINE : octets(SYSLOG_LINE));
      await Promise.all([write(hep, h1), write(syslog, s1)]);
      await sleep(100);
      await Promise.all([write(hep, h2), write(syslog, s2)]);
      await sleep(300);
    }
    const text = await eventually(
      metrics,
      (t) => received(t, 'hep', 'tcp') === rounds && received(t, 'syslog', 'tcp') === rounds,
    );
    expect(closedBy(text, 'hep', 'frame_timeout')).toBe(0);
    expect(closedBy(text, 'syslog', 'frame_timeout')).toBe(0);
    expect(sampleValue(text, 'sip_exporter_tcp_connections_open{listener="hep"}')).toBe(1);
    expect(sampleValue(text, 'sip_exporter_tcp_connections_open{listener="syslog"}')).toBe(1);
    expect(hep.destroyed || syslog.destroyed).toBe(false);
  });

  it('does not hold a stall of its own against a frame whose end arrived during it', async () => {
    const exporter = await run.start({ 'hep.frame-timeout': '300ms', 'syslog.frame-timeout': '300ms' });
    const hep = await tcpConnect(exporter.source('hep').listener!.tcpPort);
    const syslog = await tcpConnect(exporter.source('syslog').listener!.plain!.tcpPort);
    sockets.push(hep, syslog);
    const half = (b: Buffer) => [b.subarray(0, b.length >> 1), b.subarray(b.length >> 1)];
    const [h1, h2] = half(HEP);
    const [s1, s2] = half(SYSLOG_LINE);
    await Promise.all([write(hep, h1), write(syslog, s1)]);
    const bytes = (t: string, listener: string) =>
      sampleValue(t, `sip_exporter_bytes_received_total{listener="${listener}",transport="tcp"}`) ?? 0;
    await eventually(metrics, (t) => bytes(t, 'hep') === h1.length && bytes(t, 'syslog') === s1.length);
    // Both second halves reach the kernel well inside the deadline; then the process stalls past
    // it (a long GC, a starved core). The deadline's timer runs before the data is read.
    hep.write(h2);
    syslog.write(s2);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600);
    const text = await eventually(
      metrics,
      (t) => received(t, 'hep', 'tcp') === 1 && received(t, 'syslog', 'tcp') === 1,
    );
    expect(closedBy(text, 'hep', 'frame_timeout')).toBe(0);
    expect(closedBy(text, 'syslog', 'frame_timeout')).toBe(0);
    expect(sampleValue(text, 'sip_exporter_tcp_connections_open{listener="hep"}')).toBe(1);
    expect(sampleValue(text, 'sip_exporter_tcp_connections_open{listener="syslog"}')).toBe(1);
    // A frame that is still short after the stall is closed as before.
    await write(hep, h1);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600);
    await closed(hep);
    expect(closedBy(await metrics(), 'hep', 'frame_timeout')).toBe(1);
  });

  it('has no deadline when the frame timeout is 0', async () => {
    const exporter = await run.start({ 'hep.frame-timeout': '0' });
    const socket = await tcpConnect(exporter.source('hep').listener!.tcpPort);
    sockets.push(socket);
    await write(socket, HEP.subarray(0, 10));
    await sleep(600);
    expect(socket.destroyed).toBe(false);
    expect(closedBy(await metrics(), 'hep', 'frame_timeout')).toBe(0);
  });
});

/** Frames back to back, their end offsets, and the splitter that reads them. */
const STREAMS: Array<{ name: string; frames: Buffer[]; splitter: () => FrameSplitter<number> }> = [
  {
    name: 'HEP',
    frames: [HEP, hep3({ payload: sipResponse({ code: 200 }) }), HEP],
    splitter: () => new HepStreamSplitter(65535, () => undefined),
  },
  {
    name: 'syslog',
    frames: [SYSLOG_LINE, octets(SYSLOG_LINE), Buffer.from('<13>x\n'), octets(Buffer.from('<13>y'))],
    splitter: () => new SyslogStreamSplitter(65536, () => undefined),
  },
];

describe('readers tell the server where frames begin', () => {
  for (const { name, frames, splitter } of STREAMS) {
    it(`${name}: however the stream is cut, each read reports the state of the frame under way`, () => {
      const stream = Buffer.concat(frames);
      const ends: number[] = [];
      for (const f of frames) ends.push((ends.at(-1) ?? 0) + f.length);
      const startOf = (offset: number) => [0, ...ends].filter((e) => e <= offset).at(-1)!;
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 30 }), (cuts) => {
          const s = splitter();
          const read = frameReader(s, {
            count: () => {
              throw new Error('valid stream rejected');
            },
          });
          let at = 0;
          for (const point of [...new Set(cuts)].sort((a, b) => a - b).concat(stream.length)) {
            const state = read(stream.subarray(at, point));
            const inside = !ends.includes(point);
            if (!inside) expect(state).toBe(ReadState.BETWEEN_FRAMES);
            else if (startOf(point) >= at) expect(state).toBe(ReadState.NEW_FRAME);
            else expect(state).toBe(ReadState.SAME_FRAME);
            at = point;
          }
          expect(s.frames).toBe(frames.length);
        }),
      );
    });
  }

  it('reports a failed stream', () => {
    const errors: number[] = [];
    const read = frameReader(new HepStreamSplitter(65535, () => undefined), { count: (e) => errors.push(e) });
    expect(read(Buffer.from('GET / HTTP/1.1\r\n'))).toBe(ReadState.FAILED);
    expect(errors).toHaveLength(1);
  });

  it('syslog: a few blank bytes between frames are a trailer, a long run begins a frame', () => {
    const s = new SyslogStreamSplitter(65536, () => undefined);
    const read = frameReader(s, { count: () => undefined });
    expect(read(Buffer.from('<13>a\r\n'))).toBe(ReadState.BETWEEN_FRAMES);
    expect(read(Buffer.alloc(8, 0x0a))).toBe(ReadState.BETWEEN_FRAMES);
    expect(read(Buffer.from('\n'))).toBe(ReadState.NEW_FRAME);
    expect(read(Buffer.from('\n'))).toBe(ReadState.SAME_FRAME);
    expect(read(Buffer.from('<13>b'))).toBe(ReadState.SAME_FRAME);
    expect(read(Buffer.from('\n'))).toBe(ReadState.BETWEEN_FRAMES);
    expect(s.frames).toBe(2);
  });
});

describe('stopping with connections open', () => {
  it('reads and counts what the peers sent before the stop, and counts each close as shutdown', async () => {
    const exporter = await run.start();
    const e = exporter;
    const hep = await tcpConnect(e.source('hep').listener!.tcpPort);
    const syslog = await tcpConnect(e.source('syslog').listener!.plain!.tcpPort);
    sockets.push(hep, syslog);
    const n = 10_000;
    await Promise.all([
      write(hep, Buffer.concat(Array.from({ length: n }, () => HEP))),
      write(syslog, Buffer.concat(Array.from({ length: n }, () => SYSLOG_LINE))),
    ]);
    await run.stop();
    const text = await e.registry.metrics();
    expect(received(text, 'hep', 'tcp')).toBe(n);
    expect(received(text, 'syslog', 'tcp')).toBe(n);
    for (const listener of ['hep', 'syslog']) {
      expect(closedBy(text, listener, 'shutdown')).toBe(1);
      expect(closedBy(text, listener, 'peer')).toBe(0);
      expect(sampleValue(text, `sip_exporter_tcp_connections_open{listener="${listener}"}`)).toBe(0);
    }
    await Promise.all([closed(hep), closed(syslog)]);
  });

  it('does not wait for a TLS handshake that never comes', async () => {
    const pki = await makeCertificates();
    const exporter = await run.start(syslogTlsFlags(pki));
    const e = exporter;
    const silent = await tcpConnect(e.source('syslog').listener!.tlsPort);
    sockets.push(silent);
    silent.on('error', () => undefined);
    await sleep(100);
    const started = Date.now();
    await run.stop();
    expect(Date.now() - started).toBeLessThan(2000);
    await closed(silent);
  });
});
