import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, REVISION, readRevision } from '../src/version.js';

const root = join(import.meta.dirname, '..');

describe('build revision', () => {
  it('is the checkout commit when run from a git checkout', () => {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
    }).trim();
    expect(PACKAGE_ROOT).toBe(root);
    expect(readRevision({}, root)).toBe(head);
    expect(REVISION === head || REVISION === process.env.SIP_EXPORTER_REVISION).toBe(true);
  });

  it('takes SIP_EXPORTER_REVISION first, as the image sets it', () => {
    expect(readRevision({ SIP_EXPORTER_REVISION: 'abc1234' }, root)).toBe('abc1234');
  });

  it('is empty, without throwing, outside a checkout or when git cannot answer', () => {
    const plain = mkdtempSync(join(tmpdir(), 'sre-rev-'));
    expect(readRevision({}, plain)).toBe('');
    expect(readRevision({}, undefined)).toBe('');
    // A .git that is no repository: git exits non-zero, as it would were it missing.
    const broken = mkdtempSync(join(tmpdir(), 'sre-rev-'));
    mkdirSync(join(broken, '.git'));
    expect(readRevision({}, broken)).toBe('');
  });
});
