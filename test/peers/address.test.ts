import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatIPv4,
  formatIPv6,
  parseAddressRange,
  parseAddressTextInto,
  parseIPv4,
  parseIPv6,
} from '../../src/peers/address.js';

function range(text: string) {
  const parsed = parseAddressRange(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.range;
}

function refusal(text: string): string {
  const parsed = parseAddressRange(text);
  if (parsed.ok) throw new Error(`${text} was accepted`);
  return parsed.message;
}

describe('address ranges', () => {
  it('reads single addresses as /32 and /128', () => {
    expect(range('192.0.2.7')).toEqual({ family: 4, first: 0xc0000207n, last: 0xc0000207n, prefix: 32 });
    expect(range('2001:db8::1')).toEqual({
      family: 6,
      first: 0x20010db8000000000000000000000001n,
      last: 0x20010db8000000000000000000000001n,
      prefix: 128,
    });
  });

  it('reads CIDR ranges, /0 included', () => {
    expect(range('10.0.0.0/8')).toMatchObject({ first: 0x0a000000n, last: 0x0affffffn, prefix: 8 });
    expect(range('0.0.0.0/0')).toMatchObject({ family: 4, first: 0n, last: 0xffffffffn });
    expect(range('::/0')).toMatchObject({ family: 6, first: 0n, last: (1n << 128n) - 1n });
    expect(range('2001:db8::/32')).toMatchObject({
      first: 0x20010db8n << 96n,
      last: (0x20010db8n << 96n) | ((1n << 96n) - 1n),
    });
  });

  it('stores IPv4-mapped IPv6 as the IPv4 it maps', () => {
    expect(range('::ffff:192.0.2.7')).toEqual(range('192.0.2.7'));
    expect(range('::ffff:c000:0207')).toEqual(range('192.0.2.7'));
    expect(range('::ffff:192.0.2.0/120')).toEqual(range('192.0.2.0/24'));
    expect(range('::ffff:0:0/96')).toEqual(range('0.0.0.0/0'));
    // Shorter than /96 it is an IPv6 range like any other.
    expect(range('::/80').family).toBe(6);
    expect(range('::/80').last).toBe((1n << 48n) - 1n);
  });

  it('refuses a range with host bits set and offers the network and the address', () => {
    expect(refusal('192.0.2.1/24')).toBe(
      '"192.0.2.1/24" has bits set past the /24 prefix: write 192.0.2.0/24 for the network, or 192.0.2.1 alone for the one address',
    );
    expect(refusal('2001:db8::1/32')).toContain('write 2001:db8::/32 for the network');
  });

  it('refuses what is not an address, naming it', () => {
    for (const text of ['', 'carrier', '192.0.2', '192.0.2.256', '1.2.3.4.5', '2001:db8:::1', 'gggg::']) {
      expect(refusal(text)).toBe(
        `"${text}" is not an IPv4 or IPv6 address or CIDR range (such as 192.0.2.0/24 or 2001:db8::/32)`,
      );
    }
  });

  it('refuses octal-looking IPv4, bad prefixes and zone indexes', () => {
    expect(refusal('010.0.0.1')).toContain('is not an IPv4 or IPv6 address');
    expect(refusal('10.0.0.0/33')).toBe('"10.0.0.0/33": the prefix length must be a number from 0 to 32');
    expect(refusal('::/129')).toBe('"::/129": the prefix length must be a number from 0 to 128');
    expect(refusal('10.0.0.0/8/8')).toContain('prefix length');
    expect(refusal('10.0.0.0/-1')).toContain('prefix length');
    expect(refusal('10.0.0.0/')).toContain('prefix length');
    expect(refusal('fe80::1%eth0')).toContain('zone indexes');
  });

  it('reads every IPv4 address as its four bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        const text = formatIPv4(n);
        expect(parseIPv4(text)).toBe(n);
        expect(range(text).first).toBe(BigInt(n));
      }),
    );
  });

  it('reads every IPv6 spelling as the WHATWG URL parser does', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const value = parseIPv6(text);
        expect(value).toBeDefined();
        const canonical = new URL(`http://[${text}]/`).hostname.slice(1, -1);
        expect(formatIPv6(value!)).toBe(canonical);
        expect(parseIPv6(canonical)).toBe(value);
      }),
    );
  });

  it('accepts a range exactly when its address has no bits past the prefix', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
        fc.integer({ min: 0, max: 128 }),
        (v, prefix) => {
          const parsed = parseAddressRange(`${formatIPv6(v)}/${prefix}`);
          const hostBits = v & ((1n << BigInt(128 - prefix)) - 1n);
          expect(parsed.ok).toBe(hostBits === 0n);
          if (parsed.ok && parsed.range.family === 6) {
            expect(parsed.range.first).toBe(v);
            expect(parsed.range.last - parsed.range.first).toBe((1n << BigInt(128 - prefix)) - 1n);
          }
        },
      ),
    );
  });
});

/** What parseAddressTextInto wrote, as the hex of its 4 or 16 bytes; '' when it refused. */
function textBytes(text: string): string {
  const out = new Uint8Array(16).fill(0xaa);
  const length = parseAddressTextInto(text, out);
  return Buffer.from(out.subarray(0, length)).toString('hex');
}

/** The reference: the configuration's own parser, to the same bytes. */
function referenceBytes(text: string): string {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const v4 = parseIPv4(bare);
  if (v4 !== undefined) return v4.toString(16).padStart(8, '0');
  const v6 = parseIPv6(bare);
  return v6 === undefined ? '' : v6.toString(16).padStart(32, '0');
}

describe('text addresses from log lines', () => {
  it('reads IPv4, IPv6 in every shortened form, brackets and a dotted-quad tail', () => {
    expect(textBytes('192.0.2.7')).toBe('c0000207');
    expect(textBytes('2001:db8::1')).toBe('20010db8000000000000000000000001');
    expect(textBytes('[2001:db8::1]')).toBe('20010db8000000000000000000000001');
    expect(textBytes('::')).toBe('0'.repeat(32));
    expect(textBytes('::1')).toBe(`${'0'.repeat(31)}1`);
    expect(textBytes('fe80::')).toBe(`fe80${'0'.repeat(28)}`);
    expect(textBytes('::ffff:192.0.2.7')).toBe('00000000000000000000ffffc0000207');
    expect(textBytes('1:2:3:4:5:6:7:8')).toBe('00010002000300040005000600070008');
    expect(textBytes('1:2:3:4:5:6:1.2.3.4')).toBe('00010002000300040005000601020304');
  });

  it('refuses host names, ports, zones, octal-looking bytes and malformed IPv6', () => {
    for (const bad of [
      '',
      'carrier.example.com',
      '<null>',
      '192.0.2.7:5060',
      '192.0.2',
      '192.0.2.256',
      '010.0.0.1',
      '1.2.3.4.5',
      'fe80::1%eth0',
      ':::',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      '12345::',
      '1:',
      ':1',
      '[::1',
      '::ffff:1.2.3',
    ])
      expect([bad, textBytes(bad)]).toEqual([bad, '']);
  });

  it('agrees with the configuration parser on any IPv4 and IPv6 text, and never throws', () => {
    const v6Text = fc.ipV6().chain((a) => fc.constantFrom(a, a.toUpperCase(), `[${a}]`));
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), v6Text, fc.ipV4Extended(), fc.string({ maxLength: 48 })), (text) => {
        const got = textBytes(text);
        expect(got).toBe(referenceBytes(text));
        if (got !== '') expect(isIP(text.replace(/^\[(.*)\]$/, '$1'))).not.toBe(0);
      }),
      { numRuns: 5000 },
    );
  });
});
