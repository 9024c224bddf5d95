import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import {
  buildExtractors,
  DEFAULT_EXTRACTORS,
  type ExtractedResponse,
  KAMAILIO_XLOG_FORMAT,
} from '../../../src/ingest/syslog/extractors.js';
import { parseSyslog } from '../../../src/ingest/syslog/parse.js';

const extractors = buildExtractors(DEFAULT_EXTRACTORS);

/** Runs a whole syslog line through the header parser and the default extractor list. */
function extract(line: string): (ExtractedResponse & { by: string }) | null {
  const message = parseSyslog(line);
  if (typeof message === 'number') throw new Error(`not syslog: ${line}`);
  for (const e of extractors) {
    const found = e.extract(message.text);
    if (found) return { ...found, by: e.name };
  }
  return null;
}

describe('syslog extractors on real product lines', () => {
  it('kamailio-acc: Debian log_prefix, module and function, extra pairs after reason', () => {
    const line =
      '<142>Nov 25 10:20:30 proxy1 /usr/sbin/kamailio[1234]: NOTICE: {2 102 INVITE c1@192.0.2.1} acc [acc.c:285]: acc_log_request(): ACC: transaction answered: timestamp=1795599837;method=INVITE;from_tag=as5f3a;to_tag=7f3e9a;call_id=c1@192.0.2.1;code=486;reason=Busy Here;src_user=alice;dst_ouser=bob';
    expect(extract(line)).toEqual({
      by: 'kamailio-acc',
      code: 486,
      method: 'INVITE',
      callId: 'c1@192.0.2.1',
      toTag: '7f3e9a',
      cseq: undefined,
    });
  });

  it('kamailio-acc: run with -E, no log prefix, call missed, RFC 5424', () => {
    expect(
      extract(
        '<134>1 2026-11-25T10:20:30Z proxy1 kamailio 77 - - 17(77) NOTICE: acc [acc.c:285]: acc_log_request(): ACC: call missed: timestamp=1;method=INVITE;from_tag=a;to_tag=;call_id=m1;code=404;reason=Not Found',
      ),
    ).toMatchObject({ by: 'kamailio-acc', code: 404, method: 'INVITE', callId: 'm1', toTag: undefined });
  });

  it('acc lines that carry no response are not counted', () => {
    expect(
      extract(
        '<142>Nov 25 10:20:30 p kamailio[1]: NOTICE: acc [acc.c:285]: ACC: request acknowledged: timestamp=1;method=ACK;from_tag=a;to_tag=b;call_id=c;code=200;reason=OK',
      ),
    ).toBeNull();
  });

  it('opensips-acc lines (created and setuptime fields) are read by the acc parser', () => {
    const found = extract(
      '<133>Nov 25 10:20:30 opensips1 /usr/sbin/opensips[999]: NOTICE:ACC: transaction answered: timestamp=1795599837;created=1795599830;setuptime=7;method=INVITE;from_tag=a;to_tag=b;call_id=os-1;code=200;reason=OK',
    );
    // Both acc extractors read this line; the first in the list wins.
    expect(found).toMatchObject({ code: 200, method: 'INVITE', callId: 'os-1', toTag: 'b' });
    const opensipsOnly = buildExtractors(['opensips-acc'])[0];
    expect(
      opensipsOnly.extract('NOTICE:ACC: transaction answered: timestamp=1;method=BYE;code=481;reason=x'),
    ).toMatchObject({
      code: 481,
      method: 'BYE',
    });
  });

  it('kamailio-xlog: the recommended reply-route line, with Kamailio printing <null> for unset values', () => {
    expect(KAMAILIO_XLOG_FORMAT).toContain('code=$rs');
    expect(
      extract(
        '<141>Nov 25 10:20:30 proxy1 /usr/sbin/kamailio[9]: NOTICE: <script>: sip_response code=503 method=INVITE cseq=102 callid=x1@h totag=<null>',
      ),
    ).toEqual({
      by: 'kamailio-xlog',
      code: 503,
      method: 'INVITE',
      cseq: 102,
      callId: 'x1@h',
      toTag: undefined,
    });
  });

  it('sip-message: Asterisk pjsip logger output, escaped by rsyslog', () => {
    const sip = [
      '<--- Received SIP response (512 bytes) from UDP:192.0.2.5:5060 --->',
      'SIP/2.0 486 Busy Here',
      'Via: SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKPj1',
      'Call-ID: ast-77@192.0.2.1',
      'From: <sip:alice@x>;tag=f',
      'To: <sip:bob@x>;tag=t-ast',
      'CSeq: 31 INVITE',
      'Content-Length:  0',
      '',
      '',
    ].join('#015#012');
    expect(extract(`<13>Nov 25 10:20:30 pbx1 asterisk[321]: ${sip}`)).toEqual({
      by: 'sip-message',
      code: 486,
      method: 'INVITE',
      cseq: 31,
      callId: 'ast-77@192.0.2.1',
      toTag: 't-ast',
    });
  });

  it('sip-message: FreeSWITCH sofia trace, every line indented', () => {
    const text = [
      'recv 480 bytes from udp/[192.0.2.9]:5060 at 10:20:30.123456:',
      '   ------------------------------------------------------------------------',
      '   SIP/2.0 603 Decline',
      '   Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
      '   To: <sip:bob@x>;tag=fs-tag',
      '   Call-ID: fs-1',
      '   CSeq: 8 INVITE',
      '   ------------------------------------------------------------------------',
    ].join('\n');
    expect(extract(`<134>1 2026-11-25T10:20:30Z fs1 freeswitch - - - ${text}`)).toEqual({
      by: 'sip-message',
      code: 603,
      method: 'INVITE',
      cseq: 8,
      callId: 'fs-1',
      toTag: 'fs-tag',
    });
  });

  it('sip-message ignores requests and lines that only mention SIP', () => {
    expect(extract('<13>Nov 25 10:20:30 h a: INVITE sip:x SIP/2.0#012CSeq: 1 INVITE')).toBeNull();
    expect(extract('<13>Nov 25 10:20:30 h a: talking about SIP/2.0 today')).toBeNull();
  });

  it('custom regex extractors with named groups', () => {
    const [custom] = buildExtractors([
      { name: 'sbc', regex: 'status=(?<code>\\d+) m=(?<method>\\w+) id=(?<callid>\\S+) host=(?<node>\\S+)' },
    ]);
    expect(custom.extract('call status=404 m=INVITE id=abc host=sbc-7')).toEqual({
      code: 404,
      method: 'INVITE',
      callId: 'abc',
      node: 'sbc-7',
      cseq: undefined,
      toTag: undefined,
    });
    expect(custom.extract('nothing here')).toBeNull();
  });

  it("kamailio-acc: the response's addresses and peer from log_extra, relative to the response", () => {
    // log_extra "src_ip=$dd;src_port=$dp;dst_ip=$si;dst_port=$sp", as a Kamailio 5.6 logged it.
    const line =
      '<133>Nov 27 10:56:40 proxy1 kamailio: NOTICE: acc [acc.c:287]: acc_log_request(): ACC: transaction answered: timestamp=1795777000;method=INVITE;from_tag=3076SIPpTag001;to_tag=3043SIPpTag011;call_id=1-3076@127.0.0.4;code=486;reason=Busy Here;src_ip=127.0.0.2;src_port=36321;dst_ip=127.0.0.4;dst_port=42483;peer=carrier-a';
    expect(extract(line)).toMatchObject({
      by: 'kamailio-acc',
      code: 486,
      srcIp: '127.0.0.2',
      srcPort: '36321',
      dstIp: '127.0.0.4',
      dstPort: '42483',
      peer: 'carrier-a',
    });
    // No $du: Kamailio prints <null>, which is absent.
    expect(
      extract(
        '<133>Nov 27 10:56:40 proxy1 kamailio: ACC: transaction answered: method=BYE;code=200;src_ip=<null>;src_port=<null>;dst_ip=2001:db8::4;dst_port=5060',
      ),
    ).toMatchObject({ srcIp: undefined, srcPort: undefined, dstIp: '2001:db8::4', dstPort: '5060' });
  });

  it('kamailio-xlog: address pairs after the recommended line, from the reply and local-response routes', () => {
    expect(
      extract(
        `<133>Nov 27 10:56:40 proxy1 kamailio: NOTICE: <script>: ${KAMAILIO_XLOG_FORMAT.replace('$rs', '180')} src_ip=127.0.0.2 src_port=46577 dst_ip=127.0.0.4 dst_port=34963`,
      ),
    ).toMatchObject({
      by: 'kamailio-xlog',
      code: 180,
      srcIp: '127.0.0.2',
      srcPort: '46577',
      dstIp: '127.0.0.4',
      dstPort: '34963',
    });
    const local = extract(
      '<133>Nov 27 10:56:40 proxy1 kamailio: NOTICE: <script>: sip_response code=404 method=INVITE cseq=1 callid=c totag=t dst_ip=127.0.0.4 dst_port=38675 peer=customer',
    );
    expect(local).toMatchObject({ code: 404, dstIp: '127.0.0.4', dstPort: '38675', peer: 'customer' });
    expect(local?.srcIp).toBeUndefined();
  });

  it('custom regex extractors with the address and peer groups', () => {
    const [custom] = buildExtractors([
      {
        name: 'sbc',
        regex:
          'status=(?<code>\\d+) from=(?<src_ip>[^ ]+?):(?<src_port>\\d+) to=\\[?(?<dst_ip>[^ \\]]+)\\]?:(?<dst_port>\\d+)(?: trunk=(?<peer>\\S+))?',
      },
    ]);
    expect(
      custom.extract('status=503 from=192.0.2.10:5060 to=[2001:db8::4]:5062 trunk=carrier-a'),
    ).toMatchObject({
      code: 503,
      srcIp: '192.0.2.10',
      srcPort: '5060',
      dstIp: '2001:db8::4',
      dstPort: '5062',
      peer: 'carrier-a',
    });
  });

  it('rejects bad extractor configs with a precise message', () => {
    const bad: Array<[Parameters<typeof buildExtractors>[0], RegExp]> = [
      [['no-such'], /unknown syslog extractor "no-such"/],
      [[{ name: 'x', regex: '(unclosed' }], /"x": invalid regex/],
      [[{ name: 'x', regex: '(?<method>\\w+)' }], /needs a named group "code"/],
      [[{ name: 'x', regex: '(?<code>\\d+) (?<colour>\\w+)' }], /unknown named group colour/],
      [['sip-message', 'sip-message'], /listed twice/],
      [[{ name: 'sip-message', regex: '(?<code>\\d+)' }], /cannot take a built-in name/],
    ];
    for (const [specs, message] of bad) {
      expect(() => buildExtractors(specs)).toThrow(ConfigError);
      expect(() => buildExtractors(specs)).toThrow(message);
    }
  });
});
