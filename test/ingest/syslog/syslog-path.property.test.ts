import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DedupeWindow } from '../../../src/count/dedupe.js';
import { NodeLabels } from '../../../src/count/nodes.js';
import { SipCounter } from '../../../src/count/sip-counter.js';
import { OK, ParseError, type SyslogParseError } from '../../../src/errors.js';
import { buildExtractors, DEFAULT_EXTRACTORS } from '../../../src/ingest/syslog/extractors.js';
import { SyslogStreamSplitter } from '../../../src/ingest/syslog/framing.js';
import { parseSyslog } from '../../../src/ingest/syslog/parse.js';
import { SyslogIngest } from '../../../src/ingest/syslog/syslog-ingest.js';
import { SelfMetrics } from '../../../src/metrics/self-metrics.js';

/** The whole syslog path behind the sockets: extractors, parser, ingest, counter, self-metrics. */
function newPath() {
  const registry = new Registry();
  const self = new SelfMetrics(registry);
  const nodes = new NodeLabels(50, new Map(), self.nodeOverflow.cell({}));
  const counter = new SipCounter(registry, nodes, new DedupeWindow(32_000, 1000), self);
  const extractors = buildExtractors([
    ...DEFAULT_EXTRACTORS,
    { name: 'custom', regex: String.raw`status=(?<code>\d+) node=(?<node>\S+)` },
  ]);
  const ingest = new SyslogIngest(counter, self, extractors);
  const errors = (id: SyslogParseError) => ingest.stats.parseErrors.cell(id).value;
  /** Every way a message can end; exactly one of them per message. */
  const outcomes = () =>
    self.syslogMatches.total() +
    self.syslogUnmatched.total() +
    errors(ParseError.SYSLOG_MALFORMED) +
    errors(ParseError.SYSLOG_BAD_STATUS_CODE) +
    errors(ParseError.SYSLOG_BAD_STRUCTURED_DATA) +
    errors(ParseError.SYSLOG_UNPARSEABLE);
  return { ingest, self, errors, outcomes };
}

/** Text of real Kamailio and OpenSIPS log lines: acc module and the recommended xlog. */
const REAL_TEXT = [
  'NOTICE: {2 102 INVITE c1@192.0.2.1} acc [acc.c:285]: acc_log_request(): ACC: transaction answered: timestamp=1795599837;method=INVITE;from_tag=as5f3a;to_tag=7f3e9a;call_id=c1@192.0.2.1;code=486;reason=Busy Here;src_user=alice;dst_ouser=bob',
  '17(77) NOTICE: acc [acc.c:285]: acc_log_request(): ACC: call missed: timestamp=1;method=INVITE;from_tag=a;to_tag=;call_id=m1;code=404;reason=Not Found',
  'NOTICE: acc [acc.c:285]: ACC: request acknowledged: timestamp=1;method=ACK;from_tag=a;to_tag=b;call_id=c;code=200;reason=OK',
  'NOTICE:ACC: transaction answered: timestamp=1795599837;created=1795599830;setuptime=7;method=INVITE;from_tag=a;to_tag=b;call_id=os-1;code=200;reason=OK',
  'NOTICE: <script>: sip_response code=503 method=INVITE cseq=102 callid=x1@h totag=<null>',
  'NOTICE: <script>: sip_response code=180 method=INVITE cseq=1 callid=r]1 totag=t]',
  'SIP/2.0 480 Temporarily Unavailable#015#012Call-ID: a1#015#012To: <sip:b@x>;tag=t#015#012CSeq: 4 INVITE#015#012#015#012',
  'status=603 node=edge-7 [custom]',
  'an ordinary log line [with brackets]',
];
/** Whole lines as Kamailio, rsyslog and logger send them. */
const REAL_LINES = [
  `<142>Nov 25 10:20:30 proxy1 /usr/sbin/kamailio[1234]: ${REAL_TEXT[0]}`,
  `<134>1 2026-11-25T10:20:30Z proxy1 kamailio 77 - - ${REAL_TEXT[1]}`,
  `<133>Nov 25 10:20:30 opensips1 /usr/sbin/opensips[999]: ${REAL_TEXT[3]}`,
  `<141>Nov  5 10:20:30 proxy1 /usr/sbin/kamailio[9]: ${REAL_TEXT[4]}`,
  `<13>2026-11-25T10:20:30.123456+01:00 proxy2 kamailio[55]: ${REAL_TEXT[4]}`,
  `<134>1 2026-11-25T10:20:30.003Z proxy1 kamailio 7 ID47 [timeQuality tzKnown="1"][a@1 x="a\\]b"] \ufeff${REAL_TEXT[0]}`,
];

