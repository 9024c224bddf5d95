import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../src/errors.js';
import { parseSyslog, type SyslogMessage } from '../../../src/ingest/syslog/parse.js';

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
    expect(
      (parseSyslog('<13>Nov 25 10:20:30 h a: SIP/2.0 200 OK#015#012CSeq: 1 INVITE #35 #999') as SyslogMessage)
        .text,
    ).toBe('SIP/2.0 200 OK\r\nCSeq: 1 INVITE #35 #999');
  });

  it('rejects what is not syslog', () => {
    for (const bad of ['', 'no pri', '<999>Nov 25 10:20:30 h t: x', '<13>', '<1a>x', '<13>garbage']) {
      expect(parseSyslog(bad), bad).toBe(ParseError.SYSLOG_MALFORMED);
    }
  });
});

const BOM = '\ufeff';
const HEAD = '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47';
const EX_SD1 = '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]';
const EX_SD2 = '[examplePriority@32473 class="high"]';
const text = (line: string) => {
  const parsed = parseSyslog(line);
  if (typeof parsed === 'number') throw new Error(`not parsed (${parsed}): ${line}`);
  return parsed.text;
};

describe('RFC 5424 messages, by the RFC grammar', () => {
  it("reads the RFC's own messages (section 6.5, examples 1-4)", () => {
    expect(
      parseSyslog(
        `<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - ${BOM}'su root' failed for lonvick on /dev/pts/8`,
      ),
    ).toEqual({
      host: 'mymachine.example.com',
      app: 'su',
      text: "'su root' failed for lonvick on /dev/pts/8",
    });
    expect(
      parseSyslog(
        "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
      ),
    ).toEqual({ host: '192.0.2.1', app: 'myproc', text: "%% It's time to make the do-nuts." });
    expect(parseSyslog(`${HEAD} ${EX_SD1} ${BOM}An application event log entry...`)).toEqual({
      host: 'mymachine.example.com',
      app: 'evntslog',
      text: 'An application event log entry...',
    });
    expect(parseSyslog(`${HEAD} ${EX_SD1}${EX_SD2}`)).toEqual({
      host: 'mymachine.example.com',
      app: 'evntslog',
      text: '',
    });
  });

  it("reads the RFC's structured data examples (section 6.3.5) as the grammar does", () => {
    // Examples 1, 2 and 5 are valid structured data.
    expect(text(`${HEAD} ${EX_SD1} msg`)).toBe('msg');
    expect(text(`${HEAD} ${EX_SD1}${EX_SD2} msg`)).toBe('msg');
    expect(text(`${HEAD} [sigSig ver="1" rsID="1234" signature="..."] msg`)).toBe('msg');
    // Example 3: a blank between elements ends the structured data; in a whole message what follows
    // the blank is MSG, which may start with `[`.
    expect(text(`${HEAD} ${EX_SD1} ${EX_SD2} msg`)).toBe(`${EX_SD2} msg`);
    // Example 4: a blank before the SD-ID is no SD-ID.
    expect(parseSyslog(`${HEAD} [ exampleSDID@32473 iut="3"]${EX_SD2} msg`)).toBe(
      ParseError.SYSLOG_BAD_STRUCTURED_DATA,
    );
  });

  it('reads the reserved SD-IDs of section 7, with or without their params', () => {
    for (const sd of [
      '[timeQuality tzKnown="1" isSynced="1" syncAccuracy="60000000"]',
      '[origin ip="192.0.2.1" ip="192.0.2.129"]',
      '[meta sequenceId="1" sysUpTime="37" language="EN"]',
      '[timeQuality][origin][meta]',
      '[ssign x="1"]',
      '[ssign-cert]',
    ]) {
      expect(text(`${HEAD} ${sd} ACC: x`), sd).toBe('ACC: x');
    }
  });

  it('does not take a word ending in ] in MSG for structured data', () => {
    const acc = 'ACC: transaction answered: method=INVITE;call_id=a]b;code=486;reason=Busy [Here]';
    expect(text(`${HEAD} ${EX_SD1} ${acc}`)).toBe(acc);
    expect(text(`${HEAD} - ${acc}`)).toBe(acc);
    expect(text(`${HEAD} - [x] [y]`)).toBe('[x] [y]');
    expect(text(`${HEAD} ${EX_SD1} [not sd] tail]`)).toBe('[not sd] tail]');
  });

  it('reads escapes and brackets inside PARAM-VALUE', () => {
    expect(text(`${HEAD} [a@1 x="]"] m`)).toBe('m');
    expect(text(`${HEAD} [a@1 x="a\\]b"] m`)).toBe('m');
    expect(text(`${HEAD} [a@1 x="say \\"hi\\" ] now"] m`)).toBe('m');
    expect(text(`${HEAD} [a@1 x="ends in backslash\\\\"] m`)).toBe('m');
    // A backslash before any other character is that backslash and that character.
    expect(text(`${HEAD} [a@1 x="C:\\dir" y=""] m`)).toBe('m');
    expect(text(`${HEAD} [a@1 x="${'v'.repeat(5000)}" y="ü€"] m`)).toBe('m');
  });

  it('drops the BOM before MSG, and reads an SD with no MSG', () => {
    expect(text(`${HEAD} ${EX_SD1} ${BOM}x`)).toBe('x');
    expect(text(`${HEAD} ${EX_SD1} ${BOM}`)).toBe('');
    expect(text(`${HEAD} ${EX_SD1}`)).toBe('');
    expect(text(`${HEAD} -`)).toBe('');
    expect(text(`${HEAD} ${EX_SD1} `)).toBe('');
  });

  it('counts structured data that breaks the grammar as a coded error', () => {
    for (const sd of [
      '[a@1 x="unterminated]',
      '[a@1 x="unterminated\\"]',
      '[a@1 x="v"',
      '[a@1',
      '[',
      '[]',
      '[a@1 ]',
      '[a@1 x]',
      '[a@1 x=]',
      '[a@1 x=v]',
      '[a@1 x= "v"]',
      '[a@1 ="v"]',
      '[a=1]',
      '[a"1]',
      `[${'n'.repeat(33)}]`,
      `[a@1 ${'n'.repeat(33)}="v"]`,
      '[ä]',
      '[a\tb]',
      '[a@1 x="v"]msg glued to the SD',
      '-msg glued to the NILVALUE',
      'x',
    ]) {
      expect(parseSyslog(`${HEAD} ${sd}`), sd).toBe(ParseError.SYSLOG_BAD_STRUCTURED_DATA);
    }
    expect(text(`${HEAD} [${'n'.repeat(32)} ${'p'.repeat(32)}="v"]`)).toBe('');
  });

  it('counts a header that breaks the grammar as malformed, and never throws', () => {
    for (const line of [
      '<134>1 xT h a - - - x',
      '<134>1 T h a - - - x',
      '<134>1 2026-01-01T - a - - - x',
      '<134>1 2026-11-25 10:20:30 h a - - - x',
      '<134>1 2026-11-25t10:20:30z h a - - - x',
      '<134>1 2026-11-25T10:20:30+0100 h a - - - x',
      '<134>1 2026-11-25T10:20:30. h a - - - x',
      '<134>1 2026-11-25T10:20:30Z',
      '<134>1 -',
      '<134>1 - h a - -',
      '<134>1 - h a - ',
      '<134>1 -  a - - - x',
      `<134>1 - ${'h'.repeat(256)} a - - - x`,
      `<134>1 - h ${'a'.repeat(49)} - - - x`,
      `<134>1 - h a ${'p'.repeat(129)} - - x`,
      `<134>1 - h a - ${'m'.repeat(33)} - x`,
      '<134>1 - hö a - - - x',
      '<134>1 - h\ta a - - - x',
    ]) {
      expect(parseSyslog(line), line).toBe(ParseError.SYSLOG_MALFORMED);
    }
    expect(
      parseSyslog(
        `<134>1 2026-11-25T10:20:30.123456789+05:30 ${'h'.repeat(255)} ${'a'.repeat(48)} ${'p'.repeat(128)} ${'m'.repeat(32)} - x`,
      ),
    ).toEqual({ host: 'h'.repeat(255), app: 'a'.repeat(48), text: 'x' });
  });
});
