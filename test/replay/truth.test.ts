import { type ChildProcess, execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../lab/processes.js';
import { loadConfig } from '../../src/config/load.js';
import type { Exporter } from '../../src/exporter.js';
import { summarize } from '../../src/replay/output.js';
import { replayFiles } from '../../src/replay/replay.js';
import { sipMessage } from '../capture/build.js';
import { captureTools, decodeAs, run, tsharkSipStat } from '../capture/peers.js';
import { CLI } from '../helpers/cli.js';
import { scrape, startExporter } from '../helpers/exporter.js';
import { hep3 } from '../helpers/hep.js';
import { eventually } from '../helpers/net.js';
import { requirePeer } from '../helpers/peers.js';
import { startTcpdump, stopTcpdump } from '../helpers/tcpdump.js';

/**
 * Truth from tools we did not write: tcpdump records SIP and HEP that node sockets send over
 * loopback; the replay of that file must agree with tshark's `sip,stat`, with what was sent, and
 * (for the HEP in it) with a live exporter that received the same packets.
 */
const dir = mkdtempSync(join(tmpdir(), 'sre-replay-truth-'));
const file = join(dir, 'lo.pcap');
const ports = { in: 0, out: 0, tcp: 0, hep: 0 };
let decode: string[] = [];
let exporter: Exporter | null = null;
/** Every tcpdump started, so that a failed setup still stops it. */
const started: ChildProcess[] = [];

/** Responses relayed by a proxy over UDP: each is on the wire twice, received (in) and forwarded (out). */
const UDP_RESPONSES: Array<[string, string]> = [
  ['SIP/2.0 100 Trying', 'u1'],
  ['SIP/2.0 180 Ringing', 'u1'],
  ['SIP/2.0 200 OK', 'u1'],
  ['SIP/2.0 486 Busy Here', 'u2'],
  ['SIP/2.0 603 Decline', 'u3'],
  ['SIP/2.0 407 Proxy Authentication Required', 'u4'],
  ['SIP/2.0 200 OK', 'u5'],
];
/** Responses over TCP, once each, written so that messages share and span segments. */
const TCP_RESPONSES: Array<[string, string]> = [
  ['SIP/2.0 100 Trying', 't1'],
  ['SIP/2.0 200 OK', 't1'],
  ['SIP/2.0 503 Service Unavailable', 't2'],
];
/** HEP from one capture agent; the 480 is traced twice (in and out), as a proxy would. */
const HEP_RESPONSES: Array<[string, string]> = [
  ['SIP/2.0 200 OK', 'h1'],
  ['SIP/2.0 480 Temporarily Unavailable', 'h2'],
  ['SIP/2.0 480 Temporarily Unavailable', 'h2'],
  ['SIP/2.0 404 Not Found', 'h3'],
];
const HEP_CAPTURE_ID = 2001;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function codeOf(line: string): string {
  return line.split(' ')[1];
}

function tally(lines: Array<[string, string]>, times = 1): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [line] of lines) out[codeOf(line)] = (out[codeOf(line)] ?? 0) + times;
  return out;
}

