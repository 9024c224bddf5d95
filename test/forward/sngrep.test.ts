import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../lab/processes.js';
import { readCaptureFile } from '../../src/capture/index.js';
import type { Exporter } from '../../src/exporter.js';
import { sampleValue, scrape, startExporter } from '../helpers/exporter.js';
import { hep3 } from '../helpers/hep.js';
import { closeUdp, eventually, sendUdp, udpSender } from '../helpers/net.js';
import { requirePeer } from '../helpers/peers.js';
import { sipResponse } from '../helpers/sip.js';

let child: ChildProcess | null = null;
let exporter: Exporter | null = null;
let dir = '';

afterEach(async () => {
  await exporter?.stop();
  exporter = null;
  if (child !== null && child.exitCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  child = null;
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  dir = '';
});

/** The kernel's line for the UDP socket bound to 127.0.0.1:port, split in fields, or null. */
function udpSocket(port: number): string[] | null {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === hex) return fields;
  }
  return null;
}

describe('sngrep as a second HEP receiver', () => {
  it('gets every SIP message the proxies sent, byte for byte, while the exporter counts them', async () => {
    const sngrep = requirePeer('sngrep', 'sngrep');
    dir = mkdtempSync(join(tmpdir(), 'sre-forward-'));
    const pcap = join(dir, 'forwarded.pcap');
    const port = await freePort();
    // -N -q: no interface, nothing printed; -L: take HEP on UDP; -O: write what it got as pcap.
    child = spawn(sngrep, ['-N', '-q', '-L', `udp:127.0.0.1:${port}`, '-O', pcap], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    await eventually(
      () => udpSocket(port) !== null || child!.exitCode !== null,
      (ready) => ready,
    );
    expect(child.exitCode, stderr).toBeNull();

    exporter = await startExporter({
      'syslog.listen-address': '',
      'hep.forward-address': `127.0.0.1:${port}`,
    });
    const target = `127.0.0.1:${port}`;
    await eventually(
      async () =>
        sampleValue(await scrape(exporter!), `sip_exporter_hep_forward_connected{target="${target}"}`),
      (v) => v === 1,
    );
    const codes = [100, 180, 200, 486, 503];
    const messages = Array.from({ length: 250 }, (_, i) =>
      sipResponse({ code: codes[i % codes.length], callId: `sngrep-${i}@forward.test` }),
    );
    const socket = udpSender();
    // Paced as proxies send: sngrep reads slower than a loopback burst arrives, and its socket's
    // default buffer then overflows (the kernel's drop count for it is checked below).
    for (const message of messages) {
      await sendUdp(socket, hep3({ payload: message }), exporter.source('hep').listener!.udpPort);
      await new Promise((r) => setTimeout(r, 1));
    }
    await closeUdp(socket);
    const text = await eventually(
      () => scrape(exporter!),
      (t) => sampleValue(t, `sip_exporter_hep_forwarded_total{target="${target}",result="sent"}`) === 250,
    );
    expect(sampleValue(text, 'sip_exporter_sip_messages_total{listener="hep",kind="response"}')).toBe(250);

    // sngrep writes its pcap as packets come and closes it on SIGTERM; give it a moment to read.
    await new Promise((r) => setTimeout(r, 500));
    // The last field of /proc/net/udp: datagrams the kernel dropped at sngrep's socket.
    expect(udpSocket(port)?.at(-1), "datagrams dropped at sngrep's socket").toBe('0');
    child.kill('SIGTERM');
    await once(child, 'exit');
    child = null;
    const got: string[] = [];
    await readCaptureFile(pcap, (packet) => got.push(packet.payloadCopy().toString('latin1')));
    expect(got.length).toBe(250);
    expect(got).toEqual(messages);
  });
});
