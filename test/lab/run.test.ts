import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function lab(args: string[]) {
  // Only argument handling is exercised: each of these exits before anything is started.
  return spawnSync(process.execPath, ['--import', 'tsx', 'lab/run.ts', ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('npm run lab', () => {
  it('prints its usage for --help and exits 0', () => {
    for (const flag of ['--help', '-h']) {
      const result = lab([flag]);
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^usage: npm run lab/);
      expect(result.stdout).toContain('--rate');
      expect(result.stderr).toBe('');
    }
  });

  it('names a bad argument and prints its usage, without a stack, exiting 2', () => {
    for (const args of [['--bogus'], ['--rate', 'fast'], ['--rate', '0']]) {
      const result = lab(args);
      expect(result.status, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/^lab: /);
      expect(result.stderr).toContain('usage: npm run lab');
      expect(result.stderr).not.toMatch(/^\s+at /m);
    }
  });
});
