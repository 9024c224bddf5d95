// npm's install step: builds the optional native UDP addon with node-gyp against the running
// Node's headers (npm's `nodedir` setting, or the headers the Node install ships). Nothing is
// downloaded. A failure leaves the exporter on Node's dgram path, so it must not fail the
// install: it prints one line saying so and exits 0.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
    // Run by hand rather than by npm: the node-gyp npm itself bundles.
    const bundled = join(
      dirname(dirname(process.execPath)),
      'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    );
    gypScript = existsSync(bundled) ? bundled : '';
  }
}
const fail = (why) => {
  console.log(`sip-response-exporter: native UDP batch addon not built (${why}); UDP uses Node dgram`);
  process.exit(0);
};
if (process.platform !== 'linux') fail(`recvmmsg is Linux-only, this is ${process.platform}`);
if (gypScript === '') fail('node-gyp not found');
// node-gyp downloads headers when it has no nodedir; never let it: use npm's setting, or the
// headers installed beside this Node (the official images and distribution packages ship them).
const prefix = dirname(dirname(process.execPath));
const nodedir =
  process.env.npm_config_nodedir || (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : '');
if (nodedir === '') fail(`no Node headers in ${join(prefix, 'include', 'node')} and no npm nodedir set`);
const args = [gypScript, 'rebuild', '--loglevel=error', `--nodedir=${nodedir}`];
const result = spawnSync(process.execPath, args, {
  cwd: root,
  stdio: ['ignore', 'ignore', 'pipe'],
  env: { ...process.env, npm_config_offline: 'true' },
});
if (result.status !== 0) {
  // The cause is the first error a tool printed (a missing compiler, missing headers), not
  // node-gyp's closing summary.
  const lines = (result.stderr?.toString() ?? '').split('\n');
  const why =
    lines.find((l) => /error:/i.test(l) && !l.startsWith('gyp ')) ??
    lines.find((l) => l.startsWith('gyp ERR! stack Error: '))?.slice('gyp ERR! stack '.length) ??
    `node-gyp exited with ${result.status}`;
  fail(why.trim());
}
