import { type ChildProcess, spawn } from 'node:child_process';

/**
 * Starts tcpdump writing packets as they come (-U, --immediate-mode) and resolves once it says it
 * is listening. The child goes into `started` before that, so that a failed setup still stops it.
 */
export function startTcpdump(
  program: string,
  args: string[],
  started: ChildProcess[],
): Promise<ChildProcess> {
  // The lab's ring (lab/tcpdump.ts): a snap just over loopback's MTU in a 64 MiB buffer holds a
  // thousand packets, so a burst while tcpdump waits for a busy core is not dropped.
  const child = spawn(program, ['-n', '-U', '--immediate-mode', '-s', '65600', '-B', '65536', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  started.push(child);
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`tcpdump exited ${code}: ${err}`)));
  });
}

/** Stops tcpdump with SIGINT, so that it flushes its file, and waits for it to exit. */
export function stopTcpdump(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
}
