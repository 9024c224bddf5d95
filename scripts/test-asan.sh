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
# As scripts/build-addon.mjs: npm's nodedir, else the headers installed beside this Node; never a download.
nodedir="${npm_config_nodedir:-}"
prefix="$(dirname "$(dirname "$(command -v node)")")"
if [ -z "$nodedir" ] && [ -f "$prefix/include/node/node_api.h" ]; then nodedir="$prefix"; fi
if [ -z "$nodedir" ]; then
  echo "test-asan: no Node headers in $prefix/include/node and no npm nodedir set" >&2
  exit 1
fi
(cd native/asan && npm_config_offline=true node "$gyp" rebuild --loglevel=error --nodedir="$nodedir")
libasan="$(g++ -print-file-name=libasan.so)"
LD_PRELOAD="$libasan" ASAN_OPTIONS=detect_leaks=0 \
  UDP_BATCH_ADDON="$PWD/native/asan/build/Release/udp_batch.node" \
  npx vitest run test/ingest/udp-batch
