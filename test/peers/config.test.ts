import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { MAX_PEER_ADDRESSES, MAX_PEERS, peersSchema, selfAddressesSchema } from '../../src/peers/config.js';
import { PEER_SELF } from '../../src/peers/matcher.js';

function messages(schema: z.ZodType, value: unknown): string[] {
  const result = schema.safeParse(value);
  if (result.success) throw new Error('expected the value to be refused');
  return result.error.issues.map((issue) => issue.message);
}

function refusal(value: unknown): string {
  const all = messages(peersSchema, value);
  expect(all).toHaveLength(1);
  return all[0];
}

const carrier = { name: 'carrier-a', addresses: ['192.0.2.0/24'] };

describe('peers configuration', () => {
  it('builds the matcher from the example in the docs', () => {
    const matcher = peersSchema.parse(
      parseYaml(`
- name: carrier-a
  addresses: ["192.0.2.0/24", "2001:db8:a::/48"]
- name: carrier-b
  addresses: ["198.51.100.10", "198.51.100.11"]
  ports: [5060, 5061]
- name: customer-x
  addresses: ["203.0.113.0/24"]
`),
    );
    expect(matcher.names).toEqual(['other', 'carrier-a', 'carrier-b', 'customer-x']);
    const at = (a: number[], port: number) => matcher.names[matcher.peerOf(Uint8Array.from(a), 0, 4, port)];
    expect(at([198, 51, 100, 10], 5061)).toBe('carrier-b');
    expect(at([198, 51, 100, 10], 5062)).toBe('other');
    expect(at([203, 0, 113, 9], 5062)).toBe('customer-x');
    expect(matcher.entries[1].ports).toEqual([5060, 5061]);
  });

  it('is empty when left out', () => {
    expect(peersSchema.parse(undefined).size).toBe(0);
    expect(peersSchema.parse(null).size).toBe(0);
    expect(peersSchema.parse([]).size).toBe(0);
  });

  it('refuses a value that is not a list, or an entry that is not a mapping', () => {
    expect(refusal('carrier-a')).toBe(
      'peers must be a list of entries with name and addresses, got "carrier-a"',
    );
    expect(refusal([carrier, 'x'])).toBe('peers[1]: expected an entry with name and addresses, got "x"');
  });

  it('refuses unknown keys, naming the entry', () => {
    expect(refusal([carrier, { name: 'carrier-b', adresses: ['192.0.2.1'], addresses: ['192.0.3.1'] }])).toBe(
      'peers[1] (carrier-b): unknown key "adresses" (an entry has name, addresses, ports)',
    );
  });

  it('refuses bad CIDRs and addresses, naming the entry and the position', () => {
    expect(refusal([{ name: 'carrier-a', addresses: ['192.0.2.0/24', '192.0.3.1/24'] }])).toBe(
      'peers[0] (carrier-a): addresses[1] "192.0.3.1/24" has bits set past the /24 prefix: write 192.0.3.0/24 for the network, or 192.0.3.1 alone for the one address',
    );
    expect(refusal([carrier, { name: 'b', addresses: ['sbc.example.com'] }])).toBe(
      'peers[1] (b): addresses[0] "sbc.example.com" is not an IPv4 or IPv6 address or CIDR range (such as 192.0.2.0/24 or 2001:db8::/32)',
    );
    expect(refusal([{ name: 'b', addresses: ['10.0.0.0/40'] }])).toBe(
      'peers[0] (b): addresses[0] "10.0.0.0/40": the prefix length must be a number from 0 to 32',
    );
    expect(refusal([{ name: 'b', addresses: [10] }])).toBe(
      'peers[0] (b): addresses[0] must be an address in quotes, got 10',
    );
    expect(refusal([{ name: 'b', addresses: '192.0.2.1' }])).toBe(
      'peers[0] (b): addresses must be a list such as ["192.0.2.0/24", "2001:db8::1"], got "192.0.2.1"',
    );
    expect(refusal([{ name: 'b', addresses: [] }])).toBe(
      'peers[0] (b): addresses is empty: list at least one address or range',
    );
    expect(refusal([{ name: 'b' }])).toBe(
      'peers[0] (b): addresses must be a list such as ["192.0.2.0/24", "2001:db8::1"], got undefined',
    );
  });

  it('refuses duplicate names, naming both entries', () => {
    expect(refusal([carrier, { name: 'b', addresses: ['192.0.2.1'] }, carrier])).toBe(
      'peers[2] (carrier-a): name is already used by peers[0]',
    );
  });

  it('refuses names that are not safe label values, or are reserved', () => {
    expect(refusal([{ name: 'carrier a', addresses: ['192.0.2.1'] }])).toBe(
      'peers[0] (carrier a): name may hold only letters, digits, _ . : and -, and must not start with . : or -',
    );
    for (const name of ['-a', '.a', ':a', 'a"b', 'a{b}', 'carrier/1', 'é'])
      expect(refusal([{ name, addresses: ['192.0.2.1'] }])).toContain('name may hold only');
    expect(refusal([{ name: 'x'.repeat(65), addresses: ['192.0.2.1'] }])).toContain(
      'name is 65 characters long; at most 64 are allowed',
    );
    expect(refusal([{ name: 'Other', addresses: ['192.0.2.1'] }])).toBe(
      'peers[0] (Other): name "Other" is reserved for addresses that match no peer',
    );
    expect(refusal([{ name: 1234, addresses: ['192.0.2.1'] }])).toBe(
      'peers[0]: name must be text in quotes, got 1234',
    );
    expect(refusal([{ addresses: ['192.0.2.1'] }])).toBe('peers[0]: name is missing');
    // Real carrier names start with digits.
    expect(peersSchema.parse([{ name: '8x8', addresses: ['192.0.2.1'] }]).names[1]).toBe('8x8');
    expect(peersSchema.parse([{ name: 'x'.repeat(64), addresses: ['192.0.2.1'] }]).size).toBe(1);
  });

  it('refuses ports outside 1-65535 and empty port lists', () => {
    for (const port of [0, 65536, -1, 5060.5, '5060'])
      expect(refusal([{ name: 'b', addresses: ['192.0.2.1'], ports: [port] }])).toBe(
        `peers[0] (b): ports[0] must be a port number from 1 to 65535, got ${JSON.stringify(port)}`,
      );
    expect(refusal([{ name: 'b', addresses: ['192.0.2.1'], ports: [] }])).toContain(
      'ports must be a non-empty list of port numbers',
    );
    expect(refusal([{ name: 'b', addresses: ['192.0.2.1'], ports: 5060 }])).toContain(
      'ports must be a non-empty list of port numbers',
    );
  });

  it('reports every problem in one pass', () => {
    const all = messages(peersSchema, [
      { name: 'a', addresses: ['192.0.2.1/8'], port: [5060] },
      { name: 'a', addresses: ['x'] },
    ]);
    expect(all).toEqual([
      'peers[0] (a): unknown key "port" (an entry has name, addresses, ports)',
      expect.stringContaining('peers[0] (a): addresses[0] "192.0.2.1/8" has bits set'),
      'peers[1] (a): name is already used by peers[0]',
      expect.stringContaining('peers[1] (a): addresses[0] "x" is not an IPv4'),
    ]);
  });

  it('bounds the number of peers and of addresses', () => {
    const many = Array.from({ length: MAX_PEERS + 1 }, (_, i) => ({
      name: `p${i}`,
      addresses: ['192.0.2.1'],
    }));
    expect(refusal(many)).toBe(`peers lists ${MAX_PEERS + 1} entries; at most ${MAX_PEERS} are allowed`);
    const wide = [
      { name: 'a', addresses: Array.from({ length: MAX_PEER_ADDRESSES + 1 }, () => '192.0.2.1') },
    ];
    expect(refusal(wide)).toBe(
      `peers list ${MAX_PEER_ADDRESSES + 1} addresses in all; at most ${MAX_PEER_ADDRESSES} are allowed`,
    );
  });

  it('plugs into a strict config object', () => {
    const schema = z.strictObject({ peers: peersSchema });
    const result = schema.safeParse({ peers: [{ name: 'a', addresses: ['192.0.2.1/8'] }] });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0].path).toEqual(['peers']);
    expect(schema.parse({ peers: [carrier] }).peers.names).toEqual(['other', 'carrier-a']);
  });
});

