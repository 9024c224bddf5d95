/**
 * Every code the exporter logs, prints or counts (`SRE_ERR_*`, `SRE_WARN_*`, `SRE_INFO_*`) is defined here, once,
 * with what it means and what to do; docs/errors.md is generated from these tables and a test
 * fails when src/ names a code that is not here, or a code here is never used.
 *
 * Parse errors on the hot path are small integers, not Error objects, so that rejecting garbage
 * costs no allocation; each one maps to a code and to a bounded `reason` label for
 * `sip_exporter_parse_errors_total`. Their ids are typed per source, so an id that one source
 * produces cannot count into another's table.
 */

/**
 * How a code reaches the operator: `error`, `warn` and `info` are logged (or printed at start) once
 * per event; `counted` only counts.
 */
export type CodeLevel = 'error' | 'warn' | 'info' | 'counted';

export interface CodeInfo {
  readonly level: CodeLevel;
  /** when it happens */
  readonly meaning: string;
  /** what the operator does about it */
  readonly action: string;
}

/** The codes that are logged or printed; parse errors follow below. */
const LOGGED = {
  SRE_ERR_CONFIG: {
    level: 'error',
    meaning:
      'a bad key or value in the flags, the environment or the config file; an unreadable or unparsable config or web config file; a TLS key that does not match its certificate',
    action:
      'fix what the message names (it names the key, and the flag or variable that gave the value) and check with `--config.check`; at start the exporter exits 2, on SIGHUP the old configuration stays',
  },
  SRE_ERR_LISTEN: {
    level: 'error',
    meaning: 'a listen address cannot be bound (in use, not local, or not permitted)',
    action:
      'set the flag and file key the message names to a free address, or to "" to disable that listener',
  },
  SRE_ERR_START: {
    level: 'error',
    meaning: 'anything else that stops the start; the exporter exits 2',
    action: 'a bug: please report it with the message',
  },
  SRE_ERR_RELOAD: {
    level: 'error',
    meaning:
      'a reload (SIGHUP) failed for a reason other than a bad configuration; the old configuration stays',
    action: 'a bug: please report it with the message; restart to apply the new configuration',
  },
  SRE_ERR_SHUTDOWN: {
    level: 'error',
    meaning: 'stopping failed (a listener or the HTTP server could not close); the exporter exits 1',
    action: 'a bug: please report it with the logged error',
  },
  SRE_ERR_SHUTDOWN_TIMEOUT: {
    level: 'error',
    meaning:
      'stopping took longer than 5 s in all (a scrape stuck halfway through its request holds the HTTP side, for example); the exporter exits 1',
    action: 'nothing is lost that was counted; look for a client that holds a connection open',
  },
  SRE_ERR_UDP: {
    level: 'error',
    meaning: 'a UDP socket reported an error after it was bound',
    action:
      'check the logged error; restart the exporter if `sip_exporter_listener_up{transport="udp"}` is 0',
  },
  SRE_WARN_NO_LISTENERS: {
    level: 'warn',
    meaning: '`hep.listen_address`, `syslog.listen_address` and `syslog.tls.listen_address` are all empty',
    action: 'nothing will be counted: set at least one listen address',
  },
  SRE_WARN_UNKNOWN_ENV: {
    level: 'warn',
    meaning:
      'a `SIP_EXPORTER_` variable that is no option (a typo would leave its option at the default); names the one meant',
    action: 'rename the variable to the one suggested, or remove it',
  },
  SRE_WARN_TLS_UNUSED: {
    level: 'warn',
    meaning:
      '`syslog.tls.cert_file`, `key_file` or `client_ca_file` is set but `syslog.tls.listen_address` is empty',
    action: 'set `--syslog.tls.listen-address` (for example ":6514") or remove the TLS files',
  },
  SRE_WARN_RELOAD_NEEDS_RESTART: {
    level: 'warn',
    meaning: 'a reload changed keys that take effect only after a restart; they keep their running value',
    action: 'restart the exporter to apply the keys the message lists',
  },
  SRE_WARN_UDP_BUFFER: {
    level: 'warn',
    meaning: 'the kernel granted a smaller UDP receive buffer than `--*.udp-receive-buffer` asked for',
    action:
      'raise `net.core.rmem_max` (sysctl) to at least the size asked, or bursts are dropped (`sip_exporter_udp_receive_drops_total`)',
  },
  SRE_WARN_NODE_TWO_SOURCES: {
    level: 'warn',
    meaning:
      'one sender address, or one node label, reports through both HEP and syslog, so its messages are counted twice under two node labels',
    action:
      'send one source per proxy (docs/sources/README.md); a syslog relay that also sends HEP for itself can ignore it',
  },
  SRE_WARN_UDP_BATCH_UNAVAILABLE: {
    level: 'warn',
    meaning:
      'batched UDP receive (`recvmmsg` through the native addon) is unavailable: not Linux, the addon was not built or failed to load; UDP is read with `dgram`, one datagram at a time',
    action:
      'install python3, make and a C++ compiler and run `npm install` again (or use the container image) if UDP load nears 100,000 datagrams per second; else nothing',
  },
  SRE_INFO_UDP_DGRAM: {
    level: 'info',
    meaning: '`--ingest.udp-batch=false` chose to read UDP with `dgram`, one datagram at a time',
    action: 'nothing; set `--ingest.udp-batch=true` for batched receive',
  },
  SRE_ERR_CAPTURE_FORMAT: {
    level: 'error',
    meaning:
      'a file given to the capture reader is not a capture it can read: an unknown magic number, an empty file, an unsupported pcapng major version',
    action:
      'check the file with `capinfos`; convert another format to pcapng with `editcap -F pcapng` (damage inside a capture is counted, not this error)',
  },
  SRE_ERR_REPLAY_FILE: {
    level: 'error',
    meaning:
      'a file given to `replay` cannot be opened or read (missing, a directory, no permission); the command exits 2',
    action: 'check the path and its permissions',
  },
  SRE_ERR_REPLAY_USAGE: {
    level: 'error',
    meaning:
      'a bad `replay` flag value: `--output`, `--replay.step`, `--replay.hep-ports` or `--replay.node`; the command exits 2',
    action: 'fix the flag the message names (`sip-response-exporter replay --help` lists them)',
  },
  SRE_ERR_REPLAY_TOO_MANY_STEPS: {
    level: 'error',
    meaning:
      'the capture spans more steps of `--replay.step` than the OpenMetrics output allows (100,000 steps, or 20,000,000 samples over all series), often because one packet has a wrong timestamp; the command exits 2',
    action:
      'choose a larger `--replay.step`, or cut the capture to the time of interest with `editcap -A START -B STOP`',
  },
  SRE_WARN_PEER_HIDDEN: {
    level: 'warn',
    meaning:
      'a `peers` entry can never match: entries listed before it cover every address and port it lists (first match wins); logged at start, by `--config.check` and on each reload',
    action: 'move the narrower entry above the one that covers it, or remove it (docs/peers.md)',
  },
  SRE_WARN_DEMO: {
    level: 'warn',
    meaning:
      '`--demo` plays the capture bundled with the exporter in a loop as live traffic, under `node="demo"`: its numbers are not real traffic',
    action: 'nothing for a trial; run without `--demo` for real traffic (docs/demo.md)',
  },
  SRE_ERR_DEMO_FILE: {
    level: 'error',
    meaning:
      '`--demo` cannot read the capture bundled with the exporter (`demo/lab.pcap` in the package): a broken install, or a capture with no SIP; the exporter does not start',
    action: 'reinstall the package or rebuild the image; `demo/` must ship beside `dist/`',
  },
  SRE_WARN_HEP_FORWARD_DOWN: {
    level: 'warn',
    meaning:
      'a `hep.forward_address` target cannot be reached: its name does not resolve, its socket cannot be opened, (TCP) the connection failed or was lost, or (UDP) it answers port unreachable; logged once per outage while the exporter retries with backoff (TCP: what arrives meanwhile is dropped and counted as `sip_exporter_hep_forwarded_total{result="dropped_disconnected"}`)',
    action:
      'check that the receiver (Homer, heplify-server) runs and listens on that address and transport; counting goes on regardless (docs/forwarding.md)',
  },
  SRE_WARN_HEP_FORWARD_UNUSED: {
    level: 'warn',
    meaning: '`hep.forward_address` is set but `hep.listen_address` is empty: there is no HEP to forward',
    action: 'set `--hep.listen-address` (for example ":9060"), or remove the forwarding targets',
  },
  SRE_INFO_HEP_FORWARD_UP: {
    level: 'info',
    meaning:
      'a `hep.forward_address` target is reachable again after an outage (TCP connected; UDP socket open and no port unreachable for a second)',
    action: 'nothing',
  },
} as const satisfies Record<`SRE_${'ERR' | 'WARN' | 'INFO'}_${string}`, CodeInfo>;

