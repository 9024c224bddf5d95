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

// Buckets by length so that matching a method costs at most a few byte compares, no string.
const byLength: Array<Array<{ bytes: Buffer; index: number }>> = [];
for (let i = 1; i < METHOD_OTHER; i++) {
  const bytes = Buffer.from(METHOD_LABELS[i], 'latin1');
  const bucket = byLength[bytes.length] ?? [];
  bucket.push({ bytes, index: i });
  byLength[bytes.length] = bucket;
}

/**
 * Method index for the token buf[start, end). Methods are case-sensitive (RFC 3261 7.1), so
 * `invite` is `OTHER`. An empty token is `METHOD_UNKNOWN`.
 */
export function methodIndex(buf: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length <= 0) return METHOD_UNKNOWN;
  const bucket = byLength[length];
  if (bucket === undefined) return METHOD_OTHER;
  for (let b = 0; b < bucket.length; b++) {
    const candidate = bucket[b].bytes;
    let i = 0;
    while (i < length && buf[start + i] === candidate[i]) i++;
    if (i === length) return bucket[b].index;
  }
  return METHOD_OTHER;
}

/** Method index for a string, as the syslog extractors find it. */
export function methodIndexOfString(method: string | undefined): number {
  if (method === undefined || method === '') return METHOD_UNKNOWN;
  const index = METHOD_LABELS.indexOf(method as MethodLabel);
  return index > 0 ? index : METHOD_OTHER;
}
