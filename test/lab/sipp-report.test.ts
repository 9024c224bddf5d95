import { describe, expect, it } from 'vitest';
import { parseSippRtt, parseSippScreen } from '../../lab/sipp-report.js';

const SCREEN = `
                                 Messages  Retrans   Timeout   Unexpected-Msg
      INVITE ---------->         5         0         0
         100 <----------         5         0         0         0
         180 <----------         5         0         0         0
         183 <----------         0         0         0         0
         200 <----------  E-RTD1 5         1         0         0
         ACK ---------->         5         0
       Pause [      0ms]         5                             0
         BYE ---------->         5         0         0
         200 <----------         5         0         0         0
------------------------------ Test Terminated --------------------------------
----------------------------- Statistics Screen ------- [1-9]: Change Screen --
  Successful call        |        0                  |        5
  Failed call            |        0                  |        0
`;

describe("sipp's final screen", () => {
  it('gives the responses received per method and code, and the call counters', () => {
    const report = parseSippScreen(SCREEN);
    expect(report.successful).toBe(5);
    expect(report.failed).toBe(0);
    expect(Object.fromEntries(report.responsesReceived)).toEqual({
      'INVITE 100': 5,
      'INVITE 180': 5,
      'INVITE 200': 5,
      'BYE 200': 5,
    });
  });
});

describe("sipp's -trace_rtt file", () => {
  it('gives the response times of one rtd, in ms, and refuses another file', () => {
    const csv = 'Date_ms;response_time_ms;rtd_no\n560.001;508;1\n608.001;504;1\n700;12;2\n656.001;504.5;1\n';
    expect(parseSippRtt(csv)).toEqual([508, 504, 504.5]);
    expect(parseSippRtt(csv, 2)).toEqual([12]);
    expect(() => parseSippRtt('Messages  Retrans\n')).toThrow(/not a sipp rtt file/);
  });
});
