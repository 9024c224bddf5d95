import { describe, expect, it } from 'vitest';
import {
  CaptureFormatError,
  CaptureSession,
  dropsByLabel,
  LinkType,
  PayloadKind,
  Transport,
} from '../../src/capture/index.js';
import {
  type Endpoints,
  ethernet,
  ipv4,
  ipv6Chain,
  nullLink,
  pcap,
  pcapng,
  sipMessage,
  sll,
  sll2,
  udp,
} from './build.js';
import { collect } from './collect.js';

const V4: Endpoints = { src: '192.0.2.1', dst: '198.51.100.7', srcPort: 5060, dstPort: 5080 };
const V6: Endpoints = { src: '2001:db8::1', dst: '2001:db8:0:1::a', srcPort: 5062, dstPort: 5060 };
const OK = sipMessage('SIP/2.0 200 OK', 'call-1@example.com');
const INVITE = sipMessage('INVITE sip:bob@example.com SIP/2.0', 'call-2@example.com', 300);

const udp4 = (payload: string, e = V4) => ipv4(e, 17, udp(e, payload));
const udp6 = (payload: string, e = V6) => ipv6Chain(e, 17, udp(e, payload), []);

describe('pcap', () => {
  for (const bigEndian of [false, true]) {
    for (const nanosecond of [false, true]) {
      it(`reads ${nanosecond ? 'nano' : 'micro'}second records in ${bigEndian ? 'big' : 'little'}-endian order`, () => {
        const file = pcap(
          [
            { sec: 1_795_600_000, frac: nanosecond ? 123_456_789 : 123_456, data: ethernet(udp4(OK)) },
            { sec: 1_795_600_001, frac: 7, data: ethernet(udp4(INVITE)) },
          ],
          { linkType: LinkType.ETHERNET, nanosecond, bigEndian },
        );
        const { packets, stats, drops } = collect(file);
        expect(drops).toEqual({});
        expect(stats.records).toBe(2);
        expect(packets).toHaveLength(2);
        expect(packets[0]).toMatchObject({
          tsSec: 1_795_600_000,
          tsNsec: nanosecond ? 123_456_789 : 123_456_000,
          linkType: LinkType.ETHERNET,
          ipVersion: 4,
          src: '192.0.2.1',
          dst: '198.51.100.7',
          srcPort: 5060,
          dstPort: 5080,
          transport: Transport.UDP,
          kind: PayloadKind.SIP,
          payload: OK,
        });
        expect(packets[1]).toMatchObject({
          tsSec: 1_795_600_001,
          tsNsec: nanosecond ? 7 : 7000,
          payload: INVITE,
        });
      });
    }
  }

  it('hands the payload over in place, without a copy', () => {
    const file = pcap([{ sec: 1, frac: 0, data: ethernet(udp4(OK)) }], { linkType: LinkType.ETHERNET });
    const session = new CaptureSession((p) => {
      expect(p.payload.buffer).toBe(file.buffer);
      expect(p.payloadEnd - p.payloadStart).toBe(OK.length);
    });
    session.push(file);
    expect(session.end().emitted).toBe(1);
  });
});

describe('link types', () => {
  const cases: Array<[string, number, Uint8Array, string]> = [
    ['Ethernet', LinkType.ETHERNET, ethernet(udp4(OK)), '192.0.2.1'],
    [
      'Ethernet with an 802.1Q tag',
      LinkType.ETHERNET,
      ethernet(udp4(OK), [{ tpid: 0x8100, vid: 42 }]),
      '192.0.2.1',
    ],
    [
      'Ethernet with QinQ tags',
      LinkType.ETHERNET,
      ethernet(udp6(OK), [
        { tpid: 0x88a8, vid: 100 },
        { tpid: 0x8100, vid: 42 },
      ]),
      '2001:db8::1',
    ],
    ['Linux cooked v1', LinkType.LINUX_SLL, sll(udp4(OK)), '192.0.2.1'],
    ['Linux cooked v2', LinkType.LINUX_SLL2, sll2(udp6(OK)), '2001:db8::1'],
    ['BSD null, little-endian IPv4', LinkType.NULL, nullLink(udp4(OK)), '192.0.2.1'],
    [
      'BSD null, big-endian IPv6 (macOS family 30)',
      LinkType.NULL,
      nullLink(udp6(OK), 30, false),
      '2001:db8::1',
    ],
    ['OpenBSD loop', LinkType.LOOP, nullLink(udp6(OK), 24, false), '2001:db8::1'],
    ['raw IP (IPv4)', LinkType.RAW, udp4(OK), '192.0.2.1'],
    ['raw IP (IPv6)', LinkType.RAW, udp6(OK), '2001:db8::1'],
    ['LINKTYPE_IPV4', LinkType.IPV4, udp4(OK), '192.0.2.1'],
    ['LINKTYPE_IPV6', LinkType.IPV6, udp6(OK), '2001:db8::1'],
  ];
  for (const [name, linkType, frame, src] of cases) {
    it(`decodes ${name}`, () => {
      const { packets, drops } = collect(pcap([{ sec: 1, frac: 0, data: frame }], { linkType }));
      expect(drops).toEqual({});
      expect(packets).toHaveLength(1);
      expect(packets[0]).toMatchObject({ linkType, src, payload: OK });
    });
  }

  it('ignores Ethernet padding after a short IP packet', () => {
    const frame = ethernet(udp4(OK));
    const padded = new Uint8Array(frame.length + 6);
    padded.set(frame);
    const { packets } = collect(pcap([{ sec: 1, frac: 0, data: padded }], { linkType: LinkType.ETHERNET }));
    expect(packets[0].payload).toBe(OK);
  });

  it('counts frames that are not IP, or on link types it does not decode', () => {
    const arp = ethernet(udp4(OK));
    arp[12] = 0x08;
    arp[13] = 0x06;
    const { packets, drops } = collect(
      pcapng([
        {
          interfaces: [{ linkType: LinkType.ETHERNET }, { linkType: 105 }],
          packets: [
            { interfaceId: 0, ts: 1n, data: arp },
            { interfaceId: 1, ts: 1n, data: udp4(OK) },
            { interfaceId: 2, ts: 1n, data: udp4(OK) },
            { interfaceId: 0, ts: 1n, data: arp.subarray(0, 10) },
          ],
        },
      ]),
    );
    expect(packets).toHaveLength(0);
    expect(drops).toEqual({ not_ip: 1, unknown_link_type: 1, unknown_interface: 1, bad_link_header: 1 });
  });
});

