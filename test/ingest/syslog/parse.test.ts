import { describe, expect, it } from 'vitest';
import { parseSyslog } from '../../../src/ingest/syslog/parse.js';

describe('syslog header parsing', () => {
  it('reads an RFC 5424 message, with structured data and a BOM', () => {
    expect(parseSyslog('<134>1 2026-11-25T10:20:30.123Z proxy1 kamailio 1234 - - ACC: x')).toEqual({
      host: 'proxy1',
      app: 'kamailio',
      text: 'ACC: x',
    });
    expect(
      parseSyslog(
        '<134>1 2026-11-25T10:20:30Z proxy1 kamailio 1234 ID47 [a@1 x="a\\]b"][b@2 y="2"] \ufeffafter sd',
      ),
    ).toEqual({ host: 'proxy1', app: 'kamailio', text: 'after sd' });
    expect(parseSyslog('<13>1 - - - - - - ')).toEqual({ host: null, app: null, text: '' });
  });

  it('splits the RFC 3164 TAG and PID off the text (glossy leaves them in)', () => {
    expect(parseSyslog('<142>Nov 25 10:20:30 proxy1 /usr/sbin/kamailio[1234]: NOTICE: acc')).toEqual({
      host: 'proxy1',
      app: '/usr/sbin/kamailio',
      text: 'NOTICE: acc',
    });
    expect(parseSyslog('<13>Nov  5 01:02:03 host opensips: msg')).toEqual({
      host: 'host',
      app: 'opensips',
      text: 'msg',
    });
  });

  it('reads the RFC 3339 timestamps rsyslog writes into RFC 3164 lines (glossy takes them for the host)', () => {
    expect(parseSyslog('<13>2026-11-25T10:20:30.123456+01:00 proxy2 kamailio[55]: hello')).toEqual({
      host: 'proxy2',
      app: 'kamailio',
      text: 'hello',
    });
  });

  it('sees a missing RFC 3164 HOSTNAME instead of taking the TAG for it', () => {
    expect(parseSyslog('<13>Nov 25 10:20:30 kamailio[55]: no host')).toEqual({
      host: null,
      app: 'kamailio',
      text: 'no host',
    });
    expect(parseSyslog('<13>2026-11-25T10:20:30Z kamailio: no host')).toEqual({
      host: null,
      app: 'kamailio',
      text: 'no host',
    });
  });

  it("undoes rsyslog's control character escapes", () => {
    expect(parseSyslog('<13>Nov 25 10:20:30 h a: SIP/2.0 200 OK#015#012CSeq: 1 INVITE #35 #999')?.text).toBe(
      'SIP/2.0 200 OK\r\nCSeq: 1 INVITE #35 #999',
    );
  });

  it('rejects what is not syslog', () => {
    for (const bad of ['', 'no pri', '<999>Nov 25 10:20:30 h t: x', '<13>', '<1a>x', '<13>garbage']) {
      expect(parseSyslog(bad), bad).toBeNull();
    }
  });
});