const printable = (min: number, max: number, except = '') => {
  const chars: string[] = [];
  for (let c = 33; c <= 126; c++)
    if (!except.includes(String.fromCharCode(c))) chars.push(String.fromCharCode(c));
  return fc.string({ unit: fc.constantFrom(...chars), minLength: min, maxLength: max });
};
const nilOr = (a: fc.Arbitrary<string>) => fc.oneof(fc.constant('-'), a);

const sdName = printable(1, 32, '= ]"');
/** A PARAM-VALUE as a sender writes it: `"`, `\` escaped, `]` escaped or (leniently) not. */
const paramValue = fc
  .tuple(fc.string({ unit: 'grapheme', maxLength: 20 }), fc.boolean())
  .map(([v, escapeBracket]) => v.replace(escapeBracket ? /["\\\]]/g : /["\\]/g, '\\$&'));
const sdElement = fc
  .tuple(sdName, fc.array(fc.tuple(sdName, paramValue), { maxLength: 4 }))
  .map(([id, params]) => `[${id}${params.map(([n, v]) => ` ${n}="${v}"`).join('')}]`);
const structuredData = fc.oneof(
  fc.constant('-'),
  fc.array(sdElement, { minLength: 1, maxLength: 3 }).map((e) => e.join('')),
);

/** MSG text the parser hands over unchanged: no leading BOM, no rsyslog `#ooo` escape. */
const plainText = fc.oneof(
  fc.constantFrom(...REAL_TEXT.filter((t) => !t.includes('#'))),
  fc.string({ unit: 'grapheme', maxLength: 60 }).filter((s) => !s.includes('#') && !s.startsWith('\ufeff')),
  fc
    .array(fc.constantFrom('[x]', 'a]', ']', '[', 'word', 'code=486]', '"q"', '\\'), { maxLength: 8 })
    .map((w) => w.join(' ')),
);

const message5424 = fc.record({
  pri: fc.integer({ min: 0, max: 191 }),
  time: fc.constantFrom(
    '-',
    '2026-11-25T10:20:30Z',
    '2003-08-24T05:14:15.000003-07:00',
    '1985-04-12T23:20:50.52Z',
  ),
  host: nilOr(printable(1, 255)),
  app: nilOr(printable(1, 48)),
  procId: nilOr(printable(1, 128)),
  msgId: nilOr(printable(1, 32)),
  sd: structuredData,
  msg: fc.option(fc.tuple(fc.boolean(), plainText), { nil: undefined }),
});
type Message5424 = typeof message5424 extends fc.Arbitrary<infer T> ? T : never;
const line5424 = (m: Message5424) =>
  `<${m.pri}>1 ${m.time} ${m.host} ${m.app} ${m.procId} ${m.msgId} ${m.sd}${
    m.msg === undefined ? '' : ` ${m.msg[0] ? '\ufeff' : ''}${m.msg[1]}`
  }`;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const line3164 = fc
  .record({
    pri: fc.integer({ min: 0, max: 191 }),
    month: fc.constantFrom(...MONTHS),
    day: fc.integer({ min: 1, max: 31 }),
    host: fc.stringMatching(/^[a-z][a-z0-9.-]{0,20}$/),
    tag: fc.constantFrom('kamailio', '/usr/sbin/kamailio[1234]', 'opensips[9]', 'asterisk'),
    text: plainText,
  })
  .map(
    (m) => `<${m.pri}>${m.month} ${String(m.day).padStart(2, ' ')} 10:20:30 ${m.host} ${m.tag}: ${m.text}`,
  );

/** Any line, well formed or not. */
const wellFormed = fc.oneof(fc.constantFrom(...REAL_LINES), message5424.map(line5424), line3164);
const mutated = fc
  .record({
    line: wellFormed,
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    inserts: fc.array(
      fc.tuple(fc.nat(), fc.constantFrom('[', ']', '"', '\\', ' ', '=', '-', 'T', '\n', '\0')),
      {
        maxLength: 4,
      },
    ),
    cut: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ line, edits, inserts, cut }) => {
    let s = line;
    for (const [at, c] of inserts) {
      const i = at % (s.length + 1);
      s = s.slice(0, i) + c + s.slice(i);
    }
    const buf = Buffer.from(s);
    for (const [at, value] of edits) if (buf.length > 0) buf[at % buf.length] = value;
    return cut === undefined ? buf : buf.subarray(0, cut % (buf.length + 1));
  });
const anyMessage = fc.oneof(
  wellFormed.map((l) => Buffer.from(l)),
  mutated,
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(`<13>1 ${s}`)),
);

/** Feeds a byte stream in the given read sizes, as a socket would. */
function feed(splitter: SyslogStreamSplitter, stream: Buffer, cuts: number[]): number {
  let p = 0;
  for (const cut of cuts) {
    if (p >= stream.length) break;
    const end = Math.min(stream.length, p + 1 + (cut % 97));
    const error = splitter.push(stream.subarray(p, end));
    if (error !== OK) return error;
    p = end;
  }
  return p < stream.length ? splitter.push(stream.subarray(p)) : OK;
}

