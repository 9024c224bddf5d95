import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LabProcess, readText, requireProgram, startProcess, waitFor } from './processes.js';

export interface RsyslogForward {
  port: number;
  /** udp: the traditional format; tcp: RFC 5424 with octet counting */
  protocol: 'udp' | 'tcp';
}

export interface Rsyslogd {
  /** the private Unix socket it reads, in place of the host's /dev/log */
  socket: string;
  /** every message it received, one per line, as it wrote them to a file */
  received: () => string;
  process: LabProcess;
}

/**
 * A private rsyslogd: it reads a Unix socket of its own (imuxsock, not the system's /dev/log),
 * forwards everything to the exporter with omfwd as a proxy host's rsyslog would, and keeps a
 * copy of what it received in a file.
 */
export async function startRsyslogd(dir: string, name: string, forward: RsyslogForward): Promise<Rsyslogd> {
  const program = requireProgram('rsyslogd', 'rsyslog');
  const socket = join(dir, `${name}.sock`);
  const copy = join(dir, `${name}.received`);
  const framing =
    forward.protocol === 'tcp'
      ? ' TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"'
      : '';
  const conf = join(dir, `${name}.conf`);
  writeFileSync(
    conf,
    [
      `global(workDirectory="${dir}")`,
      'module(load="imuxsock" SysSock.Use="off")',
      `input(type="imuxsock" Socket="${socket}")`,
      `*.* action(type="omfwd" target="127.0.0.1" port="${forward.port}" protocol="${forward.protocol}"${framing})`,
      `*.* action(type="omfile" file="${copy}")`,
      '',
    ].join('\n'),
  );
  const process = startProcess(dir, name, program, ['-n', '-f', conf, '-i', join(dir, `${name}.pid`)]);
  await waitFor(
    `${name} to open its socket`,
    () => {
      if (process.child.exitCode !== null)
        throw new Error(`rsyslogd exited ${process.child.exitCode}: ${process.log()}`);
      try {
        readFileSync(socket);
        return true;
      } catch (err) {
        // A socket cannot be read as a file; ENXIO means it is there.
        return (err as NodeJS.ErrnoException).code === 'ENXIO';
      }
    },
    10_000,
  );
  return {
    socket,
    process,
    received: () => readText(copy),
  };
}
