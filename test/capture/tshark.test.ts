import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dropsByLabel, LinkType } from '../../src/capture/index.js';
import {
  type Endpoints,
  ethernet,
  ipv4,
  ipv4Fragments,
  ipv6Chain,
  ipv6Fragments,
  pcap,
  sipMessage,
  TCP_ACK,
  TCP_PSH,
  TCP_SYN,
  tcp,
  udp,
} from './build.js';
import { captureTools, decodeAs, ourMessages, tsharkMessages, tsharkSipStat } from './peers.js';

/**
 * Files we build byte by byte (no tool can add VLAN tags or fragment on loopback), checked
 * against tshark: it must find the same SIP messages at the same times as our reader does.
 */
const dir = mkdtempSync(join(tmpdir(), 'sre-capture-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Ports no default touches; tshark is told they carry SIP.
const UDP_PORT = 15072;
const TCP_PORT = 15073;
const DECODE = decodeAs([UDP_PORT], [TCP_PORT]);
const T0 = 1_795_600_000;

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

async function agree(path: string, expected: number): Promise<void> {
  const { tshark } = captureTools();
  const ours = await ourMessages(path);
  expect(dropsByLabel(ours.drops)).toEqual({});
  expect(ours.lines).toHaveLength(expected);
  expect(ours.lines).toEqual(tsharkMessages(tshark, path, DECODE));
  expect(ours.stat).toEqual(tsharkSipStat(tshark, path, DECODE));
}

describe('built captures read the same by tshark', () => {
  it('VLAN-tagged frames (802.1Q and QinQ)', async () => {
    const e: Endpoints = { src: '192.0.2.1', dst: '192.0.2.2', srcPort: 5070, dstPort: UDP_PORT };
    const e6: Endpoints = { src: '2001:db8::1', dst: '2001:db8::2', srcPort: 5070, dstPort: UDP_PORT };
    const frames = [
      ethernet(ipv4(e, 17, udp(e, sipMessage('INVITE sip:b@example.com SIP/2.0', 'vlan-1')))),
      ethernet(ipv4(e, 17, udp(e, sipMessage('SIP/2.0 100 Trying', 'vlan-2'))), [{ tpid: 0x8100, vid: 42 }]),
      ethernet(ipv4(e, 17, udp(e, sipMessage('SIP/2.0 180 Ringing', 'vlan-3'))), [
        { tpid: 0x88a8, vid: 100 },
        { tpid: 0x8100, vid: 42 },
      ]),
      ethernet(ipv6Chain(e6, 17, udp(e6, sipMessage('SIP/2.0 200 OK', 'vlan-4', 200)), []), [
        { tpid: 0x8100, vid: 7 },
      ]),
    ];
    const path = write(
      'vlan.pcap',
      pcap(
        frames.map((data, i) => ({ sec: T0, frac: i * 1000, data })),
        { linkType: LinkType.ETHERNET },
      ),
    );
    await agree(path, 4);
  });

  it('UDP fragmented over IPv4 and IPv6, in and out of order (a 3000-byte SIP message)', async () => {
    const e: Endpoints = { src: '192.0.2.1', dst: '192.0.2.2', srcPort: 5070, dstPort: UDP_PORT };
    const e6: Endpoints = { src: '2001:db8::1', dst: '2001:db8::2', srcPort: 5070, dstPort: UDP_PORT };
    const a = ipv4Fragments(
      e,
      17,
      udp(e, sipMessage('INVITE sip:b@example.com SIP/2.0', 'frag-1', 3000)),
      1500,
      11,
    );
    const b = ipv4Fragments(e, 17, udp(e, sipMessage('SIP/2.0 200 OK', 'frag-2', 3000)), 1000, 12);
    const c = ipv6Fragments(
      e6,
      17,
      udp(e6, sipMessage('SIP/2.0 183 Session Progress', 'frag-3', 3000)),
      1232,
      13,
    );
    const frames = [...a, b[1], b[0], ...b.slice(2), ...c];
    const path = write(
      'fragments.pcap',
      pcap(
        frames.map((f, i) => ({ sec: T0, frac: i, data: ethernet(f) })),
        { linkType: LinkType.ETHERNET },
      ),
    );
    await agree(path, 3);
  });

  it('SIP over TCP: messages across segments and several per segment', async () => {
    const c: Endpoints = { src: '10.1.1.1', dst: '10.1.1.2', srcPort: 41234, dstPort: TCP_PORT };
    const s: Endpoints = { src: '10.1.1.2', dst: '10.1.1.1', srcPort: TCP_PORT, dstPort: 41234 };
    const invite = sipMessage('INVITE sip:b@example.com SIP/2.0', 'tcp-1', 1200);
    const trying = sipMessage('SIP/2.0 100 Trying', 'tcp-2');
    const ok = sipMessage('SIP/2.0 200 OK', 'tcp-3', 900);
    const ack = sipMessage('ACK sip:b@example.com SIP/2.0', 'tcp-4');
    const bye = sipMessage('BYE sip:b@example.com SIP/2.0', 'tcp-5');
    let cs = 1000;
    let ss = 5000;
    const segs: Uint8Array[] = [
      ipv4(c, 6, tcp(c, cs++, TCP_SYN)),
      ipv4(s, 6, tcp(s, ss++, TCP_SYN | TCP_ACK)),
      ipv4(c, 6, tcp(c, cs, TCP_ACK)),
    ];
    const send = (from: Endpoints, seq: number, data: string) =>
      ipv4(from, 6, tcp(from, seq, TCP_ACK | TCP_PSH, data));
    // The INVITE in three segments, then ACK and BYE together in one.
    for (const [from, to] of [
      [0, 500],
      [500, 1000],
      [1000, invite.length],
    ]) {
      segs.push(send(c, cs, invite.slice(from, to)));
      cs += to - from;
    }
    segs.push(send(s, ss, trying + ok.slice(0, 300)));
    ss += trying.length + 300;
    segs.push(send(s, ss, ok.slice(300)));
    ss += ok.length - 300;
    segs.push(send(c, cs, ack + bye));
    const path = write(
      'tcp.pcap',
      pcap(
        segs.map((data, i) => ({ sec: T0 + i, frac: 0, data })),
        { linkType: LinkType.RAW },
      ),
    );
    await agree(path, 5);
  });
});
