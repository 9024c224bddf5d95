import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import request from 'supertest';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { udpBatchAvailability } from '../../../src/ingest/udp-batch.js';
import { CLI, FREE_PORTS } from '../../helpers/cli.js';
import { sampleValue } from '../../helpers/exporter.js';
import { hep3 } from '../../helpers/hep.js';
import { closeUdp, eventually, sendUdp, udpSender } from '../../helpers/net.js';
import { sipResponse } from '../../helpers/sip.js';

interface LogLine {
  msg: string;
  address?: string;
  ingest_workers?: number;
  packets?: { hep: Record<string, number> };
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
const PORTS = 12;
const senders: UdpSocket[] = Array.from({ length: PORTS }, () => udpSender());
afterAll(async () => {
  for (const s of senders) await closeUdp(s);
});

describe('the CLI with ingest workers', () => {
  it('applies SIGHUP in every worker and stops every worker on SIGTERM, exiting 0', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sre-workers-')), 'config.yml');
    writeFileSync(file, 'hep:\n  auth_key: first-key\n');
    const child = spawn(
      process.execPath,
      [...CLI, ...FREE_PORTS, '--config.file', file, '--ingest.workers', '2'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    const exited = once(child, 'exit');
    const lines: LogLine[] = [];
    const seen = (msg: string) => lines.some((l) => l.msg === msg);
    createInterface({ input: child.stdout! }).on('line', (text) => lines.push(JSON.parse(text) as LogLine));
    await eventually(() => seen('sip-response-exporter started'), Boolean, 20_000);
    const listening = lines.find((l) => l.msg === 'hep: listening')!;
    expect(listening.ingest_workers).toBe(udpBatchAvailability().available ? 2 : 1);
    const port = (line: LogLine) => Number(line.address!.split(':').at(-1));
    const hepPort = port(listening);
    const http = request(`http://127.0.0.1:${port(lines.find((l) => l.msg === 'web: listening')!)}`);
    const metrics = async () => (await http.get('/metrics')).text;
    const hepUdp = 'sip_exporter_packets_received_total{listener="hep",transport="udp"}';
    let sent = 0;
    const burst = async (tag: string) => {
      for (let i = 0; i < 150; i++) {
        const packet = hep3({
          payload: sipResponse({ code: 200, callId: `${tag}-${i}` }),
          nodeName: 'edge',
          authKey: 'second-key',
        });
        await sendUdp(senders[i % PORTS], packet, hepPort);
        await sendUdp(senders[(i + 5) % PORTS], packet, hepPort);
        sent += 2;
      }
      return eventually(metrics, (t) => sampleValue(t, hepUdp) === sent);
    };
    const ok = 'sip_responses_total{code="200",class="2xx",reason="OK",method="INVITE",node="edge"}';

    // Signed with a key the exporter does not have yet: every copy fails, in every worker.
    let text = await burst('before');
    expect(sampleValue(text, 'sip_exporter_auth_failures_total{listener="hep"}')).toBe(300);
    expect(sampleValue(text, ok) ?? 0).toBe(0);

    writeFileSync(file, 'hep:\n  auth_key: second-key\n');
    child.kill('SIGHUP');
    await eventually(() => seen('configuration reloaded'), Boolean);
    // A worker applies the reload between two of its batches: send until a probe from every
    // port is counted, so that each worker has had one.
    await eventually(
      async () => {
        for (let i = 0; i < PORTS; i++) {
          const probe = hep3({
            payload: sipResponse({ code: 100, callId: `probe-${i}` }),
            nodeName: 'edge',
            authKey: 'second-key',
          });
          await sendUdp(senders[i], probe, hepPort);
          sent++;
        }
        return metrics();
      },
      (t) =>
        sampleValue(
          t,
          'sip_responses_total{code="100",class="1xx",reason="Trying",method="INVITE",node="edge"}',
        ) === PORTS,
    );
    text = await burst('after');
    expect(sampleValue(text, 'sip_exporter_auth_failures_total{listener="hep"}')).toBe(300);
    expect(sampleValue(text, ok)).toBe(150);

    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
    const stopped = lines.find((l) => l.msg === 'stopped')!;
    expect(stopped.packets!.hep.udp).toBe(sent);
  });
});
