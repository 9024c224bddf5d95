/**
 * Capture reader throughput: packets per second from a pcap and a pcapng file on one core,
 * decoded down to the SIP payload (link, VLAN, IP, UDP/TCP, stream framing). The files are
 * generated (realistic 200 OK with SDP, distinct Call-IDs; one packet in ten on TCP, one in ten
 * VLAN-tagged) in the temporary directory and removed afterwards.
 *
 *   npx tsx bench/capture.ts [packets]
 *
 * The machine may be shared: run it once, not in a loop.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CaptureStats, dropsByLabel, readCaptureFile } from '../src/capture/index.js';
import { applyV8Flags } from '../src/v8-flags.js';
import { generate } from './capture-file.js';

// As the CLI runs the exporter (src/v8-flags.ts).
applyV8Flags();

const PACKETS = Number(process.argv[2] ?? 300_000);
const RUNS = 3;

async function measure(path: string): Promise<{ perSecond: number; stats: CaptureStats; bytes: number }> {
  let best = 0;
  let stats: CaptureStats | undefined;
  for (let run = 0; run < RUNS; run++) {
    let payloadBytes = 0;
    const began = process.hrtime.bigint();
    stats = await readCaptureFile(path, (p) => {
      payloadBytes += p.payloadEnd - p.payloadStart;
    });
    const seconds = Number(process.hrtime.bigint() - began) / 1e9;
    if (payloadBytes === 0) throw new Error('nothing decoded');
    best = Math.max(best, stats.records / seconds);
  }
  return { perSecond: best, stats: stats as CaptureStats, bytes: statSync(path).size };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const dir = mkdtempSync(join(tmpdir(), 'sre-bench-capture-'));
try {
  for (const ng of [false, true]) {
    const path = join(dir, ng ? 'bench.pcapng' : 'bench.pcap');
    generate(path, ng, PACKETS);
    const r = await measure(path);
    console.log(
      `${ng ? 'pcapng' : 'pcap  '}: ${fmt(r.perSecond)} packets/s (best of ${RUNS}; ${fmt(r.stats.records)} packets, ${fmt(r.bytes / 1e6)} MB, ${fmt(r.stats.emitted)} SIP messages, drops ${JSON.stringify(dropsByLabel(r.stats.drops))})`,
    );
    rmSync(path);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