describe('pcapng', () => {
  it('reads several interfaces with their own link types and resolutions', () => {
    const file = pcapng([
      {
        interfaces: [
          { linkType: LinkType.ETHERNET },
          { linkType: LinkType.LINUX_SLL, tsresol: 9 },
          { linkType: LinkType.RAW, tsresol: 0x80 | 20 },
        ],
        packets: [
          { interfaceId: 0, ts: 1_795_600_000_123_456n, data: ethernet(udp4(OK)) },
          // Nanoseconds past 2^53: the exact path.
          { interfaceId: 1, ts: 1_795_600_000_987_654_321n, data: sll(udp4(INVITE)) },
          { interfaceId: 2, ts: (1_795_600_000n << 20n) + (1n << 19n), data: udp6(OK) },
        ],
      },
    ]);
    const { packets, drops } = collect(file);
    expect(drops).toEqual({});
    expect(packets.map((p) => [p.interfaceId, p.linkType, p.tsSec, p.tsNsec, p.payload])).toEqual([
      [0, LinkType.ETHERNET, 1_795_600_000, 123_456_000, OK],
      [1, LinkType.LINUX_SLL, 1_795_600_000, 987_654_321, INVITE],
      [2, LinkType.RAW, 1_795_600_000, 500_000_000, OK],
    ]);
  });

  it('reads a big-endian file and restarts interface numbering in each section', () => {
    const file = pcapng(
      [
        {
          interfaces: [{ linkType: LinkType.ETHERNET }],
          packets: [{ interfaceId: 0, ts: 5_000_000n, data: ethernet(udp4(OK)) }],
        },
        {
          interfaces: [{ linkType: LinkType.RAW }],
          packets: [{ interfaceId: 0, ts: 6_000_000n, data: udp4(INVITE) }],
        },
      ],
      true,
    );
    const { packets, drops } = collect(file);
    expect(drops).toEqual({});
    expect(packets.map((p) => [p.linkType, p.tsSec, p.payload])).toEqual([
      [LinkType.ETHERNET, 5, OK],
      [LinkType.RAW, 6, INVITE],
    ]);
  });
});

describe('payloads', () => {
  it('hands over HEP on the HEP ports and SIP on any other port', () => {
    const hep = { ...V4, dstPort: 9060 };
    const custom = { ...V4, srcPort: 9999 };
    const frames = [udp4('HEP3 not parsed here', hep), udp4('HEP3 also', custom), udp4(OK)].map((data) => ({
      sec: 1,
      frac: 0,
      data,
    }));
    const file = pcap(frames, { linkType: LinkType.RAW });
    const byDefault = collect(file);
    expect(byDefault.packets.map((p) => [p.kind, p.payload])).toEqual([
      [PayloadKind.HEP, 'HEP3 not parsed here'],
      [PayloadKind.SIP, OK],
    ]);
    expect(byDefault.drops).toEqual({ not_sip: 1 });
    const custom2 = collect(file, { hepPorts: [9999] });
    expect(custom2.packets.map((p) => p.kind)).toEqual([PayloadKind.HEP, PayloadKind.SIP]);
    expect(custom2.drops).toEqual({ not_sip: 1 });
  });

  it('skips IPv6 extension headers', () => {
    const hop = Uint8Array.from([0, 0, 1, 4, 0, 0, 0, 0]);
    const dest = Uint8Array.from([0, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const packet = ipv6Chain(V6, 17, udp(V6, OK), [
      [0, hop],
      [60, dest],
    ]);
    const esp = ipv6Chain(V6, 17, udp(V6, OK), [[50, Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0])]]);
    const { packets, drops } = collect(
      pcap(
        [
          { sec: 1, frac: 0, data: packet },
          { sec: 1, frac: 0, data: esp },
        ],
        { linkType: LinkType.RAW },
      ),
    );
    expect(packets.map((p) => [p.src, p.dst, p.payload])).toEqual([['2001:db8::1', '2001:db8:0:1::a', OK]]);
    expect(drops).toEqual({ ipv6_extension_unsupported: 1 });
  });
});

