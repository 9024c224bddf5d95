/** SIP messages as proxies put them on the wire, for tests. */
export interface ResponseSpec {
  code: number;
  phrase?: string;
  method?: string;
  cseq?: number;
  callId?: string;
  toTag?: string;
}

export function sipResponse(spec: ResponseSpec): string {
  const {
    code,
    phrase = 'Whatever',
    method = 'INVITE',
    cseq = 1,
    callId = 'a84b4c76e66710@pc33.example.com',
  } = spec;
  const to = spec.toTag === undefined ? '<sip:bob@example.com>' : `<sip:bob@example.com>;tag=${spec.toTag}`;
  return [
    `SIP/2.0 ${code} ${phrase}`,
    'Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds;received=192.0.2.1',
    'From: Alice <sip:alice@example.com>;tag=1928301774',
    `To: ${to}`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method}`,
    'Contact: <sip:bob@192.0.2.4>',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

export function sipRequest(method: string, callId = 'req-1@example.com', cseq = 1): string {
  return [
    `${method} sip:bob@example.com SIP/2.0`,
    'Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bKnashds8',
    'Max-Forwards: 70',
    'To: Bob <sip:bob@example.com>',
    'From: Alice <sip:alice@example.com>;tag=1928301774',
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** A 200 OK with SDP, the size of what a real INVITE transaction answers with. */
export const REALISTIC_200_OK = [
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP 10.20.30.40:5060;branch=z9hG4bK-524287-1---7b3c5f0b6e1a2c3d;rport=5060;received=10.20.30.40',
  'Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK-d8754z-1f2e3d4c5b6a;rport=5060',
  'Record-Route: <sip:10.20.30.1;lr;ftag=as5f3a2c1b;did=4a1.b2c1>',
  'From: "Alice Example" <sip:+15551230001@pbx.example.net>;tag=as5f3a2c1b',
  'To: <sip:+15559870002@carrier.example.org>;tag=7f3e9a1c-1b2d-4e5f-8a9b',
  'Call-ID: 3c26700a5e8f-8d2e@192.168.1.10',
  'CSeq: 102 INVITE',
  'Contact: <sip:+15559870002@203.0.113.9:5060;transport=udp>',
  'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY',
  'Supported: replaces, timer',
  'Server: Example-SBC/4.2',
  'Content-Type: application/sdp',
  'Content-Length: 230',
  '',
  'v=0',
  'o=- 3849283 3849283 IN IP4 203.0.113.9',
  's=-',
  'c=IN IP4 203.0.113.9',
  't=0 0',
  'm=audio 40002 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=sendrecv',
  '',
].join('\r\n');
