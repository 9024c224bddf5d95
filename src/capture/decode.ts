import type { FrameSink } from './container.js';
import { CaptureDrop } from './errors.js';
import { FragmentTable, type PendingDatagram } from './fragments.js';
import { CapturedPacket, LinkType, PayloadKind, Transport } from './packet.js';
import { looksLikeSip } from './sip-framing.js';
import { TcpReassembler } from './tcp.js';

export interface DecoderOptions {
  /** UDP ports whose payload is HEP rather than SIP (either direction). Default [9060]. */
  hepPorts?: readonly number[];
  /** IP datagrams under reassembly at once. Default 1024. */
  maxFragmentedDatagrams?: number;
  /** Fragments per datagram. Default 128. */
  maxFragmentsPerDatagram?: number;
  /** Capture-time seconds a datagram may wait for its fragments. Default 30. */
  fragmentTimeoutSeconds?: number;
  /** TCP streams followed at once (one per direction). Default 10000. */
  maxTcpStreams?: number;
  /** Bytes buffered per TCP stream (largest SIP message, plus held out-of-order data). Default 65536. */
  maxTcpStreamBytes?: number;
  /** Capture-time seconds after which a silent TCP stream is forgotten. Default 300. */
  tcpIdleSeconds?: number;
}

export const DEFAULT_HEP_PORT = 9060;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;
/** More stacked tags than this is not a real frame. */
const MAX_VLAN_TAGS = 8;
const MAX_IPV6_EXTENSIONS = 8;

/** Packets the decoder saw and what became of them; `drops` is indexed by CaptureDrop ids. */
export interface DecoderCounts {
  frames: number;
  /** SIP messages and HEP packets handed to the callback. */
  emitted: number;
  /** IP datagrams rebuilt from fragments (whatever became of their payload). */
  reassembled: number;
}

/**
 * Decodes captured frames down to SIP messages (UDP on any port, TCP streams) and HEP packets
 * (UDP on the HEP ports), and hands each to `onPacket` in one reused CapturedPacket. Anything
 * else is counted in `drops` by reason. Pure: no I/O, no clock but the capture's.
 */
export class PacketDecoder implements FrameSink {
  readonly counts: DecoderCounts = { frames: 0, emitted: 0, reassembled: 0 };
  private readonly packet = new CapturedPacket();
  private readonly hepPorts = new Uint8Array(65536);
  private readonly fragments: FragmentTable;
  private readonly tcp: TcpReassembler;
  /** Whether the frame being decoded was cut by the snap length. */
  private cut = false;
  private readonly emitMessage = (buf: Uint8Array, start: number, end: number): void => {
    const p = this.packet;
    p.payload = buf;
    p.payloadStart = start;
    p.payloadEnd = end;
    p.kind = PayloadKind.SIP;
    this.counts.emitted++;
    this.onPacket(p);
  };

  constructor(
    private readonly onPacket: (packet: CapturedPacket) => void,
    private readonly drops: Float64Array,
    options: DecoderOptions = {},
  ) {
    for (const port of options.hepPorts ?? [DEFAULT_HEP_PORT])
      if (port > 0 && port < 65536) this.hepPorts[port] = 1;
    this.fragments = new FragmentTable(
      {
        maxDatagrams: options.maxFragmentedDatagrams ?? 1024,
        maxFragments: options.maxFragmentsPerDatagram ?? 128,
        timeoutSeconds: options.fragmentTimeoutSeconds ?? 30,
      },
      drops,
    );
    this.tcp = new TcpReassembler(
      {
        maxStreams: options.maxTcpStreams ?? 10_000,
        maxStreamBytes: options.maxTcpStreamBytes ?? 65_536,
        idleSeconds: options.tcpIdleSeconds ?? 300,
      },
      drops,
    );
  }

  /** Datagrams and streams held right now (for tests of the bounds). */
  held(): { datagrams: number; streams: number } {
    return { datagrams: this.fragments.size, streams: this.tcp.size };
  }

