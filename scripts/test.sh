#!/bin/sh
# Installs what is missing, builds Sluice with warnings as errors, and runs
# every test (unit, integration through DPDK vdevs, end to end in network
# namespaces), then the sanitizer build (scripts/fuzz.sh: each fuzzer for
# SLUICE_FUZZ_SECONDS, default 10, and the unit tests under ASan and UBSan).
# Arguments select tests of the main run, as for meson test, and skip the
# sanitizer build. Run as root on Debian 12.
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
if [ $# -eq 0 ]; then
    ./scripts/fuzz.sh "${SLUICE_FUZZ_SECONDS:-10}"
fi