/**
 * The sources whose input can be malformed; each has its own parse error ids. A new source (a
 * capture file reader, say) adds its name here and its errors, prefixed with it, to PARSE_ERRORS
 * below; it then has its own id type and list, and docs/errors.md and docs/metrics.md list its
 * reasons after `npm run generate`.
 */
export type ParseErrorSource = 'hep' | 'sip' | 'syslog';

interface ParseErrorSpec {
  /** value of the `reason` label */
  readonly label: string;
  readonly description: string;
  readonly action: string;
}

const REPORT = 'a bug: please report it with the input';
const FIX_SENDER = 'fix the sender, or find what else sends to this port';

/**
 * Every parse error, by name; the code is `SRE_ERR_` + the name, the `reason` label the name in
 * lower case. The prefix names the source: `HEP_` from the HEP decoder and stream splitter,
 * `SIP_` from the SIP scanner (which only the HEP path counts: syslog's `sip-message` extractor
 * treats a line the scanner rejects as no match, and the next extractor tries it), `SYSLOG_`
 * from the syslog parser, framing and extractors.
 */
const PARSE_ERRORS = {
  HEP_TOO_SHORT: {
    label: 'hep_too_short',
    description: 'packet shorter than any HEP header',
    action: FIX_SENDER,
  },
  HEP_BAD_MAGIC: {
    label: 'hep_bad_magic',
    description: 'not HEP3/EEP3 and not a HEPv1/v2 header',
    action: 'something that is not a HEP agent sends to the HEP port: find it by its source address',
  },
  HEP_BAD_LENGTH: {
    label: 'hep_bad_length',
    description: 'HEPv3 total length disagrees with the bytes received',
    action: `${FIX_SENDER}; over UDP, a packet larger than the path MTU may have been cut`,
  },
  HEP_BAD_CHUNK: {
    label: 'hep_bad_chunk',
    description:
      'a HEPv3 chunk is shorter than its header, runs past the packet, or has the wrong size for its type',
    action: FIX_SENDER,
  },
  HEP_BAD_HEADER: {
    label: 'hep_bad_header',
    description: 'a HEPv1/v2 header whose length does not fit its address family',
    action: FIX_SENDER,
  },
  HEP_NO_PAYLOAD: {
    label: 'hep_no_payload',
    description: 'a HEP packet without a payload',
    action: 'check the capture agent configuration: it sends empty packets',
  },
  HEP_INFLATE_FAILED: {
    label: 'hep_inflate_failed',
    description: 'a compressed payload that is not zlib or gzip',
    action: 'switch the agent to zlib/gzip compression or turn compression off',
  },
  HEP_INFLATE_TOO_LARGE: {
    label: 'hep_inflate_too_large',
    description: 'a compressed payload that inflates past `--hep.max-inflated-size`',
    action:
      'raise `--hep.max-inflated-size` if the payloads are real SIP messages; else it is a decompression bomb',
  },
  HEP_FRAME_TOO_LARGE: {
    label: 'hep_frame_too_large',
    description: 'a HEP packet over TCP larger than `--hep.max-packet-size` (the connection is closed)',
    action: 'raise `--hep.max-packet-size` if the sender really sends such packets',
  },
  HEP_STREAM_NOT_V3: {
    label: 'hep_stream_not_v3',
    description:
      'a TCP stream that does not carry HEPv3: HEPv1/v2 have no length field to frame them (closed)',
    action: 'send HEPv1/v2 over UDP, or switch the agent to HEPv3',
  },
  HEP_INTERNAL: {
    label: 'hep_internal',
    description:
      'a packet whose handling failed unexpectedly: counted and dropped, the listener and the TCP stream go on',
    action: `${REPORT} (the packet)`,
  },
  SIP_BAD_START_LINE: {
    label: 'sip_bad_start_line',
    description: 'the payload starts with neither a SIP status line nor a request line',
    action: 'check what the agent captures: the payload type says SIP but the payload is not',
  },
  SIP_BAD_STATUS_CODE: {
    label: 'sip_bad_status_code',
    description: 'a status line whose code is not 100-699',
    action: 'find the element that sends it: such a response breaks RFC 3261',
  },
  SYSLOG_MALFORMED: {
    label: 'syslog_malformed',
    description:
      'a syslog message without a valid `<PRI>` (0-191) or without the header its format requires; for RFC 5424: a header field missing, longer than the RFC allows or not printable ASCII, or a TIMESTAMP that is neither `-` nor RFC 3339',
    action: "check the sender's template: it must send RFC 3164 or RFC 5424 with a `<PRI>`",
  },
  SYSLOG_BAD_OCTET_COUNT: {
    label: 'syslog_bad_octet_count',
    description:
      'an octet-counted TCP frame whose length is not a number followed by a space (the connection is closed)',
    action: 'configure the sender for octet counting (RFC 6587) or for LF-terminated frames, not a mix',
  },
  SYSLOG_FRAME_TOO_LARGE: {
    label: 'syslog_frame_too_large',
    description:
      'a syslog frame over TCP or TLS larger than `--syslog.max-frame-size` (closed; the claimed size is never allocated)',
    action: 'raise `--syslog.max-frame-size` if the sender really logs such lines',
  },
  SYSLOG_BAD_STATUS_CODE: {
    label: 'syslog_bad_status_code',
    description: 'an extractor matched a line whose status code is not 100-699',
    action: "check the custom extractor's `code` group, or the proxy's log template",
  },
  SYSLOG_BAD_STRUCTURED_DATA: {
    label: 'syslog_bad_structured_data',
    description:
      'an RFC 5424 message whose STRUCTURED-DATA breaks the grammar of RFC 5424 section 6.3: an element or value not terminated, an SD-ID or PARAM-NAME empty, longer than 32 or holding `=`, space, `]`, `"` or a non-ASCII character, a param without `="..."`, or something other than a space between the structured data and MSG',
    action: FIX_SENDER,
  },
  SYSLOG_UNPARSEABLE: {
    label: 'syslog_unparseable',
    description:
      'a message whose handling failed unexpectedly: counted and dropped, the listener and the connection go on',
    action: `${REPORT} (the line)`,
  },
} as const satisfies Record<`${Uppercase<ParseErrorSource>}_${string}`, ParseErrorSpec>;

