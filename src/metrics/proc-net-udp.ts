import { readFileSync } from 'node:fs';

/** The tables Linux keeps of UDP sockets, one line a socket, for IPv4 and IPv6. */
export const PROC_NET_UDP_FILES = ['/proc/net/udp', '/proc/net/udp6'] as const;

/**
 * Reads the `drops` column of a /proc/net/udp or /proc/net/udp6 table into `into`, keyed by local
 * port. Sockets that share a port (one per address family, or several local addresses) add up:
 * a datagram is dropped on one socket only, so the sum is what the port lost. The header line and
 * anything that is not a socket line are skipped, so a truncated read never counts garbage.
 */
export function parseUdpDrops(text: string, into: Map<number, number> = new Map()): Map<number, number> {
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const fields = lines[i].trim().split(/\s+/);
    // sl, local, remote, st, tx:rx, tr:when, retrnsmt, uid, timeout, inode, ref, pointer, drops
    if (fields.length < 13 || !fields[0].endsWith(':')) continue;
    const local = fields[1];
    const colon = local.lastIndexOf(':');
    if (colon < 0) continue;
    const port = Number.parseInt(local.slice(colon + 1), 16);
    const dropped = Number(fields[12]);
    if (!Number.isInteger(port) || !Number.isSafeInteger(dropped) || dropped < 0) continue;
    into.set(port, (into.get(port) ?? 0) + dropped);
  }
  return into;
}

/** Drops by local port over both tables; a missing table (not Linux) reads as no drops. */
export function readUdpDrops(files: readonly string[] = PROC_NET_UDP_FILES): Map<number, number> {
  const drops = new Map<number, number>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    parseUdpDrops(text, drops);
  }
  return drops;
}
