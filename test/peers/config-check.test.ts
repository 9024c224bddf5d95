import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';

function check(config: string) {
  const file = join(mkdtempSync(join(tmpdir(), 'sre-peers-check-')), 'config.yml');
  writeFileSync(file, config);
  return spawnSync(process.execPath, [...CLI, '--config.file', file, '--config.check'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
  });
}

describe('--config.check of peers and self_addresses', () => {
  it('refuses every bad entry, each line naming it once, and exits 2', () => {
    const result = check(`peers:
  - name: carrier-a
    addresses: ["192.0.2.1/24"]
  - name: carrier-a
    adresses: ["198.51.100.0/24"]
nodes:
  self_addresses:
    edge-1: ["proxy.example.com"]
`);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('SRE_ERR_CONFIG');
    const lines = result.stderr.split('\n');
    expect(lines).toContain(
      '  peers[0] (carrier-a): addresses[0] "192.0.2.1/24" has bits set past the /24 prefix: write 192.0.2.0/24 for the network, or 192.0.2.1 alone for the one address',
    );
    expect(lines).toContain(
      '  peers[1] (carrier-a): unknown key "adresses" (an entry has name, addresses, ports)',
    );
    expect(lines).toContain('  peers[1] (carrier-a): name is already used by peers[0]');
    expect(result.stderr).toMatch(
      /^ {2}nodes\.self_addresses\.edge-1: self_addresses\[0\] "proxy\.example\.com"/m,
    );
  });

  it('accepts a good list and warns, with its code, about an entry earlier ones hide', () => {
    const result = check(`peers:
  - name: everyone
    addresses: ["0.0.0.0/0"]
  - name: carrier-a
    addresses: ["192.0.2.0/24"]
  - name: carrier-b
    addresses: ["2001:db8::/32"]
nodes:
  self_addresses:
    "*": ["10.0.0.0/8"]
`);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('configuration OK');
    expect(result.stderr).toContain('SRE_WARN_PEER_HIDDEN');
    expect(result.stderr).toContain('peers entries carrier-a can never match');
    expect(result.stderr).not.toContain('carrier-b');
  });
});