export type ParseErrorName = keyof typeof PARSE_ERRORS;

/**
 * What the capture file readers drop, by name; the code is `SRE_ERR_` + the name. A capture is
 * read apart from the listeners, so its drops have their own ids (1-based, 0 is "not dropped")
 * and their own type: a drop id cannot count as a parse error, nor a parse error as a drop.
 * Damage inside a file is never logged; each unusable packet is counted under one reason.
 */
const CAPTURE_DROPS = {
  CAPTURE_TRUNCATED_FILE: {
    label: 'truncated_file',
    description: 'the file ends inside a record or block header or body (a capture cut while being written)',

    action:
      'wait until the capture is closed (stop tcpdump first, or rotate with `-G`/`-C`) before reading it',
  },
  CAPTURE_CORRUPT_BLOCK: {
    label: 'corrupt_block',
    description:
      'a pcap record or pcapng block whose length is impossible (too small, not a multiple of 4, trailer mismatch, or over the record bound); the rest of the file cannot be followed and is not read',

    action: 'the file is damaged past this point; `pcapfix` may recover it, or take another capture',
  },
  CAPTURE_UNKNOWN_INTERFACE: {
    label: 'unknown_interface',
    description: 'a pcapng packet that names an interface no Interface Description Block declared',

    action: 'the file is damaged or written by a broken tool; rewrite it with `editcap -F pcapng`',
  },
  CAPTURE_UNKNOWN_LINK_TYPE: {
    label: 'unknown_link_type',
    description:
      'a packet on a link type the readers do not decode (supported: Ethernet, Linux cooked v1/v2, raw IP, BSD null/loop)',

    action: 'capture on an Ethernet or `any` interface, or convert the file with `editcap -T ether`',
  },
  CAPTURE_SNAP_TRUNCATED: {
    label: 'snap_truncated',
    description: 'a packet cut by the snap length before the end of the headers or payload the readers need',

    action: 'capture with the full snap length (`tcpdump -s 0`, the default of recent tcpdump)',
  },
  CAPTURE_BAD_LINK_HEADER: {
    label: 'bad_link_header',
    description: 'a frame shorter than its link-layer header (or than its VLAN tags)',

    action: 'the frame is damaged; nothing to do unless many are',
  },
  CAPTURE_NOT_IP: {
    label: 'not_ip',
    description: 'a frame that carries neither IPv4 nor IPv6 (ARP, LLDP, ...)',

    action: 'nothing: filter the capture (`tcpdump ... udp or tcp`) to keep files small',
  },
  CAPTURE_BAD_IP_HEADER: {
    label: 'bad_ip_header',
    description: 'an IP header with a wrong version, header length or total length',

    action: 'the packet is damaged; nothing to do unless many are',
  },
  CAPTURE_IPV6_EXTENSION_UNSUPPORTED: {
    label: 'ipv6_extension_unsupported',
    description: 'an IPv6 packet behind ESP or a malformed extension header chain',

    action: 'nothing: encrypted (ESP) traffic cannot be read; capture before encryption',
  },
  CAPTURE_NOT_UDP_TCP: {
    label: 'not_udp_tcp',
    description: 'an IP packet that carries neither UDP nor TCP (ICMP, SCTP, ...)',

    action: 'nothing: filter the capture to the SIP and HEP ports to keep files small',
  },
  CAPTURE_BAD_TRANSPORT_HEADER: {
    label: 'bad_transport_header',
    description: 'a UDP or TCP header shorter than its minimum or whose length disagrees with the IP packet',

    action: 'the packet is damaged; nothing to do unless many are',
  },
  CAPTURE_FRAGMENT_BAD: {
    label: 'fragment_bad',
    description:
      'an IP fragment past 65535 bytes, overlapping inconsistently, or with a length not a multiple of 8',

    action: 'the fragments are damaged or hostile; nothing to do unless many are',
  },
  CAPTURE_FRAGMENT_TIMEOUT: {
    label: 'fragment_timeout',
    description:
      'an IP datagram whose fragments did not all arrive within the reassembly timeout (capture time)',

    action: 'the capture missed fragments (a lossy capture point, or the capture began mid-datagram)',
  },
  CAPTURE_FRAGMENT_OVERFLOW: {
    label: 'fragment_overflow',
    description:
      'an incomplete IP datagram evicted because the bound on datagrams or fragments under reassembly was reached',

    action: 'many datagrams were fragmented at once and incomplete; look for loss at the capture point',
  },
  CAPTURE_FRAGMENT_INCOMPLETE: {
    label: 'fragment_incomplete',
    description: 'an IP datagram still missing fragments when the file ended',

    action: 'normal for a datagram cut by the end of the capture; else the capture missed fragments',
  },
  CAPTURE_NOT_SIP: {
    label: 'not_sip',
    description:
      'a UDP payload (off the HEP ports) or a TCP stream that is not SIP; a stream is counted once, then skipped until a segment starts a SIP message',

    action: 'nothing: filter the capture to the SIP and HEP ports to skip other traffic',
  },
  CAPTURE_TCP_STREAM_LIMIT: {
    label: 'tcp_stream_limit',
    description: 'a TCP segment of a new stream while the bound on streams followed at once is reached',

    action: 'split the capture by time (`editcap -i`) so fewer streams are open at once',
  },
  CAPTURE_TCP_GAP: {
    label: 'tcp_gap',
    description:
      'bytes of a TCP stream never seen (a segment missing from the capture) or out-of-order data over the bound; the stream resynchronises on the next SIP start line',

    action:
      'the capture missed segments (kernel drops shown by tcpdump at exit); capture with a larger buffer (`tcpdump -B`)',
  },
  CAPTURE_TCP_MESSAGE_TOO_LARGE: {
    label: 'tcp_message_too_large',
    description:
      'a SIP message over TCP larger than the per-stream bound, or whose Content-Length is not a number; its stream resynchronises',

    action: 'a message over 64 KiB is not SIP signalling as proxies send it; look at the stream in Wireshark',
  },
  CAPTURE_TCP_INCOMPLETE: {
    label: 'tcp_incomplete',
    description: 'a TCP stream that ended (FIN, RST, eviction or end of file) in the middle of a SIP message',

    action: 'normal for a stream cut by the start or end of the capture',
  },
} as const satisfies Record<`CAPTURE_${string}`, ParseErrorSpec>;

