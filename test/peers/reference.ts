import type { AddressRange } from '../../src/peers/address.js';
import { PEER_OTHER, PEER_SELF, type PeerEntry } from '../../src/peers/matcher.js';

/** An address as family and integer, reading IPv4-mapped IPv6 as IPv4. */
export function addressValue(bytes: Uint8Array): { family: 4 | 6; value: bigint } {
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  if (bytes.length === 16 && value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
  return { family: bytes.length === 4 ? 4 : 6, value };
}

function contains(ranges: readonly AddressRange[], family: 4 | 6, value: bigint): boolean {
  return ranges.some((r) => r.family === family && r.first <= value && value <= r.last);
}

/** The naive model: try every entry in order, every range of it, with the port check first. */
export function referencePeerOf(entries: readonly PeerEntry[], bytes: Uint8Array, port: number): number {
  const { family, value } = addressValue(bytes);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e.ports !== null && !e.ports.includes(port)) continue;
    if (contains(e.ranges, family, value)) return i + 1;
  }
  return PEER_OTHER;
}

export function referenceLookup(
  entries: readonly PeerEntry[],
  self: readonly AddressRange[],
  bytes: Uint8Array,
  port: number,
): number {
  const { family, value } = addressValue(bytes);
  if (contains(self, family, value)) return PEER_SELF;
  return referencePeerOf(entries, bytes, port);
}

/** Bytes of an integer address, 4 or 16 of them. */
export function bytesOf(value: bigint, length: 4 | 16): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return out;
}
