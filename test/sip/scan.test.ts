import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PARSE_ERROR_INFO } from '../../src/errors.js';
import { METHOD_LABELS } from '../../src/sip/methods.js';
import {
  readDeferredFields,
  readTagForwards,
  readToTag,
  SCAN_ALL,
  SCAN_DEFER,
  SCAN_FROM_TAG,
  SCAN_KPI,
  SCAN_VIA_BRANCH,
  SIP_REQUEST,
  SIP_RESPONSE,
  SipMessageScan,
  scanSipMessage,
} from '../../src/sip/scan.js';
import { REALISTIC_200_OK, sipRequest, sipResponse } from '../helpers/sip.js';

interface Scanned {
  error: string;
  kind?: number;
  code?: number;
  method?: string;
  cseq?: number;
  callId?: string;
  toTag?: string;
}

function scan(text: string | Buffer, offset = 0): Scanned {
  const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const out = new SipMessageScan();
  const error = scanSipMessage(buf, offset, buf.length, out);
  if (error !== 0) return { error: PARSE_ERROR_INFO[error].label };
  return {
    error: '',
    kind: out.kind,
    code: out.statusCode,
    method: METHOD_LABELS[out.method],
    cseq: out.cseqNumber,
    callId: out.callIdStart >= 0 ? buf.toString('latin1', out.callIdStart, out.callIdEnd) : undefined,
    toTag: out.toTagStart >= 0 ? buf.toString('latin1', out.toTagStart, out.toTagEnd) : undefined,
  };
}

