import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { waitFor } from './processes.js';

/** A listener the exporter bound, from its "listening" log line. */
export interface Listening {
  listener: string;
  /** as logged: `127.0.0.1:9060`, `[::1]:9060` */
  address: string;
  port: number;
  transports: string[];
}

/**
 * The listeners an exporter's JSON log says it bound, in order. Lines that are not JSON, or not
 * yet complete (pino writes asynchronously), are passed over.
 */
export function listeningLines(log: string): Listening[] {
  const out: Listening[] = [];
  for (const line of log.split('\n')) {
    if (!line.includes('listening"')) continue;
    let entry: { msg?: unknown; listener?: unknown; address?: unknown; transports?: unknown };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof entry.msg !== 'string' || !entry.msg.endsWith(': listening')) continue;
    if (typeof entry.listener !== 'string' || typeof entry.address !== 'string') continue;
    const port = Number(entry.address.slice(entry.address.lastIndexOf(':') + 1));
    const transports = Array.isArray(entry.transports) ? entry.transports.map(String) : [];
    out.push({ listener: entry.listener, address: entry.address, port, transports });
  }
  return out;
}

/** The port `listener` bound (for `transport`, where a listener has more than one line). */
export function boundPort(lines: Listening[], listener: string, transport?: string): number {
  const line = lines.find(
    (l) => l.listener === listener && (transport === undefined || l.transports.includes(transport)),
  );
  if (line === undefined) throw new Error(`the exporter logged no ${listener} listener`);
  return line.port;
}

/**
 * Waits for an exporter started with `--*.listen-address=<host>:0` to log that it started, and
 * returns what it bound. Binding port 0 leaves no moment in which another process could take a
 * port picked for it. Fails at once, with the exporter's own output, if it exits first.
 */
export async function waitForExporterStart(
  name: string,
  log: () => string,
  /** the exit code or signal once it has exited, null while it runs */
  exited: () => number | string | null,
  timeoutMs = 30_000,
): Promise<Listening[]> {
  try {
    await waitFor(
      `${name} to log that it started`,
      () => {
        if (exited() !== null) throw new Error(`${name} exited (${exited()}) before it started`);
        return log().includes('"msg":"sip-response-exporter started"');
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; its output:\n${log().slice(-4000)}`);
  }
  return listeningLines(log());
}

/** An exporter run as a child process, its output kept in memory. */
export interface ExporterChild {
  child: ChildProcess;
  /** everything it wrote, stdout and stderr */
  log: () => string;
  /** what it bound */
  listening: Listening[];
  /** its web port */
  web: number;
}

/**
 * Runs `node <args>` (the exporter's entry point and flags, its listeners on port 0) and resolves
 * once it has started and /readyz answers 200. The child goes into `started` at once, so that the
 * caller's cleanup stops it even when the start fails.
 */
export async function spawnExporter(
  args: string[],
  options: Pick<SpawnOptions, 'cwd' | 'env'>,
  started: ChildProcess[],
): Promise<ExporterChild> {
  const child = spawn(process.execPath, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let output = '';
  const append = (d: Buffer) => {
    output += d.toString();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const log = () => output;
  const listening = await waitForExporterStart('the exporter', log, () => child.exitCode ?? child.signalCode);
  const web = boundPort(listening, 'web');
  await expectReady(`127.0.0.1:${web}`, log);
  return { child, log, listening, web };
}

/**
 * Fails, with the exporter's output, unless its /readyz on `web` (host:port) answers 200: once it
 * has logged that it started, every listener is bound and it is ready, so one look decides.
 */
export async function expectReady(web: string, log: () => string): Promise<void> {
  const ready = await fetch(`http://${web}/readyz`);
  if (ready.status !== 200) throw new Error(`/readyz answered ${ready.status} once started:\n${log()}`);
}