export type CaptureDropName = keyof typeof CAPTURE_DROPS;

declare const captureDrop: unique symbol;
export type CaptureDropId = number & { readonly [captureDrop]: true };

export interface CaptureDropInfo {
  readonly label: string;
  readonly code: string;
  readonly description: string;
  readonly action: string;
}

/** Drop ids by name. */
export const CaptureDrop = {} as { readonly [N in CaptureDropName]: CaptureDropId };
/** Indexed by drop id; entry 0 is "not dropped". */
export const CAPTURE_DROP_INFO: CaptureDropInfo[] = [
  { label: '', code: '', description: 'not dropped', action: '' },
];
for (const [name, spec] of Object.entries(CAPTURE_DROPS)) {
  (CaptureDrop as Record<string, number>)[name] = CAPTURE_DROP_INFO.length;
  CAPTURE_DROP_INFO.push({ ...spec, code: `SRE_ERR_${name}` });
}

type SourceOf<N extends string> = N extends `${infer S}_${string}` ? Lowercase<S> & ParseErrorSource : never;

declare const parseErrorSource: unique symbol;
/**
 * A parse error id that only `S` produces. Ids are 1-based numbers, so 0 can mean success and a
 * table of counter cells can be an array, but the brand keeps one source's id out of another's.
 */