describe('SIP scanner', () => {
  it('reads a response with SDP body', () => {
    expect(scan(REALISTIC_200_OK)).toEqual({
      error: '',
      kind: SIP_RESPONSE,
      code: 200,
      method: 'INVITE',
      cseq: 102,
      callId: '3c26700a5e8f-8d2e@192.168.1.10',
      toTag: '7f3e9a1c-1b2d-4e5f-8a9b',
    });
  });

  it('reads a request and its own method', () => {
    expect(scan(sipRequest('REGISTER', 'reg-7@x', 42))).toMatchObject({
      kind: SIP_REQUEST,
      method: 'REGISTER',
      cseq: 42,
      callId: 'reg-7@x',
      toTag: undefined,
    });
  });

  it('takes the method of a response from CSeq, not from elsewhere', () => {
    expect(scan(sipResponse({ code: 487, method: 'INVITE' })).method).toBe('INVITE');
    expect(scan(sipResponse({ code: 200, method: 'CANCEL' })).method).toBe('CANCEL');
    expect(scan(sipResponse({ code: 200, method: 'SERVICE' })).method).toBe('OTHER');
  });

  it('accepts compact header names, any case, bare LF and extra white space', () => {
    const text = [
      'SIP/2.0   486   Busy here',
      'v: SIP/2.0/UDP h;branch=z9hG4bK1',
      'T :  <sip:b@x> ; TAG = abc123 ',
      'I:\tcompact-call-id ',
      'cseq:   7    BYE',
      '',
      '',
    ].join('\n');
    expect(scan(text)).toEqual({
      error: '',
      kind: SIP_RESPONSE,
      code: 486,
      method: 'BYE',
      cseq: 7,
      callId: 'compact-call-id',
      toTag: 'abc123',
    });
  });

  it('reads the To tag, not a tag parameter inside the URI', () => {
    const text = sipResponse({ code: 200 }).replace(/^To: .*$/m, 'To: "B" <sip:b@x;tag=wrong>;tag=right');
    expect(scan(text).toTag).toBe('right');
    const addrSpec = sipResponse({ code: 200 }).replace(/^To: .*$/m, 'To: sip:b@x;tag=plain');
    expect(scan(addrSpec).toTag).toBe('plain');
  });

  it('reads a header folded over several lines', () => {
    const text = sipResponse({ code: 404 }).replace(/^To: .*$/m, 'To: <sip:b@x>\r\n ;tag=folded');
    expect(scan(text).toTag).toBe('folded');
  });

  it('does not read headers from the body', () => {
    const text = 'SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\n\r\nCall-ID: in-body\r\nTo: <sip:x>;tag=body\r\n';
    expect(scan(text)).toMatchObject({ code: 200, method: 'OPTIONS', callId: undefined, toTag: undefined });
  });

  it('leaves the method empty when CSeq is missing or unreadable', () => {
    expect(scan('SIP/2.0 100 Trying\r\nCall-ID: x\r\n\r\n')).toMatchObject({
      code: 100,
      method: '',
      cseq: -1,
    });
    expect(scan('SIP/2.0 100 Trying\r\nCSeq: abc INVITE\r\n\r\n')).toMatchObject({ method: '', cseq: -1 });
    expect(scan('SIP/2.0 100 Trying\r\nCSeq: 12345678901 INVITE\r\n\r\n')).toMatchObject({
      method: '',
      cseq: -1,
    });
  });

  it('accepts a status line without a phrase and skips leading keep-alive CRLFs', () => {
    expect(scan('\r\n\r\nSIP/2.0 180\r\nCSeq: 1 INVITE\r\n\r\n')).toMatchObject({
      code: 180,
      method: 'INVITE',
    });
  });

  it('scans from an offset inside a larger buffer, never past the end', () => {
    const text = sipResponse({ code: 603, method: 'INVITE' });
    const buf = Buffer.from(`GARBAGE${text}`, 'latin1');
    expect(scan(buf, 7)).toMatchObject({ code: 603, method: 'INVITE' });
    const out = new SipMessageScan();
    const cut = Buffer.from('SIP/2.0 480 Temporarily Unavailable\r\nCSeq: 9 INVITEXYZ', 'latin1');
    expect(scanSipMessage(cut, 0, cut.length - 3, out)).toBe(0);
    expect(METHOD_LABELS[out.method]).toBe('INVITE');
  });

  it('rejects codes outside 100-699 and malformed status lines', () => {
    for (const line of [
      'SIP/2.0 099 X',
      'SIP/2.0 700 X',
      'SIP/2.0 1000 X',
      'SIP/2.0 20 X',
      'SIP/2.0 2a0 X',
      'SIP/2.0 200x',
    ]) {
      expect(scan(`${line}\r\n\r\n`).error, line).toBe('sip_bad_status_code');
    }
  });

  it('rejects what is not SIP', () => {
    for (const text of [
      '',
      '\r\n\r\n',
      'HTTP/1.1 200 OK\r\n\r\n',
      'GET / HTTP/1.1\r\n\r\n',
      'INVITE sip:x SIP/3.0\r\n\r\n',
      'INVITE SIP/2.0\r\n\r\n',
      '\u0000\u0001\u0002',
      'SIP/2.0',
    ]) {
      expect(scan(text).error, JSON.stringify(text)).toBe('sip_bad_start_line');
    }
  });
});

/** The optional fields: From tag and top Via branch, as text, or undefined when not found. */
function scanOptional(text: string, optional = SCAN_ALL): { fromTag?: string; viaBranch?: string } {
  const buf = Buffer.from(text, 'latin1');
  const out = new SipMessageScan();
  expect(scanSipMessage(buf, 0, buf.length, out, optional)).toBe(0);
  return {
    fromTag: out.fromTagStart >= 0 ? buf.toString('latin1', out.fromTagStart, out.fromTagEnd) : undefined,
    viaBranch:
      out.viaBranchStart >= 0 ? buf.toString('latin1', out.viaBranchStart, out.viaBranchEnd) : undefined,
  };
}

/** A response with the given Via and From lines in place of the usual ones. */
function withHeaders(via: string[], from: string): string {
  return [
    'SIP/2.0 200 OK',
    ...via,
    from,
    'To: <sip:b@x>;tag=to-1',
    'Call-ID: c1',
    'CSeq: 1 INVITE',
    '',
    '',
  ].join('\r\n');
}

