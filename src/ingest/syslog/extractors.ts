import { KIND_RESPONSE, Observation } from '../../count/observation.js';
import { ConfigError } from '../../errors.js';
import { METHOD_LABELS, METHOD_UNKNOWN, methodIndexOfString } from '../../sip/methods.js';
import { SIP_RESPONSE, SipMessageScan, scanSipMessage } from '../../sip/scan.js';

/** A SIP response found in a log line. Strings as the line has them; code still unchecked. */
export interface ExtractedResponse {
  code: number;
  method?: string;
  callId?: string;
  cseq?: number;
  toTag?: string;
  /** overrides the syslog HOSTNAME as the node (custom extractors only) */
  node?: string;
  /**
   * The response's own addresses (text IPv4 or IPv6) and ports, relative to the response: its
   * source is the hop that sent it, its destination the hop it went to.
   */
  srcIp?: string;
  srcPort?: string;
  dstIp?: string;
  dstPort?: string;
  /** the configured name of the peer the response came from, in place of srcIp */
  peer?: string;
}

export interface Extractor {
  readonly name: string;
  extract(text: string): ExtractedResponse | null;
  /**
   * For an extractor that reads a whole SIP message: fills the SIP fields of `out` through the
   * step HEP payloads take (Observation.setSip) and says whether the message matched. When
   * present the ingest calls it instead of extract, so both sources read SIP alike.
   */
  observe?(text: string, out: Observation): boolean;
}

/** What the config file may say for one extractor: a built-in name, or a custom regex. */
export type ExtractorSpec = string | { name: string; regex: string };

function present(value: string | undefined): string | undefined {
  // Kamailio prints an unset pseudo-variable as <null>.
  return value === undefined || value === '' || value === '<null>' || value === '-' ? undefined : value;
}

function cseqNumber(value: string | undefined): number | undefined {
  const v = present(value);
  return v !== undefined && /^\d{1,10}$/.test(v) ? Number(v) : undefined;
}

/**
 * The acc module's log lines, Kamailio's and OpenSIPS': `ACC: <event>: key=value;key=value...`,
 * with anything before `ACC:` (log prefix, level, module) and any pairs after `reason=`.
 * `transaction answered` and `call missed` carry a response; `request acknowledged` is an ACK and
 * `request accounted` a script's own record, so neither is counted.
 */
function accExtractor(name: string): Extractor {
  return {
    name,
    extract(text) {
      const at = text.indexOf('ACC: ');
      if (at < 0) return null;
      const eventEnd = text.indexOf(': ', at + 5);
      if (eventEnd < 0) return null;
      const event = text.slice(at + 5, eventEnd);
      if (event !== 'transaction answered' && event !== 'call missed') return null;
      const fields = new Map<string, string>();
      for (const pair of text.slice(eventEnd + 2).split(';')) {
        const eq = pair.indexOf('=');
        if (eq > 0) {
          const key = pair.slice(0, eq).trim();
          if (!fields.has(key)) fields.set(key, pair.slice(eq + 1).trim());
        }
      }
      const code = fields.get('code');
      if (code === undefined || !/^\d{1,4}$/.test(code)) return null;
      return {
        code: Number(code),
        method: present(fields.get('method')),
        callId: present(fields.get('call_id')),
        toTag: present(fields.get('to_tag')),
        cseq: cseqNumber(fields.get('cseq')),
        srcIp: present(fields.get('src_ip')),
        srcPort: present(fields.get('src_port')),
        dstIp: present(fields.get('dst_ip')),
        dstPort: present(fields.get('dst_port')),
        peer: present(fields.get('peer')),
      };
    },
  };
}

/**
 * The one-line format we recommend for an xlog in Kamailio's reply route:
 *   xlog("L_NOTICE", "sip_response code=$rs method=$rm cseq=$cs callid=$ci totag=$tt\n");
 */
