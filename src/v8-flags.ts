import { setFlagsFromString } from 'node:v8';

/**
 * V8 flags the exporter sets for itself at startup: in the CLI, and in the benchmarks, which
 * measure the exporter as the CLI runs it. docs/architecture.md (Speed) says why each is here.
 *
 * `--max-inlined-bytecode-size-cumulative` is how much bytecode TurboFan may inline into one
 * optimised function: 920 bytes by default. The ingest path is a chain of small single-purpose
 * functions (decode, scan, key hash, dedupe, count), and at the default budget TurboFan stops
 * inlining half way down it: the header-name check, the CSeq reader, the observation's setters
 * and, on a batched read, the dedupe lookups stay calls, each with its own argument checks and
 * its uint32 arguments boxed. At 12,000 they are inlined, and the in-process figure of
 * `npm run bench` rises by about a quarter (the README's performance table, both rows).
 *
 * Setting it after V8 has started is safe: Node leaves V8's flags unfrozen for
 * v8.setFlagsFromString, and the inliner reads this one at each compilation. Flags are per
 * process, so the ingest worker threads run with it too.
 */
export const V8_FLAGS: readonly string[] = ['--max-inlined-bytecode-size-cumulative=12000'];

let applied = false;

/**
 * Sets V8_FLAGS, once, before the hot path is compiled. A flag the operator gave node on its own
 * command line (`node --max-inlined-bytecode-size-cumulative=... dist/src/cli.js`) is left as
 * given. Returns the flags it set.
 */
export function applyV8Flags(execArgv: readonly string[] = process.execArgv): string[] {
  if (applied) return [];
  applied = true;
  const set: string[] = [];
  for (const flag of V8_FLAGS) {
    const name = flag.slice(0, flag.indexOf('='));
    // V8 reads - and _ in flag names alike.
    const given = (arg: string) => arg.replaceAll('_', '-').split('=')[0] === name;
    if (execArgv.some(given)) continue;
    setFlagsFromString(flag);
    set.push(flag);
  }
  return set;
}
