import { SreError } from '../errors.js';

/**
 * What the capture readers drop, one table: each reason has a bounded label (for a future
 * `reason` label and for the replay summary), a stable code and a description. Readers count
 * drops in a Float64Array indexed by these ids instead of throwing, so a bad file costs no
 * allocation per bad packet and never stops the read (except where the container itself can no
 * longer be followed, which is counted once and ends the file).
 */
interface CaptureDropInfo {
  readonly label: string;
  readonly code: string;
  readonly description: string;
}

const CAPTURE_DROPS = {
  CAPTURE_TRUNCATED_FILE: {
    label: 'truncated_file',
    description: 'the file ends inside a record or block header or body (a capture cut while being written)',
  },
  CAPTURE_CORRUPT_BLOCK: {
    label: 'corrupt_block',
    description:
      'a pcap record or pcapng block whose length is impossible (too small, not a multiple of 4, trailer mismatch, or over the record bound); the rest of the file cannot be followed and is not read',
  },
  CAPTURE_UNKNOWN_INTERFACE: {
    label: 'unknown_interface',
    description: 'a pcapng packet that names an interface no Interface Description Block declared',
  },
  CAPTURE_UNKNOWN_LINK_TYPE: {
    label: 'unknown_link_type',
    description:
      'a packet on a link type the readers do not decode (supported: Ethernet, Linux cooked v1/v2, raw IP, BSD null/loop)',
  },
  CAPTURE_SNAP_TRUNCATED: {
    label: 'snap_truncated',
    description: 'a packet cut by the snap length before the end of the headers or payload the readers need',
  },
  CAPTURE_BAD_LINK_HEADER: {
    label: 'bad_link_header',
    description: 'a frame shorter than its link-layer header (or than its VLAN tags)',
  },
  CAPTURE_NOT_IP: {
    label: 'not_ip',
    description: 'a frame that carries neither IPv4 nor IPv6 (ARP, LLDP, ...)',
  },
  CAPTURE_BAD_IP_HEADER: {
    label: 'bad_ip_header',
    description: 'an IP header with a wrong version, header length or total length',
  },
  CAPTURE_IPV6_EXTENSION_UNSUPPORTED: {
    label: 'ipv6_extension_unsupported',
    description: 'an IPv6 packet behind ESP or a malformed extension header chain',
  },
  CAPTURE_NOT_UDP_TCP: {
    label: 'not_udp_tcp',
    description: 'an IP packet that carries neither UDP nor TCP (ICMP, SCTP, ...)',
  },
  CAPTURE_BAD_TRANSPORT_HEADER: {
    label: 'bad_transport_header',
    description: 'a UDP or TCP header shorter than its minimum or whose length disagrees with the IP packet',
  },
  CAPTURE_FRAGMENT_BAD: {
    label: 'fragment_bad',
    description:
      'an IP fragment past 65535 bytes, overlapping inconsistently, or with a length not a multiple of 8',
  },
  CAPTURE_FRAGMENT_TIMEOUT: {
    label: 'fragment_timeout',
    description:
      'an IP datagram whose fragments did not all arrive within the reassembly timeout (capture time)',
  },
  CAPTURE_FRAGMENT_OVERFLOW: {
    label: 'fragment_overflow',
    description:
      'an incomplete IP datagram evicted because the bound on datagrams or fragments under reassembly was reached',
  },
  CAPTURE_FRAGMENT_INCOMPLETE: {
    label: 'fragment_incomplete',
    description: 'an IP datagram still missing fragments when the file ended',
  },
  CAPTURE_NOT_SIP: {
    label: 'not_sip',
    description:
      'a UDP payload (off the HEP ports) or a TCP stream that is not SIP; a stream is counted once, then skipped until a segment starts a SIP message',
  },
  CAPTURE_TCP_STREAM_LIMIT: {
    label: 'tcp_stream_limit',
    description: 'a TCP segment of a new stream while the bound on streams followed at once is reached',
  },
  CAPTURE_TCP_GAP: {
    label: 'tcp_gap',
    description:
      'bytes of a TCP stream never seen (a segment missing from the capture) or out-of-order data over the bound; the stream resynchronises on the next SIP start line',
  },
  CAPTURE_TCP_MESSAGE_TOO_LARGE: {
    label: 'tcp_message_too_large',
    description:
      'a SIP message over TCP larger than the per-stream bound, or whose Content-Length is not a number; its stream resynchronises',
  },
  CAPTURE_TCP_INCOMPLETE: {
    label: 'tcp_incomplete',
    description: 'a TCP stream that ended (FIN, RST, eviction or end of file) in the middle of a SIP message',
  },
} as const satisfies Record<string, Omit<CaptureDropInfo, 'code'>>;

export type CaptureDropName = keyof typeof CAPTURE_DROPS;

/** Drop ids, 1-based like the parse errors so that 0 means "not dropped". */
export const CaptureDrop = {} as { readonly [K in CaptureDropName]: number };
export const CAPTURE_DROP_INFO: CaptureDropInfo[] = [{ label: '', code: '', description: 'not dropped' }];
for (const [name, info] of Object.entries(CAPTURE_DROPS)) {
  (CaptureDrop as Record<string, number>)[name] = CAPTURE_DROP_INFO.length;
  CAPTURE_DROP_INFO.push({ ...info, code: `SRE_ERR_${name}` });
}

/** A counter per drop id (index 0 unused). */
export function newDropCounters(): Float64Array {
  return new Float64Array(CAPTURE_DROP_INFO.length);
}

/** Non-zero drop counters by label, for summaries and tests. */
export function dropsByLabel(drops: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (let id = 1; id < drops.length; id++) if (drops[id] > 0) out[CAPTURE_DROP_INFO[id].label] = drops[id];
  return out;
}

/**
 * The input is not a pcap or pcapng file at all (or not one we can read: an unknown pcapng
 * version). Thrown once at the start, never per packet; the CLI exits 2 on it.
 */
export class CaptureFormatError extends SreError {
  constructor(message: string) {
    super('SRE_ERR_CAPTURE_FORMAT', message);
    this.name = 'CaptureFormatError';
  }
}
