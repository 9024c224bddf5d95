import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envName, OPTIONS } from '../../src/config/options.js';
import { requirePeer } from '../helpers/peers.js';

const root = join(import.meta.dirname, '..', '..');
const unitPath = join(root, 'deploy/systemd/sip-response-exporter.service');

describe('deploy/systemd', () => {
  it('is hardened: systemd-analyze security rates it OK', () => {
    const analyze = requirePeer('systemd-analyze', 'systemd');
    const out = execFileSync(analyze, ['security', '--offline=true', '--no-pager', unitPath], {
      encoding: 'utf8',
    });
    const m = /Overall exposure level for .*: (\d+\.\d+) (\w+)/.exec(out);
    expect(m, out).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(2);
  });

  it('reloads on SIGHUP, restarts on failure and reads its environment file', () => {
    const unit = readFileSync(unitPath, 'utf8');
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^EnvironmentFile=-\/etc\/default\/sip-response-exporter$/m);
  });

  it('names only real environment variables in its environment file', () => {
    const env = readFileSync(join(root, 'deploy/systemd/sip-response-exporter.env'), 'utf8');
    const known = new Set([...OPTIONS.map(envName), 'SIP_EXPORTER_ARGS']);
    const named = [...env.matchAll(/^#?(SIP_EXPORTER_[A-Z_]+)=/gm)].map((m) => m[1]);
    expect(named.length).toBeGreaterThan(1);
    for (const name of named) expect(known, name).toContain(name);
  });
});
