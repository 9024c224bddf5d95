import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { V8_FLAGS } from '../src/v8-flags.js';

const script = (execArgv: string[]) => `
  import { applyV8Flags } from ${JSON.stringify(new URL('../src/v8-flags.ts', import.meta.url).href)};
  const first = applyV8Flags(${JSON.stringify(execArgv)});
  const again = applyV8Flags();
  console.log(JSON.stringify({ first, again }));
`;

/** Runs applyV8Flags in a node of its own: V8 flags are per process, and this one is vitest's. */
function applyInChild(execArgv: string[]): { first: string[]; again: string[] } {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script(execArgv)],
    {
      encoding: 'utf8',
    },
  );
  return JSON.parse(out);
}

describe('applyV8Flags', () => {
  it('sets every flag once, and nothing on a second call', () => {
    expect(applyInChild([])).toEqual({ first: [...V8_FLAGS], again: [] });
  });

  it('leaves a flag the operator gave node as given, whichever spelling', () => {
    const name = V8_FLAGS[0].split('=')[0];
    expect(applyInChild([`${name}=2000`]).first).toEqual(V8_FLAGS.slice(1));
    expect(applyInChild([`${name.replaceAll('-', '_').replace('__', '--')}=2000`]).first).toEqual(
      V8_FLAGS.slice(1),
    );
  });

  it('is applied by the CLI before it starts, and documented with its value', () => {
    const cli = readFileSync(new URL('../src/cli.ts', import.meta.url), 'utf8');
    expect(cli).toMatch(/\napplyV8Flags\(\);\n\nmain\(process\.argv\)/);
    const doc = readFileSync(new URL('../docs/architecture.md', import.meta.url), 'utf8');
    for (const flag of V8_FLAGS) expect(doc).toContain(flag);
  });
});
