import { describe, expect, it } from 'vitest';
import { parseAddressRange } from '../../src/peers/address.js';
import { AddressSet, PeerMatcher } from '../../src/peers/matcher.js';
import { expectAllocatesNothing } from '../helpers/gc.js';

function range(text: string) {
  const parsed = parseAddressRange(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.range;
}

/**
 * A lookup that allocated even 16 bytes would fill the young generation many times over in these
 * millions of lookups, and a scavenge would show. IPv4 and IPv6 keys above 2^31 are what once
 * got boxed, so the probes are high addresses.
 */
describe('peer lookups', () => {
  it('allocate nothing', async () => {
    const matcher = new PeerMatcher([
      { name: 'tls', ranges: [range('192.0.2.0/24')], ports: [5061] },
      { name: 'carrier', ranges: [range('192.0.2.0/23'), range('fd00::/8')], ports: null },
      { name: 'rest', ranges: [range('0.0.0.0/0'), range('::/0')], ports: null },
    ]);
    const self = new AddressSet([range('192.0.3.7'), range('fd00::7')]);
    const buf = new Uint8Array(48);
    buf.set([192, 0, 2, 9], 0);
    buf.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9], 4);
    buf.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xc0, 0, 3, 7], 20);
    buf.set([0xff, 0xee, 0xdd, 0xcc], 36);
    const probes = [
      [0, 4],
      [4, 16],
      [20, 16],
      [36, 4],
    ];
    const offsets = Int32Array.from(probes, (p) => p[0]);
    const lengths = Int32Array.from(probes, (p) => p[1]);
    const run = (n: number) => {
      let sum = 0;
      for (let i = 0; i < n; i++)
        sum += matcher.lookup(buf, offsets[i & 3], lengths[i & 3], 5060 + (i & 1), self);
      return sum;
    };
    // carrier (the port is not 5061), carrier, self (mapped), rest
    expect(
      probes.map(([offset, length], i) => matcher.lookup(buf, offset, length, 5060 + (i & 1), self)),
    ).toEqual([2, 2, -1, 3]);
    run(500_000);
    await expectAllocatesNothing(4_000_000, () => run(4_000_000));
  });
});
