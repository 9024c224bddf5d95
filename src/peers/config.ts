import { z } from 'zod';
import { type AddressRange, parseAddressRange } from './address.js';
import { AddressSet, PEER_OTHER_LABEL, type PeerEntry, PeerMatcher } from './matcher.js';

/**
 * A peer name becomes a label value on every series of the peer, and is typed into PromQL and
 * dashboard variables: letters, digits, `_ . : -`, not starting with a punctuation mark. A
 * leading digit is allowed because carriers are called that (8x8, 1und1).
 */
export const PEER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;
export const MAX_PEER_NAME_LENGTH = 64;
/** Bounds what one load may build: peers are label values, and every range adds table rows. */
export const MAX_PEERS = 10_000;
export const MAX_PEER_ADDRESSES = 100_000;
const ENTRY_KEYS = ['name', 'addresses', 'ports'];

function describe(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a list of address strings; each failure is reported through `fail` with its position. */
function parseRanges(
  list: unknown,
  key: string,
  fail: (message: string) => void,
  allowEmpty: boolean,
): AddressRange[] | undefined {
  if (!Array.isArray(list)) {
    fail(`${key} must be a list such as ["192.0.2.0/24", "2001:db8::1"], got ${describe(list)}`);
    return undefined;
  }
  if (list.length === 0 && !allowEmpty) {
    fail(`${key} is empty: list at least one address or range`);
    return undefined;
  }
  const ranges: AddressRange[] = [];
  let bad = false;
  list.forEach((item, i) => {
    if (typeof item !== 'string') {
      fail(`${key}[${i}] must be an address in quotes, got ${describe(item)}`);
      bad = true;
      return;
    }
    const parsed = parseAddressRange(item);
    if (parsed.ok) ranges.push(parsed.range);
    else {
      fail(`${key}[${i}] ${parsed.message}`);
      bad = true;
    }
  });
  return bad ? undefined : ranges;
}

function parsePorts(list: unknown, fail: (message: string) => void): number[] | null | undefined {
  if (list === undefined) return null;
  if (!Array.isArray(list) || list.length === 0) {
    fail(`ports must be a non-empty list of port numbers such as [5060, 5061], or left out for every port`);
    return undefined;
  }
  let bad = false;
  for (const [i, port] of list.entries()) {
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      fail(`ports[${i}] must be a port number from 1 to 65535, got ${describe(port)}`);
      bad = true;
    }
  }
  return bad ? undefined : [...new Set(list as number[])].sort((a, b) => a - b);
}

/**
 * Checks the `peers` list and builds the matcher from it. Every message names the entry by
 * position and name (`peers[3] (carrier-a): ...`) and every problem is reported, not only the
 * first, so one `--config.check` run finds them all. The issues have an empty path: the message
 * already says where, so a loader that prefixes paths should print it alone.
 */
export const peersSchema = z.unknown().transform((value, ctx): PeerMatcher => {
  const fail = (message: string) => ctx.addIssue({ code: 'custom', message });
  if (value === undefined || value === null) return new PeerMatcher([]);
  if (!Array.isArray(value)) {
    fail(`peers must be a list of entries with name and addresses, got ${describe(value)}`);
    return z.NEVER;
  }
  if (value.length > MAX_PEERS) fail(`peers lists ${value.length} entries; at most ${MAX_PEERS} are allowed`);
  const entries: PeerEntry[] = [];
  const firstByName = new Map<string, number>();
  let addresses = 0;
  let bad = false;
  value.forEach((raw, i) => {
    const label =
      isRecord(raw) && typeof raw.name === 'string' && raw.name !== ''
        ? `peers[${i}] (${raw.name})`
        : `peers[${i}]`;
    const failEntry = (message: string) => {
      bad = true;
      fail(`${label}: ${message}`);
    };
    if (!isRecord(raw)) {
      failEntry(`expected an entry with name and addresses, got ${describe(raw)}`);
      return;
    }
    for (const key of Object.keys(raw))
      if (!ENTRY_KEYS.includes(key))
        failEntry(`unknown key "${key}" (an entry has ${ENTRY_KEYS.join(', ')})`);
    const name = raw.name;
    if (typeof name !== 'string' || name === '') {
      failEntry(
        name === undefined || name === ''
          ? 'name is missing'
          : `name must be text in quotes, got ${describe(name)}`,
      );
    } else if (name.length > MAX_PEER_NAME_LENGTH) {
      failEntry(`name is ${name.length} characters long; at most ${MAX_PEER_NAME_LENGTH} are allowed`);
    } else if (!PEER_NAME.test(name)) {
      failEntry('name may hold only letters, digits, _ . : and -, and must not start with . : or -');
    } else if (name.toLowerCase() === PEER_OTHER_LABEL) {
      failEntry(`name "${name}" is reserved for addresses that match no peer`);
    } else {
      const first = firstByName.get(name);
      if (first !== undefined) failEntry(`name is already used by peers[${first}]`);
      else firstByName.set(name, i);
    }
    const ranges = parseRanges(raw.addresses, 'addresses', failEntry, false);
    const ports = parsePorts(raw.ports, failEntry);
    if (ranges === undefined || ports === undefined || typeof name !== 'string') return;
    addresses += ranges.length;
    entries.push({ name, ranges, ports });
  });
  if (addresses > MAX_PEER_ADDRESSES)
    fail(`peers list ${addresses} addresses in all; at most ${MAX_PEER_ADDRESSES} are allowed`);
  if (bad || addresses > MAX_PEER_ADDRESSES || value.length > MAX_PEERS) return z.NEVER;
  return new PeerMatcher(entries);
});

/**
 * A node's `self_addresses`: its own IPs or ranges, which are never attributed to a peer. Each
 * message names the position (`self_addresses[2] ...`); the loader's path says which node.
 */
export const selfAddressesSchema = z.unknown().transform((value, ctx): AddressSet => {
  if (value === undefined || value === null) return new AddressSet([]);
  let bad = false;
  const ranges = parseRanges(
    value,
    'self_addresses',
    (message) => {
      bad = true;
      ctx.addIssue({ code: 'custom', message });
    },
    true,
  );
  if (bad || ranges === undefined) return z.NEVER;
  if (ranges.length > MAX_PEER_ADDRESSES) {
    ctx.addIssue({ code: 'custom', message: `self_addresses: at most ${MAX_PEER_ADDRESSES} are allowed` });
    return z.NEVER;
  }
  return new AddressSet(ranges);
});

export type PeersInput = z.input<typeof peersSchema>;