export type ParseErrorId<S extends ParseErrorSource> = number & { readonly [parseErrorSource]: S };
export type HepParseError = ParseErrorId<'hep'>;
export type SipParseError = ParseErrorId<'sip'>;
export type SyslogParseError = ParseErrorId<'syslog'>;
/** What the HEP listener counts: its own errors and those of the SIP scanner it runs on payloads. */
export type HepListenerError = HepParseError | SipParseError;

/** What a parser returns for a good input. */
export const OK = 0;
export type Ok = typeof OK;

export interface ParseErrorInfo {
  /** value of the `reason` label */
  readonly label: string;
  readonly code: string;
  readonly description: string;
  readonly action: string;
  readonly source: ParseErrorSource;
}

/** Parse error ids by name, 1-based so that 0 can mean success. */
export const ParseError = {} as { readonly [N in ParseErrorName]: ParseErrorId<SourceOf<N>> };
/** Indexed by id; entry 0 is success. */
export const PARSE_ERROR_INFO: ParseErrorInfo[] = [
  { label: '', code: '', description: 'no error', action: '', source: 'hep' },
];
const IDS_BY_SOURCE: Record<ParseErrorSource, number[]> = { hep: [], sip: [], syslog: [] };
for (const [name, spec] of Object.entries(PARSE_ERRORS)) {
  const id = PARSE_ERROR_INFO.length;
  const source = name.slice(0, name.indexOf('_')).toLowerCase() as ParseErrorSource;
  (ParseError as Record<string, number>)[name] = id;
  PARSE_ERROR_INFO.push({ ...spec, code: `SRE_ERR_${name}`, source });
  IDS_BY_SOURCE[source].push(id);
}

