import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyHasher } from '../../src/count/key-hasher.js';
import { SOURCE_HEP } from '../../src/count/node-sources.js';
import { Observation } from '../../src/count/observation.js';
import { hashCallId } from '../../src/count/sip-counter.js';
import type { KpiEngine } from '../../src/kpi/engine.js';
import { KpiObserver } from '../../src/kpi/observer.js';
import type { KpiMessage } from '../../src/kpi/types.js';
import { METHOD_LABELS } from '../../src/sip/methods.js';
import {
  readDeferredFields,
  SCAN_ALL,
  SCAN_DEFER,
  SCAN_EXPIRES,
  SCAN_FROM_TAG,
  SCAN_KPI,
  SCAN_REASON,
  SCAN_REASON_NONE,
  SCAN_REASON_Q850,
  SCAN_REASON_SIP,
  SCAN_VIA_BRANCH,
  SipMessageScan,
  scanSipMessage,
} from '../../src/sip/scan.js';

const methodsIndex = (name: string) => (METHOD_LABELS as readonly string[]).indexOf(name);

function message(startLine: string, extra: string[], cseqMethod = 'BYE'): Buffer {
  return Buffer.from(
    [
      startLine,
      'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa',
      'From: <sip:a@example.com>;tag=f',
      'To: <sip:b@example.com>;tag=t',
      'Call-ID: x@example.com',
      `CSeq: 1 ${cseqMethod}`,
      ...extra,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
    'latin1',
  );
}

function scan(buf: Buffer, optional = SCAN_KPI): SipMessageScan {
  const out = new SipMessageScan();
  expect(scanSipMessage(buf, 0, buf.length, out, optional)).toBe(0);
  return out;
}

const BYE = 'BYE sip:b@example.com SIP/2.0';

describe('scanning Reason and Expires for the call KPIs', () => {
  it.each([
    ['Reason: Q.850;cause=16;text="Normal call clearing"', SCAN_REASON_Q850, 16],
    ['reason: q.850 ; cause = 34', SCAN_REASON_Q850, 34],
    ['Reason: SIP;cause=486;text="Busy Here"', SCAN_REASON_SIP, 486],
    ['Reason: SIP;text="a;cause=1, b";cause=503', SCAN_REASON_SIP, 503],
    ['Reason: Q.850;text="none"', SCAN_REASON_Q850, -1],
    ['Reason: Q.850;cause=99999', SCAN_REASON_Q850, -1],
    ['Reason: Q.850;cause=16x', SCAN_REASON_Q850, -1],
    ['Reason: Q.850, SIP;cause=200', SCAN_REASON_Q850, -1],
    ['Reason: preemption;cause=1', SCAN_REASON_NONE, -1],
  ])('reads %s from a BYE', (line, protocol, cause) => {
    const out = scan(message(BYE, [line]));
    expect([out.reasonProtocol, out.reasonCause]).toEqual([protocol, cause]);
  });

  it('reads the first Reason header only, and only from BYEs and 3xx-6xx finals to an INVITE', () => {
    const two = scan(message(BYE, ['Reason: Q.850;cause=17', 'Reason: SIP;cause=600']));
    expect([two.reasonProtocol, two.reasonCause]).toEqual([SCAN_REASON_Q850, 17]);
    const final = scan(message('SIP/2.0 486 Busy Here', ['Reason: Q.850;cause=17'], 'INVITE'));
    expect(final.reasonCause).toBe(17);
    for (const [start, method] of [
      ['SIP/2.0 180 Ringing', 'INVITE'],
      // A 2xx answers the call: it releases nothing, and looking for its Reason would mean
      // walking all its header lines.
      ['SIP/2.0 200 OK', 'INVITE'],
      ['SIP/2.0 200 OK', 'BYE'],
      ['CANCEL sip:b@example.com SIP/2.0', 'CANCEL'],
    ]) {
      expect(scan(message(start, ['Reason: Q.850;cause=17'], method)).reasonProtocol).toBe(SCAN_REASON_NONE);
    }
    // Not asked for: the default scan reads neither.
    expect(scan(message(BYE, ['Reason: Q.850;cause=17']), SCAN_ALL).reasonProtocol).toBe(SCAN_REASON_NONE);
  });

  it.each([
    ['Expires: 0', true],
    ['expires:  00 ', true],
    ['Expires: 3600', false],
    ['Expires: 0x', false],
    ['Expires:', false],
  ])('reads %s from a REGISTER', (line, zero) => {
    expect(scan(message('REGISTER sip:example.com SIP/2.0', [line])).expiresZero).toBe(zero);
  });

  it('reads Expires from REGISTER only, and tells Reason and Expires from look-alike headers', () => {
    expect(scan(message('SIP/2.0 200 OK', ['Expires: 0'])).expiresZero).toBe(false);
    expect(scan(message(BYE, ['Expires: 0'])).expiresZero).toBe(false);
    const lookAlikes = scan(message(BYE, ['Reasons: Q.850;cause=1', 'e: gzip', 'r: <sip:x@example.com>']));
    expect(lookAlikes.reasonProtocol).toBe(SCAN_REASON_NONE);
    // The always-read fields are still read when the optional ones are asked for.
    expect([lookAlikes.cseqNumber, lookAlikes.toTagEnd > lookAlikes.toTagStart]).toEqual([1, true]);
  });

  it('never throws and keeps the cause bounded whatever a Reason or Expires value holds', () => {
    const value = fc.stringMatching(/^[\x20-\x7e]{0,60}$/);
    fc.assert(
      fc.property(value, value, (reason, expires) => {
        const out = new SipMessageScan();
        for (const start of [BYE, 'SIP/2.0 503 Service Unavailable', 'REGISTER sip:example.com SIP/2.0']) {
          const buf = message(start, [`Reason: ${reason}`, `Expires: ${expires}`], 'INVITE');
          expect(scanSipMessage(buf, 0, buf.length, out, SCAN_KPI)).toBe(0);
          expect(out.reasonCause).toBeGreaterThanOrEqual(-1);
          expect(out.reasonCause).toBeLessThanOrEqual(9999);
          expect(Number.isInteger(out.reasonCause)).toBe(true);
          if (out.reasonProtocol === SCAN_REASON_NONE) expect(out.reasonCause).toBe(-1);
          if (out.expiresZero) expect(expires.trim()).toMatch(/^0+$/);
        }
      }),
    );
  });
});

describe('reading From tag and Via branch only from the messages the call KPIs read', () => {
  const withTags = (start: string, cseqMethod: string, toTag: boolean) =>
    Buffer.from(
      [
        start,
        'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa',
        'From: <sip:a@example.com>;tag=f',
        `To: <sip:b@example.com>${toTag ? ';tag=t' : ''}`,
        'Call-ID: x@example.com',
        `CSeq: 1 ${cseqMethod}`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      'latin1',
    );
  const read = (out: SipMessageScan) => [
    out.fromTagEnd > out.fromTagStart,
    out.viaBranchEnd > out.viaBranchStart,
  ];

  it.each([
    ['INVITE sip:b@example.com SIP/2.0', 'INVITE', false, [true, true]],
    ['INVITE sip:b@example.com SIP/2.0', 'INVITE', true, [false, false]], // re-INVITE
    ['REGISTER sip:example.com SIP/2.0', 'REGISTER', false, [true, true]],
    ['BYE sip:b@example.com SIP/2.0', 'BYE', true, [true, false]],
    ['BYE sip:b@example.com SIP/2.0', 'BYE', false, [false, false]],
    ['ACK sip:b@example.com SIP/2.0', 'ACK', true, [false, false]],
    ['CANCEL sip:b@example.com SIP/2.0', 'CANCEL', false, [true, true]],
    ['OPTIONS sip:b@example.com SIP/2.0', 'OPTIONS', false, [false, false]],
    ['SIP/2.0 100 Trying', 'INVITE', false, [false, false]],
    ['SIP/2.0 180 Ringing', 'INVITE', true, [true, true]],
    ['SIP/2.0 401 Unauthorized', 'REGISTER', true, [true, true]],
    ['SIP/2.0 200 OK', 'BYE', true, [false, false]],
    ['SIP/2.0 200 OK', 'OPTIONS', true, [false, false]],
  ] as const)(
    '%s (CSeq %s, To tag %s) reads From tag and Via branch %j',
    (start, method, toTag, expected) => {
      expect(read(scan(withTags(start, method, toTag)))).toEqual(expected);
      // Without the narrowing bit every message gives both, as before.
      expect(read(scan(withTags(start, method, toTag), SCAN_ALL))).toEqual([true, true]);
    },
  );

  it('hands the KPI engine the same messages and hashes as a scan of every field would', () => {
    const methods = ['INVITE', 'REGISTER', 'BYE', 'ACK', 'CANCEL', 'OPTIONS', 'PRACK', 'FOO'];
    const seen = (optional: number, buf: Buffer): string[] => {
      const got: string[] = [];
      // An engine that wants every message, so every optional field deferred is read.
      const engine = {
        handle: (m: KpiMessage) => got.push(JSON.stringify(m)),
        quietResponse: () => false,
      } as unknown as KpiEngine;
      const observer = new KpiObserver(engine);
      expect(observer.scanFields).toBe(SCAN_KPI | SCAN_DEFER);
      const out = new SipMessageScan();
      const o = new Observation();
      o.listener = SOURCE_HEP;
      if (scanSipMessage(buf, 0, buf.length, out, optional) !== 0) return got;
      o.setSip(out, buf);
      hashCallId(new KeyHasher(), o);
      observer.observe(o);
      return got;
    };
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.constantFrom(...methods),
        fc.integer({ min: 100, max: 699 }),
        fc.constantFrom(...methods),
        fc.boolean(),
        (isRequest, requestMethod, code, cseqMethod, toTag) => {
          const start = isRequest ? `${requestMethod} sip:b@example.com SIP/2.0` : `SIP/2.0 ${code} Phrase`;
          const buf = withTags(start, isRequest ? requestMethod : cseqMethod, toTag);
          const every = seen(SCAN_ALL | SCAN_REASON | SCAN_EXPIRES, buf);
          expect(seen(SCAN_KPI, buf)).toEqual(every);
          // As the observer asks: located in the walk, read once the engine wants the message.
          expect(seen(SCAN_KPI | SCAN_DEFER, buf)).toEqual(every);
        },
      ),
    );
  });
});

