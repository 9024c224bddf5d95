import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { LinkType } from '../../src/capture/index.js';
import { loadConfig } from '../../src/config/load.js';
import { CODE, SreError } from '../../src/errors.js';
import { formatTable, summarize, summaryLine, writeOpenMetrics } from '../../src/replay/output.js';
import { type ReplayOptions, replayFiles } from '../../src/replay/replay.js';
import { MAX_STEPS } from '../../src/replay/timeline.js';
import {
  ethernet,
  ipv4,
  type Record as PcapRecord,
  pcap,
  TCP_ACK,
  TCP_PSH,
  tcp,
  udp,
} from '../capture/build.js';
import { hep3 } from '../helpers/hep.js';
import { requirePeer } from '../helpers/peers.js';
import { sipResponse } from '../helpers/sip.js';

const dir = mkdtempSync(join(tmpdir(), 'sre-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_795_600_000;

/** A response as the replay tests count it: always with a To tag, so that repeats are retransmissions. */
function response(code: number, callId: string, cseq = 1, method = 'INVITE'): string {
  return sipResponse({ code, callId, cseq, method, toTag: 'a6c85cf' });
}

const UDP_A = { src: '192.0.2.1', dst: '192.0.2.2', srcPort: 5060, dstPort: 5060 };
const UDP_B = { src: '192.0.2.2', dst: '192.0.2.3', srcPort: 5060, dstPort: 5060 };

function udpFrame(payload: string | Buffer, e = UDP_A): Uint8Array {
  return ethernet(ipv4(e, 17, udp(e, payload)));
}

/** A record at T0 + `ms` of capture time. */
function at(ms: number, data: Uint8Array): PcapRecord {
  return { sec: T0 + Math.floor(ms / 1000), frac: (ms % 1000) * 1000, data };
}

let files = 0;
function file(records: PcapRecord[]): string {
  const path = join(dir, `f${files++}.pcap`);
  writeFileSync(path, pcap(records, { linkType: LinkType.ETHERNET }));
  return path;
}

function options(flags: Record<string, string> = {}, extra: Partial<ReplayOptions> = {}): ReplayOptions {
  return { config: loadConfig({ flags, env: {} }), ...extra };
}

async function codes(paths: string[], opts: ReplayOptions): Promise<Record<string, number>> {
  const summary = summarize(await replayFiles(paths, opts));
  const out: Record<string, number> = {};
  for (const r of summary.responses) out[`${r.node} ${r.code}`] = (out[`${r.node} ${r.code}`] ?? 0) + r.count;
  return out;
}

describe('replayFiles', () => {
  it('counts raw SIP responses by code under the replay node', async () => {
    const path = file([
      at(0, udpFrame(response(100, 'a'))),
      at(10, udpFrame(response(180, 'a'))),
      at(20, udpFrame(response(200, 'a'))),
      at(30, udpFrame(response(486, 'b'))),
      at(40, udpFrame(response(200, 'c'))),
    ]);
    expect(await codes([path], options())).toEqual({
      'replay 100': 1,
      'replay 180': 1,
      'replay 200': 2,
      'replay 486': 1,
    });
    expect(await codes([path], options({}, { node: 'sbc-1' }))).toEqual({
      'sbc-1 100': 1,
      'sbc-1 180': 1,
      'sbc-1 200': 2,
      'sbc-1 486': 1,
    });
  });

  it('counts a message traced in and out once with dedupe on, twice with it off', async () => {
    const message = response(200, 'twice');
    const path = file([at(0, udpFrame(message, UDP_A)), at(3, udpFrame(message, UDP_B))]);
    expect(await codes([path], options())).toEqual({ 'replay 200': 1 });
    expect(await codes([path], options({ 'dedupe.window': '0' }))).toEqual({ 'replay 200': 2 });
    const summary = summarize(await replayFiles([path], options()));
    expect(summary.dedupeHits.response).toBe(1);
  });

  it('expires dedupe on capture time, however fast the file is read', async () => {
    const message = response(503, 'retry');
    // 10 s apart: inside the default 32 s window; 40 s apart: outside.
    const inside = file([at(0, udpFrame(message)), at(10_000, udpFrame(message))]);
    const outside = file([at(0, udpFrame(message)), at(40_000, udpFrame(message))]);
    expect(await codes([inside], options())).toEqual({ 'replay 503': 1 });
    expect(await codes([outside], options())).toEqual({ 'replay 503': 2 });
    expect(await codes([outside], options({ 'dedupe.window': '1m' }))).toEqual({ 'replay 503': 1 });
  });

  it('reads SIP over TCP, several messages to a segment', async () => {
    const e = { src: '192.0.2.5', dst: '192.0.2.6', srcPort: 5060, dstPort: 40000 };
    const both = response(180, 't1') + response(200, 't1');
    const path = file([at(0, ethernet(ipv4(e, 6, tcp(e, 1, TCP_ACK | TCP_PSH, both))))]);
    const result = await replayFiles([path], options());
    expect(summarize(result).responses.map((r) => [r.code, r.count])).toEqual([
      ['180', 1],
      ['200', 1],
    ]);
  });

  it('counts HEP on the HEP ports through the HEP ingest: capture ID as node, auth key', async () => {
    const hepEndpoints = { src: '192.0.2.9', dst: '192.0.2.10', srcPort: 40000, dstPort: 9061 };
    const packets = [
      hep3({ payload: response(200, 'h1'), captureId: 7, authKey: 'secret' }),
      hep3({ payload: response(404, 'h2'), captureId: 7, authKey: 'secret' }),
      hep3({ payload: response(404, 'h3'), captureId: 7, authKey: 'wrong' }),
    ];
    const path = file(packets.map((p, i) => at(i, udpFrame(p, hepEndpoints))));
    // On a port not listed, a HEP datagram is neither SIP nor HEP.
    const notListed = summarize(await replayFiles([path], options()));
    expect(notListed.responses).toEqual([]);
    expect(notListed.captureDrops).toEqual({ not_sip: 3 });
    const open = await codes([path], options({}, { hepPorts: [9061] }));
    expect(open).toEqual({ '7 200': 1, '7 404': 2 });
    const keyed = summarize(
      await replayFiles([path], options({ 'hep.auth-key': 'secret' }, { hepPorts: [9061] })),
    );
    expect(keyed.responses.map((r) => [r.node, r.code, r.count])).toEqual([
      ['7', '200', 1],
      ['7', '404', 1],
    ]);
    expect(keyed.authFailures).toBe(1);
  });

  it('counts per peer as the exporter does, from the peers in the config file', async () => {
    const yaml = join(dir, 'peers.yml');
    writeFileSync(
      yaml,
      'peers:\n  - name: carrier-a\n    addresses: ["192.0.2.1"]\nnodes:\n  self_addresses:\n    replay: ["192.0.2.2"]\n',
    );
    const config = loadConfig({ file: yaml, flags: {}, env: {} });
    // 192.0.2.1 -> 192.0.2.2 (the node): from carrier-a; 192.0.2.2 -> 192.0.2.3: to other.
    const path = file([
      at(0, udpFrame(response(200, 'p1'), UDP_A)),
      at(1, udpFrame(response(486, 'p2'), UDP_B)),
    ]);
    const result = await replayFiles([path], { config, stepMs: 15_000 });
    expect(summarize(result).peers).toEqual([
      { peer: 'carrier-a', direction: 'from_peer', class: '2xx', count: 1 },
      { peer: 'other', direction: 'to_peer', class: '4xx', count: 1 },
    ]);
    const { stream, text } = sink();
    await writeOpenMetrics(result, stream);
    expect(text()).toMatch(
      /^sip_peer_responses_total\{peer="carrier-a",direction="from_peer",code="200",.*\} 1 \d+\.000$/m,
    );
    expect(formatTable(summarize(result), result)).toMatch(
      /Top peers .*\npeer\s+direction\s+class\s+count\ncarrier-a\s+from_peer\s+2xx\s+1\n/,
    );
  });

  it('counts parse errors and capture drops by reason, and a truncated file is not an error', async () => {
    const good = udpFrame(response(200, 'ok'));
    const badCode = udpFrame(response(200, 'bad').replace('SIP/2.0 200', 'SIP/2.0 999'));
    const bytes = pcap([at(0, good), at(1, badCode), at(2, good)], { linkType: LinkType.ETHERNET });
    const path = join(dir, 'truncated.pcap');
    writeFileSync(path, bytes.subarray(0, bytes.length - 20));
    const result = await replayFiles([path], options({ 'dedupe.window': '0' }));
    const summary = summarize(result);
    expect(summary.responses.map((r) => [r.code, r.count])).toEqual([['200', 1]]);
    expect(summary.parseErrors).toEqual([{ listener: 'replay', reason: 'sip_bad_status_code', count: 1 }]);
    expect(summary.captureDrops).toEqual({ truncated_file: 1 });
    expect(summaryLine(summary, result)).toContain('1 capture drops');
    expect(formatTable(summary, result)).toMatch(/Capture drops\nreason\s+count\ntruncated_file\s+1/);
  });

  it('refuses a file that is not a capture, and a missing file, with their codes', async () => {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'this is not a capture at all\n');
    await expect(replayFiles([text], options())).rejects.toMatchObject({ code: CODE.SRE_ERR_CAPTURE_FORMAT });
    await expect(replayFiles([join(dir, 'missing.pcap')], options())).rejects.toMatchObject({
      code: CODE.SRE_ERR_REPLAY_FILE,
    });
    const sub = join(dir, 'a-directory');
    mkdirSync(sub);
    await expect(replayFiles([sub], options())).rejects.toBeInstanceOf(SreError);
  });

  it('never throws on random bytes after a valid header: damage is counted', async () => {
    const header = pcap([], { linkType: LinkType.ETHERNET });
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (tail) => {
        const path = join(dir, 'fuzz.pcap');
        writeFileSync(path, Buffer.concat([header, tail]));
        const result = await replayFiles([path], options());
        const summary = summarize(result);
        expect(summary.totals.records).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 60 },
    );
  });
});