  frame(
    linkType: number,
    interfaceId: number,
    tsSec: number,
    tsNsec: number,
    buf: Uint8Array,
    start: number,
    end: number,
    origLen: number,
  ): void {
    this.counts.frames++;
    this.cut = origLen > end - start;
    const p = this.packet;
    p.tsSec = tsSec;
    p.tsNsec = tsNsec;
    p.linkType = linkType;
    p.interfaceId = interfaceId;
    let at = start;
    let etherType = 0;
    switch (linkType) {
      case LinkType.ETHERNET: {
        if (end - at < 14) {
          this.drop(CaptureDrop.CAPTURE_BAD_LINK_HEADER);
          return;
        }
        etherType = (buf[at + 12] << 8) | buf[at + 13];
        at += 14;
        let tags = 0;
        while (
          etherType === ETHERTYPE_VLAN ||
          etherType === ETHERTYPE_QINQ ||
          etherType === ETHERTYPE_QINQ_OLD
        ) {
          if (end - at < 4 || ++tags > MAX_VLAN_TAGS) {
            this.drop(CaptureDrop.CAPTURE_BAD_LINK_HEADER);
            return;
          }
          etherType = (buf[at + 2] << 8) | buf[at + 3];
          at += 4;
        }
        break;
      }
      case LinkType.LINUX_SLL:
      case LinkType.LINUX_SLL2: {
        // Linux cooked capture: v1 is 16 bytes with the protocol last, v2 is 20 with it first.
        const v2 = linkType === LinkType.LINUX_SLL2;
        const headerLength = v2 ? 20 : 16;
        if (end - at < headerLength) {
          this.drop(CaptureDrop.CAPTURE_BAD_LINK_HEADER);
          return;
        }
        const typeAt = v2 ? at : at + 14;
        etherType = (buf[typeAt] << 8) | buf[typeAt + 1];
        at += headerLength;
        break;
      }
      case LinkType.NULL:
      case LinkType.LOOP: {
        if (end - at < 4) {
          this.drop(CaptureDrop.CAPTURE_BAD_LINK_HEADER);
          return;
        }
        // NULL holds the family in the writer's byte order, LOOP in network order.
        const family =
          linkType === LinkType.LOOP || (buf[at] === 0 && buf[at + 1] === 0)
            ? (buf[at + 2] << 8) | buf[at + 3]
            : buf[at] | (buf[at + 1] << 8);
        at += 4;
        // AF_INET is 2 everywhere; AF_INET6 is 24, 28 or 30 on the BSDs and macOS, 10 on Linux.
        if (family === 2) etherType = ETHERTYPE_IPV4;
        else if (family === 24 || family === 28 || family === 30 || family === 10) etherType = ETHERTYPE_IPV6;
        break;
      }
      case LinkType.RAW:
      case 12: // DLT_RAW on most systems, as some writers put it in files
      case LinkType.IPV4:
      case LinkType.IPV6: {
        if (end - at < 1) {
          this.drop(CaptureDrop.CAPTURE_BAD_LINK_HEADER);
          return;
        }
        const version = buf[at] >> 4;
        etherType = version === 4 ? ETHERTYPE_IPV4 : version === 6 ? ETHERTYPE_IPV6 : 0;
        break;
      }
      default:
        this.drop(CaptureDrop.CAPTURE_UNKNOWN_LINK_TYPE);
        return;
    }
    if (etherType === ETHERTYPE_IPV4) this.ipv4(buf, at, end);
    else if (etherType === ETHERTYPE_IPV6) this.ipv6(buf, at, end);
    else this.drop(CaptureDrop.CAPTURE_NOT_IP);
  }

  private drop(reason: number): void {
    this.drops[reason]++;
  }

  /** Bytes missing: in a frame the snap length cut, that is the snap length's doing. */
  private short(reason: number): void {
    this.drops[this.cut ? CaptureDrop.CAPTURE_SNAP_TRUNCATED : reason]++;
  }