describe('the whole syslog path under random and mutated input', () => {
  it('RFC 5424 with structured data: MSG is exactly what followed the SD, `[` and `]` and all', () => {
    fc.assert(
      fc.property(message5424, (m) => {
        const parsed = parseSyslog(line5424(m));
        expect(parsed).toEqual({
          host: m.host === '-' ? null : m.host,
          app: m.app === '-' ? null : m.app,
          text: m.msg === undefined ? '' : m.msg[1],
        });
      }),
      { numRuns: 3000 },
    );
  });

  it('a real acc or xlog line behind any valid header and structured data is matched', () => {
    const matching = REAL_TEXT.filter((t) => !t.includes('request acknowledged') && !t.includes('ordinary'));
    fc.assert(
      fc.property(message5424, fc.constantFrom(...matching), (m, text) => {
        const path = newPath();
        path.ingest.handle(Buffer.from(line5424({ ...m, msg: [false, text] })), '192.0.2.1', 0);
        expect(path.self.syslogMatches.total()).toBe(1);
      }),
      { numRuns: 1000 },
    );
  });

  it('one datagram, one message: never throws, never reaches the guard, ends in exactly one outcome', () => {
    const path = newPath();
    let count = 0;
    fc.assert(
      fc.property(anyMessage, (buf) => {
        const before = path.outcomes();
        path.ingest.handle(buf, '192.0.2.1', count++);
        expect(path.outcomes() - before).toBe(1);
      }),
      { numRuns: 5000 },
    );
    expect(path.errors(ParseError.SYSLOG_UNPARSEABLE)).toBe(0);
    // The run exercised every outcome, not only the easy one.
    expect(path.self.syslogMatches.total()).toBeGreaterThan(0);
    expect(path.self.syslogUnmatched.total()).toBeGreaterThan(0);
    expect(path.errors(ParseError.SYSLOG_MALFORMED)).toBeGreaterThan(0);
    expect(path.errors(ParseError.SYSLOG_BAD_STRUCTURED_DATA)).toBeGreaterThan(0);
  });

  for (const framing of ['octet counting', 'LF'] as const) {
    it(`TCP with ${framing}, in reads of any size: every frame ends in exactly one outcome`, () => {
      const path = newPath();
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              wellFormed.map((l) => Buffer.from(l)),
              mutated,
            ),
            { maxLength: 12 },
          ),
          fc.array(fc.nat(), { maxLength: 40 }),
          (messages, cuts) => {
            const before = path.outcomes();
            let frames = 0;
            const splitter = new SyslogStreamSplitter(4096, (frame) => {
              frames++;
              path.ingest.handle(frame, '192.0.2.1', 0);
            });
            const stream = Buffer.concat(
              messages.map((m) =>
                framing === 'LF'
                  ? Buffer.concat([m, Buffer.from('\n')])
                  : Buffer.concat([Buffer.from(`${m.length} `), m]),
              ),
            );
            const error = feed(splitter, stream, cuts);
            expect(path.outcomes() - before).toBe(frames);
            if (framing === 'octet counting' && error === OK) {
              // Octet counting keeps messages whole: one frame each, bar those that are only trailer.
              const framed = messages.filter((m) => m.some((b) => b !== 10 && b !== 13 && b !== 0)).length;
              expect(frames).toBe(framed);
            }
          },
        ),
        { numRuns: 1500 },
      );
      expect(path.errors(ParseError.SYSLOG_UNPARSEABLE)).toBe(0);
      expect(path.self.syslogMatches.total()).toBeGreaterThan(0);
    });
  }

  it('well-formed messages over TCP with either framing are each one frame and one outcome', () => {
    fc.assert(
      fc.property(
        fc.array(wellFormed, { minLength: 1, maxLength: 10 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 40 }),
        (lines, octets, cuts) => {
          const path = newPath();
          let frames = 0;
          const splitter = new SyslogStreamSplitter(65536, (frame) => {
            frames++;
            path.ingest.handle(frame, '192.0.2.1', 0);
          });
          // As rsyslog does for newline framing, a line break or NUL inside a message is escaped.
          const stream = lines
            .map((l) =>
              octets
                ? `${Buffer.byteLength(l)} ${l}`
                : `${l.replace(/[\n\0]/g, (c) => (c === '\n' ? '#012' : '#000'))}\n`,
            )
            .join('');
          expect(feed(splitter, Buffer.from(stream), cuts)).toBe(OK);
          expect(frames).toBe(lines.length);
          expect(path.outcomes()).toBe(lines.length);
          expect(path.errors(ParseError.SYSLOG_UNPARSEABLE)).toBe(0);
          expect(path.errors(ParseError.SYSLOG_BAD_STRUCTURED_DATA)).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});
