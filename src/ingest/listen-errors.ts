import { OPTIONS } from '../config/options.js';
import { ListenError, SreError } from '../errors.js';
import { formatListenAddress, type ListenAddress } from './listen-address.js';

const BIND_FAILURES: Record<string, string> = {
  EADDRINUSE: 'is in use',
  EACCES: 'needs privileges this process lacks (ports below 1024 do)',
  EADDRNOTAVAIL: 'is not an address of this machine',
};

/**
 * A bind failure as the operator can act on it: which listener, which address, and the flag
 * and file key that move or disable it.
 */
export function explainListenError(
  listener: string,
  key: string,
  address: ListenAddress,
  err: unknown,
): SreError {
  const cause = err instanceof ListenError && err.cause !== undefined ? err.cause : err;
  if (err instanceof SreError && !(err instanceof ListenError)) return err;
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
  const what =
    errno !== undefined && errno in BIND_FAILURES
      ? `${BIND_FAILURES[errno]} (${errno})`
      : `cannot be bound: ${(cause as Error)?.message ?? String(cause)}`;
  const flag = OPTIONS.find((spec) => spec.path.join('.') === key)?.flag ?? key;
  const fix = key === 'web.listen_address' ? 'to another address' : 'to another address or to "" to disable';
  return new ListenError(
    `${listener}: ${formatListenAddress(address)} ${what}; set --${flag} (${key}) ${fix}`,
    { cause },
  );
}

export async function bindOrExplain<T>(
  listener: string,
  key: string,
  address: ListenAddress,
  bind: () => Promise<T>,
): Promise<T> {
  try {
    return await bind();
  } catch (err) {
    throw explainListenError(listener, key, address, err);
  }
}
