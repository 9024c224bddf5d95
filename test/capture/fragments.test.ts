import { describe, expect, it } from 'vitest';
import { LinkType } from '../../src/capture/index.js';
import { type Endpoints, ethernet, ipv4Fragments, ipv6Fragments, pcap, sipMessage, udp } from './build.js';
import { collect } from './collect.js';

const V4: Endpoints = { src: '192.0.2.10', dst: '192.0.2.20', srcPort: 5060, dstPort: 5060 };
const V6: Endpoints = { src: '2001:db8::10', dst: '2001:db8::20', srcPort: 5060, dstPort: 5060 };
const BIG = sipMessage('INVITE sip:bob@example.com SIP/2.0', 'frag@example.com', 3000);

function records(frames: Uint8Array[], start = 1): Array<{ sec: number; frac: number; data: Uint8Array }> {
  return frames.map((f, i) => ({ sec: start, frac: i, data: ethernet(f) }));
}

describe('IP fragment reassembly', () => {
  it('rebuilds a UDP datagram from IPv4 fragments in any order', () => {
    const frags = ipv4Fragments(V4, 17, udp(V4, BIG), 1500, 0x1234);
    expect(frags).toHaveLength(3);
    const { packets, stats, drops } = collect(
      pcap(records([frags[2], frags[0], frags[1]]), { linkType: LinkType.ETHERNET }),
    );
    expect(drops).toEqual({});
    expect(stats.reassembled).toBe(1);
    expect(packets).toHaveLength(1);
    expect(packets[0]).toMatchObject({
      reassembled: true,
      src: '192.0.2.10',
      dst: '192.0.2.20',
      payload: BIG,
    });
  });

  it('rebuilds a UDP datagram from IPv6 fragment headers', () => {
    const frags = ipv6Fragments(V6, 17, udp(V6, BIG), 1448, 77);
    const { packets, drops } = collect(pcap(records(frags), { linkType: LinkType.ETHERNET }));
    expect(drops).toEqual({});
    expect(packets.map((p) => [p.src, p.payload])).toEqual([['2001:db8::10', BIG]]);
  });

  it('keeps datagrams with the same id from different sources apart', () => {
    const other = { ...V4, src: '192.0.2.11' };
    const a = ipv4Fragments(V4, 17, udp(V4, BIG), 1500, 9);
    const b = ipv4Fragments(other, 17, udp(other, BIG.replace('frag@', 'frag2@')), 1500, 9);
    const { packets } = collect(
      pcap(records([a[0], b[0], a[1], b[1], b[2], a[2]]), { linkType: LinkType.ETHERNET }),
    );
    expect(packets.map((p) => p.src)).toEqual(['192.0.2.11', '192.0.2.10']);
  });

  it('counts a datagram missing a fragment at the end of the file, and one that timed out', () => {
    const a = ipv4Fragments(V4, 17, udp(V4, BIG), 1500, 1);
    const b = ipv4Fragments(V4, 17, udp(V4, BIG), 1500, 2);
    const frames = [...records([a[0], a[1]], 10), ...records([b[0], b[1]], 100)];
    const { packets, drops } = collect(pcap(frames, { linkType: LinkType.ETHERNET }), {
      fragmentTimeoutSeconds: 30,
    });
    expect(packets).toHaveLength(0);
    expect(drops).toEqual({ fragment_timeout: 1, fragment_incomplete: 1 });
  });

  it('bounds the datagrams under reassembly', () => {
    const firsts = Array.from(
      { length: 10 },
      (_, i) => ipv4Fragments(V4, 17, udp(V4, BIG), 1500, 100 + i)[0],
    );
    const { drops } = collect(pcap(records(firsts), { linkType: LinkType.ETHERNET }), {
      maxFragmentedDatagrams: 4,
    });
    expect(drops).toEqual({ fragment_overflow: 6, fragment_incomplete: 4 });
  });

  it('rejects fragments past 65535 bytes and non-final fragments not a multiple of 8', () => {
    const frags = ipv4Fragments(V4, 17, udp(V4, BIG), 1500, 5);
    const far = Uint8Array.from(frags[1]);
    far[6] = 0x3f; // MF and offset 0x1fff * 8 = 65528: past the end with any data
    far[7] = 0xff;
    const odd = ipv4Fragments(V4, 17, udp(V4, BIG), 1500 - 3, 6);
    odd[0][2] = 0; // the IP total length says 3 bytes fewer than the 8-byte aligned payload
    odd[0][3] = odd[0].length - 3;
    const { drops } = collect(
      pcap(records([far, odd[0].subarray(0, odd[0].length - 3)]), { linkType: LinkType.ETHERNET }),
    );
    expect(drops).toEqual({ fragment_bad: 2 });
  });
});
