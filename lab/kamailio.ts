/** What the lab's Kamailio sends the exporter. */
export interface KamailioTrace {
  /** HEP over siptrace, or none */
  hep?: {
    port: number;
    transport: 'udp' | 'tcp';
    version: 1 | 2 | 3;
    captureId: number;
    /** where the HEP collector listens; the proxy's own address when not given */
    host?: string;
  };
  /** acc lines for every accounted transaction */
  acc: boolean;
  /** acc's log_extra, as docs/sources/kamailio.md recommends for peers (optional) */
  accExtra?: string;
  /** the recommended xlog line in the reply and local-response routes */
  xlog: boolean;
  /** the xlog line with the response's addresses, as docs/sources/kamailio.md gives it for peers */
  xlogAddresses?: boolean;
}

export interface KamailioRoutes {
  /** sipp UAS ports by the request-URI user that reaches them */
  answer: number;
  busy: number;
  decline: number;
  /** a UAS that rings and answers after known pauses, for the call KPI delays (optional) */
  slow?: number;
  /** a UAS that rings and never answers until the caller cancels (optional) */
  ring?: number;
  /** where each callee listens, when not on the proxy's host (carriers on their own addresses) */
  hosts?: Partial<Record<'answer' | 'busy' | 'decline', string>>;
  /** peer names the route stores in $avp(peer) for each callee, for acc's log_extra (optional) */
  peers?: Partial<Record<'answer' | 'busy' | 'decline', string>>;
  /**
   * A callee that answers 503 (optional): user `failover` goes to it first and, on its 503, on to
   * the `answer` callee, as a proxy fails over from one carrier to the next.
   */
  failover?: { host: string; port: number };
}

/** The recommended reply line, as docs/sources/kamailio.md gives it. */
const XLOG = 'xlog("L_NOTICE", "sip_response code=$rs method=$rm cseq=$cs callid=$ci totag=$tt\\n");';

/** What the reply route and the local-response routes add to the line for peers. */
const XLOG_REPLY_ADDRESSES = ' src_ip=$si src_port=$sp dst_ip=$T_req($si) dst_port=$T_req($sp)';
const XLOG_LOCAL_ADDRESSES = ' dst_ip=$sndto(ip) dst_port=$sndto(port)';

function xlogLine(extra: string): string {
  return XLOG.replace('\\n', () => `${extra}\\n`);
}

/** The route's line that names the peer a callee belongs to, where the lab gives one. */
function peerAvp(name: string | undefined): string {
  return name === undefined ? '' : `        $avp(peer) = "${name}";\n`;
}

/** An address as a SIP URI or Kamailio's listen= writes it: IPv6 in brackets. */
export function uriHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * A stateful proxy on host:port (127.0.0.1 unless given; the callees listen on the same host).
 * It relays by request-URI user (`answer`, `busy`, `decline` to the sipp UAS of that name),
 * refuses `overload` with a stateless 503 and anyone else with a stateless 404, and challenges
 * every REGISTER with a 401. With `routes.failover`, user `failover` tries that callee first.
 */
