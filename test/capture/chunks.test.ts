import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CaptureSession,
  CHUNK_BYTES,
  LinkType,
  readCapture,
  readCaptureFile,
  readFileChunks,
} from '../../src/capture/index.js';
import {
  type Endpoints,
  ethernet,
  ipv4,
  ipv4Fragments,
  pcap,
  sipMessage,
  TCP_ACK,
  TCP_PSH,
  tcp,
  udp,
} from './build.js';
import { copyPacket } from './collect.js';

const dir = mkdtempSync(join(tmpdir(), 'sre-chunks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const UDP_E: Endpoints = { src: '192.0.2.10', dst: '192.0.2.20', srcPort: 5060, dstPort: 5060 };
const TCP_E: Endpoints = { src: '192.0.2.30', dst: '192.0.2.40', srcPort: 40000, dstPort: 5060 };

/**
 * Every kind of record the reader keeps past the chunk it came in: a TCP segment that arrives
 * before the one it follows (held out of order), a message split over two segments, IP fragments
 * (held until the last), and the records themselves, which straddle chunk ends. Spread over a
 * file of several chunks, some of each straddle a chunk end whatever the sizes.
 */
function frames(): Uint8Array[] {
  const out: Uint8Array[] = [];
  let seq = 1;
  for (let n = 0; out.reduce((a, f) => a + f.length, 0) < 3.5 * CHUNK_BYTES; n++) {
    out.push(ethernet(ipv4(UDP_E, 17, udp(UDP_E, sipMessage('SIP/2.0 200 OK', `udp-${n}@x`)))));
    // Two messages on one stream, sent as three segments of which the last two arrive swapped.
    const a = sipMessage('SIP/2.0 180 Ringing', `tcp-a-${n}@x`);
    const b = sipMessage('SIP/2.0 486 Busy Here', `tcp-b-${n}@x`);
    const cut = Math.floor(b.length / 2);
    const first = tcp(TCP_E, seq, TCP_ACK | TCP_PSH, a);
    const second = tcp(TCP_E, seq + a.length, TCP_ACK | TCP_PSH, b.slice(0, cut));
    const third = tcp(TCP_E, seq + a.length + cut, TCP_ACK | TCP_PSH, b.slice(cut));
    seq += a.length + b.length;
    out.push(
      ethernet(ipv4(TCP_E, 6, first)),
      ethernet(ipv4(TCP_E, 6, third)),
      ethernet(ipv4(TCP_E, 6, second)),
    );
    if (n % 3 === 0) {
      const big = sipMessage('SIP/2.0 503 Service Unavailable', `frag-${n}@x`, 3000);
      const frags = ipv4Fragments(UDP_E, 17, udp(UDP_E, big), 1500, n & 0xffff);
      out.push(...frags.map((f) => ethernet(f)).reverse());
    }
  }
  return out;
}

describe('reading a capture file in reused chunks', () => {
  it('gives every message of a file of several chunks, as reading it whole in memory does', async () => {
    const bytes = pcap(
      frames().map((data, i) => ({ sec: 1_700_000_000 + Math.floor(i / 1000), frac: i % 1000, data })),
      { linkType: LinkType.ETHERNET },
    );
    expect(bytes.length).toBeGreaterThan(3 * CHUNK_BYTES);
    const path = join(dir, 'chunks.pcap');
    writeFileSync(path, bytes);

    const whole: string[] = [];
    const wholeStats = readCapture(bytes, (p) => whole.push(JSON.stringify(copyPacket(p))));
    // Chunks of an odd size smaller than most records, each overwritten once handled: whatever
    // the reader kept of a chunk instead of copying it would read as garbage.
    const chunked: string[] = [];
    const session = new CaptureSession((p) => chunked.push(JSON.stringify(copyPacket(p))));
    await readFileChunks(path, (chunk) => session.push(chunk), { chunkBytes: 1021, scrub: true });
    const chunkedStats = session.end();
    // And as the replay reads it, in full-size chunks.
    const full: string[] = [];
    await readCaptureFile(path, (p) => full.push(JSON.stringify(copyPacket(p))));
    expect(full).toEqual(whole);
    expect(chunkedStats).toEqual(wholeStats);
    expect(wholeStats.reassembled).toBeGreaterThan(0);
    expect([...wholeStats.drops].every((d) => d === 0)).toBe(true);
    expect(chunked.length).toBe(whole.length);
    // Compared one by one, so a failure names the first message that differs.
    for (let i = 0; i < whole.length; i++) expect([i, chunked[i]]).toEqual([i, whole[i]]);
    const kinds = new Set(whole.map((w) => (JSON.parse(w) as { payload: string }).payload.split('\r\n')[0]));
    expect([...kinds].sort()).toEqual([
      'SIP/2.0 180 Ringing',
      'SIP/2.0 200 OK',
      'SIP/2.0 486 Busy Here',
      'SIP/2.0 503 Service Unavailable',
    ]);
  });
});
