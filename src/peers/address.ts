import { isIPv6 } from 'node:net';

/**
 * One address or CIDR range from the configuration, as an inclusive range of integers. IPv4
 * ranges are 32-bit, IPv6 ranges 128-bit. An IPv4-mapped IPv6 range (`::ffff:192.0.2.0/120`) is
 * stored as the IPv4 range it maps, because mapped traffic is matched as IPv4.
 */
export interface AddressRange {
  readonly family: 4 | 6;
  readonly first: bigint;
  readonly last: bigint;
  readonly prefix: number;
}

export type ParsedRange = { ok: true; range: AddressRange } | { ok: false; message: string };

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const PREFIX = /^\d{1,3}$/;
const V4_MAPPED_PREFIX = 0xffffn << 32n;
const V4_MAPPED_MASK = ((1n << 96n) - 1n) << 32n;

/** Dotted-quad IPv4 as an integer; undefined when it is not exactly four decimal bytes. */
export function parseIPv4(text: string): number | undefined {
  const m = DOTTED_QUAD.exec(text);
  if (m === null) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i];
    // "010" reads as octal to inet_aton and as ten to others: refuse to guess.
    if (part.length > 1 && part[0] === '0') return undefined;
    const byte = Number(part);
    if (byte > 255) return undefined;
    value = value * 256 + byte;
  }
  return value;
}

/** IPv6 text (with `::` and an optional dotted-quad tail) as a 128-bit integer. */
export function parseIPv6(text: string): bigint | undefined {
  if (!isIPv6(text) || text.includes('%')) return undefined;
  let body = text;
  let tail: number[] = [];
  const lastColon = body.lastIndexOf(':');
  if (body.indexOf('.', lastColon) !== -1) {
    const v4 = parseIPv4(body.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >>> 16, v4 & 0xffff];
    body = body.slice(0, lastColon + 1);
    // "::1.2.3.4" leaves "::", "a::1.2.3.4" leaves "a::", "a:b:...:1.2.3.4" leaves "a:...:"
    if (!body.endsWith('::')) body = body.slice(0, -1);
  }
  const halves = body.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const fill = 8 - head.length - rest.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const all = [...head, ...new Array<number>(fill).fill(0), ...rest, ...tail];
  let value = 0n;
  for (const g of all) value = (value << 16n) | BigInt(g);
  return value;
}

export function formatIPv4(value: bigint | number): string {
  const n = Number(value);
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups as `::`. */
export function formatIPv6(value: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestStart === -1) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

function formatRange(family: 4 | 6, first: bigint, prefix: number): string {
  const text = family === 4 ? formatIPv4(first) : formatIPv6(first);
  return `${text}/${prefix}`;
}

/**
 * Parses `192.0.2.1`, `192.0.2.0/24`, `2001:db8::1`, `2001:db8::/32`. A range whose address has
 * bits set past the prefix (`192.0.2.1/24`) is refused rather than rounded down: it is nearly
 * always a typo for either the network or the one address, and the message offers both.
 */
export function parseAddressRange(text: string): ParsedRange {
  const slash = text.indexOf('/');
  const addressText = (slash === -1 ? text : text.slice(0, slash)).trim();
  const prefixText = slash === -1 ? undefined : text.slice(slash + 1).trim();
  if (addressText.includes('%'))
    return { ok: false, message: `"${text}": zone indexes (%eth0) are not part of a traced address` };
  let family: 4 | 6;
  let value: bigint;
  const v4 = parseIPv4(addressText);
  if (v4 !== undefined) {
    family = 4;
    value = BigInt(v4);
  } else {
    const v6 = parseIPv6(addressText);
    if (v6 === undefined)
      return {
        ok: false,
        message: `"${text}" is not an IPv4 or IPv6 address or CIDR range (such as 192.0.2.0/24 or 2001:db8::/32)`,
      };
    family = 6;
    value = v6;
  }
  const bits = family === 4 ? 32 : 128;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!PREFIX.test(prefixText) || Number(prefixText) > bits)
      return { ok: false, message: `"${text}": the prefix length must be a number from 0 to ${bits}` };
    prefix = Number(prefixText);
  }
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  if ((value & hostMask) !== 0n) {
    const network = formatRange(family, value & ~hostMask, prefix);
    return {
      ok: false,
      message: `"${text}" has bits set past the /${prefix} prefix: write ${network} for the network, or ${addressText} alone for the one address`,
    };
  }
  if (family === 6 && prefix >= 96 && (value & V4_MAPPED_MASK) === V4_MAPPED_PREFIX) {
    const first = value & 0xffffffffn;
    return {
      ok: true,
      range: { family: 4, first, last: first | (hostMask & 0xffffffffn), prefix: prefix - 96 },
    };
  }
  return { ok: true, range: { family, first: value, last: value | hostMask, prefix } };
}

