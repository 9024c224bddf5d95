import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/forward/backoff.js';
import { parseForwardTarget, parseForwardTargets } from '../../src/forward/target.js';

describe('forward targets', () => {
  it('reads host:port, [v6]:port and names', () => {
    expect(parseForwardTarget('127.0.0.1:9060')).toEqual({
      host: '127.0.0.1',
      port: 9060,
      text: '127.0.0.1:9060',
    });
    expect(parseForwardTarget(' [::1]:9061 ')).toEqual({ host: '::1', port: 9061, text: '[::1]:9061' });
    expect(parseForwardTarget('homer.example.com:9060')).toMatchObject({
      host: 'homer.example.com',
      port: 9060,
    });
  });

  it('says what is wrong with a bad target', () => {
    expect(parseForwardTarget('homer')).toMatch(/has no port/);
    expect(parseForwardTarget(':9060')).toMatch(/has no host/);
    expect(parseForwardTarget('homer:0')).toMatch(/not a port number/);
    expect(parseForwardTarget('homer:70000')).toMatch(/not a port number/);
    expect(parseForwardTarget('::1:9060')).toMatch(/in brackets/);
    expect(parseForwardTarget('[1.2.3.4]:9060')).toMatch(/not an IPv6 address/);
    expect(parseForwardTarget('ho mer:9060')).toMatch(/neither an IP address nor a host name/);
    expect(parseForwardTargets('a:1,a:1')).toEqual(['a:1 is listed twice']);
    expect(parseForwardTargets('')).toEqual([]);
    expect(parseForwardTargets(['a:1', 'b:2'])).toHaveLength(2);
  });

  it('answers any text with a target or a message, never a throw', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const result = parseForwardTarget(text);
        if (typeof result !== 'string') {
          expect(result.port).toBeGreaterThanOrEqual(1);
          expect(result.port).toBeLessThanOrEqual(65535);
          expect(parseForwardTarget(result.text)).toEqual(result);
        }
      }),
    );
  });
});

describe('Backoff', () => {
  it('doubles its ceiling up to the maximum, with the upper half random', () => {
    const low = new Backoff(100, 1000, () => 0);
    expect([1, 2, 3, 4, 5, 6].map(() => low.next())).toEqual([50, 100, 200, 400, 500, 500]);
    const high = new Backoff(100, 1000, () => 0.999);
    const waits = [1, 2, 3].map(() => high.next());
    expect(waits[0]).toBeCloseTo(99.95);
    expect(waits[2]).toBeCloseTo(399.8);
    high.reset();
    expect(high.next()).toBeCloseTo(99.95);
  });

  it('stays finite and within the maximum however many attempts', () => {
    const b = new Backoff(100, 30_000);
    for (let i = 0; i < 5000; i++) {
      const wait = b.next();
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(30_000);
    }
  });
});
