/**
 * Builds captures byte by byte for the reader tests, the benchmark and the files handed to tshark:
 * frames of every supported link type, IPv4/IPv6 (with fragments and extension headers), UDP and
 * TCP, wrapped in pcap or pcapng of either byte order.
 */

export function ipv4Bytes(address: string): number[] {
  return address.split('.').map(Number);
}

export function ipv6Bytes(address: string): number[] {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const words = (s: string | undefined) => (s ? s.split(':').map((w) => Number.parseInt(w, 16)) : []);
  const h = words(head);
  const t = words(tail);
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap((w) => [w >> 8, w & 0xff]);
}

function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}
function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

function checksum(bytes: Uint8Array | number[]): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i] << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface Endpoints {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
}

function pseudoHeader(e: Endpoints, protocol: number, length: number): number[] {
  if (e.src.includes(':')) {
    return [...ipv6Bytes(e.src), ...ipv6Bytes(e.dst), ...u32(length), 0, 0, 0, protocol];
  }
  return [...ipv4Bytes(e.src), ...ipv4Bytes(e.dst), 0, protocol, ...u16(length)];
}

/** A UDP datagram with a correct checksum (tshark then reports no checksum problems). */
export function udp(e: Endpoints, payload: Uint8Array | string): Uint8Array {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const out = new Uint8Array(8 + data.length);
  out.set([...u16(e.srcPort), ...u16(e.dstPort), ...u16(8 + data.length), 0, 0], 0);
  out.set(data, 8);
  let sum = checksum([...pseudoHeader(e, 17, out.length), ...out]);
  if (sum === 0) sum = 0xffff;
  out.set(u16(sum), 6);
  return out;
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export function tcp(e: Endpoints, seq: number, flags: number, payload: Uint8Array | string = ''): Uint8Array {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const out = new Uint8Array(20 + data.length);
  out.set([
    ...u16(e.srcPort),
    ...u16(e.dstPort),
    ...u32(seq >>> 0),
    ...u32(1),
    0x50,
    flags,
    ...u16(65535),
    0,
    0,
    0,
    0,
  ]);
  out.set(data, 20);
  out.set(u16(checksum([...pseudoHeader(e, 6, out.length), ...out])), 16);
  return out;
}

export interface Ipv4Options {
  id?: number;
  moreFragments?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  fragmentOffset?: number;
  ttl?: number;
}

export function ipv4(e: Endpoints, protocol: number, payload: Uint8Array, o: Ipv4Options = {}): Uint8Array {
  const out = new Uint8Array(20 + payload.length);
  const frag = ((o.moreFragments ? 0x2000 : 0) | ((o.fragmentOffset ?? 0) >> 3)) & 0xffff;
  out.set([
    0x45,
    0,
    ...u16(out.length),
    ...u16(o.id ?? 1),
    ...u16(frag),
    o.ttl ?? 64,
    protocol,
    0,
    0,
    ...ipv4Bytes(e.src),
    ...ipv4Bytes(e.dst),
  ]);
  out.set(u16(checksum(out.subarray(0, 20))), 10);
  out.set(payload, 20);
  return out;
}

/** Splits a transport segment into IPv4 fragments of at most `mtu` bytes of IP packet. */
export function ipv4Fragments(
  e: Endpoints,
  protocol: number,
  transport: Uint8Array,
  mtu: number,
  id: number,
): Uint8Array[] {
  const step = Math.floor((mtu - 20) / 8) * 8;
  const out: Uint8Array[] = [];
  for (let off = 0; off < transport.length; off += step) {
    const end = Math.min(transport.length, off + step);
    out.push(
      ipv4(e, protocol, transport.subarray(off, end), {
        id,
        fragmentOffset: off,
        moreFragments: end < transport.length,
      }),
    );
  }
  return out;
}

/** An IPv6 packet; `chain` lists extension headers as [their type, their bytes] in order. */
export function ipv6Chain(
  e: Endpoints,
  payloadType: number,
  payload: Uint8Array,
  chain: Array<[number, Uint8Array]>,
): Uint8Array {
  // chain[i] = [type, headerBytes] where headerBytes[0] will be set to the next type.
  const parts: Uint8Array[] = [];
  for (let i = 0; i < chain.length; i++) {
    const bytes = Uint8Array.from(chain[i][1]);
    bytes[0] = i + 1 < chain.length ? chain[i + 1][0] : payloadType;
    parts.push(bytes);
  }
  const ext = parts.reduce((n, x) => n + x.length, 0);
  const out = new Uint8Array(40 + ext + payload.length);
  out.set([0x60, 0, 0, 0, ...u16(ext + payload.length), chain.length > 0 ? chain[0][0] : payloadType, 64]);
  out.set(ipv6Bytes(e.src), 8);
  out.set(ipv6Bytes(e.dst), 24);
  let at = 40;
  for (const x of parts) {
    out.set(x, at);
    at += x.length;
  }
  out.set(payload, at);
  return out;
}

/** IPv6 fragments of a transport segment, each with a fragment header (type 44). */
export function ipv6Fragments(
  e: Endpoints,
  protocol: number,
  transport: Uint8Array,
  step: number,
  ident: number,
): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < transport.length; off += step) {
    const end = Math.min(transport.length, off + step);
    const header = Uint8Array.from([0, 0, ...u16(off | (end < transport.length ? 1 : 0)), ...u32(ident)]);
    out.push(ipv6Chain(e, protocol, transport.subarray(off, end), [[44, header]]));
  }
  return out;
}

