import { statSync } from 'node:fs';
import type { Lab } from './lab.js';
import { type LabProcess, requireProgram, waitFor } from './processes.js';

/**
 * What tcpdump says at exit. On `lo` the kernel shows the filter each packet twice (as sent and
 * as received) and libpcap keeps one, so `receivedByFilter` is about twice `captured`.
 */
export interface CaptureStats {
  captured: number;
  receivedByFilter: number;
  droppedByKernel: number;
}

export interface CaptureHandle {
  file: string;
  process: LabProcess;
  /** Waits until the file stops growing, stops tcpdump and returns its exit counts. */
  stop: () => Promise<CaptureStats>;
}

/** Reads the three counts tcpdump prints when it stops. */
export function parseTcpdumpStats(output: string): CaptureStats {
  const count = (what: string) => {
    const match = new RegExp(`^(\\d+) packets? ${what}$`, 'm').exec(output);
    if (match === null) throw new Error(`tcpdump did not report packets ${what}:\n${output}`);
    return Number(match[1]);
  };
  return {
    captured: count('captured'),
    receivedByFilter: count('received by filter'),
    droppedByKernel: count('dropped by kernel'),
  };
}

function size(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return -1;
  }
}

/**
 * Records the loopback traffic that `filter` matches into `file` (pcap, Ethernet framing on
 * `lo`), writing each packet as it comes (-U, --immediate-mode); resolves once tcpdump says it
 * is listening. On `lo` each packet is seen once.
 */
export async function startCapture(
  lab: Lab,
  name: string,
  file: string,
  filter: string,
): Promise<CaptureHandle> {
  const tcpdump = requireProgram('tcpdump', 'tcpdump');
  // Immediate mode gives each packet a ring frame of the snap length: a 64 KiB snap (more than a
  // SIP datagram) and a 64 MiB ring make a thousand frames, so a burst while tcpdump waits for a
  // busy core does not overflow (the default 256 KiB snap in a 2 MiB ring holds eight packets).
  const p = lab.start(name, tcpdump, [
    ...['-n', '-U', '--immediate-mode', '-s', '65600', '-B', '65536', '-i', 'lo', '-w', file, filter],
  ]);
  await waitFor(
    `${name} to listen`,
    () => {
      if (p.child.exitCode !== null) throw new Error(`${name} exited: ${p.log()}`);
      return p.log().includes('listening on lo');
    },
    15_000,
  );
  return {
    file,
    process: p,
    stop: async () => {
      // A loaded machine can leave packets in the kernel's buffer for a while: stop only once the
      // file has not grown for a second.
      let last = -2;
      await waitFor(
        `${name} to write everything`,
        async () => {
          const now = size(file);
          const still = now === last;
          last = now;
          if (!still) await new Promise((r) => setTimeout(r, 1000));
          return still;
        },
        30_000,
      );
      await p.stop();
      return parseTcpdumpStats(p.log());
    },
  };
}