  private ipv4(buf: Uint8Array, at: number, end: number): void {
    if (end - at < 20) {
      this.short(CaptureDrop.CAPTURE_BAD_IP_HEADER);
      return;
    }
    const ihl = (buf[at] & 0x0f) * 4;
    if (buf[at] >> 4 !== 4 || ihl < 20) {
      this.drop(CaptureDrop.CAPTURE_BAD_IP_HEADER);
      return;
    }
    let total = (buf[at + 2] << 8) | buf[at + 3];
    // Packets captured before segmentation offload may say 0; trust the frame then.
    if (total === 0) total = end - at;
    if (total < ihl) {
      this.drop(CaptureDrop.CAPTURE_BAD_IP_HEADER);
      return;
    }
    if (total > end - at) {
      this.short(CaptureDrop.CAPTURE_BAD_IP_HEADER);
      return;
    }
    const ipEnd = at + total; // drops Ethernet padding
    const protocol = buf[at + 9];
    const fragField = (buf[at + 6] << 8) | buf[at + 7];
    const more = (fragField & 0x2000) !== 0;
    const offset = (fragField & 0x1fff) * 8;
    const p = this.packet;
    p.ipVersion = 4;
    if (more || offset !== 0) {
      if (protocol !== Transport.UDP && protocol !== Transport.TCP) {
        this.drop(CaptureDrop.CAPTURE_NOT_UDP_TCP);
        return;
      }
      const key = `4:${buf[at + 12]}.${buf[at + 13]}.${buf[at + 14]}.${buf[at + 15]}>${buf[at + 16]}.${buf[at + 17]}.${buf[at + 18]}.${buf[at + 19]}:${(buf[at + 4] << 8) | buf[at + 5]}:${protocol}`;
      const done = this.fragments.add(
        key,
        4,
        protocol,
        buf,
        at + 12,
        at + 16,
        offset,
        more,
        at + ihl,
        ipEnd,
        p.tsSec,
      );
      if (done !== null) this.reassembled(protocol, done);
      return;
    }
    p.addressBuf = buf;
    p.srcOffset = at + 12;
    p.dstOffset = at + 16;
    this.transport(protocol, buf, at + ihl, ipEnd, false);
  }

  private ipv6(buf: Uint8Array, at: number, end: number): void {
    if (end - at < 40) {
      this.short(CaptureDrop.CAPTURE_BAD_IP_HEADER);
      return;
    }
    if (buf[at] >> 4 !== 6) {
      this.drop(CaptureDrop.CAPTURE_BAD_IP_HEADER);
      return;
    }
    let payloadLength = (buf[at + 4] << 8) | buf[at + 5];
    if (payloadLength === 0) payloadLength = end - at - 40; // jumbogram or offload: trust the frame
    if (40 + payloadLength > end - at) {
      this.short(CaptureDrop.CAPTURE_BAD_IP_HEADER);
      return;
    }
    const ipEnd = at + 40 + payloadLength;
    const p = this.packet;
    p.ipVersion = 6;
    let next = buf[at + 6];
    let h = at + 40;
    for (let n = 0; ; n++) {
      if (next === Transport.UDP || next === Transport.TCP) break;
      if (n >= MAX_IPV6_EXTENSIONS) {
        this.drop(CaptureDrop.CAPTURE_IPV6_EXTENSION_UNSUPPORTED);
        return;
      }
      if (next === 0 || next === 43 || next === 60 || next === 51) {
        if (ipEnd - h < 8) {
          this.short(CaptureDrop.CAPTURE_IPV6_EXTENSION_UNSUPPORTED);
          return;
        }
        const length = next === 51 ? (buf[h + 1] + 2) * 4 : (buf[h + 1] + 1) * 8;
        if (ipEnd - h < length) {
          this.short(CaptureDrop.CAPTURE_IPV6_EXTENSION_UNSUPPORTED);
          return;
        }
        next = buf[h];
        h += length;
        continue;
      }
      if (next === 44) {
        if (ipEnd - h < 8) {
          this.short(CaptureDrop.CAPTURE_IPV6_EXTENSION_UNSUPPORTED);
          return;
        }
        const protocol = buf[h];
        const field = (buf[h + 2] << 8) | buf[h + 3];
        const offset = field & 0xfff8;
        const more = (field & 1) !== 0;
        const ident = ((buf[h + 4] << 24) | (buf[h + 5] << 16) | (buf[h + 6] << 8) | buf[h + 7]) >>> 0;
        if (offset === 0 && !more) {
          // An atomic fragment (RFC 6946): nothing to reassemble.
          next = protocol;
          h += 8;
          continue;
        }
        if (protocol !== Transport.UDP && protocol !== Transport.TCP) {
          this.drop(CaptureDrop.CAPTURE_NOT_UDP_TCP);
          return;
        }
        let key = '6:';
        for (let i = at + 8; i < at + 40; i++) key += String.fromCharCode(buf[i]);
        key += `:${ident}:${protocol}`;
        const done = this.fragments.add(
          key,
          6,
          protocol,
          buf,
          at + 8,
          at + 24,
          offset,
          more,
          h + 8,
          ipEnd,
          p.tsSec,
        );
        if (done !== null) this.reassembled(protocol, done);
        return;
      }
      if (next === 50) {
        this.drop(CaptureDrop.CAPTURE_IPV6_EXTENSION_UNSUPPORTED);
        return;
      }
      this.drop(CaptureDrop.CAPTURE_NOT_UDP_TCP);
      return;
    }
    p.addressBuf = buf;
    p.srcOffset = at + 8;
    p.dstOffset = at + 24;
    this.transport(next, buf, h, ipEnd, false);
  }