const CH_0 = 48;
const CH_9 = 57;
const CH_DOT = 46;
const CH_COLON = 58;

/** Value of a hex digit character, -1 for anything else. */
function hexDigit(c: number): number {
  if (c >= CH_0 && c <= CH_9) return c - CH_0;
  const lower = c | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/**
 * Writes the dotted quad in text[start, end) to out[at..at+3]; false when it is not one. A byte
 * with a leading zero is refused, as in the configuration.
 */
function dottedQuadInto(text: string, start: number, end: number, out: Uint8Array, at: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  let leadingZero = false;
  for (let i = start; i <= end; i++) {
    const c = i < end ? text.charCodeAt(i) : CH_DOT;
    if (c >= CH_0 && c <= CH_9) {
      if (digits === 0) leadingZero = c === CH_0;
      else if (leadingZero || digits === 3) return false;
      value = value * 10 + (c - CH_0);
      digits++;
      continue;
    }
    if (c !== CH_DOT || digits === 0 || value > 255 || part === 4) return false;
    out[at + part++] = value;
    value = 0;
    digits = 0;
  }
  return part === 4;
}

/**
 * Parses a text address as a log line gives it (`192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`,
 * `::ffff:192.0.2.1`) into `out` in network order, as HEP carries it, and returns its length: 4,
 * 16, or 0 when the text is not an address (host names are not resolved). Allocates nothing, so
 * a text address costs a syslog line no more than a raw one costs a HEP packet.
 */
export function parseAddressTextInto(text: string, out: Uint8Array): number {
  let start = 0;
  let end = text.length;
  if (end >= 2 && text.charCodeAt(0) === 91 && text.charCodeAt(end - 1) === 93) {
    start = 1;
    end--;
  }
  if (end - start < 2 || end - start > 45) return 0;
  let colon = -1;
  for (let i = start; i < end; i++) {
    if (text.charCodeAt(i) === CH_COLON) {
      colon = i;
      break;
    }
  }
  if (colon === -1) return dottedQuadInto(text, start, end, out, 0) ? 4 : 0;
  // IPv6: groups before a `::` fill from the front, groups after it are gathered and moved to the end.
  let groups = 0;
  let gap = -1;
  let i = start;
  if (text.charCodeAt(i) === CH_COLON) {
    if (text.charCodeAt(i + 1) !== CH_COLON) return 0;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    let value = 0;
    let digits = 0;
    let j = i;
    for (; j < end && digits <= 4; j++) {
      const d = hexDigit(text.charCodeAt(j));
      if (d < 0) break;
      value = value * 16 + d;
      digits++;
    }
    if (j < end && text.charCodeAt(j) === CH_DOT) {
      // A dotted-quad tail takes the last two groups.
      if (groups > 6 || !dottedQuadInto(text, i, end, out, groups * 2)) return 0;
      groups += 2;
      i = end;
      break;
    }
    if (digits === 0 || digits > 4 || groups === 8) return 0;
    out[groups * 2] = value >> 8;
    out[groups * 2 + 1] = value & 0xff;
    groups++;
    i = j;
    if (i === end) break;
    if (text.charCodeAt(i) !== CH_COLON) return 0;
    i++;
    if (i < end && text.charCodeAt(i) === CH_COLON) {
      if (gap !== -1) return 0;
      gap = groups;
      i++;
    } else if (i === end) return 0;
  }
  if (gap === -1) return groups === 8 ? 16 : 0;
  if (groups > 7) return 0;
  const tail = groups - gap;
  for (let k = tail * 2 - 1; k >= 0; k--) out[16 - tail * 2 + k] = out[gap * 2 + k];
  for (let k = gap * 2; k < 16 - tail * 2; k++) out[k] = 0;
  return 16;
}
