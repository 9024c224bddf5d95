import { execFileSync } from 'node:child_process';

/**
 * Finds a real peer program (promtool, kamailio, sipp, ...). Without it the test fails with an
 * install hint; it never skips, so CI cannot pass without the peer.
 */
export function requirePeer(program: string, debianPackage: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      `${program} is not installed; the test needs it (Debian package "${debianPackage}", see scripts/install-test-peers.sh)`,
    );
  }
}
