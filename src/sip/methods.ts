/**
 * SIP methods as label values. The set is closed so the `method` label stays bounded: the
 * registered methods, `OTHER` for any other token, and the empty string when the method could
 * not be known.
 */
export const METHOD_UNKNOWN = 0;
export const METHOD_LABELS = [
  '',
  'ACK',
  'BYE',
  'CANCEL',
  'INFO',
  'INVITE',
  'MESSAGE',
  'NOTIFY',
  'OPTIONS',
  'PRACK',
  'PUBLISH',
  'REFER',
  'REGISTER',
  'SUBSCRIBE',
  'UPDATE',
  'OTHER',
] as const;
export const METHOD_OTHER = METHOD_LABELS.length - 1;
export const METHOD_COUNT = METHOD_LABELS.length;
export type MethodLabel = (typeof METHOD_LABELS)[number];

/**
 * Each registered method by its length and first letter, which no two share: matching a token is
 * one table load and a compare of its bytes with one candidate, no string. Slot (length << 5) |
 * (first byte & 31); 0 where no method fits.
 */
const MAX_METHOD_LENGTH = 9;
const candidateBySlot = new Uint8Array((MAX_METHOD_LENGTH + 1) << 5);
const methodBytes: Uint8Array[] = METHOD_LABELS.map((label) => Buffer.from(label, 'latin1'));
for (let i = 1; i < METHOD_OTHER; i++) {
  const bytes = methodBytes[i];
  const slot = (bytes.length << 5) | (bytes[0] & 31);
  if (bytes.length > MAX_METHOD_LENGTH || candidateBySlot[slot] !== 0)
    throw new Error(`method ${METHOD_LABELS[i]} needs another slot`);
  candidateBySlot[slot] = i;
}

/**
 * Method index for the token buf[start, end). Methods are case-sensitive (RFC 3261 7.1), so
 * `invite` is `OTHER`. An empty token is `METHOD_UNKNOWN`.
 */
export function methodIndex(buf: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length <= 0) return METHOD_UNKNOWN;
  if (length > MAX_METHOD_LENGTH) return METHOD_OTHER;
  const index = candidateBySlot[(length << 5) | (buf[start] & 31)];
  if (index === 0) return METHOD_OTHER;
  const candidate = methodBytes[index];
  for (let i = 0; i < length; i++) if (buf[start + i] !== candidate[i]) return METHOD_OTHER;
  return index;
}

/** Method index for a string, as the syslog extractors find it. */
export function methodIndexOfString(method: string | undefined): number {
  if (method === undefined || method === '') return METHOD_UNKNOWN;
  const index = METHOD_LABELS.indexOf(method as MethodLabel);
  return index > 0 ? index : METHOD_OTHER;
}
