#!/usr/bin/env bash
# Runs the native addon's own tests once under AddressSanitizer: the addon is built a second
# time with -fsanitize=address into native/asan/build and loaded in place of the normal build.
# Node itself is not instrumented, so the sanitizer runtime is preloaded and leak checking,
# which would report Node's own process-lifetime allocations, is off.
set -euo pipefail
cd "$(dirname "$0")/.."
gyp="${npm_config_node_gyp:-}"
if [ -z "$gyp" ]; then
  gyp="$(dirname "$(dirname "$(command -v npm)")")/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
fi
(cd native/asan && node "$gyp" rebuild --loglevel=error ${npm_config_nodedir:+--nodedir="$npm_config_nodedir"})
libasan="$(g++ -print-file-name=libasan.so)"
LD_PRELOAD="$libasan" ASAN_OPTIONS=detect_leaks=0 \
  UDP_BATCH_ADDON="$PWD/native/asan/build/Release/udp_batch.node" \
  npx vitest run test/ingest/udp-batch
