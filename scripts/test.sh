#!/bin/sh
# Installs what is missing, builds Sluice with warnings as errors, and runs
# every test (unit, integration through DPDK vdevs, end to end in network
# namespaces). Run as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
if [ -f build/build.ninja ]; then
    meson setup build --reconfigure -Dwerror=true >/dev/null
else
    meson setup build -Dwerror=true
fi
ninja -C build
meson test -C build --print-errorlogs --num-processes 2 "$@"