  /** Decodes the payload of a datagram rebuilt from its fragments, addressed as its first one. */
  private reassembled(protocol: number, done: { datagram: PendingDatagram; payload: Uint8Array }): void {
    const p = this.packet;
    p.addressBuf = done.datagram.addresses;
    p.srcOffset = 0;
    p.dstOffset = 16;
    this.counts.reassembled++;
    this.transport(protocol, done.payload, 0, done.payload.length, true);
  }

  private transport(protocol: number, buf: Uint8Array, at: number, end: number, reassembled: boolean): void {
    const p = this.packet;
    p.reassembled = reassembled;
    if (protocol === Transport.UDP) {
      if (end - at < 8) {
        this.short(CaptureDrop.CAPTURE_BAD_TRANSPORT_HEADER);
        return;
      }
      const length = (buf[at + 4] << 8) | buf[at + 5];
      if (length < 8) {
        this.drop(CaptureDrop.CAPTURE_BAD_TRANSPORT_HEADER);
        return;
      }
      if (length > end - at) {
        this.short(CaptureDrop.CAPTURE_BAD_TRANSPORT_HEADER);
        return;
      }
      p.transport = Transport.UDP;
      p.srcPort = (buf[at] << 8) | buf[at + 1];
      p.dstPort = (buf[at + 2] << 8) | buf[at + 3];
      p.payload = buf;
      p.payloadStart = at + 8;
      p.payloadEnd = at + length;
      if (this.hepPorts[p.srcPort] === 1 || this.hepPorts[p.dstPort] === 1) p.kind = PayloadKind.HEP;
      else if (looksLikeSip(buf, at + 8, at + length)) p.kind = PayloadKind.SIP;
      else {
        this.drop(CaptureDrop.CAPTURE_NOT_SIP);
        return;
      }
      this.counts.emitted++;
      this.onPacket(p);
      return;
    }
    if (protocol === Transport.TCP) {
      if (end - at < 20) {
        this.short(CaptureDrop.CAPTURE_BAD_TRANSPORT_HEADER);
        return;
      }
      const dataOffset = (buf[at + 12] >> 4) * 4;
      if (dataOffset < 20 || dataOffset > end - at) {
        this.short(CaptureDrop.CAPTURE_BAD_TRANSPORT_HEADER);
        return;
      }
      p.transport = Transport.TCP;
      p.srcPort = (buf[at] << 8) | buf[at + 1];
      p.dstPort = (buf[at + 2] << 8) | buf[at + 3];
      const seq = ((buf[at + 4] << 24) | (buf[at + 5] << 16) | (buf[at + 6] << 8) | buf[at + 7]) >>> 0;
      this.tcp.segment(
        this.streamKey(),
        seq,
        buf[at + 13],
        buf,
        at + dataOffset,
        end,
        p.tsSec,
        this.emitMessage,
      );
      return;
    }
    this.drop(CaptureDrop.CAPTURE_NOT_UDP_TCP);
  }

  /** One direction of a TCP connection, as a Map key (TCP segments only). */
  private streamKey(): string {
    const p = this.packet;
    const b = p.addressBuf;
    const n = p.ipVersion === 4 ? 4 : 16;
    let key = '';
    for (let i = 0; i < n; i++) key += String.fromCharCode(b[p.srcOffset + i]);
    key += String.fromCharCode(p.srcPort);
    for (let i = 0; i < n; i++) key += String.fromCharCode(b[p.dstOffset + i]);
    key += String.fromCharCode(p.dstPort);
    return key;
  }

  /** The input ended: count what is left half-done. */
  finish(): void {
    this.fragments.finish();
    this.tcp.finish();
  }
}