/** Every id `source` can produce, in table order: the cells its listener resolves at start. */
export function parseErrorsOf<S extends ParseErrorSource>(source: S): readonly ParseErrorId<S>[] {
  return IDS_BY_SOURCE[source] as unknown as readonly ParseErrorId<S>[];
}
export const HEP_PARSE_ERRORS = parseErrorsOf('hep');
export const SIP_PARSE_ERRORS = parseErrorsOf('sip');
export const SYSLOG_PARSE_ERRORS = parseErrorsOf('syslog');

/** Every code: the logged ones and one per parse error. */
export type Code = keyof typeof LOGGED | `SRE_ERR_${ParseErrorName}` | `SRE_ERR_${CaptureDropName}`;

export const CODES: Readonly<Record<Code, CodeInfo>> = {
  ...LOGGED,
  ...(Object.fromEntries(
    Object.entries(PARSE_ERRORS).map(([name, spec]) => [
      `SRE_ERR_${name}`,
      {
        level: 'counted',
        meaning: `${spec.description}; counted in \`sip_exporter_parse_errors_total{reason="${spec.label}"}\``,
        action: spec.action,
      },
    ]),
  ) as Record<`SRE_ERR_${ParseErrorName}`, CodeInfo>),
  ...(Object.fromEntries(
    Object.entries(CAPTURE_DROPS).map(([name, spec]) => [
      `SRE_ERR_${name}`,
      {
        level: 'counted',
        meaning: `${spec.description}; counted among a capture read's drops as \`${spec.label}\``,
        action: spec.action,
      },
    ]),
  ) as Record<`SRE_ERR_${CaptureDropName}`, CodeInfo>),
};

/**
 * Each code as a constant, for log lines (`{ code: CODE.SRE_ERR_UDP }`): a code that is not in
 * the tables above does not type.
 */
export const CODE = Object.fromEntries(Object.keys(CODES).map((c) => [c, c])) as {
  readonly [C in Code]: C;
};

export class SreError extends Error {
  readonly code: Code;
  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SreError';
    this.code = code;
  }
}

export class ConfigError extends SreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(CODE.SRE_ERR_CONFIG, message, options);
    this.name = 'ConfigError';
  }
}

export class ListenError extends SreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(CODE.SRE_ERR_LISTEN, message, options);
    this.name = 'ListenError';
  }
}
