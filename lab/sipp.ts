/**
 * sipp scenarios for the lab, written out by code so that each final code has one template.
 * The built-in `uac` and `uas` scenarios of sipp serve answered calls.
 */

const INVITE = `
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
`;

/** A caller whose INVITE ends in a non-2xx final `code`, then ACKs it on the INVITE's branch. */
export function uacFinal(code: number): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uac ${code}">
  <send retrans="500"><![CDATA[${INVITE}
    ]]></send>
  <recv response="100" optional="true"></recv>
  <recv response="180" optional="true"></recv>
  <recv response="${code}"></recv>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-4]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
</scenario>
`;
}

/** A registration that the proxy challenges: REGISTER, then the 401. */
export const UAC_REGISTER = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="register challenged">
  <send retrans="500"><![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[service]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[service]@[local_ip]:[local_port]>
      Expires: 300
      Max-Forwards: 70
      Content-Length: 0
    ]]></send>
  <recv response="401"></recv>
</scenario>
`;

const REASONS: Record<number, string> = { 486: 'Busy Here', 603: 'Decline' };

/** A callee that answers every INVITE with a final `code` and waits for the ACK. */
export function uasFinal(code: number): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uas ${code}">
  <recv request="INVITE" crlf="true"></recv>
  <send><![CDATA[
      SIP/2.0 ${code} ${REASONS[code] ?? 'Failure'}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]></send>
  <recv request="ACK"></recv>
</scenario>
`;
}

/**
 * A callee that rings `ringMs` after the INVITE and answers `answerMs` after that, then waits for
 * the ACK and the caller's BYE: the known pauses the call KPI delays are checked against.
 */
export function uasSlow(ringMs: number, answerMs: number): string {
  const reply = (status: string, toTag: boolean, sdp: boolean) => `
  <send><![CDATA[
      SIP/2.0 ${status}
      [last_Via:]
      [last_From:]
      [last_To:]${toTag ? ';tag=[pid]SIPpTag01[call_number]' : ''}
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
${
  sdp
    ? `      Content-Type: application/sdp
      Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000`
    : '      Content-Length: 0'
}
    ]]></send>`;
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uas slow">
  <recv request="INVITE" crlf="true"></recv>${reply('100 Trying', false, false)}
  <pause milliseconds="${ringMs}"/>${reply('180 Ringing', true, false)}
  <pause milliseconds="${answerMs}"/>${reply('200 OK', true, true)}
  <recv request="ACK"></recv>
  <recv request="BYE"></recv>${reply('200 OK', false, false)}
</scenario>
`;
}

/**
 * A callee that rings and never answers: 180, then it waits for the CANCEL, answers it 200 and
 * ends the INVITE with 487, as RFC 3261 (9.2) has a UAS do, and takes the proxy's ACK.
 */
export const UAS_RING_UNTIL_CANCEL = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uas ring until cancel">
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="Via:[^[:cntrl:]]*([[:cntrl:]]+Via:[^[:cntrl:]]*)*" search_in="msg" assign_to="via,last"/>
    </action>
  </recv>
  <Reference variables="last"/>
  <send><![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]></send>
  <recv request="CANCEL"></recv>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]></send>
  <send><![CDATA[
      SIP/2.0 487 Request Terminated
      [$via]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [last_cseq_number] INVITE
      Content-Length: 0
    ]]></send>
  <recv request="ACK"></recv>
</scenario>
`;

/**
 * A caller that hangs up while it rings: INVITE, the 180, `ringMs` of ringing, then CANCEL (on
 * the INVITE's branch, RFC 3261 9.1), its 200, the INVITE's 487 and the ACK for it. sipp measures
 * INVITE to 487 itself (response time 1, in -trace_rtt): how long the attempt went without a
 * final response.
 */
export function uacCancel(ringMs: number): string {
  const headers = (method: string, toTag: boolean) => `
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-BACK]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>${toTag ? '[peer_tag_param]' : ''}
      Call-ID: [call_id]
      CSeq: 1 ${method}
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0`;
  // [branch-N] is the branch of the message N steps back: the INVITE, step 0.
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uac cancel after ${ringMs} ms">
  <send retrans="500" start_rtd="1"><![CDATA[${INVITE}
    ]]></send>
  <recv response="100" optional="true"></recv>
  <recv response="180"></recv>
  <pause milliseconds="${ringMs}"/>
  <send><![CDATA[
      CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0${headers('CANCEL', false).replace('BACK', '4')}
    ]]></send>
  <recv response="200"></recv>
  <recv response="487" rtd="1"></recv>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0${headers('ACK', true).replace('BACK', '7')}
    ]]></send>
</scenario>
`;
}
