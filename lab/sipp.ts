/**
 * sipp scenarios for the lab, written out by code so that each final code has one template.
 * The built-in `uac` and `uas` scenarios of sipp serve answered calls.
 */

/** The SDP offer or answer: the Content-Type and Content-Length lines and the body. */
const SDP = `Content-Type: application/sdp
      Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000`;

/** Credentials sipp answers the last challenge with. */
export interface Credentials {
  username: string;
  password: string;
}

function authentication(auth: Credentials | undefined): string {
  return auth === undefined
    ? ''
    : `\n      [authentication username=${auth.username} password=${auth.password}]`;
}

export interface UacRequestOptions {
  /** Default 1. */
  cseq?: number;
  /**
   * Default `[branch]`, a new one; `[branch-N]` is the branch of the message N steps back, which
   * a CANCEL and the ACK for a non-2xx final take from their INVITE.
   */
  branch?: string;
  /** The To header carries the callee's tag. Default false. */
  toTag?: boolean;
  /** Default true. */
  contact?: boolean;
  auth?: Credentials;
  /** The request carries the SDP offer. Default false. */
  sdp?: boolean;
}

/** A request of a sipp caller's call to `[service]`, as the text of a `<send>`. */
export function uacRequest(method: string, o: UacRequestOptions = {}): string {
  const { cseq = 1, branch = '[branch]', toTag = false, contact = true, sdp = false } = o;
  return `
      ${method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=${branch}
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>${toTag ? '[peer_tag_param]' : ''}
      Call-ID: [call_id]
      CSeq: ${cseq} ${method}${contact ? '\n      Contact: sip:sipp@[local_ip]:[local_port]' : ''}${authentication(o.auth)}
      Max-Forwards: 70
      ${sdp ? SDP : 'Content-Length: 0'}`;
}

/** A REGISTER of `[service]` at the registrar, as the text of a `<send>`. */
export function registerRequest(cseq = 1, auth?: Credentials): string {
  return `
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[service]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: ${cseq} REGISTER
      Contact: <sip:[service]@[local_ip]:[local_port]>${authentication(auth)}
      Expires: 300
      Max-Forwards: 70
      Content-Length: 0`;
}

export interface UasResponseOptions {
  /** The To header gets the callee's tag. Default false. */
  toTag?: boolean;
  /** Default false. */
  contact?: boolean;
  /** The response carries the SDP answer. Default false. */
  sdp?: boolean;
}

/** A sipp callee's response to the last request, as the text of a `<send>`. */
export function uasResponse(status: string, o: UasResponseOptions = {}): string {
  return `
      SIP/2.0 ${status}
      [last_Via:]
      [last_From:]
      [last_To:]${o.toTag ? ';tag=[pid]SIPpTag01[call_number]' : ''}
      [last_Call-ID:]
      [last_CSeq:]${o.contact ? '\n      Contact: <sip:[local_ip]:[local_port];transport=[transport]>' : ''}
      ${o.sdp ? SDP : 'Content-Length: 0'}`;
}

/** A `<send>` of `message` (from uacRequest and its siblings); `attributes` with a leading space. */
export function send(message: string, attributes = ''): string {
  return `<send${attributes}><![CDATA[${message}
    ]]></send>`;
}

/** A whole scenario file around `body`. */
export function scenario(name: string, body: string): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="${name}">
${body}
</scenario>
`;
}

/** A caller whose INVITE ends in a non-2xx final `code`, then ACKs it on the INVITE's branch. */
export function uacFinal(code: number): string {
  return scenario(
    `uac ${code}`,
    `  ${send(`${uacRequest('INVITE')}\n`, ' retrans="500"')}
  <recv response="100" optional="true"></recv>
  <recv response="180" optional="true"></recv>
  <recv response="${code}"></recv>
  ${send(uacRequest('ACK', { branch: '[branch-4]', toTag: true }))}`,
  );
}

/** A registration that the proxy challenges: REGISTER, then the 401. */
export const UAC_REGISTER = scenario(
  'register challenged',
  `  ${send(registerRequest(), ' retrans="500"')}
  <recv response="401"></recv>`,
);

const REASONS: Record<number, string> = { 486: 'Busy Here', 603: 'Decline' };

/** A callee that answers every INVITE with a final `code` and waits for the ACK. */
export function uasFinal(code: number): string {
  return scenario(
    `uas ${code}`,
    `  <recv request="INVITE" crlf="true"></recv>
  ${send(uasResponse(`${code} ${REASONS[code] ?? 'Failure'}`, { toTag: true }))}
  <recv request="ACK"></recv>`,
  );
}

/**
 * A callee that rings `ringMs` after the INVITE and answers `answerMs` after that, then waits for
 * the ACK and the caller's BYE: the known pauses the call KPI delays are checked against.
 */
export function uasSlow(ringMs: number, answerMs: number): string {
  const reply = (status: string, toTag: boolean, sdp: boolean) =>
    `\n  ${send(uasResponse(status, { toTag, contact: true, sdp }))}`;
  return scenario(
    'uas slow',
    `  <recv request="INVITE" crlf="true"></recv>${reply('100 Trying', false, false)}
  <pause milliseconds="${ringMs}"/>${reply('180 Ringing', true, false)}
  <pause milliseconds="${answerMs}"/>${reply('200 OK', true, true)}
  <recv request="ACK"></recv>
  <recv request="BYE"></recv>${reply('200 OK', false, false)}`,
  );
}

/**
 * A callee that rings and never answers: 180, then it waits for the CANCEL, answers it 200 and
 * ends the INVITE with 487, as RFC 3261 (9.2) has a UAS do, and takes the proxy's ACK.
 */
export const UAS_RING_UNTIL_CANCEL = scenario(
  'uas ring until cancel',
  `  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="Via:[^[:cntrl:]]*([[:cntrl:]]+Via:[^[:cntrl:]]*)*" search_in="msg" assign_to="via,last"/>
    </action>
  </recv>
  <Reference variables="last"/>
  ${send(uasResponse('180 Ringing', { toTag: true, contact: true }))}
  <recv request="CANCEL"></recv>
  ${send(uasResponse('200 OK', { toTag: true }))}
  <send><![CDATA[
      SIP/2.0 487 Request Terminated
      [$via]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [last_cseq_number] INVITE
      Content-Length: 0
    ]]></send>
  <recv request="ACK"></recv>`,
);

/**
 * A caller that hangs up while it rings: INVITE, the 180, `ringMs` of ringing, then CANCEL (on
 * the INVITE's branch, RFC 3261 9.1), its 200, the INVITE's 487 and the ACK for it. sipp measures
 * INVITE to 487 itself (response time 1, in -trace_rtt): how long the attempt went without a
 * final response.
 */
export function uacCancel(ringMs: number): string {
  // [branch-N] is the branch of the message N steps back: the INVITE, step 0.
  return scenario(
    `uac cancel after ${ringMs} ms`,
    `  ${send(`${uacRequest('INVITE')}\n`, ' retrans="500" start_rtd="1"')}
  <recv response="100" optional="true"></recv>
  <recv response="180"></recv>
  <pause milliseconds="${ringMs}"/>
  ${send(uacRequest('CANCEL', { branch: '[branch-4]' }))}
  <recv response="200"></recv>
  <recv response="487" rtd="1"></recv>
  ${send(uacRequest('ACK', { branch: '[branch-7]', toTag: true }))}`,
  );
}