describe('self_addresses configuration', () => {
  it('builds the set of a node’s own addresses', () => {
    const self = selfAddressesSchema.parse(['192.0.2.5', '2001:db8::/64']);
    expect(self.has(Uint8Array.from([192, 0, 2, 5]), 0, 4)).toBe(true);
    expect(self.has(Uint8Array.from([192, 0, 2, 6]), 0, 4)).toBe(false);
    const matcher = peersSchema.parse([{ name: 'all', addresses: ['0.0.0.0/0'] }]);
    expect(matcher.lookup(Uint8Array.from([192, 0, 2, 5]), 0, 4, 5060, self)).toBe(PEER_SELF);
    expect(selfAddressesSchema.parse(undefined).has(Uint8Array.from([192, 0, 2, 5]), 0, 4)).toBe(false);
    expect(selfAddressesSchema.parse([]).has(Uint8Array.from([192, 0, 2, 5]), 0, 4)).toBe(false);
  });

  it('refuses bad addresses, naming the position', () => {
    expect(messages(selfAddressesSchema, ['192.0.2.5', '192.0.2.5/24'])).toEqual([
      'self_addresses[1] "192.0.2.5/24" has bits set past the /24 prefix: write 192.0.2.0/24 for the network, or 192.0.2.5 alone for the one address',
    ]);
    expect(messages(selfAddressesSchema, '192.0.2.5')).toEqual([
      'self_addresses must be a list such as ["192.0.2.0/24", "2001:db8::1"], got "192.0.2.5"',
    ]);
  });
});
