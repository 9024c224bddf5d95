import hep from 'hep-js';

export interface HepPacketSpec {
  payload: string;
  captureId?: number;
  nodeName?: string;
  authKey?: string;
  payloadType?: number;
  srcIp?: string;
  srcPort?: number;
  /** capture time in ms since the epoch (default 1795600000.123456 s) */
  captureMs?: number;
  dstIp?: string;
  dstPort?: number;
}

/** A HEPv3 packet made by hep-js, the sipcapture project's own encoder, not by us. */
export function hep3(spec: HepPacketSpec): Buffer {
  return hep.encapsulate(spec.payload, {
    protocolFamily: 2,
    protocol: 17,
    srcIp: spec.srcIp ?? '192.0.2.10',
    dstIp: spec.dstIp ?? '192.0.2.20',
    srcPort: spec.srcPort ?? 5060,
    dstPort: spec.dstPort ?? 5060,
    timeSeconds: spec.captureMs === undefined ? 1_795_600_000 : Math.floor(spec.captureMs / 1000),
    timeUseconds: spec.captureMs === undefined ? 123_456 : Math.round((spec.captureMs % 1000) * 1000),
    payloadType: spec.payloadType ?? 1,
    captureId: spec.captureId ?? 2001,
    hepNodeName: spec.nodeName,
    capturePass: spec.authKey,
  });
}

/**
 * HEPv1/HEPv2 built from the layout Kamailio's siptrace writes (hep.h: struct hep_hdr,
 * hep_iphdr/hep_ip6hdr, and for v2 hep_timehdr in host byte order). hep-js has no v1/v2
 * encoder, so the layout is written out field by field here from the documented structs.
 */
export function hep12(
  version: 1 | 2,
  payload: string,
  options: { captureId?: number; ipv6?: boolean; seconds?: number; micros?: number } = {},
): Buffer {
  const ipv6 = options.ipv6 ?? false;
  const headerLength = ipv6 ? 40 : 16;
  const time = version === 2 ? 12 : 0;
  const body = Buffer.from(payload, 'utf8');
  const buf = Buffer.alloc(headerLength + time + body.length);
  buf[0] = version;
  buf[1] = headerLength;
  buf[2] = ipv6 ? 10 : 2;
  buf[3] = 17;
  buf.writeUInt16BE(5060, 4);
  buf.writeUInt16BE(5062, 6);
  if (ipv6) {
    buf.fill(0x20, 8, 24);
    buf.fill(0x21, 24, 40);
  } else {
    buf.set([192, 0, 2, 10], 8);
    buf.set([192, 0, 2, 20], 12);
  }
  if (version === 2) {
    buf.writeUInt32LE(options.seconds ?? 1_795_600_000, headerLength);
    buf.writeUInt32LE(options.micros ?? 654_321, headerLength + 4);
    buf.writeUInt16LE(options.captureId ?? 0, headerLength + 8);
  }
  body.copy(buf, headerLength + time);
  return buf;
}

/** A HEPv3 chunk, for building packets hep-js cannot make (odd orders, vendor chunks, bad lengths). */
export function chunk(vendor: number, type: number, body: Buffer, length = body.length + 6): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt16BE(vendor, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(length, 4);
  return Buffer.concat([head, body]);
}

export function hep3FromChunks(chunks: Buffer[]): Buffer {
  const body = Buffer.concat(chunks);
  const head = Buffer.from('HEP3\0\0', 'latin1');
  head.writeUInt16BE(body.length + 6, 4);
  return Buffer.concat([head, body]);
}

export function u8(n: number): Buffer {
  return Buffer.from([n]);
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
