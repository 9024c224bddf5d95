/**
 * The options a flag or an environment variable can set, each tied to its place in the config
 * file. One table serves the CLI, the environment and the docs, so the three never drift.
 * `--hep.listen-address` is `hep.listen_address` in YAML and SIP_EXPORTER_HEP_LISTEN_ADDRESS
 * in the environment.
 */
export interface OptionSpec {
  flag: string;
  path: readonly string[];
  valueName: string;
  description: string;
  /** shown in --help and docs/configuration.md; a test checks that, given as the value, it changes nothing */
  defaultText: string;
  secret?: boolean;
}

export const OPTIONS: readonly OptionSpec[] = [
  {
    flag: 'web.listen-address',
    path: ['web', 'listen_address'],
    valueName: 'address',
    description: 'address for the metrics, landing page and health endpoints',
    defaultText: ':9467',
  },
  {
    flag: 'web.telemetry-path',
    path: ['web', 'telemetry_path'],
    valueName: 'path',
    description: 'path under which metrics are served',
    defaultText: '/metrics',
  },
  {
    flag: 'web.config.file',
    path: ['web', 'config_file'],
    valueName: 'path',
    description: 'web configuration file (TLS and basic auth, as Prometheus exporters read it)',
    defaultText: '',
  },
  {
    flag: 'hep.listen-address',
    path: ['hep', 'listen_address'],
    valueName: 'address',
    description: 'address for HEP over UDP and TCP (empty disables)',
    defaultText: ':9060',
  },
  {
    flag: 'hep.auth-key',
    path: ['hep', 'auth_key'],
    valueName: 'key',
    description: 'reject HEPv3 packets whose auth key chunk does not match (empty accepts all)',
    defaultText: '',
    secret: true,
  },
  {
    flag: 'hep.max-connections',
    path: ['hep', 'max_connections'],
    valueName: 'n',
    description: 'most HEP TCP connections open at once',
    defaultText: '1024',
  },
  {
    flag: 'hep.idle-timeout',
    path: ['hep', 'idle_timeout'],
    valueName: 'duration',
    description: 'close a HEP TCP connection idle this long (0 never)',
    defaultText: '5m',
  },
  {
    flag: 'hep.frame-timeout',
    path: ['hep', 'frame_timeout'],
    valueName: 'duration',
    description:
      'close a HEP TCP connection whose packet is not complete this long after its first byte (0 never)',
    defaultText: '30s',
  },
  {
    flag: 'hep.max-packet-size',
    path: ['hep', 'max_packet_size'],
    valueName: 'bytes',
    description: 'largest HEP packet accepted over TCP',
    defaultText: '65535',
  },
  {
    flag: 'hep.max-inflated-size',
    path: ['hep', 'max_inflated_size'],
    valueName: 'bytes',
    description: 'largest size a compressed HEP payload may inflate to',
    defaultText: '262144',
  },
  {
    flag: 'hep.udp-receive-buffer',
    path: ['hep', 'udp_receive_buffer'],
    valueName: 'bytes',
    description: 'UDP receive buffer (SO_RCVBUF) to ask for; the kernel caps it at net.core.rmem_max',
    defaultText: '8388608',
  },
  {
    flag: 'hep.forward-address',
    path: ['hep', 'forward_address'],
    valueName: 'targets',
    description:
      'forward every accepted HEP packet, unchanged, to these host:port targets, separated by commas (empty: no forwarding)',
    defaultText: '',
  },
  {
    flag: 'hep.forward-transport',
    path: ['hep', 'forward_transport'],
    valueName: 'transport',
    description: 'udp or tcp, for every forwarding target',
    defaultText: 'udp',
  },
  {
    flag: 'hep.forward-queue',
    path: ['hep', 'forward_queue'],
    valueName: 'packets',
    description: 'most packets waiting to be sent per forwarding target; more are dropped and counted',
    defaultText: '4096',
  },
  {
    flag: 'hep.forward-queue-bytes',
    path: ['hep', 'forward_queue_bytes'],
    valueName: 'bytes',
    description: 'most bytes waiting to be sent per forwarding target (allocated once per target)',
    defaultText: '4194304',
  },
  {
    flag: 'syslog.listen-address',
    path: ['syslog', 'listen_address'],
    valueName: 'address',
    description: 'address for syslog over UDP and TCP (empty disables)',
    defaultText: ':5514',
  },
  {
    flag: 'syslog.max-connections',
    path: ['syslog', 'max_connections'],
    valueName: 'n',
    description: 'most syslog TCP and TLS connections open at once, each',
    defaultText: '1024',
  },
  {
    flag: 'syslog.idle-timeout',
    path: ['syslog', 'idle_timeout'],
    valueName: 'duration',
    description: 'close a syslog TCP or TLS connection idle this long (0 never)',
    defaultText: '5m',
  },
  {
    flag: 'syslog.frame-timeout',
    path: ['syslog', 'frame_timeout'],
    valueName: 'duration',
    description:
      'close a syslog TCP or TLS connection whose message (or TLS handshake) is not complete this long after its first byte (0 never)',
    defaultText: '30s',
  },
  {
    flag: 'syslog.max-frame-size',
    path: ['syslog', 'max_frame_size'],
    valueName: 'bytes',
    description: 'largest syslog message over TCP or TLS; a larger one closes the connection',
    defaultText: '65536',
  },
  {
    flag: 'syslog.udp-receive-buffer',
    path: ['syslog', 'udp_receive_buffer'],
    valueName: 'bytes',
    description: 'UDP receive buffer (SO_RCVBUF) to ask for on the syslog socket',
    defaultText: '8388608',
  },
  {
    flag: 'syslog.tls.listen-address',
    path: ['syslog', 'tls', 'listen_address'],
    valueName: 'address',
    description: 'address for syslog over TLS, RFC 5425 (empty disables)',
    defaultText: '',
  },
  {
    flag: 'syslog.tls.cert-file',
    path: ['syslog', 'tls', 'cert_file'],
    valueName: 'path',
    description: 'PEM certificate (chain) for the syslog TLS listener',
    defaultText: '',
  },
  {
    flag: 'syslog.tls.key-file',
    path: ['syslog', 'tls', 'key_file'],
    valueName: 'path',
    description: 'PEM private key for the syslog TLS listener',
    defaultText: '',
  },
  {
    flag: 'syslog.tls.client-ca-file',
    path: ['syslog', 'tls', 'client_ca_file'],
    valueName: 'path',
    description: 'when set, syslog TLS clients must present a certificate signed by this CA',
    defaultText: '',
  },
  {
    flag: 'dedupe.window',
    path: ['dedupe', 'window'],
    valueName: 'duration',
    description: 'count a message seen again from the same node within this window once (0 disables)',
    defaultText: '32s',
  },
  {
    flag: 'dedupe.max-entries',
    path: ['dedupe', 'max_entries'],
    valueName: 'n',
    description: 'most messages remembered for dedupe (16 bytes each, rounded up to a power of two)',
    defaultText: '1000000',
  },
  {
    flag: 'nodes.limit',
    path: ['nodes', 'limit'],
    valueName: 'n',
    description: 'most distinct node label values; more are counted as node="other"',
    defaultText: '100',
  },
  {
    flag: 'log.level',
    path: ['log', 'level'],
    valueName: 'level',
    description: 'fatal, error, warn, info, debug, trace or silent',
    defaultText: 'info',
  },
  {
    flag: 'metrics.max-series',
    path: ['metrics', 'max_series'],
    valueName: 'n',
    description:
      'most series of sip_responses_total (and, apart, of sip_requests_total); more go to overflow series',
    defaultText: '20000',
  },
  {
    flag: 'ingest.udp-batch',
    path: ['ingest', 'udp_batch'],
    valueName: 'bool',
    description:
      'read HEP and syslog UDP in recvmmsg batches through the native addon when it is built (false: Node dgram)',
    defaultText: 'true',
  },
  {
    flag: 'ingest.workers',
    path: ['ingest', 'workers'],
    valueName: 'n',
    description:
      'threads reading HEP over UDP, each on its own SO_REUSEPORT socket, counting into shared tables; auto: one fewer than the CPUs the process may use, at most 8; 1: the main thread alone (also without the native addon)',
    defaultText: 'auto',
  },
  {
    flag: 'kpi.enabled',
    path: ['kpi', 'enabled'],
    valueName: 'bool',
    description: 'follow call and registration attempts from HEP for the call KPIs (docs/kpis.md)',
    defaultText: 'true',
  },
  {
    flag: 'kpi.invite-timeout',
    path: ['kpi', 'invite_timeout'],
    valueName: 'duration',
    description: 'an INVITE attempt with no final response within this ends as timeout',
    defaultText: '190s',
  },
  {
    flag: 'kpi.non-invite-timeout',
    path: ['kpi', 'non_invite_timeout'],
    valueName: 'duration',
    description:
      'a REGISTER attempt with no final response within this ends as timeout; also how long a challenge waits for the re-sent request',
    defaultText: '32s',
  },
  {
    flag: 'kpi.max-session-duration',
    path: ['kpi', 'max_session_duration'],
    valueName: 'duration',
    description:
      'an answered dialog with no BYE within this ends, counted as cut and kept out of the duration histogram',
    defaultText: '4h',
  },
  {
    flag: 'kpi.max-entries',
    path: ['kpi', 'max_entries'],
    valueName: 'n',
    description:
      'size of the open-attempt table (32 bytes an entry, rounded up to a power of two); the per-peer leg table, allocated on the first leg, has twice as many entries (20 bytes each)',
    defaultText: '1048576',
  },
  {
    flag: 'kpi.max-dialogs',
    path: ['kpi', 'max_dialogs'],
    valueName: 'n',
    description: 'size of the answered-dialog table (16 bytes an entry, rounded up to a power of two)',
    defaultText: '4194304',
  },
];

export const ENV_PREFIX = 'SIP_EXPORTER_';

export function envName(spec: OptionSpec): string {
  return ENV_PREFIX + spec.flag.replace(/[.-]/g, '_').toUpperCase();
}
