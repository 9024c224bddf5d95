import { type ChildProcess, execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../lab/processes.js';
import { dropsByLabel, LinkType, readCaptureFile } from '../../src/capture/index.js';
import { requirePeer } from '../helpers/peers.js';
import { startTcpdump, stopTcpdump } from '../helpers/tcpdump.js';
import { sipMessage } from './build.js';
import { captureTools, decodeAs, ourMessages, run, tsharkMessages, tsharkSipStat } from './peers.js';

/**
 * Real captures: tcpdump records SIP that node sockets send over loopback (UDP, and TCP written in
 * pieces so messages span segments and share them), editcap and mergecap rewrite the file as
 * pcapng and nanosecond pcap, and tshark must agree with our reader on every file.
 */
const dir = mkdtempSync(join(tmpdir(), 'sre-tcpdump-'));
let udpPort = 0;
let tcpPort = 0;
let decode: string[] = [];
const files = { lo: join(dir, 'lo.pcap'), anyNano: join(dir, 'any-nano.pcap') };
let expectedUdp = 0;
let expectedTcp = 0;

/** Every tcpdump started, so that a failed setup still stops them. */
const started: ChildProcess[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Frames tshark finds in a file tcpdump is still writing (0 while it has no packet yet). */
async function framesIn(file: string, filter: string): Promise<number> {
  const { tshark } = captureTools();
  try {
    const out = run(tshark, ['-r', file, ...decode, '-Y', filter, '-T', 'fields', '-e', 'frame.number']);
    return out.split('\n').filter((l) => l.trim() !== '').length;
  } catch {
    // The file may still be empty or end mid-record while tcpdump writes it.
    return 0;
  }
}

/**
 * Waits until the file holds `count` frames matching `filter`. Each attempt sends a probe (not SIP,
 * counted as such): on a loaded machine the any device can sit on the last packets of a burst
 * until more traffic pushes them out.
 */
async function waitForFrames(
  file: string,
  filter: string,
  count: number,
  probe: () => Promise<void>,
): Promise<void> {
  let seen = 0;
  for (let attempt = 0; attempt < 40; attempt++) {
    seen = await framesIn(file, filter);
    if (seen >= count) return;
    await probe();
    await sleep(250);
  }
  const { tshark } = captureTools();
  const listing = run(tshark, ['-r', file, ...decode]);
  throw new Error(`tcpdump wrote ${seen} of ${count} frames matching ${filter} to ${file}:\n${listing}`);
}

async function writeInPieces(socket: Socket, pieces: string[]): Promise<void> {
  for (const piece of pieces) {
    await new Promise<void>((r) => socket.write(piece, () => r()));
    // Nagle is off; a pause makes each write its own segment.
    await sleep(25);
  }
}

beforeAll(async () => {
  const { tcpdump } = captureTools();
  udpPort = await freePort();
  tcpPort = await freePort();
  decode = decodeAs([udpPort], [tcpPort]);
  const lo = await startTcpdump(
    tcpdump,
    ['-i', 'lo', '-w', files.lo, `udp port ${udpPort} or tcp port ${tcpPort}`],
    started,
  );
  // The "any" device records Linux cooked v2 frames; UDP only, so the merged file holds no
  // TCP segment twice.
  const any = await startTcpdump(
    tcpdump,
    ['-i', 'any', '--time-stamp-precision=nano', '-w', files.anyNano, `udp port ${udpPort}`],
    started,
  );

  const receiver = createSocket('udp4');
  await new Promise<void>((r) => receiver.bind(udpPort, '127.0.0.1', () => r()));
  const sender = createSocket('udp4');
  // "listening on" can come before the any device sees packets: send probes (not SIP, so only
  // counted as such) until both captures hold one.
  for (let attempt = 0; ; attempt++) {
    await new Promise<void>((r) => sender.send('probe', udpPort, '127.0.0.1', () => r()));
    if (
      (await framesIn(files.lo, `udp.port==${udpPort}`)) > 0 &&
      (await framesIn(files.anyNano, `udp.port==${udpPort}`)) > 0
    ) {
      break;
    }
    if (attempt === 40) throw new Error('tcpdump never recorded a probe');
    await sleep(100);
  }
  const udpMessages = [
    sipMessage('INVITE sip:bob@example.com SIP/2.0', 'udp-1', 300),
    sipMessage('SIP/2.0 100 Trying', 'udp-2'),
    sipMessage('SIP/2.0 180 Ringing', 'udp-3'),
    sipMessage('SIP/2.0 200 OK', 'udp-4', 3000),
    sipMessage('SIP/2.0 486 Busy Here', 'udp-5'),
    sipMessage('OPTIONS sip:bob@example.com SIP/2.0', 'udp-6'),
  ];
  for (const m of udpMessages) {
    await new Promise<void>((r) => sender.send(m, udpPort, '127.0.0.1', () => r()));
    // The any device drops the tail of a back-to-back burst on a loaded machine; space them.
    await sleep(20);
  }
  // Not SIP: counted, not handed over, and tshark does not see SIP in it either.
  await new Promise<void>((r) => sender.send('\r\n\r\n', udpPort, '127.0.0.1', () => r()));
  expectedUdp = udpMessages.length;

  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.once('data', () => {
      const ok = sipMessage('SIP/2.0 200 OK', 'tcp-3', 800);
      void writeInPieces(socket, [
        sipMessage('SIP/2.0 100 Trying', 'tcp-2') + ok.slice(0, 200),
        ok.slice(200),
      ]);
    });
  });
  await new Promise<void>((r) => server.listen(tcpPort, '127.0.0.1', () => r()));
  const client = connect(tcpPort, '127.0.0.1');
  client.setNoDelay(true);
  await new Promise<void>((r) => client.once('connect', () => r()));
  const invite = sipMessage('INVITE sip:bob@example.com SIP/2.0', 'tcp-1', 1500);
  await writeInPieces(client, [invite.slice(0, 100), invite.slice(100, 700), invite.slice(700)]);
  await sleep(150);
  await writeInPieces(client, [
    sipMessage('ACK sip:bob@example.com SIP/2.0', 'tcp-4') +
      sipMessage('BYE sip:bob@example.com SIP/2.0', 'tcp-5'),
  ]);
  expectedTcp = 5;
  await sleep(100);
  client.end();
  await sleep(100);
  await new Promise<void>((r) => server.close(() => r()));
  // A loaded machine may leave packets in tcpdump's buffer; stop it only once tshark sees them all
  // (the six SIP datagrams and the keep-alive, and both FINs on lo).
  const probe = () => new Promise<void>((r) => sender.send('probe', udpPort, '127.0.0.1', () => r()));
  await waitForFrames(files.lo, `sip.Call-ID matches "^udp-" or tcp.flags.fin==1`, expectedUdp + 2, probe);
  await waitForFrames(
    files.anyNano,
    `sip.Call-ID matches "^udp-" or udp.payload == 0d:0a:0d:0a`,
    expectedUdp + 1,
    probe,
  );
  sender.close();
  receiver.close();
  await Promise.all([stopTcpdump(lo), stopTcpdump(any)]);
});

