import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '../../bench/capture-file.js';
import { LinkType } from '../../src/capture/index.js';
import type { ReplaySummary } from '../../src/replay/output.js';
import { ethernet, ipv4, pcap, sipMessage, udp } from '../capture/build.js';
import { CLI } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';

const dir = mkdtempSync(join(tmpdir(), 'sre-replay-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The real command line; stdout and stderr are pipes, so not a terminal. */
function run(args: string[]) {
  return spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
}

function capture(): string {
  const e = { src: '192.0.2.1', dst: '192.0.2.2', srcPort: 5060, dstPort: 5060 };
  const frame = (line: string, id: string) => ethernet(ipv4(e, 17, udp(e, sipMessage(line, id))));
  const path = join(dir, 'calls.pcap');
  writeFileSync(
    path,
    pcap(
      [
        { sec: 1_795_600_000, frac: 0, data: frame('SIP/2.0 200 OK', 'c1') },
        { sec: 1_795_600_001, frac: 0, data: frame('SIP/2.0 486 Busy Here', 'c2') },
        { sec: 1_795_600_020, frac: 0, data: frame('SIP/2.0 200 OK', 'c3') },
      ],
      { linkType: LinkType.ETHERNET },
    ),
  );
  return path;
}

/** One coded line on stderr, no stack, as every failing start prints. */
function expectCoded(stderr: string, code: string): void {
  expect(stderr).toMatch(new RegExp(`^sip-response-exporter: ${code}: [^\\n]+\\n$`));
}

describe('sip-response-exporter replay', () => {
  it('prints JSON when stdout is not a terminal, and a table on request', () => {
    const path = capture();
    const json = run(['replay', path, '--replay.node', 'edge']);
    expect(json.stderr).toBe('');
    expect(json.status).toBe(0);
    const summary = JSON.parse(json.stdout) as ReplaySummary;
    expect(summary.responses.map((r) => [r.node, r.code, r.count])).toEqual([
      ['edge', '200', 2],
      ['edge', '486', 1],
    ]);
    expect(summary.captureStart).toBe(new Date(1_795_600_000_000).toISOString());
    const table = run(['replay', '--output', 'table', path]);
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/^Responses by code\nnode\s+code\s+class\s+reason\s+method\s+count\n/);
    expect(table.stdout).toMatch(/replay\s+486\s+4xx\s+Busy Here\s+INVITE\s+1/);
    expect(table.stdout).toMatch(/1 file\(s\), 3 records, 3 messages, 20s of capture: 3 responses/);
  });

  it('writes OpenMetrics to stdout and the summary line to stderr', () => {
    const result = run(['replay', '--output', 'openmetrics', '--replay.step', '10s', capture()]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^# TYPE sip_responses counter\n# HELP sip_responses /);
    expect(result.stdout.endsWith('# EOF\n')).toBe(true);
    expect(result.stdout).toContain(
      'sip_responses_total{code="200",class="2xx",reason="OK",method="INVITE",node="replay"} 2 1795600030.000\n',
    );
    expect(result.stderr).toMatch(/^1 file\(s\), 3 records/);
  });

  it('takes the counting flags: dedupe off counts a repeated message twice', () => {
    const e = { src: '192.0.2.1', dst: '192.0.2.2', srcPort: 5060, dstPort: 5060 };
    const data = ethernet(ipv4(e, 17, udp(e, sipMessage('SIP/2.0 200 OK', 'same'))));
    const path = join(dir, 'twice.pcap');
    writeFileSync(
      path,
      pcap(
        [
          { sec: 1_795_600_000, frac: 0, data },
          { sec: 1_795_600_000, frac: 5, data },
        ],
        { linkType: LinkType.ETHERNET },
      ),
    );
    const count = (args: string[]) =>
      (JSON.parse(run(['replay', ...args, path]).stdout) as ReplaySummary).totals.responses;
    expect(count([])).toBe(1);
    expect(count(['--dedupe.window', '0'])).toBe(2);
  });

  it('exits 2 with SRE_ERR_CAPTURE_FORMAT for a file that is not a capture', () => {
    const path = join(dir, 'readme.txt');
    writeFileSync(path, 'hello\n');
    const result = run(['replay', path]);
    expect(result.status).toBe(2);
    expectCoded(result.stderr, 'SRE_ERR_CAPTURE_FORMAT');
    expect(result.stderr).toContain(path);
    expect(result.stdout).toBe('');
  });

  it('exits 2 with SRE_ERR_REPLAY_FILE for a missing file', () => {
    const result = run(['replay', capture(), join(dir, 'nope.pcap')]);
    expect(result.status).toBe(2);
    expectCoded(result.stderr, 'SRE_ERR_REPLAY_FILE');
    expect(result.stdout).toBe('');
  });

  it('exits 2 with SRE_ERR_REPLAY_USAGE for a bad output, step or port', () => {
    const path = capture();
    for (const args of [
      ['--output', 'xml'],
      ['--replay.step', 'soon'],
      ['--replay.hep-ports', '9060,70000'],
    ]) {
      const result = run(['replay', ...args, path]);
      expect(result.status, args.join(' ')).toBe(2);
      expectCoded(result.stderr, 'SRE_ERR_REPLAY_USAGE');
    }
  });

  it('on a terminal: a table by default, and a progress line on stderr for a large file', () => {
    // script(1) runs the command on a pseudo-terminal, as an operator's shell would.
    const script = requirePeer('script', 'util-linux');
    const big = join(dir, 'big.pcap');
    generate(big, false, 20_000);
    const command = [process.execPath, ...CLI, 'replay', big].map((a) => `'${a}'`).join(' ');
    const out = execFileSync(script, ['-qec', command, '/dev/null'], {
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 1 << 24,
    });
    expect(out).toMatch(/\rreplay: \S+big\.pcap \d+% \(\d+ of \d+ MiB\)/);
    expect(out).toContain(`replay: ${big} 100%`);
    expect(out).toContain('Responses by code');
    expect(out).toMatch(/20000 responses and 0 requests counted/);
    // Not on a terminal: no progress line, whatever the size.
    const piped = run(['replay', '--output', 'json', big]);
    expect(piped.status).toBe(0);
    expect(piped.stderr).toBe('');
  });
});
