import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { boundPort, listeningLines, waitForExporterStart } from '../../lab/exporter-log.js';
import { exporterPerTest } from '../helpers/exporter.js';

const run = exporterPerTest();

describe('the exporter log the lab reads its ports from', () => {
  it('gives every port an exporter on port 0 bound, as the exporter itself reports them', async () => {
    let log = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        log += chunk.toString();
        done();
      },
    });
    const exporter = await run.start({}, {}, pino({ level: 'info' }, sink));
    const lines = listeningLines(`not json\n${log}{"msg":"hep: listening","listener":"hep","addr`);
    expect(lines.map((l) => l.listener).sort()).toEqual(['hep', 'syslog', 'web']);
    expect(boundPort(lines, 'web')).toBe(exporter.httpPort);
    expect(boundPort(lines, 'hep')).toBe(exporter.source('hep').listener!.udpPort);
    expect(boundPort(lines, 'hep', 'tcp')).toBe(exporter.source('hep').listener!.tcpPort);
    expect(boundPort(lines, 'syslog', 'udp')).toBe(exporter.source('syslog').listener!.plain!.udpPort);
    expect(() => boundPort(lines, 'syslog', 'tls')).toThrow('logged no syslog listener');
  });

  it('fails at once, with the output, when the exporter exits before it starts', async () => {
    // The first look sees the exit: no polling for the rest of the wait.
    let looks = 0;
    const exited = () => {
      looks++;
      return 2;
    };
    await expect(
      waitForExporterStart('the exporter', () => 'SRE_ERR_LISTEN: hep: :9060 is in use', exited, 30_000),
    ).rejects.toThrow(/exited \(2\) before it started; its output:\nSRE_ERR_LISTEN: hep/);
    expect(looks).toBeLessThanOrEqual(2);
    await expect(
      waitForExporterStart(
        'the exporter',
        () => '',
        () => null,
        200,
      ),
    ).rejects.toThrow('timed out waiting for the exporter to log that it started');
  });
});
