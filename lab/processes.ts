import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer, isIP } from 'node:net';
import { join } from 'node:path';

/** A file's text, or '' while it does not exist yet (a log not yet written). */
export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** A program the lab started: its PID, its log file, and how to end it. */
export interface LabProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  log: () => string;
  stop: () => Promise<void>;
  exited: Promise<number | null>;
}

/**
 * Finds the absolute path of a real peer. The lab never skips: without the peer it fails and
 * says which Debian package brings it.
 */
export function requireProgram(program: string, debianPackage: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      `${program} is not installed (Debian package "${debianPackage}"; scripts/install-test-peers.sh installs it)`,
    );
  }
}

const PORT_FLOOR = 20_000;

/**
 * Where `freePort` picks from: above the default ports (9060, 9467, 5514, 6514) and below the
 * kernel's ephemeral range. A port the kernel hands out for bind(0) can be taken again, between
 * our check and the caller's bind, by any socket of any process that sends or connects without
 * binding (the suite's own clients, sipp, Kamailio); a port below that range cannot.
 */
export function portRange(
  rangeFile = '/proc/sys/net/ipv4/ip_local_port_range',
): { low: number; high: number } | null {
  const ephemeralLow = Number(readText(rangeFile).trim().split(/\s+/)[0]);
  if (!Number.isInteger(ephemeralLow) || ephemeralLow <= PORT_FLOOR + 1000) return null;
  return { low: PORT_FLOOR, high: ephemeralLow - 1 };
}

/** Whether `port` on `host` can be bound now, for TCP and for UDP; 0 asks the kernel for one. */
async function tryPort(host: string, port: number): Promise<number | null> {
  const tcp = await new Promise<number | null>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen(port, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : null));
    });
  });
  if (tcp === null) return null;
  const udpFree = await new Promise<boolean>((resolve) => {
    const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    socket.once('error', () => resolve(false));
    socket.bind(tcp, host, () => socket.close(() => resolve(true)));
  });
  return udpFree ? tcp : null;
}

/**
 * A port free for both UDP and TCP on `host` (127.0.0.1 or ::1), for a peer that must be told its
 * port (Kamailio, sipp, Prometheus); the exporter binds port 0 and says what it bound instead
 * (`waitForExporterStart`). Picked at random below the ephemeral range (`portRange`), so that
 * only another `freePort` caller, not a passing client socket, could take it before the caller
 * binds; the callers bind at once, and the lab starts its processes in sequence.
 */
export async function freePort(host = '127.0.0.1', range = portRange()): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const wanted = range === null ? 0 : range.low + Math.floor(Math.random() * (range.high - range.low + 1));
    const port = await tryPort(host, wanted);
    if (port !== null) return port;
  }
  throw new Error('no free port found');
}

/** Starts a program with its output in a log file of its own in `dir`. */
export function startProcess(
  dir: string,
  name: string,
  program: string,
  args: string[],
  cwd = dir,
): LabProcess {
  const logFile = join(dir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  // Its own process group, so that stopping it also stops what it forked (Kamailio's workers,
  // the commands of a shell pipeline).
  const child = spawn(program, args, { stdio: ['ignore', fd, fd], cwd, detached: true });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  return {
    name,
    child,
    logFile,
    exited,
    log: () => readText(logFile),
    stop: async () => {
      const group = (signal: NodeJS.Signals) => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, signal);
        } catch {
          // the group is gone already
        }
      };
      if (child.exitCode !== null || child.signalCode !== null) {
        group('SIGKILL');
        return;
      }
      group('SIGTERM');
      const timer = setTimeout(() => group('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      // A leader that exits first (a shell) must not leave its pipeline behind.
      group('SIGKILL');
    },
  };
}

/** Runs a program to its end, output to its log file; resolves with the exit code. */
export async function runProcess(
  dir: string,
  name: string,
  program: string,
  args: string[],
  timeoutMs: number,
): Promise<number | null> {
  const p = startProcess(dir, name, program, args);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return code;
}

export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