const MAC_A = [0x02, 0, 0, 0, 0, 1];
const MAC_B = [0x02, 0, 0, 0, 0, 2];

export function ethernet(ip: Uint8Array, vlanTags: Array<{ tpid: number; vid: number }> = []): Uint8Array {
  const etherType = ip[0] >> 4 === 6 ? 0x86dd : 0x0800;
  const header = [...MAC_B, ...MAC_A];
  for (const tag of vlanTags) header.push(...u16(tag.tpid), ...u16(tag.vid));
  header.push(...u16(etherType));
  const out = new Uint8Array(header.length + ip.length);
  out.set(header);
  out.set(ip, header.length);
  return out;
}

/** Linux cooked capture v1 (LINKTYPE_LINUX_SLL). */
export function sll(ip: Uint8Array): Uint8Array {
  const etherType = ip[0] >> 4 === 6 ? 0x86dd : 0x0800;
  const out = new Uint8Array(16 + ip.length);
  out.set([0, 0, 0, 1, 0, 6, ...MAC_A, 0, 0, ...u16(etherType)]);
  out.set(ip, 16);
  return out;
}

/** Linux cooked capture v2 (LINKTYPE_LINUX_SLL2). */
export function sll2(ip: Uint8Array): Uint8Array {
  const etherType = ip[0] >> 4 === 6 ? 0x86dd : 0x0800;
  const out = new Uint8Array(20 + ip.length);
  out.set([...u16(etherType), 0, 0, ...u32(1), 0, 1, 0, 6, ...MAC_A, 0, 0]);
  out.set(ip, 20);
  return out;
}

/** BSD loopback (LINKTYPE_NULL): the family in the writer's byte order (little-endian here). */
export function nullLink(
  ip: Uint8Array,
  family = ip[0] >> 4 === 6 ? 30 : 2,
  littleEndian = true,
): Uint8Array {
  const out = new Uint8Array(4 + ip.length);
  out.set(littleEndian ? [family, 0, 0, 0] : u32(family));
  out.set(ip, 4);
  return out;
}

export interface Record {
  sec: number;
  /** Microseconds for a microsecond pcap, nanoseconds for a nanosecond one. */
  frac: number;
  data: Uint8Array;
  /** Length on the wire; defaults to data.length. */
  origLen?: number;
}

export interface PcapOptions {
  linkType: number;
  nanosecond?: boolean;
  bigEndian?: boolean;
  snapLen?: number;
}