/** Collects what a stream is given. */
function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** sample lines of `text` by series, in order: [timestamp, value][] */
function parseOpenMetrics(text: string): Map<string, Array<[number, number]>> {
  const out = new Map<string, Array<[number, number]>>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+(?:\{.*\})?) (\S+) (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a sample: ${line}`);
    const list = out.get(m[1]) ?? [];
    list.push([Number(m[3]), Number(m[2])]);
    out.set(m[1], list);
  }
  return out;
}

describe('OpenMetrics output', () => {
  // Over 95 s: a 200 at 0, 1 s, 50 s; a 486 first at 61 s; then one at 95 s.
  const records = [
    at(0, udpFrame(response(200, 'o1'))),
    at(1_000, udpFrame(response(200, 'o2'))),
    at(50_000, udpFrame(response(200, 'o3'))),
    at(61_000, udpFrame(response(486, 'o4'))),
    at(95_000, udpFrame(response(200, 'o5'))),
  ];

  it('samples every series at every step, cumulative and monotonic, ending with # EOF', async () => {
    const path = file(records);
    const result = await replayFiles([path], options({}, { stepMs: 15_000 }));
    const { stream, text } = sink();
    await writeOpenMetrics(result, stream);
    const out = text();
    expect(out.endsWith('# EOF\n')).toBe(true);
    const series = parseOpenMetrics(out);
    const start = Math.floor(T0 / 15) * 15;
    const stamps = Array.from({ length: result.steps }, (_, i) => start + i * 15);
    // The last message (95 s) is inside the step that ends at 105 s from T0's step.
    expect(stamps.at(-1)).toBeGreaterThan(T0 + 95);
    const ok = series.get(
      'sip_responses_total{code="200",class="2xx",reason="OK",method="INVITE",node="replay"}',
    );
    const busy = series.get(
      'sip_responses_total{code="486",class="4xx",reason="Busy Here",method="INVITE",node="replay"}',
    );
    expect(ok?.map(([t]) => t)).toEqual(stamps);
    expect(busy?.map(([t]) => t)).toEqual(stamps);
    for (const [, samples] of series) {
      expect(samples.length).toBe(stamps.length);
      for (let i = 1; i < samples.length; i++)
        expect(samples[i][1]).toBeGreaterThanOrEqual(samples[i - 1][1]);
    }
    const valueAt = (samples: Array<[number, number]>, seconds: number) =>
      samples.filter(([t]) => t <= seconds).at(-1)?.[1];
    expect(valueAt(ok!, T0)).toBe(0);
    expect(ok!.at(-1)![1]).toBe(4);
    expect(busy!.at(-1)![1]).toBe(1);
    // Before the 486 was captured its series reads 0, so increase() sees it.
    expect(valueAt(busy!, T0 + 60)).toBe(0);
    // Each value is what was captured before its timestamp.
    for (const [t, v] of ok!) {
      const before = [0, 1, 50, 95].filter((s) => T0 + s < t).length;
      expect(v).toBe(before);
    }
  });

  it('stops with a coded error when the capture spans too many steps', async () => {
    const path = file([
      at(0, udpFrame(response(200, 's1'))),
      at(MAX_STEPS * 1000 + 5000, udpFrame(response(200, 's2'))),
    ]);
    await expect(replayFiles([path], options({}, { stepMs: 1000 }))).rejects.toMatchObject({
      code: CODE.SRE_ERR_REPLAY_TOO_MANY_STEPS,
    });
  });

  it('is accepted by promtool tsdb create-blocks-from openmetrics, with the values it was given', async () => {
    const promtool = requirePeer('promtool', 'prometheus');
    const path = file(records);
    const result = await replayFiles([path], options({}, { stepMs: 15_000 }));
    const { stream, text } = sink();
    await writeOpenMetrics(result, stream);
    const om = join(dir, 'replay.om');
    writeFileSync(om, text());
    const blocks = join(dir, 'blocks');
    execFileSync(promtool, ['tsdb', 'create-blocks-from', 'openmetrics', om, blocks], { stdio: 'pipe' });
    // dump opens the directory as a Prometheus data directory, which has a WAL.
    mkdirSync(join(blocks, 'wal'));
    const dump = execFileSync(
      promtool,
      ['tsdb', 'dump', '--match', 'sip_responses_total', '--min-time', '0', blocks],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 },
    );
    // promtool dump: {labels} value timestamp_ms, one line per sample.
    const last = new Map<string, number>();
    let lines = 0;
    for (const line of dump.split('\n')) {
      const m = /^(\{.*\}) (\S+) (\d+)$/.exec(line);
      if (m === null) continue;
      lines++;
      const code = /code="(\d+)"/.exec(m[1])![1];
      last.set(code, Number(m[2]));
    }
    expect(lines).toBe(2 * result.steps);
    expect(Object.fromEntries(last)).toEqual({ '200': 4, '486': 1 });
  });
});
