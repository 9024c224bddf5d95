/** Link types the readers decode (LINKTYPE_* numbers from the tcpdump registry). */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export const Transport = { TCP: 6, UDP: 17 } as const;

/** What a decoded payload carries: a SIP message, or a HEP packet (UDP on a HEP port). */
export const PayloadKind = { SIP: 1, HEP: 2 } as const;

/**
 * One decoded SIP message or HEP packet. The reader hands the same object to every callback and
 * overwrites it afterwards, so that a million packets cost no million objects: copy what you keep.
 * `payload`, `addressBuf` likewise point into the reader's buffers and are only valid during the
 * callback.
 */
export class CapturedPacket {
  /** Capture time: whole seconds since the epoch, and nanoseconds within the second. */
  tsSec = 0;
  tsNsec = 0;
  linkType = 0;
  /** pcapng interface index (0 for pcap). */
  interfaceId = 0;
  ipVersion: 4 | 6 = 4;
  /** Addresses are bytes in `addressBuf`: 4 (IPv4) or 16 (IPv6) from the offsets. */
  addressBuf: Uint8Array = EMPTY;
  srcOffset = 0;
  dstOffset = 0;
  srcPort = 0;
  dstPort = 0;
  /** Transport.UDP or Transport.TCP. */
  transport: number = Transport.UDP;
  /** PayloadKind.SIP or PayloadKind.HEP. */
  kind: number = PayloadKind.SIP;
  /** The payload is payload[payloadStart, payloadEnd). */
  payload: Uint8Array = EMPTY;
  payloadStart = 0;
  payloadEnd = 0;
  /** True when the payload was rebuilt from IP fragments. */
  reassembled = false;

  /** Capture time in nanoseconds since the epoch (allocates a bigint; for the few who need it). */
  timeNs(): bigint {
    return BigInt(this.tsSec) * 1_000_000_000n + BigInt(this.tsNsec);
  }

  /** The source address as text ("192.0.2.1", "2001:db8::1"); formats on each call. */
  srcIp(): string {
    return formatAddress(this.addressBuf, this.srcOffset, this.ipVersion);
  }

  dstIp(): string {
    return formatAddress(this.addressBuf, this.dstOffset, this.ipVersion);
  }

  /** A copy of the payload, for callers that keep it past the callback. */
  payloadCopy(): Buffer {
    return Buffer.from(this.payload.subarray(this.payloadStart, this.payloadEnd));
  }
}

const EMPTY = new Uint8Array(0);

/** Formats an IPv4 or IPv6 address (RFC 5952: lowercase, longest zero run compressed). */
export function formatAddress(buf: Uint8Array, offset: number, ipVersion: 4 | 6): string {
  if (ipVersion === 4) return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((buf[offset + i] << 8) | buf[offset + i + 1]);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return words.map((w) => w.toString(16)).join(':');
  const head = words.slice(0, bestStart).map((w) => w.toString(16));
  const tail = words.slice(bestStart + bestLen).map((w) => w.toString(16));
  return `${head.join(':')}::${tail.join(':')}`;
}