function add(...maps: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of maps) for (const [k, v] of Object.entries(m)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Frames of `filter` in the file tcpdump is writing (0 while it cannot be read yet). */
function framesIn(filter: string): number {
  const { tshark } = captureTools();
  try {
    const out = run(tshark, ['-r', file, ...decode, '-Y', filter, '-T', 'fields', '-e', 'frame.number']);
    return out.split('\n').filter((l) => l.trim() !== '').length;
  } catch {
    return 0;
  }
}

/** The live exporter's sip_responses_total for `node`, by code. */
function liveCodes(exposition: string, node: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of exposition.split('\n')) {
    if (!line.startsWith('sip_responses_total{') || !line.includes(`node="${node}"`)) continue;
    const code = /code="(\d+)"/.exec(line)![1];
    out[code] = (out[code] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

beforeAll(async () => {
  const tools = captureTools();
  ports.in = await freePort();
  ports.out = await freePort();
  ports.tcp = await freePort();
  ports.hep = await freePort();
  decode = decodeAs([ports.in, ports.out], [ports.tcp]);
  await startTcpdump(
    tools.tcpdump,
    [
      '-i',
      'lo',
      '-w',
      file,
      `udp port ${ports.in} or udp port ${ports.out} or udp port ${ports.hep} or tcp port ${ports.tcp}`,
    ],
    started,
  );
  exporter = await startExporter();
  const liveHep = exporter.source('hep').listener!.udpPort;

  const receivers = await Promise.all(
    [ports.in, ports.out, ports.hep].map(async (port) => {
      const socket = createSocket('udp4');
      await new Promise<void>((r) => socket.bind(port, '127.0.0.1', () => r()));
      return socket;
    }),
  );
  const sender = createSocket('udp4');
  const send = (data: string | Buffer, port: number) =>
    new Promise<void>((r) => sender.send(data, port, '127.0.0.1', () => r()));
  // Wait until tcpdump writes what it sees: probes (not SIP) until one is in the file.
  for (let attempt = 0; framesIn(`udp.port==${ports.in}`) === 0; attempt++) {
    if (attempt === 40) throw new Error('tcpdump never recorded a probe');
    await send('probe', ports.in);
    await sleep(100);
  }
  for (const [line, callId] of UDP_RESPONSES) {
    const message = sipMessage(line, callId);
    await send(message, ports.in);
    await send(message, ports.out);
    await sleep(5);
  }
  for (const [line, callId] of HEP_RESPONSES) {
    const packet = hep3({ payload: sipMessage(line, callId), captureId: HEP_CAPTURE_ID });
    await send(packet, ports.hep);
    await send(packet, liveHep);
    await sleep(5);
  }

  const server = createServer((socket) => socket.resume());
  await new Promise<void>((r) => server.listen(ports.tcp, '127.0.0.1', () => r()));
  const client: Socket = connect(ports.tcp, '127.0.0.1');
  client.setNoDelay(true);
  await new Promise<void>((r) => client.once('connect', () => r()));
  const stream = TCP_RESPONSES.map(([line, id]) => sipMessage(line, id, 400)).join('');
  // Three writes: the first message and part of the second, the rest, then the third whole.
  const cuts = [Math.floor(stream.length / 3), Math.floor((stream.length * 2) / 3)];
  for (const piece of [stream.slice(0, cuts[0]), stream.slice(cuts[0], cuts[1]), stream.slice(cuts[1])]) {
    await new Promise<void>((r) => client.write(piece, () => r()));
    await sleep(25);
  }
  client.end();
  await sleep(100);
  await new Promise<void>((r) => server.close(() => r()));

  // A loaded machine may leave packets in tcpdump's buffer: stop it once tshark sees them all.
  const filter = `(udp and sip.Status-Code) or udp.dstport==${ports.hep} or tcp.flags.fin==1`;
  const expected = UDP_RESPONSES.length * 2 + HEP_RESPONSES.length + 2;
  for (let attempt = 0; ; attempt++) {
    const seen = framesIn(filter);
    if (seen >= expected) break;
    if (attempt === 40) throw new Error(`tcpdump wrote ${seen} of ${expected} frames`);
    await send('probe', ports.in);
    await sleep(250);
  }
  await Promise.all(started.map(stopTcpdump));
  sender.close();
  for (const socket of receivers) socket.close();
  // The live exporter has received every HEP packet once its responses counter says so.
  await eventually(
    () => exporter!.source('hep').ingest.stats.responses.value,
    (v) => v === HEP_RESPONSES.length,
  );
});

afterAll(async () => {
  await Promise.all(started.map(stopTcpdump));
  await exporter?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('replay of a tcpdump capture', () => {
  const config = (flags: Record<string, string> = {}) => loadConfig({ flags, env: {} });

  it('with dedupe off, counts per code what tshark -z sip,stat counts, and what was sent', async () => {
    const { tshark } = captureTools();
    const result = await replayFiles([file], {
      config: config({ 'dedupe.window': '0' }),
      node: 'lab',
      hepPorts: [ports.hep],
    });
    const summary = summarize(result);
    const ours: Record<string, number> = {};
    for (const r of summary.responses) if (r.node === 'lab') ours[r.code] = (ours[r.code] ?? 0) + r.count;
    const sent = add(tally(UDP_RESPONSES, 2), tally(TCP_RESPONSES));
    expect(ours).toEqual(sent);
    expect(ours).toEqual(tsharkSipStat(tshark, file, decode).byCode);
  });

  it('with dedupe on, counts each relayed message once for the node', async () => {
    const result = await replayFiles([file], { config: config(), node: 'lab', hepPorts: [ports.hep] });
    const summary = summarize(result);
    const ours: Record<string, number> = {};
    for (const r of summary.responses) if (r.node === 'lab') ours[r.code] = (ours[r.code] ?? 0) + r.count;
    expect(ours).toEqual(add(tally(UDP_RESPONSES), tally(TCP_RESPONSES)));
    expect(summary.dedupeHits.response).toBe(UDP_RESPONSES.length + 1);
  });

  it('counts the HEP in the capture as the live exporter counted the same packets', async () => {
    const result = await replayFiles([file], { config: config(), node: 'lab', hepPorts: [ports.hep] });
    const replayed: Record<string, number> = {};
    for (const r of summarize(result).responses) {
      if (r.node === String(HEP_CAPTURE_ID)) replayed[r.code] = (replayed[r.code] ?? 0) + r.count;
    }
    const live = liveCodes(await scrape(exporter!), String(HEP_CAPTURE_ID));
    expect(Object.keys(live).length).toBeGreaterThan(0);
    expect(replayed).toEqual(live);
    // And both are what was sent once the in/out copy of the 480 is folded.
    expect(replayed).toEqual({ '200': 1, '480': 1, '404': 1 });
  });

  it('backfills through promtool to the counts the replay shows', async () => {
    const promtool = requirePeer('promtool', 'prometheus');
    const args = ['replay', '--replay.node', 'lab', '--replay.hep-ports', String(ports.hep), file];
    const cli = (extra: string[]) =>
      execFileSync(process.execPath, [...CLI, ...args.slice(0, 1), ...extra, ...args.slice(1)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 1 << 26,
      });
    const json = JSON.parse(cli(['--output', 'json'])) as ReturnType<typeof summarize>;
    const om = join(dir, 'lo.om');
    writeFileSync(om, cli(['--output', 'openmetrics', '--replay.step', '1s']));
    const blocks = join(dir, 'blocks');
    run(promtool, ['tsdb', 'create-blocks-from', 'openmetrics', om, blocks]);
    mkdirSync(join(blocks, 'wal'));
    const dump = execFileSync(promtool, ['tsdb', 'dump', '--match', 'sip_responses_total', blocks], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    // The last sample of each series (dump lists a series' samples in time order).
    const last = new Map<string, number>();
    for (const line of dump.split('\n')) {
      const m = /^\{(.*)\} (\S+) \d+$/.exec(line);
      if (m === null) continue;
      const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      last.set(`${labels.node} ${labels.code} ${labels.method}`, Number(m[2]));
    }
    const expected = new Map<string, number>();
    for (const r of json.responses) expected.set(`${r.node} ${r.code} ${r.method}`, r.count);
    expect(expected.size).toBeGreaterThan(5);
    expect(last).toEqual(expected);
  });
});
