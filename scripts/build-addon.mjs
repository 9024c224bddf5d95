// npm's install step: builds the optional native UDP addon with node-gyp against the running
// Node's headers (npm's `nodedir` setting, or the headers the Node install ships). Nothing is
// downloaded. A failure leaves the exporter on Node's dgram path, so it must not fail the
// install: it prints one line saying so and exits 0.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const gyp = process.env.npm_config_node_gyp;
let gypScript = gyp;
if (gypScript === undefined || gypScript === '') {
  try {
    gypScript = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    gypScript = '';
  }
}
const fail = (why) => {
  console.log(`sip-response-exporter: native UDP batch addon not built (${why}); UDP uses Node dgram`);
  process.exit(0);
};
if (process.platform !== 'linux') fail(`recvmmsg is Linux-only, this is ${process.platform}`);
if (gypScript === '') fail('node-gyp not found');
// A headers download would happen only without a nodedir; refuse it rather than reach out.
const nodedir = process.env.npm_config_nodedir;
const args = [gypScript, 'rebuild', '--loglevel=error', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const result = spawnSync(process.execPath, args, {
  cwd: root,
  stdio: ['ignore', 'ignore', 'pipe'],
  env: { ...process.env, npm_config_offline: 'true' },
});
if (result.status !== 0) {
  const last = (result.stderr?.toString() ?? '')
    .trim()
    .split('\n')
    .filter((l) => /error/i.test(l))
    .slice(-1)[0];
  fail(last ?? `node-gyp exited with ${result.status}`);
}