describe('bad input', () => {
  it('rejects what is not a capture with a coded error', () => {
    for (const bytes of [
      Buffer.from('SIP/2.0 200 OK\r\n\r\n'),
      Buffer.from('GIF89a........................'),
    ]) {
      expect(() => collect(bytes)).toThrow(CaptureFormatError);
      try {
        collect(bytes);
      } catch (error) {
        expect((error as CaptureFormatError).code).toBe('SRE_ERR_CAPTURE_FORMAT');
      }
    }
    expect(() => collect(new Uint8Array(0))).toThrow(/empty/);
    expect(() => collect(Uint8Array.from([0xd4, 0xc3]))).toThrow(CaptureFormatError);
  });

  it('counts a file cut in the middle of a record and keeps what came before', () => {
    const file = pcap(
      [
        { sec: 1, frac: 0, data: udp4(OK) },
        { sec: 2, frac: 0, data: udp4(INVITE) },
      ],
      { linkType: LinkType.RAW },
    );
    const { packets, drops } = collect(file.subarray(0, file.length - 10));
    expect(packets.map((p) => p.payload)).toEqual([OK]);
    expect(drops).toEqual({ truncated_file: 1 });
    expect(collect(file.subarray(0, 20)).drops).toEqual({ truncated_file: 1 });
  });

  it('stops at an impossible record length and counts it once', () => {
    const file = pcap(
      [
        { sec: 1, frac: 0, data: udp4(OK) },
        { sec: 2, frac: 0, data: udp4(INVITE) },
      ],
      { linkType: LinkType.RAW },
    );
    new DataView(file.buffer).setUint32(24 + 16 + udp4(OK).length + 8, 0x7fffffff, true);
    const { packets, drops } = collect(file);
    expect(packets).toHaveLength(1);
    expect(drops).toEqual({ corrupt_block: 1 });
  });

  it('stops at a pcapng block whose trailer disagrees with its length', () => {
    const file = pcapng([
      {
        interfaces: [{ linkType: LinkType.RAW }],
        packets: [
          { interfaceId: 0, ts: 1n, data: udp4(OK) },
          { interfaceId: 0, ts: 2n, data: udp4(INVITE) },
        ],
      },
    ]);
    file[file.length - 1] ^= 0xff;
    const { packets, drops } = collect(file);
    expect(packets).toHaveLength(1);
    expect(drops).toEqual({ corrupt_block: 1 });
  });

  it('counts packets cut by the snap length', () => {
    const whole = ethernet(udp4(INVITE));
    const { packets, drops } = collect(
      pcap([{ sec: 1, frac: 0, data: whole.subarray(0, 96), origLen: whole.length }], {
        linkType: LinkType.ETHERNET,
        snapLen: 96,
      }),
    );
    expect(packets).toHaveLength(0);
    expect(drops).toEqual({ snap_truncated: 1 });
  });

  it('reads the same packets whatever the chunk boundaries', () => {
    const file = pcapng([
      {
        interfaces: [{ linkType: LinkType.ETHERNET }],
        packets: [OK, INVITE, OK].map((m, i) => ({ interfaceId: 0, ts: BigInt(i), data: ethernet(udp4(m)) })),
      },
    ]);
    const whole = collect(file).packets;
    for (const size of [1, 3, 7, 64, 333]) {
      const got: string[] = [];
      const session = new CaptureSession((p) => got.push(p.payloadCopy().toString('latin1')));
      for (let i = 0; i < file.length; i += size) session.push(file.slice(i, i + size));
      const stats = session.end();
      expect(dropsByLabel(stats.drops)).toEqual({});
      expect(got).toEqual(whole.map((p) => p.payload));
    }
  });

  it('copies a large record arriving in small chunks once, not once per chunk', () => {
    // A 4 MiB jumbo record in 1 KiB chunks: re-joining the pending bytes on every chunk would copy
    // 8 GiB. The record holds no IP packet, so it is counted, after being read whole.
    const record = new Uint8Array(4 << 20);
    const file = pcap([{ sec: 1, frac: 0, data: record }], { linkType: LinkType.RAW });
    const session = new CaptureSession(() => {});
    const began = performance.now();
    for (let i = 0; i < file.length; i += 1024) session.push(file.subarray(i, i + 1024));
    const stats = session.end();
    expect(performance.now() - began).toBeLessThan(2_000);
    expect(stats.records).toBe(1);
    expect(dropsByLabel(stats.drops)).toEqual({ not_ip: 1 });
  });
});