describe('SIP scanner: From tag and top Via branch', () => {
  it('reads both from real messages', () => {
    expect(scanOptional(REALISTIC_200_OK)).toEqual({
      fromTag: 'as5f3a2c1b',
      viaBranch: 'z9hG4bK-524287-1---7b3c5f0b6e1a2c3d',
    });
    expect(scanOptional(sipRequest('INVITE'))).toEqual({
      fromTag: '1928301774',
      viaBranch: 'z9hG4bKnashds8',
    });
  });

  it('reads only what is asked for, and the rest of the message the same either way', () => {
    expect(scanOptional(REALISTIC_200_OK, 0)).toEqual({ fromTag: undefined, viaBranch: undefined });
    expect(scanOptional(REALISTIC_200_OK, SCAN_FROM_TAG)).toEqual({
      fromTag: 'as5f3a2c1b',
      viaBranch: undefined,
    });
    expect(scanOptional(REALISTIC_200_OK, SCAN_VIA_BRANCH).viaBranch).toBe(
      'z9hG4bK-524287-1---7b3c5f0b6e1a2c3d',
    );
  });

  it('takes the branch of the first Via header only, and of its first value only', () => {
    const from = 'From: <sip:a@x>;tag=f1';
    expect(
      scanOptional(
        withHeaders(
          ['Via: SIP/2.0/UDP a;branch=z9hG4bK-first', 'Via: SIP/2.0/UDP b;branch=z9hG4bK-second'],
          from,
        ),
      ).viaBranch,
    ).toBe('z9hG4bK-first');
    expect(
      scanOptional(
        withHeaders(['Via: SIP/2.0/UDP a;branch=z9hG4bK-a , SIP/2.0/TCP b;branch=z9hG4bK-b'], from),
      ).viaBranch,
    ).toBe('z9hG4bK-a');
    // The first value has no branch: a later value's branch is not the top one.
    expect(
      scanOptional(withHeaders(['Via: SIP/2.0/UDP a;rport, SIP/2.0/UDP b;branch=z9hG4bK-b'], from)).viaBranch,
    ).toBeUndefined();
    expect(
      scanOptional(withHeaders(['Via: SIP/2.0/UDP a;rport', 'Via: SIP/2.0/UDP b;branch=z9hG4bK-b'], from))
        .viaBranch,
    ).toBeUndefined();
  });

  it('reads compact forms, any case, white space around = and folded lines', () => {
    expect(
      scanOptional(
        withHeaders(
          ['v: SIP/2.0/UDP a ; rport ; BRANCH = z9hG4bK-c ;received=1.2.3.4'],
          'f: <sip:a@x> ; TAG = f-c',
        ),
      ),
    ).toEqual({ fromTag: 'f-c', viaBranch: 'z9hG4bK-c' });
    expect(
      scanOptional(
        withHeaders(
          ['VIA: SIP/2.0/UDP a\r\n ;received=1.2.3.4\r\n\t;branch=z9hG4bK-fold'],
          'FROM: <sip:a@x>\r\n ;tag=f-fold',
        ),
      ),
    ).toEqual({ fromTag: 'f-fold', viaBranch: 'z9hG4bK-fold' });
  });

  it('does not take a tag or branch from inside a URI or a quoted value', () => {
    expect(
      scanOptional(
        withHeaders(
          ['Via: SIP/2.0/UDP a;x="q;branch=wrong, SIP/2.0/UDP c";branch=z9hG4bK-right'],
          'From: "A" <sip:a@x;tag=wrong>;tag=right',
        ),
      ),
    ).toEqual({ fromTag: 'right', viaBranch: 'z9hG4bK-right' });
    // A quoted display name or parameter value may hold `;tag=`, `<` or `>`.
    for (const from of [
      'From: "a;tag=wrong" <sip:a@x>;tag=right',
      'From: "a<b>;tag=wrong" <sip:a@x;tag=wrong>;tag=right',
      'From: "a \\";tag=wrong" <sip:a@x>;tag=right',
      'From: <sip:a@x>;x="y;tag=wrong";tag=right',
    ])
      expect(scanOptional(withHeaders(['Via: SIP/2.0/UDP a;branch=b'], from)).fromTag).toBe('right');
    expect(scanOptional(withHeaders(['Via: SIP/2.0/UDP a;xbranch=no'], 'From: <sip:a@x>;xtag=no'))).toEqual({
      fromTag: undefined,
      viaBranch: undefined,
    });
    expect(scanOptional(withHeaders(['Via: SIP/2.0/UDP a;branch='], 'From: <sip:a@x>;tag='))).toEqual({
      fromTag: undefined,
      viaBranch: undefined,
    });
  });

  it('never reads From or Via from the body', () => {
    const text =
      'SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\n\r\nVia: SIP/2.0/UDP b;branch=body\r\nFrom: <sip:x>;tag=body\r\n';
    expect(scanOptional(text)).toEqual({ fromTag: undefined, viaBranch: undefined });
  });

  it('never throws and keeps every range inside the message, for any bytes and any cut (property)', () => {
    const scan = new SipMessageScan();
    const sipish = fc
      .array(
        fc.constantFrom(
          'SIP/2.0 200 OK',
          'INVITE sip:x SIP/2.0',
          '\r\n',
          '\n',
          ' ',
          '\t',
          'Via: ',
          'v:',
          'SIP/2.0/UDP h',
          ';branch=',
          'z9hG4bK1',
          ',',
          '"',
          '\\',
          'From: ',
          'f: ',
          '<sip:a@x;tag=u>',
          ';tag=',
          'To: ',
          'Call-ID: ',
          'CSeq: 1 INVITE',
          '=',
          ';',
          'x',
        ),
        { maxLength: 40 },
      )
      .map((parts) => Buffer.from(parts.join(''), 'latin1'));
    const anyBytes = fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a));
    fc.assert(
      fc.property(
        fc.oneof(sipish, anyBytes),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: SCAN_ALL }),
        (buf, a, b, optional) => {
          const start = buf.length === 0 ? 0 : a % (buf.length + 1);
          const end = start + (buf.length - start === 0 ? 0 : b % (buf.length - start + 1));
          const error = scanSipMessage(buf, start, end, scan, optional);
          expect(Number.isInteger(error)).toBe(true);
          const ranges: Array<[number, number]> = [
            [scan.callIdStart, scan.callIdEnd],
            [scan.toTagStart, scan.toTagEnd],
            [scan.fromTagStart, scan.fromTagEnd],
            [scan.viaBranchStart, scan.viaBranchEnd],
          ];
          for (const [s, e] of ranges) {
            if (s < 0) expect(e).toBe(-1);
            else {
              expect(s).toBeGreaterThanOrEqual(start);
              expect(s).toBeLessThanOrEqual(e);
              expect(e).toBeLessThanOrEqual(end);
            }
          }
          if ((optional & SCAN_FROM_TAG) === 0) expect(scan.fromTagStart).toBe(-1);
          if ((optional & SCAN_VIA_BRANCH) === 0) expect(scan.viaBranchStart).toBe(-1);
          if (error === 0) {
            // What is always read does not depend on what else is asked for.
            const all = new SipMessageScan();
            scanSipMessage(buf, start, end, all, SCAN_ALL);
            expect([
              scan.kind,
              scan.statusCode,
              scan.method,
              scan.cseqNumber,
              scan.callIdStart,
              scan.toTagStart,
            ]).toEqual([
              all.kind,
              all.statusCode,
              all.method,
              all.cseqNumber,
              all.callIdStart,
              all.toTagStart,
            ]);
          }
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('never searches past the message, whatever follows it in the buffer (property)', () => {
    // A batched UDP read hands over one datagram of a 16 MiB buffer: a memchr that ran past the
    // datagram's end would read on through every slot after it, for each line that lacks an LF.
    const scan = new SipMessageScan();
    const line = fc.constantFrom(
      'SIP/2.0 200 OK',
      'BYE sip:x SIP/2.0',
      'REGISTER sip:x SIP/2.0',
      'Via: SIP/2.0/UDP h;branch=z9hG4bK1',
      'From: <sip:a@x;tag=u',
      'f: "a" <sip:a@x>;tag=f1',
      'To: <sip:b@x',
      't: <sip:b@x>;tag=t1',
      'Call-ID: c1',
      'CSeq: 1 INVITE',
      'CSeq: 2 BYE',
      'Reason: Q.850;cause=16',
      'Expires: 0',
      ' folded',
      '',
      'x',
    );
    const message = fc
      .tuple(fc.array(line, { maxLength: 12 }), fc.constantFrom('', '\n', '\r\n'))
      .map(([lines, last]) => lines.join('\r\n') + last);
    fc.assert(
      fc.property(
        message,
        fc.nat(3),
        fc.constantFrom(0, SCAN_ALL, SCAN_KPI, SCAN_KPI | SCAN_DEFER),
        (text, before, optional) => {
          const body = Buffer.from(text, 'latin1');
          // What follows the message holds neither an LF nor a '>', as a stale slot may not.
          const buf = Buffer.alloc(before + body.length + 4096, 'x');
          body.copy(buf, before);
          const end = before + body.length;
          const searches: Array<[number, number]> = [];
          const own = Buffer.prototype.indexOf;
          Object.defineProperty(buf, 'indexOf', {
            value(this: Buffer, value: number, from: number) {
              const found = own.call(this, value, from);
              searches.push([from, found]);
              return found;
            },
          });
          scanSipMessage(buf, before, end, scan, optional);
          readDeferredFields(buf, scan);
          for (const [from, found] of searches) {
            expect(from).toBeLessThan(end);
            expect(found).toBeGreaterThanOrEqual(from);
            expect(found).toBeLessThan(end);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('reading a To or From tag from the end', () => {
  const scratch = () => {
    const s = new SipMessageScan();
    s.toTagStart = -1;
    s.toTagEnd = -1;
    return s;
  };
  const tag = (s: SipMessageScan) => [s.toTagStart, s.toTagEnd];

  it('finds what the forward walk finds, on values made to trip it', () => {
    // Pieces of name-addrs and of everything that makes the backward reader give up or choose.
    const piece = fc.constantFrom(
      '<',
      '>',
      '"',
      '\\',
      ';',
      ';tag=',
      ';TaG=',
      ';tag',
      'tag=',
      ';tagx=1',
      '=',
      ' ',
      '\t',
      '\r\n ',
      ',',
      'sip:b@x',
      '"Bob" ',
      '"a>b" ',
      '"a;tag=q" ',
      '<sip:b@x;tag=uri>',
      'abc',
      '1',
    );
    const value = fc.array(piece, { maxLength: 16 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(value, fc.nat(3), fc.nat(3), (text, before, after) => {
        // Bytes around the value, as a message around a header, which neither reader may read.
        const buf = Buffer.from(`${'>'.repeat(before)}${text}${'>;tag=out'.slice(0, after * 3)}`, 'latin1');
        const stop = before + text.length;
        const fast = scratch();
        const reference = scratch();
        readToTag(buf, before, stop, fast);
        readTagForwards(buf, before, stop, reference);
        expect(tag(fast)).toEqual(tag(reference));
      }),
      { numRuns: 20000 },
    );
  });

  it('reads the usual shapes', () => {
    const cases: Array<[string, string | null]> = [
      ['<sip:+15559870002@carrier.example.org>;tag=7f3e9a1c-1b2d-4e5f-8a9b', '7f3e9a1c-1b2d-4e5f-8a9b'],
      ['"Alice" <sip:alice@example.com>;tag=a73kszlfl', 'a73kszlfl'],
      ['<sip:b@x>;x=1;tag=t2;y=2', 't2'],
      ['<sip:b@x>;tag=;tag=t3', null],
      ['<sip:b@x;tag=inside>', null],
      ['<sip:b@x>', null],
      ['"a>b;tag=no" <sip:b@x>;tag=yes', 'yes'],
      ['sip:b@x;tag=t4', 't4'],
    ];
    for (const [value, expected] of cases) {
      const buf = Buffer.from(value, 'latin1');
      const s = scratch();
      readToTag(buf, 0, buf.length, s);
      expect(s.toTagStart < 0 ? null : buf.toString('latin1', s.toTagStart, s.toTagEnd)).toBe(expected);
    }
  });
});