describe('locating the optional headers (model)', () => {
  // Lines chosen to trip the locating: compact forms, look-alike names, a name without a colon,
  // repeats (only the first counts), folding, and the always-read headers in any position.
  const pool = [
    'Via: SIP/2.0/UDP a;branch=z9hG4bK1',
    'v: SIP/2.0/UDP b;branch=z9hG4bK2',
    'VIA : SIP/2.0/UDP c;branch=z9hG4bK3',
    'Via;branch=z9hG4bKnocolon',
    'Via: SIP/2.0/UDP d\r\n ;branch=z9hG4bKfolded',
    'Vary: x;branch=z9hG4bKvary',
    'VIA:SIP/2.0/UDP e;branch=z9hG4bK5',
    'v:',
    'Vi: SIP/2.0/UDP f;branch=z9hG4bKshort',
    'Vix: SIP/2.0/UDP g;branch=z9hG4bKvix',
    'From: <sip:a@x>;tag=f1',
    'f: <sip:b@x>;tag=f2',
    'Fromage: <sip:c@x>;tag=cheese',
    'FROM:<sip:e@x>;tag=f5',
    'Frob: <sip:f@x>;tag=frob',
    'f:',
    'From <sip:d@x>;tag=nocolon',
    'Reason: Q.850;cause=16',
    'reason: SIP;cause=486',
    'Reasons: Q.850;cause=1',
    'Expires: 0',
    'EXPIRES:0',
    'Expire: 0',
    'Expires: 60',
    'e: gzip',
    'Max-Forwards: 70',
    'To: <sip:b@x>;tag=t1',
    'To: <sip:b@x>',
    'Call-ID: c@x',
    'CSeq: 1 INVITE',
    'CSeq: 2 BYE',
    'CSeq: 3 REGISTER',
  ];
  const starts = [
    'INVITE sip:b@x SIP/2.0',
    'REGISTER sip:x SIP/2.0',
    'BYE sip:b@x SIP/2.0',
    'ACK sip:b@x SIP/2.0',
    'CANCEL sip:b@x SIP/2.0',
    'FOO sip:b@x SIP/2.0',
    'SIP/2.0 100 Trying',
    'SIP/2.0 180 Ringing',
    'SIP/2.0 200 OK',
    'SIP/2.0 486 Busy Here',
  ];
  const FIELDS = [
    ['via', SCAN_VIA_BRANCH, /^(v|via)$/i],
    ['from', SCAN_FROM_TAG, /^(f|from)$/i],
    ['reason', SCAN_REASON, /^reason$/i],
    ['expires', SCAN_EXPIRES, /^expires$/i],
  ] as const;
  const read = (o: SipMessageScan) => ({
    from: o.fromTagStart < 0 ? null : [o.fromTagStart, o.fromTagEnd],
    via: o.viaBranchStart < 0 ? null : [o.viaBranchStart, o.viaBranchEnd],
    reason: [o.reasonProtocol, o.reasonCause],
    expires: o.expiresZero,
  });

  /**
   * The model: the first line of each optional header with a colon after its name, read alone
   * (in a message of just that line, where nothing else can interfere) and moved to its offset.
   */
  function expected(start: string, lines: string[], optional: number): ReturnType<typeof read> {
    const all = scan(Buffer.from([start, ...lines, 'Content-Length: 0', '', ''].join('\r\n'), 'latin1'), 0);
    const want = optional === SCAN_KPI ? kpiWants(start, all) : oldWants(start, all);
    const result = read(new SipMessageScan());
    let offset = start.length + 2;
    const done = new Set<string>();
    for (const line of lines) {
      const name = /^([^:\s]+)\s*:/.exec(line)?.[1];
      for (const [key, bit, pattern] of FIELDS) {
        if (name === undefined || !pattern.test(name) || done.has(key)) continue;
        done.add(key);
        if ((want & bit) === 0) continue;
        // Reason and Expires alone are read under a start line that has them read at all.
        const head =
          key === 'reason' ? 'BYE sip:b@x SIP/2.0' : key === 'expires' ? 'REGISTER sip:x SIP/2.0' : start;
        const alone = scan(Buffer.from([head, line, '', ''].join('\r\n'), 'latin1'), bit);
        const shift = (r: number[] | null) =>
          r === null ? null : r.map((x) => x - (start.length + 2) + offset);
        const one = read(alone);
        if (key === 'via') result.via = shift(one.via);
        else if (key === 'from') result.from = shift(one.from);
        else if (key === 'reason') result.reason = one.reason;
        else result.expires = one.expires;
      }
      offset += line.length + 2;
    }
    return result;
  }
  // What the scanner was asked for narrowed to the messages it reads each from, stated directly.
  function oldWants(start: string, s: SipMessageScan): number {
    const response = start.startsWith('SIP/2.0');
    let want = SCAN_ALL;
    if (response ? s.statusCode >= 300 && s.cseqMethod === methodsIndex('INVITE') : start.startsWith('BYE '))
      want |= SCAN_REASON;
    if (start.startsWith('REGISTER ')) want |= SCAN_EXPIRES;
    return want;
  }
  function kpiWants(start: string, s: SipMessageScan): number {
    const method = s.method;
    const names = ['INVITE', 'REGISTER', 'BYE', 'CANCEL'].map((m) => methodsIndex(m));
    const toTag = s.toTagEnd > s.toTagStart;
    let fields = 0;
    if (start.startsWith('SIP/2.0')) {
      if ((method === names[0] || method === names[1]) && s.statusCode !== 100) fields = ~0;
    } else if (method === names[1] || method === names[3] || (method === names[0] && !toTag)) fields = ~0;
    else if (method === names[2] && toTag) fields = ~SCAN_VIA_BRANCH;
    return oldWants(start, s) & fields;
  }

  // A start line, some lines from the pool, and what the scan is asked for. Some messages start
  // with more padding lines than the scan records (SipMessageScan.lines), so that the fields after
  // them are found by walking on past the recorded lines.
  const messages = fc
    .tuple(
      fc.constantFrom(...starts),
      fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 40 })),
      fc.array(fc.constantFrom(...pool), { maxLength: 14 }),
      fc.constantFrom(SCAN_ALL | SCAN_REASON | SCAN_EXPIRES, SCAN_KPI),
    )
    .map(
      ([start, pads, lines, optional]) =>
        [start, [...Array.from({ length: pads }, (_, i) => `X-Pad: ${i}`), ...lines], optional] as [
          string,
          string[],
          number,
        ],
    );
  const build = (start: string, lines: string[]) =>
    Buffer.from([start, ...lines, 'Content-Length: 0', '', ''].join('\r\n'), 'latin1');

  it('reads the same fields when it defers them and they are read afterwards', () => {
    fc.assert(
      fc.property(messages, ([start, lines, optional]) => {
        const buf = build(start, lines);
        const later = new SipMessageScan();
        expect(scanSipMessage(buf, 0, buf.length, later, optional | SCAN_DEFER)).toBe(0);
        // Nothing optional is read until asked for.
        expect([later.fromTagStart, later.viaBranchStart, later.reasonProtocol, later.expiresZero]).toEqual([
          -1,
          -1,
          SCAN_REASON_NONE,
          false,
        ]);
        readDeferredFields(buf, later);
        expect(later.deferred).toBe(0);
        expect(read(later)).toEqual(read(scan(buf, optional)));
      }),
      { numRuns: 2000 },
    );
  });

  it('finds the first of each optional header wherever it stands, with and without the KPI narrowing', () => {
    fc.assert(
      fc.property(messages, ([start, lines, optional]) => {
        expect(read(scan(build(start, lines), optional))).toEqual(expected(start, lines, optional));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('a header name cut by the end of the message', () => {
  it('is read from the message alone, not from the bytes that follow it in the buffer', () => {
    // A batched read's datagram is followed by the stale bytes of other datagrams.
    for (const [name, bit] of [
      ['v', SCAN_VIA_BRANCH],
      ['f', SCAN_FROM_TAG],
      ['Via', SCAN_VIA_BRANCH],
      ['From', SCAN_FROM_TAG],
    ] as const) {
      const message = `INVITE sip:b@x SIP/2.0\r\nCall-ID: c@x\r\nCSeq: 1 INVITE\r\nTo: <sip:b@x>\r\n${name}`;
      const buf = Buffer.from(
        `${message}: SIP/2.0/UDP x;branch=z9hG4bKout <sip:o@x>;tag=out\r\n\r\n`,
        'latin1',
      );
      const out = new SipMessageScan();
      expect(scanSipMessage(buf, 0, message.length, out, bit)).toBe(0);
      expect([out.viaBranchStart, out.fromTagStart]).toEqual([-1, -1]);
    }
  });
});