export const KAMAILIO_XLOG_FORMAT = 'sip_response code=$rs method=$rm cseq=$cs callid=$ci totag=$tt';
const XLOG = /(?:^|\s)sip_response code=(\d{1,4}) method=(\S*) cseq=(\S*) callid=(\S*) totag=(\S*)/;
/** Optional pairs after the format above: the response's addresses, or its peer's name. */
const XLOG_PAIR = / (src_ip|src_port|dst_ip|dst_port|peer)=(\S*)/g;

const kamailioXlog: Extractor = {
  name: 'kamailio-xlog',
  extract(text) {
    const m = XLOG.exec(text);
    if (m === null) return null;
    const found: ExtractedResponse = {
      code: Number(m[1]),
      method: present(m[2]),
      cseq: cseqNumber(m[3]),
      callId: present(m[4]),
      toTag: present(m[5]),
    };
    // The pairs after the match, read in place: a global regex searches on from lastIndex.
    const from = m.index + m[0].length;
    if (from === text.length) return found;
    XLOG_PAIR.lastIndex = from;
    for (let p = XLOG_PAIR.exec(text); p !== null; p = XLOG_PAIR.exec(text)) {
      const value = present(p[2]);
      if (p[1] === 'src_ip') found.srcIp ??= value;
      else if (p[1] === 'src_port') found.srcPort ??= value;
      else if (p[1] === 'dst_ip') found.dstIp ??= value;
      else if (p[1] === 'dst_port') found.dstPort ??= value;
      else found.peer ??= value;
    }
    return found;
  },
};

const STATUS_LINE = /(?:^|\n)([ \t]*)SIP\/2\.0 \d/;

const scratchScan = new SipMessageScan();

/**
 * Finds a SIP response printed in text and hands its scan to the shared step. The message is
 * re-encoded as Latin-1, so byte ranges read back (and hash) as the string's own characters.
 */
function observeLoggedResponse(text: string, out: Observation): boolean {
  const m = STATUS_LINE.exec(text);
  if (m === null) return false;
  let message = text.slice(m.index + (m[0].startsWith('\n') ? 1 : 0));
  const indent = m[1];
  if (indent !== '') {
    message = message
      .split('\n')
      .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
      .join('\n');
  }
  const buf = Buffer.from(message, 'latin1');
  if (scanSipMessage(buf, 0, buf.length, scratchScan) !== 0 || scratchScan.kind !== SIP_RESPONSE)
    return false;
  out.setSip(scratchScan, buf);
  return true;
}

/**
 * A whole SIP response printed into a log message: Asterisk's pjsip logger, FreeSWITCH's sofia
 * trace (which indents every line), or an xlog of $mb. The status line and headers are read by
 * the same scanner, and turned into an observation by the same step, as HEP payloads.
 */
const sipMessage: Extractor = {
  name: 'sip-message',
  observe: observeLoggedResponse,
  extract(text) {
    const o = new Observation();
    if (!observeLoggedResponse(text, o)) return null;
    return {
      code: o.statusCode,
      method: o.method === METHOD_UNKNOWN ? undefined : METHOD_LABELS[o.method],
      cseq: o.cseqNumber >= 0 ? o.cseqNumber : undefined,
      callId: o.callId.length > 0 ? o.callId.toString() : undefined,
      toTag: o.toTag.length > 0 ? o.toTag.toString() : undefined,
    };
  },
};

/**
 * The step from what a text extractor found to an observation's SIP fields. Fields a log line
 * does not carry (From tag, Via branch) are cleared.
 */
export function observeExtracted(found: ExtractedResponse, out: Observation): void {
  out.dropDeferred();
  out.kind = KIND_RESPONSE;
  out.statusCode = found.code;
  out.method = methodIndexOfString(found.method);
  out.cseqNumber = found.cseq ?? -1;
  out.callId.setText(found.callId);
  out.fromTag.clear();
  out.toTag.setText(found.toTag);
  out.viaBranch.clear();
  out.sourceAddress.setText(found.srcIp);
  out.destinationAddress.setText(found.dstIp);
  out.sourcePort = portNumber(found.srcPort);
  out.destinationPort = portNumber(found.dstPort);
  out.sourcePeer.setText(found.peer);
  out.transport = 0;
}