// One UDP worker keeps replies in the order the callee sent them (two workers can relay a 200
// before its 180), so that sipp's own counts are an exact reference.
export function kamailioConfig(
  port: number,
  routes: KamailioRoutes,
  trace: KamailioTrace,
  host = '127.0.0.1',
): string {
  const hep = trace.hep;
  const self = uriHost(host);
  const collector = uriHost(hep?.host ?? host);
  return `#!KAMAILIO
debug=2
log_stderror=yes
log_facility=LOG_LOCAL0
memdbg=5
memlog=5
children=1
disable_tcp=${hep?.transport === 'tcp' ? 'no' : 'yes'}
auto_aliases=no
listen=udp:${self}:${port}
${hep?.transport === 'tcp' ? `listen=tcp:${self}:${port}\n` : ''}
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"
loadmodule "acc.so"
${hep ? 'loadmodule "siptrace.so"' : ''}

modparam("acc", "log_flag", 1)
modparam("acc", "failed_transaction_flag", 3)
modparam("acc", "log_level", 1)
modparam("acc", "log_facility", "LOG_LOCAL0")
${trace.accExtra === undefined ? '' : `modparam("acc", "log_extra", "${trace.accExtra}")`}
${
  hep
    ? `modparam("siptrace", "duplicate_uri", "sip:${collector}:${hep.port}${hep.transport === 'tcp' ? ';transport=tcp' : ''}")
modparam("siptrace", "hep_mode_on", 1)
modparam("siptrace", "hep_version", ${hep.version})
modparam("siptrace", "hep_capture_id", ${hep.captureId})
modparam("siptrace", "trace_to_database", 0)
modparam("siptrace", "trace_on", 1)
modparam("siptrace", "trace_mode", 1)`
    : ''
}

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (is_method("ACK")) {
        # An ACK for a non-2xx final is absorbed by its transaction; one for a 2xx is relayed below.
        if (t_check_trans()) {
            t_relay();
            exit;
        }
    }
    if (is_method("CANCEL")) {
        # tm answers the CANCEL itself and cancels the INVITE's branch downstream.
        if (t_check_trans()) t_relay();
        exit;
    }
    if (is_method("REGISTER")) {
        auth_challenge("$fd", "0");
        exit;
    }
    ${trace.acc ? 'setflag(1);\n    setflag(3);' : ''}
    if ($rU == "answer") {
        $du = "sip:${uriHost(routes.hosts?.answer ?? host)}:${routes.answer}";
${peerAvp(routes.peers?.answer)}    } else if ($rU == "busy") {
        $du = "sip:${uriHost(routes.hosts?.busy ?? host)}:${routes.busy}";
${peerAvp(routes.peers?.busy)}    } else if ($rU == "decline") {
        $du = "sip:${uriHost(routes.hosts?.decline ?? host)}:${routes.decline}";
${peerAvp(routes.peers?.decline)}    }${
    routes.slow === undefined
      ? ''
      : ` else if ($rU == "slow") {
        $du = "sip:${self}:${routes.slow}";
    }`
  }${
    routes.ring === undefined
      ? ''
      : ` else if ($rU == "ring") {
        $du = "sip:${self}:${routes.ring}";
    }`
  }${
    routes.failover === undefined
      ? ''
      : ` else if ($rU == "failover") {
        # Only the INVITE tries the failing callee; the ACK of the 2xx and the BYE go where it was answered.
        if (is_method("INVITE")) {
            $du = "sip:${uriHost(routes.failover.host)}:${routes.failover.port}";
            t_on_failure("FAILOVER");
        } else {
            $du = "sip:${uriHost(routes.hosts?.answer ?? host)}:${routes.answer}";
        }
    }`
  } else if ($rU == "overload") {
        sl_send_reply("503", "Service Unavailable");
        exit;
    } else {
        if (!is_method("ACK")) sl_send_reply("404", "Not Found");
        exit;
    }
    if (!t_relay()) {
        sl_reply_error();
    }
    exit;
}
${
  routes.failover === undefined
    ? ''
    : `
failure_route[FAILOVER] {
    if (t_is_canceled()) exit;
    if (t_check_status("503")) {
        $du = "sip:${uriHost(routes.hosts?.answer ?? host)}:${routes.answer}";
        t_relay();
    }
}
`
}${
  trace.xlog
    ? `
onreply_route {
    ${xlogLine(trace.xlogAddresses ? XLOG_REPLY_ADDRESSES : '')}
}

event_route[sl:local-response] {
    ${xlogLine(trace.xlogAddresses ? XLOG_LOCAL_ADDRESSES : '')}
}

event_route[tm:local-response] {
    ${xlogLine(trace.xlogAddresses ? XLOG_LOCAL_ADDRESSES : '')}
}
`
    : ''
}`;
}
