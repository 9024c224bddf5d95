import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { ListenError } from '../../src/errors.js';
import type { Exporter } from '../../src/exporter.js';
import { UdpBatchSocket } from '../../src/ingest/udp-batch.js';
import { samples, sampleValue, startExporter } from '../helpers/exporter.js';
import { hep3 } from '../helpers/hep.js';
import { closeUdp, eventually, sendUdp, udpSender } from '../helpers/net.js';
import { sipResponse } from '../helpers/sip.js';

interface LogLine {
  msg: string;
  code?: string;
  udp_receive_path?: string;
}

const running: Exporter[] = [];
afterEach(async () => {
  for (const e of running.splice(0)) await e.stop();
});

async function start(flags: Record<string, string> = {}): Promise<Exporter> {
  const e = await startExporter(flags);
  running.push(e);
  return e;
}

const metrics = async (e: Exporter) =>
  (await request(`http://127.0.0.1:${e.httpPort}`).get('/metrics').expect(200)).text;

const acc = (callId: string) =>
  `<142>Nov 25 10:20:30 edge kamailio[1]: NOTICE: acc [acc.c:285]: ACC: transaction answered: timestamp=1;method=INVITE;from_tag=a;to_tag=b;call_id=${callId};code=486;reason=Busy Here`;

/** Sends a burst of distinct HEP responses and syslog lines and checks every one is counted. */
async function countsEverything(e: Exporter): Promise<string> {
  const s = udpSender();
  const n = 1000;
  // A burst without waiting between sends: several datagrams per readiness event, several batches.
  for (let i = 0; i < n; i++)
    s.send(
      hep3({ payload: sipResponse({ code: 200, callId: `c${i}` }), nodeName: 'edge' }),
      e.source('hep').listener!.udpPort,
      '127.0.0.1',
    );
  for (let i = 0; i < 50; i++)
    await sendUdp(s, Buffer.from(acc(`s${i}`)), e.source('syslog').listener!.plain!.udpPort);
  const text = await eventually(
    () => metrics(e),
    (t) =>
      sampleValue(t, 'sip_exporter_packets_received_total{listener="hep",transport="udp"}') === n &&
      sampleValue(t, 'sip_exporter_packets_received_total{listener="syslog",transport="udp"}') === 50,
  );
  await closeUdp(s);
  const responses = samples(text, 'sip_responses_total');
  expect(responses['{code="200",class="2xx",reason="OK",method="INVITE",node="edge"}']).toBe(n);
  expect(responses['{code="486",class="4xx",reason="Busy Here",method="INVITE",node="edge"}']).toBe(50);
  return text;
}

describe('UDP listeners on the batched receive path', () => {
  it('count HEP and syslog datagrams read in recvmmsg batches, and say so in /metrics', async () => {
    const e = await start();
    const text = await countsEverything(e);
    expect(samples(text, 'sip_exporter_udp_receive_path')).toEqual({
      '{listener="hep",path="batch"}': 1,
      '{listener="syslog",path="batch"}': 1,
    });
    // Fewer reads than datagrams: the burst arrived in batches.
    const hepBatches = sampleValue(text, 'sip_exporter_udp_batches_total{listener="hep"}')!;
    expect(hepBatches).toBeGreaterThan(0);
    expect(hepBatches).toBeLessThanOrEqual(1000);
  });

  it('fall back to dgram with --ingest.udp-batch=false, counting the same', async () => {
    const e = await start({ 'ingest.udp-batch': 'false' });
    const text = await countsEverything(e);
    expect(samples(text, 'sip_exporter_udp_receive_path')).toEqual({
      '{listener="hep",path="dgram"}': 1,
      '{listener="syslog",path="dgram"}': 1,
    });
    // One datagram per read on the dgram path.
    expect(sampleValue(text, 'sip_exporter_udp_batches_total{listener="hep"}')).toBe(1000);
  });

  it('refuse to start on a UDP port another socket holds, SO_REUSEPORT group or not, on either path', async () => {
    for (const reusePort of ['none', 'first'] as const) {
      // What another exporter holds: one plain socket, or the first of a SO_REUSEPORT group.
      const holder = new UdpBatchSocket({
        host: '127.0.0.1',
        port: 0,
        ipv6: false,
        receiveBufferSize: 0,
        reusePort,
      });
      try {
        for (const batch of ['true', 'false']) {
          const second = startExporter({
            'hep.listen-address': `127.0.0.1:${holder.port}`,
            'ingest.udp-batch': batch,
          });
          await expect(second).rejects.toBeInstanceOf(ListenError);
          await expect(second).rejects.toThrow(
            /^hep: 127\.0\.0\.1:\d+ is in use \(EADDRINUSE\); set --hep\.listen-address/,
          );
        }
      } finally {
        holder.close();
      }
    }
  });

  it('free the port on stop, so a restarted exporter binds it again', async () => {
    const first = await start();
    const port = first.source('hep').listener!.udpPort;
    await first.stop();
    running.splice(running.indexOf(first), 1);
    const again = await start({ 'hep.listen-address': `127.0.0.1:${port}` });
    expect(again.source('hep').listener!.udpPort).toBe(port);
  });
});

describe('the receive path in the log', () => {
  /** Runs the exporter until both UDP listeners are up and returns its JSON log lines. */
  async function startupLog(args: string[], env: NodeJS.ProcessEnv = {}): Promise<LogLine[]> {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli.ts',
        '--web.listen-address=127.0.0.1:0',
        '--hep.listen-address=127.0.0.1:0',
        '--syslog.listen-address=127.0.0.1:0',
        ...args,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
    );
    const lines: LogLine[] = [];
    try {
      for await (const text of createInterface({ input: child.stdout! })) {
        lines.push(JSON.parse(text) as LogLine);
        if (lines.some((l) => l.msg === 'web: listening')) break;
      }
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    return lines;
  }

  const paths = (lines: LogLine[]) =>
    lines.filter((l) => l.msg.endsWith(': listening') && l.udp_receive_path).map((l) => l.udp_receive_path);

  it('names the batch path on each listener and logs nothing about a fallback', async () => {
    const lines = await startupLog([]);
    expect(paths(lines)).toEqual(['batch', 'batch']);
    expect(lines.filter((l) => l.code?.startsWith('SRE_') && l.code.includes('UDP'))).toEqual([]);
  });

  it('says once why it reads with dgram when told to', async () => {
    const lines = await startupLog(['--ingest.udp-batch=false']);
    expect(paths(lines)).toEqual(['dgram', 'dgram']);
    expect(lines.filter((l) => l.code === 'SRE_INFO_UDP_DGRAM')).toHaveLength(1);
  });

  it('says once why it reads with dgram when the addon is missing', async () => {
    const lines = await startupLog([], { UDP_BATCH_ADDON: '/nonexistent/udp_batch.node' });
    expect(paths(lines)).toEqual(['dgram', 'dgram']);
    const warnings = lines.filter((l) => l.code === 'SRE_WARN_UDP_BATCH_UNAVAILABLE');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].msg).toContain('not built');
  });
});
