import { type HepParseError, OK, type Ok, ParseError } from '../../errors.js';

/** HEP payload type 1: a SIP message. Other types (RTCP, logs, JSON reports) are not counted. */
export const HEP_PAYLOAD_SIP = 1;

/**
 * One decoded HEP packet. Fields that refer to bytes are offsets into the decoded buffer, so
 * decoding copies nothing; one instance is reused for every packet.
 */
export class HepPacket {
  version = 0;
  ipFamily = 0;
  ipProtocol = 0;
  /** address bytes (4 for IPv4, 16 for IPv6); -1 when the packet carries none */
  sourceAddressStart = -1;
  sourceAddressEnd = -1;
  destinationAddressStart = -1;
  destinationAddressEnd = -1;
  sourcePort = 0;
  destinationPort = 0;
  timeSeconds = 0;
  timeMicroseconds = 0;
  /** the packet carries a capture time (chunk 0x0009, or the HEPv2 time header) */
  hasTime = false;
  /** -1 when the packet carries no capture agent ID */
  captureId = -1;
  captureNameStart = -1;
  captureNameEnd = -1;
  authKeyStart = -1;
  authKeyEnd = -1;
  payloadType = HEP_PAYLOAD_SIP;
  payloadStart = -1;
  payloadEnd = -1;
  /** the payload came from chunk 0x0010 and is a zlib or gzip stream */
  compressed = false;

  reset(): void {
    this.version = 0;
    this.ipFamily = 0;
    this.ipProtocol = 0;
    this.sourceAddressStart = -1;
    this.sourceAddressEnd = -1;
    this.destinationAddressStart = -1;
    this.destinationAddressEnd = -1;
    this.sourcePort = 0;
    this.destinationPort = 0;
    this.timeSeconds = 0;
    this.timeMicroseconds = 0;
    this.hasTime = false;
    this.captureId = -1;
    this.captureNameStart = -1;
    this.captureNameEnd = -1;
    this.authKeyStart = -1;
    this.authKeyEnd = -1;
    this.payloadType = HEP_PAYLOAD_SIP;
    this.payloadStart = -1;
    this.payloadEnd = -1;
    this.compressed = false;
  }
}

const HEP3_HEADER_LENGTH = 6;
const CHUNK_HEADER_LENGTH = 6;
const V2_TIME_HEADER_LENGTH = 12;

function u16(buf: Uint8Array, p: number): number {
  return (buf[p] << 8) | buf[p + 1];
}

function u32(buf: Uint8Array, p: number): number {
  return ((buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]) >>> 0;
}

function u32le(buf: Uint8Array, p: number): number {
  return (buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24)) >>> 0;
}

/** "HEP3" or "EEP3" (the older name that rev 37 of the spec still allows). */
export function isHep3Magic(buf: Uint8Array, p: number): boolean {
  return (
    (buf[p] === 0x48 || buf[p] === 0x45) && buf[p + 1] === 0x45 && buf[p + 2] === 0x50 && buf[p + 3] === 0x33
  );
}

/**
 * Decodes the HEP packet in buf[start, end): HEPv3 (chunks in any order), or HEPv1/HEPv2 as
 * Kamailio's siptrace writes them. Returns OK or a ParseError id; never throws.
 */
export function decodeHep(buf: Uint8Array, start: number, end: number, out: HepPacket): HepParseError | Ok {
  out.reset();
  const available = end - start;
  if (available < 4) return ParseError.HEP_TOO_SHORT;
  if (isHep3Magic(buf, start)) return decodeHep3(buf, start, end, out);
  const version = buf[start];
  if (version === 1 || version === 2) return decodeHep12(buf, start, end, out);
  return ParseError.HEP_BAD_MAGIC;
}

