import { describe, expect, it } from 'vitest';
import { PARSE_ERROR_INFO } from '../../src/errors.js';
import { METHOD_LABELS } from '../../src/sip/methods.js';
import { SIP_REQUEST, SIP_RESPONSE, SipMessageScan, scanSipMessage } from '../../src/sip/scan.js';
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