/** A port as the line has it; 0 (unknown) for anything but 1-65535. */
function portNumber(value: string | undefined): number {
  if (value === undefined || !/^\d{1,5}$/.test(value)) return 0;
  const n = Number(value);
  return n <= 65535 ? n : 0;
}

const BUILT_IN: ReadonlyMap<string, Extractor> = new Map([
  ['kamailio-acc', accExtractor('kamailio-acc')],
  ['opensips-acc', accExtractor('opensips-acc')],
  ['kamailio-xlog', kamailioXlog],
  ['sip-message', sipMessage],
]);

export const BUILT_IN_EXTRACTORS: readonly string[] = [...BUILT_IN.keys()];
/** The default list is every built-in, in the order above: acc lines first, as the most common. */
export const DEFAULT_EXTRACTORS: readonly ExtractorSpec[] = BUILT_IN_EXTRACTORS;

/**
 * The named groups a custom extractor may have; `code` is required. The address groups are
 * relative to the response (its source is the hop that sent it), `peer` names the peer it came
 * from. The built-in acc and xlog formats read the same names as keys.
 */
export const EXTRACTOR_GROUPS = [
  'code',
  'method',
  'callid',
  'cseq',
  'totag',
  'node',
  'src_ip',
  'src_port',
  'dst_ip',
  'dst_port',
  'peer',
] as const;

/** A custom extractor: a regular expression with named groups, checked when the config loads. */
export function regexExtractor(name: string, source: string): Extractor {
  let regex: RegExp;
  try {
    regex = new RegExp(source);
  } catch (err) {
    throw new ConfigError(`syslog extractor "${name}": invalid regex: ${(err as Error).message}`);
  }
  const groups = [...source.matchAll(/\(\?<([A-Za-z_][A-Za-z0-9_]*)>/g)].map((m) => m[1]);
  if (!groups.includes('code'))
    throw new ConfigError(`syslog extractor "${name}": the regex needs a named group "code"`);
  const unknown = groups.filter((g) => !(EXTRACTOR_GROUPS as readonly string[]).includes(g));
  if (unknown.length > 0) {
    throw new ConfigError(
      `syslog extractor "${name}": unknown named group${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (use ${EXTRACTOR_GROUPS.join(', ')})`,
    );
  }
  return {
    name,
    extract(text) {
      const g = regex.exec(text)?.groups;
      if (g === undefined || g.code === undefined || !/^\d{1,4}$/.test(g.code)) return null;
      return {
        code: Number(g.code),
        method: present(g.method),
        callId: present(g.callid),
        cseq: cseqNumber(g.cseq),
        toTag: present(g.totag),
        node: present(g.node),
        srcIp: present(g.src_ip),
        srcPort: present(g.src_port),
        dstIp: present(g.dst_ip),
        dstPort: present(g.dst_port),
        peer: present(g.peer),
      };
    },
  };
}

/** Builds the ordered extractor list; throws a ConfigError for unknown names and bad regexes. */
export function buildExtractors(specs: readonly ExtractorSpec[]): Extractor[] {
  const seen = new Set<string>();
  return specs.map((spec) => {
    const name = typeof spec === 'string' ? spec : spec.name;
    if (seen.has(name)) throw new ConfigError(`syslog extractor "${name}" is listed twice`);
    seen.add(name);
    if (typeof spec === 'string') {
      const builtIn = BUILT_IN.get(spec);
      if (builtIn === undefined) {
        throw new ConfigError(
          `unknown syslog extractor "${spec}" (built in: ${BUILT_IN_EXTRACTORS.join(', ')})`,
        );
      }
      return builtIn;
    }
    if (BUILT_IN.has(name))
      throw new ConfigError(`syslog extractor "${name}": a custom extractor cannot take a built-in name`);
    return regexExtractor(name, spec.regex);
  });
}
