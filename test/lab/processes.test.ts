import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, portRange } from '../../lab/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'sre-ports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rangeFile(text: string): string {
  const file = join(dir, `range-${Math.random()}`);
  writeFileSync(file, text);
  return file;
}

describe('freePort', () => {
  it('picks below the kernel ephemeral range and above the default ports, or leaves it to the kernel', () => {
    expect(portRange(rangeFile('32768\t60999\n'))).toEqual({ low: 20_000, high: 32_767 });
    expect(portRange(rangeFile('40000 65000'))).toEqual({ low: 20_000, high: 39_999 });
    // No room below the range (or no such file): bind(0), as before.
    expect(portRange(rangeFile('1024 65535'))).toBeNull();
    expect(portRange(join(dir, 'absent'))).toBeNull();
  });

  it('gives ports that the caller can then bind for TCP and for UDP, outside the ephemeral range', async () => {
    const range = portRange();
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      seen.add(port);
      if (range !== null) {
        expect(port).toBeGreaterThanOrEqual(range.low);
        expect(port).toBeLessThanOrEqual(range.high);
      }
      for (const taken of [9060, 9467, 5514, 6514]) expect(port).not.toBe(taken);
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
      const socket = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => socket.close(resolve));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    // Picked at random, not one port handed out again and again.
    expect(seen.size).toBeGreaterThan(10);
  });

  it('skips a port taken for TCP or for UDP, and says so when every port is taken', async () => {
    // Three neighbours, found free; then TCP held on the first, UDP on the second.
    let low = 0;
    for (let i = 0; i < 50 && low === 0; i++) {
      const first = await freePort();
      if (first > 32_000) continue;
      const rest = await Promise.all(
        [1, 2].map((d) => freePort('127.0.0.1', { low: first + d, high: first + d }).catch(() => 0)),
      );
      if (rest.every((p, d) => p === first + d + 1)) low = first;
    }
    expect(low).not.toBe(0);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(low, '127.0.0.1', resolve));
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(low + 1, '127.0.0.1', resolve));
    try {
      for (let i = 0; i < 10; i++) expect(await freePort('127.0.0.1', { low, high: low + 2 })).toBe(low + 2);
      await expect(freePort('127.0.0.1', { low, high: low + 1 })).rejects.toThrow('no free port found');
    } finally {
      await new Promise<void>((resolve) => udp.close(resolve));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