function decodeHep3(buf: Uint8Array, start: number, end: number, out: HepPacket): HepParseError | Ok {
  if (end - start < HEP3_HEADER_LENGTH) return ParseError.HEP_TOO_SHORT;
  const total = u16(buf, start + 4);
  // Bytes after the declared length are not part of this packet; fewer bytes mean truncation.
  if (total < HEP3_HEADER_LENGTH || total > end - start) return ParseError.HEP_BAD_LENGTH;
  const stop = start + total;
  out.version = 3;
  let p = start + HEP3_HEADER_LENGTH;
  while (p < stop) {
    if (stop - p < CHUNK_HEADER_LENGTH) return ParseError.HEP_BAD_CHUNK;
    const vendor = u16(buf, p);
    const type = u16(buf, p + 2);
    const length = u16(buf, p + 4);
    if (length < CHUNK_HEADER_LENGTH || length > stop - p) return ParseError.HEP_BAD_CHUNK;
    const body = p + CHUNK_HEADER_LENGTH;
    const bodyLength = length - CHUNK_HEADER_LENGTH;
    p += length;
    if (vendor !== 0) continue;
    switch (type) {
      case 0x0001:
        if (bodyLength !== 1) return ParseError.HEP_BAD_CHUNK;
        out.ipFamily = buf[body];
        break;
      case 0x0002:
        if (bodyLength !== 1) return ParseError.HEP_BAD_CHUNK;
        out.ipProtocol = buf[body];
        break;
      case 0x0003:
      case 0x0005:
        if (bodyLength !== (type === 0x0003 ? 4 : 16)) return ParseError.HEP_BAD_CHUNK;
        out.sourceAddressStart = body;
        out.sourceAddressEnd = body + bodyLength;
        break;
      case 0x0004:
      case 0x0006:
        if (bodyLength !== (type === 0x0004 ? 4 : 16)) return ParseError.HEP_BAD_CHUNK;
        out.destinationAddressStart = body;
        out.destinationAddressEnd = body + bodyLength;
        break;
      case 0x0007:
        if (bodyLength !== 2) return ParseError.HEP_BAD_CHUNK;
        out.sourcePort = u16(buf, body);
        break;
      case 0x0008:
        if (bodyLength !== 2) return ParseError.HEP_BAD_CHUNK;
        out.destinationPort = u16(buf, body);
        break;
      case 0x0009:
        if (bodyLength !== 4) return ParseError.HEP_BAD_CHUNK;
        out.timeSeconds = u32(buf, body);
        out.hasTime = true;
        break;
      case 0x000a:
        if (bodyLength !== 4) return ParseError.HEP_BAD_CHUNK;
        out.timeMicroseconds = u32(buf, body);
        break;
      case 0x000b:
        if (bodyLength !== 1) return ParseError.HEP_BAD_CHUNK;
        out.payloadType = buf[body];
        break;
      case 0x000c:
        // The spec says u32; early agents sent u16.
        if (bodyLength === 4) out.captureId = u32(buf, body);
        else if (bodyLength === 2) out.captureId = u16(buf, body);
        else return ParseError.HEP_BAD_CHUNK;
        break;
      case 0x000e:
        out.authKeyStart = body;
        out.authKeyEnd = body + bodyLength;
        break;
      case 0x000f:
        out.payloadStart = body;
        out.payloadEnd = body + bodyLength;
        out.compressed = false;
        break;
      case 0x0010:
        out.payloadStart = body;
        out.payloadEnd = body + bodyLength;
        out.compressed = true;
        break;
      case 0x0013:
        out.captureNameStart = body;
        out.captureNameEnd = body + bodyLength;
        break;
      default:
        // Keep-alive, correlation ID, VLAN, MOS and chunks from later revisions: not ours to read.
        break;
    }
  }
  if (out.payloadStart < 0 || out.payloadEnd === out.payloadStart) return ParseError.HEP_NO_PAYLOAD;
  return OK;
}

function decodeHep12(buf: Uint8Array, start: number, end: number, out: HepPacket): HepParseError | Ok {
  const version = buf[start];
  const headerLength = buf[start + 1];
  const family = buf[start + 2];
  // hp_l covers the 8-byte base header and both addresses; nothing else fits.
  if (!((family === 2 && headerLength === 16) || (family === 10 && headerLength === 40))) {
    return ParseError.HEP_BAD_HEADER;
  }
  const payloadStart = start + headerLength + (version === 2 ? V2_TIME_HEADER_LENGTH : 0);
  if (payloadStart > end) return ParseError.HEP_TOO_SHORT;
  out.version = version;
  out.ipFamily = family;
  out.ipProtocol = buf[start + 3];
  out.sourcePort = u16(buf, start + 4);
  out.destinationPort = u16(buf, start + 6);
  const addressLength = family === 2 ? 4 : 16;
  out.sourceAddressStart = start + 8;
  out.sourceAddressEnd = start + 8 + addressLength;
  out.destinationAddressStart = out.sourceAddressEnd;
  out.destinationAddressEnd = out.sourceAddressEnd + addressLength;
  if (version === 2) {
    // Kamailio writes the v2 time header in host order, which is little-endian on every platform it ships for.
    const time = start + headerLength;
    out.timeSeconds = u32le(buf, time);
    out.timeMicroseconds = u32le(buf, time + 4);
    out.hasTime = true;
    out.captureId = buf[time + 8] | (buf[time + 9] << 8);
  }
  if (payloadStart === end) return ParseError.HEP_NO_PAYLOAD;
  out.payloadStart = payloadStart;
  out.payloadEnd = end;
  return OK;
}
