import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CAPTURE_DROP_INFO, CaptureDrop, dropsByLabel, newDropCounters } from '../../src/capture/index.js';
import { PARSE_ERROR_INFO } from '../../src/errors.js';

describe('capture drop reasons', () => {
  const reasons = CAPTURE_DROP_INFO.slice(1);

  it('have distinct labels and codes, apart from the parse errors', () => {
    const labels = new Set(reasons.map((r) => r.label));
    const codes = new Set(reasons.map((r) => r.code));
    expect(labels.size).toBe(reasons.length);
    expect(codes.size).toBe(reasons.length);
    for (const parse of PARSE_ERROR_INFO) {
      expect(labels.has(parse.label)).toBe(false);
      expect(codes.has(parse.code)).toBe(false);
    }
    for (const r of reasons) {
      expect(r.label).toMatch(/^[a-z0-9_]+$/);
      expect(r.code).toMatch(/^SRE_ERR_CAPTURE_[A-Z0-9_]+$/);
    }
  });

  it('are all documented in docs/replay.md', () => {
    const doc = readFileSync(new URL('../../docs/replay.md', import.meta.url), 'utf8');
    for (const r of reasons) expect(doc).toContain(`| \`${r.label}\` | \`${r.code}\` |`);
    expect(doc).toContain('SRE_ERR_CAPTURE_FORMAT');
  });

  it('are reported by label', () => {
    const drops = newDropCounters();
    drops[CaptureDrop.CAPTURE_TCP_GAP] += 2;
    expect(dropsByLabel(drops)).toEqual({ tcp_gap: 2 });
  });
});
