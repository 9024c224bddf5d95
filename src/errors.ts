/**
 * Every error the exporter reports has a stable code (`SRE_ERR_*`). Parse errors on the hot path
 * are small integers, not Error objects, so that rejecting garbage costs no allocation; each one
 * maps to a code for logs and to a bounded `reason` label for `sip_exporter_parse_errors_total`.
 */
export class SreError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SreError';
    this.code = code;
  }
}

export class ConfigError extends SreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SRE_ERR_CONFIG', message, options);
    this.name = 'ConfigError';
  }
}

export class ListenError extends SreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SRE_ERR_LISTEN', message, options);
    this.name = 'ListenError';
  }
}

interface ParseErrorInfo {
  /** value of the `reason` label */
  readonly label: string;
  readonly code: string;
  readonly description: string;
}

const PARSE_ERRORS = {
  HEP_TOO_SHORT: { label: 'hep_too_short', description: 'packet shorter than any HEP header' },
  HEP_BAD_MAGIC: { label: 'hep_bad_magic', description: 'not HEP3/EEP3 and not a HEPv1/v2 header' },
  HEP_BAD_LENGTH: {
    label: 'hep_bad_length',
    description: 'HEPv3 total length disagrees with the bytes received',
  },
  HEP_BAD_CHUNK: {
    label: 'hep_bad_chunk',
    description:
      'a HEPv3 chunk is shorter than its header, runs past the packet, or has the wrong size for its type',
  },
  HEP_BAD_HEADER: {
    label: 'hep_bad_header',
    description: 'a HEPv1/v2 header whose length does not fit its address family',
  },
  HEP_NO_PAYLOAD: { label: 'hep_no_payload', description: 'a HEP packet without a payload' },
  HEP_INFLATE_FAILED: {
    label: 'hep_inflate_failed',
    description: 'a compressed payload that is not zlib or gzip',
  },
  HEP_INFLATE_TOO_LARGE: {
    label: 'hep_inflate_too_large',
    description: 'a compressed payload that inflates past the configured bound',
  },
  HEP_FRAME_TOO_LARGE: {
    label: 'hep_frame_too_large',
    description: 'a HEP packet over TCP larger than the configured bound (the connection is closed)',
  },
  HEP_STREAM_NOT_V3: {
    label: 'hep_stream_not_v3',
    description: 'a TCP stream that does not carry HEPv3 (HEPv1/v2 have no length to frame them; closed)',
  },
  SIP_BAD_START_LINE: {
    label: 'sip_bad_start_line',
    description: 'the payload starts with neither a SIP status line nor a request line',
  },
  SIP_BAD_STATUS_CODE: {
    label: 'sip_bad_status_code',
    description: 'a status line whose code is not 100-699',
  },
  SYSLOG_MALFORMED: {
    label: 'syslog_malformed',
    description:
      'a syslog message without a valid <PRI> (0-191), or whose header does not follow its format (RFC 5424: a field missing, too long or not printable ASCII, a TIMESTAMP that is not RFC 3339)',
  },
  SYSLOG_BAD_OCTET_COUNT: {
    label: 'syslog_bad_octet_count',
    description:
      'an octet-counted TCP frame whose length is not a number followed by a space (the connection is closed)',
  },
  SYSLOG_FRAME_TOO_LARGE: {
    label: 'syslog_frame_too_large',
    description: 'a syslog frame over TCP or TLS larger than the configured bound (the connection is closed)',
  },
  SYSLOG_BAD_STATUS_CODE: {
    label: 'syslog_bad_status_code',
    description: 'an extractor matched a line whose status code is not 100-699',
  },
  SYSLOG_BAD_STRUCTURED_DATA: {
    label: 'syslog_bad_structured_data',
    description:
      'an RFC 5424 message whose STRUCTURED-DATA breaks the RFC grammar (unterminated element or value, bad SD-NAME, no space before MSG)',
  },
  SYSLOG_UNPARSEABLE: {
    label: 'syslog_unparseable',
    description:
      'a syslog message whose handling failed unexpectedly; counted and dropped, the listener goes on (a bug: please report the line)',
  },
  HEP_INTERNAL: {
    label: 'hep_internal',
    description:
      'a HEP packet whose handling failed unexpectedly; counted and dropped, the listener goes on (a bug: please report the packet)',
  },
} as const satisfies Record<string, Omit<ParseErrorInfo, 'code'>>;

export type ParseErrorName = keyof typeof PARSE_ERRORS;

/** Parse error ids, 1-based so that 0 can mean success. */
export const ParseError = {} as { readonly [K in ParseErrorName]: number };
export const PARSE_ERROR_INFO: ParseErrorInfo[] = [{ label: '', code: '', description: 'no error' }];
for (const [name, info] of Object.entries(PARSE_ERRORS)) {
  (ParseError as Record<string, number>)[name] = PARSE_ERROR_INFO.length;
  PARSE_ERROR_INFO.push({ ...info, code: `SRE_ERR_${name}` });
}
export const OK = 0;

export function parseErrorIdsWithPrefix(prefix: string): number[] {
  const ids: number[] = [];
  for (let id = 1; id < PARSE_ERROR_INFO.length; id++) {
    if (PARSE_ERROR_INFO[id].label.startsWith(prefix)) ids.push(id);
  }
  return ids;
}
