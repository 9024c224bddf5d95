import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** A target's host as an address a socket takes, looked up when it is a name. */
export async function resolveHost(host: string): Promise<{ address: string; ipv6: boolean }> {
  const family = isIP(host);
  if (family !== 0) return { address: host, ipv6: family === 6 };
  const found = await lookup(host);
  return { address: found.address, ipv6: found.family === 6 };
}