export function pcap(records: Record[], o: PcapOptions): Uint8Array {
  const size = 24 + records.reduce((n, r) => n + 16 + r.data.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  const le = !o.bigEndian;
  view.setUint32(0, o.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4, le);
  view.setUint16(4, 2, le);
  view.setUint16(6, 4, le);
  view.setUint32(16, o.snapLen ?? 262144, le);
  view.setUint32(20, o.linkType, le);
  let at = 24;
  for (const r of records) {
    view.setUint32(at, r.sec, le);
    view.setUint32(at + 4, r.frac, le);
    view.setUint32(at + 8, r.data.length, le);
    view.setUint32(at + 12, r.origLen ?? r.data.length, le);
    out.set(r.data, at + 16);
    at += 16 + r.data.length;
  }
  return out;
}

export interface NgInterface {
  linkType: number;
  snapLen?: number;
  /** if_tsresol byte; omitted means microseconds. */
  tsresol?: number;
}

export interface NgPacket {
  interfaceId: number;
  /** Timestamp in the interface's units, as a bigint. */
  ts: bigint;
  data: Uint8Array;
  origLen?: number;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

class Writer {
  parts: Uint8Array[] = [];
  constructor(readonly le: boolean) {}
  block(type: number, body: Uint8Array): void {
    const length = 12 + body.length;
    const out = new Uint8Array(length);
    const v = new DataView(out.buffer);
    v.setUint32(0, type, this.le);
    v.setUint32(4, length, this.le);
    out.set(body, 8);
    v.setUint32(length - 4, length, this.le);
    this.parts.push(out);
  }
  concat(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

/** A pcapng file: one section (or several), interfaces, then enhanced packet blocks. */
export function pcapng(
  sections: Array<{ interfaces: NgInterface[]; packets: NgPacket[] }>,
  bigEndian = false,
): Uint8Array {
  const w = new Writer(!bigEndian);
  const le = !bigEndian;
  for (const section of sections) {
    const shb = new Uint8Array(16);
    const sv = new DataView(shb.buffer);
    sv.setUint32(0, 0x1a2b3c4d, le);
    sv.setUint16(4, 1, le);
    sv.setUint16(6, 0, le);
    sv.setBigInt64(8, -1n, le);
    w.block(0x0a0d0d0a, shb);
    for (const iface of section.interfaces) {
      const options = iface.tsresol === undefined ? 4 : 12;
      const idb = new Uint8Array(8 + options);
      const v = new DataView(idb.buffer);
      v.setUint16(0, iface.linkType, le);
      v.setUint32(4, iface.snapLen ?? 0, le);
      if (iface.tsresol !== undefined) {
        v.setUint16(8, 9, le);
        v.setUint16(10, 1, le);
        idb[12] = iface.tsresol;
      }
      w.block(1, idb);
    }
    for (const p of section.packets) {
      const epb = new Uint8Array(20 + pad4(p.data.length));
      const v = new DataView(epb.buffer);
      v.setUint32(0, p.interfaceId, le);
      v.setUint32(4, Number(p.ts >> 32n), le);
      v.setUint32(8, Number(p.ts & 0xffffffffn), le);
      v.setUint32(12, p.data.length, le);
      v.setUint32(16, p.origLen ?? p.data.length, le);
      epb.set(p.data, 20);
      w.block(6, epb);
    }
  }
  return w.concat();
}

/** A SIP message of exactly `size` bytes or more (a body of 'a's makes up the rest). */
export function sipMessage(firstLine: string, callId: string, bodySize = 0): string {
  const body = 'v=0\r\n'.padEnd(bodySize, 'a');
  return [
    firstLine,
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds',
    'From: <sip:alice@example.com>;tag=1928301774',
    'To: <sip:bob@example.com>;tag=a6c85cf',
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Content-Length: ${bodySize === 0 ? 0 : Buffer.byteLength(body)}`,
    '',
    bodySize === 0 ? '' : body,
  ].join('\r\n');
}
