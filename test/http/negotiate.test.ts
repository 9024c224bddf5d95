import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prefersOpenMetrics } from '../../src/http/negotiate.js';

describe('prefersOpenMetrics', () => {
  it.each([
    // What Prometheus 2.x sends by default.
    [
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      true,
    ],
    // Prometheus 3.x, with the escaping parameter and text 1.0.0.
    [
      'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1',
      true,
    ],
    // Protobuf first: we cannot serve it, so the best of the rest wins.
    [
      'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4',
      true,
    ],
    ['application/openmetrics-text; version=0.0.1', true],
    ['application/openmetrics-text', true],
    ['Application/OpenMetrics-Text; Version="1.0.0"; charset=utf-8', true],
    // Text preferred, or a tie: the default.
    ['text/plain;version=0.0.4,application/openmetrics-text;version=1.0.0;q=0.5', false],
    ['application/openmetrics-text;q=0.5,*/*;q=0.5', false],
    ['application/openmetrics-text, text/plain', false],
    // Versions we do not write, refusals and junk.
    ['application/openmetrics-text;version=2.0.0', false],
    ['application/openmetrics-text;q=0', false],
    ['application/openmetrics-text;q=2', false],
    ['application/openmetrics-text;q=abc', false],
    ['*/*', false],
    ['text/html', false],
    ['', false],
    [undefined, false],
    [';;;,,,=;q=;version', false],
  ])('%s -> %s', (accept, expected) => {
    expect(prefersOpenMetrics(accept)).toBe(expected);
  });

  it('never throws on any header text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (accept) => {
        expect(typeof prefersOpenMetrics(accept)).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });
});