afterAll(async () => {
  await Promise.all(started.map(stopTcpdump));
  rmSync(dir, { recursive: true, force: true });
});

async function agreeOn(path: string, expected: number): Promise<void> {
  const { tshark } = captureTools();
  const ours = await ourMessages(path);
  expect(ours.lines.length).toBeGreaterThan(0);
  expect(ours.lines).toHaveLength(expected);
  expect(ours.lines).toEqual(tsharkMessages(tshark, path, decode));
  expect(ours.stat).toEqual(tsharkSipStat(tshark, path, decode));
}

async function agree(path: string, expected: number): Promise<void> {
  const { tshark } = captureTools();
  const ours = await ourMessages(path);
  expect(ours.lines).toHaveLength(expected);
  expect(ours.lines).toEqual(tsharkMessages(tshark, path, decode));
  expect(ours.stat).toEqual(tsharkSipStat(tshark, path, decode));
  // The probes and the CRLF keep-alive are the only things dropped.
  const drops = dropsByLabel(ours.drops);
  expect(Object.keys(drops)).toEqual(['not_sip']);
}

describe('captures written by tcpdump, editcap and mergecap', () => {
  it('tcpdump on lo (Ethernet, microsecond pcap): UDP and TCP split across segments', async () => {
    await agree(files.lo, expectedUdp + expectedTcp);
    // The file really has messages cut across segments, and a segment with two messages (two
    // passes, so that tshark marks the first parts too).
    const { tshark } = captureTools();
    const fields = (filter: string, field: string) =>
      run(tshark, ['-2', '-r', files.lo, ...decode, '-Y', filter, '-T', 'fields', '-e', field])
        .trim()
        .split('\n');
    expect(fields('tcp.reassembled_in', 'frame.number').length).toBeGreaterThanOrEqual(3);
    expect(fields('sip and tcp', 'sip.Call-ID')).toContain('tcp-4,tcp-5');
  });

  it('tcpdump on any (Linux cooked v2, nanosecond pcap)', async () => {
    const linkTypes = new Set<number>();
    await readCaptureFile(files.anyNano, (p) => linkTypes.add(p.linkType));
    expect([...linkTypes]).toEqual([LinkType.LINUX_SLL2]);
    await agree(files.anyNano, expectedUdp);
  });

  it('editcap to pcapng and to nanosecond pcap', async () => {
    const { editcap } = captureTools();
    const ng = join(dir, 'lo.pcapng');
    const ns = join(dir, 'lo-ns.pcap');
    run(editcap, ['-F', 'pcapng', files.lo, ng]);
    run(editcap, ['-F', 'nsecpcap', files.lo, ns]);
    await agree(ng, expectedUdp + expectedTcp);
    await agree(ns, expectedUdp + expectedTcp);
  });

  it('mergecap to one pcapng with two interfaces of different link types', async () => {
    const { mergecap, tshark } = captureTools();
    const merged = join(dir, 'merged.pcapng');
    run(mergecap, ['-F', 'pcapng', '-w', merged, files.lo, files.anyNano]);
    const interfaces = new Set<string>();
    await readCaptureFile(merged, (p) => interfaces.add(`${p.interfaceId}:${p.linkType}`));
    expect([...interfaces].sort()).toEqual([`0:${LinkType.ETHERNET}`, `1:${LinkType.LINUX_SLL2}`]);
    expect(run(tshark, ['-r', merged, '-T', 'fields', '-e', 'frame.interface_id']).split('\n')).toContain(
      '1',
    );
    await agree(merged, 2 * expectedUdp + expectedTcp);
  });

  it('sngrep: the dialogs it keeps from the capture, in a pcap it writes', async () => {
    const sngrep = requirePeer('sngrep', 'sngrep');
    const kept = join(dir, 'sngrep.pcap');
    const out = execFileSync(sngrep, ['-N', '-I', files.lo, '-O', kept], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 20_000,
    });
    const dialogs = Number(/Dialog count: (\d+)\s*$/.exec(out)?.[1] ?? -1);
    const ours = await ourMessages(kept);
    // sngrep keeps the messages of the dialogs it found (here the INVITEs and the OPTIONS: it makes
    // no dialog of a response alone or of an out-of-dialog ACK or BYE).
    expect(dialogs).toBeGreaterThan(0);
    expect(new Set(ours.lines.map((l) => l.split(' ')[1])).size).toBe(dialogs);
    await agreeOn(kept, ours.lines.length);
  });
});
