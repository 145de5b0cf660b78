#!/bin/sh
# The sanitizer build: libFuzzer harnesses (tests/fuzz) and the unit tests
# that need no ports and no root, built with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer in build-fuzz (the gcc build in build/ is left
# alone). scripts/test.sh runs it with 10 seconds per harness.
#
#   scripts/fuzz.sh                    10 s per harness; the unit tests beside them
#   scripts/fuzz.sh 3600               an hour per harness
#   scripts/fuzz.sh 600 policy         ten minutes of one harness (parser, policy, protocol)
#   scripts/fuzz.sh 0                  replay the corpora only; the unit tests
#
# Every harness first replays its committed corpus (tests/fuzz/corpus/NAME),
# then fuzzes from it; what it learns goes to build-fuzz/fuzz-corpus/NAME, and
# a crash to build-fuzz/fuzz-artifacts/ (docs/testing.md: keeping a crash as a
# regression seed). Exits non-zero when a harness or a test failed.
set -eu
cd "$(dirname "$0")/.."

seconds=${1:-10}
[ $# -gt 0 ] && shift
harnesses=${*:-parser policy protocol}
dir=build-fuzz

# Unit tests that run under the sanitizers: parser, policy, shaper, control
# protocol and socket, classifier (DSCP re-marking, and meters and rule set,
# whose small --no-huge EAL from tests/support/test_eal.hpp works under ASan),
# daemon options. Left out: table swap and pcap re-marking (classifier) and
# the integration suite, which run worker lcores or sluiced itself for
# seconds each and would double this run's time under ASan; and the e2e
# suite (network namespaces).
unit_targets="tests/unit/parser_test tests/unit/management_match_test tests/unit/options_test tests/classifier/dscp_marker_test
tests/classifier/meter_test tests/classifier/rule_set_test
tests/control/protocol_test tests/control/socket_server_test tests/shaper/shaper_tests
tests/policy/broken_policies_test tests/policy/units_test tests/policy/shadowing_test
tests/policy/examples_test tests/policy/loader_test tests/policy/writer_test tests/policy/tree_change_test
tests/policy/policy_file_test tests/policy/management_test"
unit_tests="parser|management matcher|options|dscp re-marking|meters|rule set|control protocol|control socket|shaper|policy broken policies|\
policy units|policy shadowed rules|policy example configs|policy loading|policy written back|policy class tree change|\
policy files on disk|policy management"

if ! command -v clang++ >/dev/null; then
    echo "fuzz: clang++ is missing; run scripts/install-deps.sh" >&2
    exit 1
fi
# Unoptimised (-O0 compiles in a third of the time under the sanitizers),
# except where meson.build asks for more: the fuzzers, the shaper.
options="-Dfuzzers=true -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug"
# shellcheck disable=SC2086
if [ -f "$dir/build.ninja" ]; then
    meson setup "$dir" --reconfigure $options >/dev/null
else
    CC=clang CXX=clang++ meson setup "$dir" $options >/dev/null
fi

fuzz_targets=""
for h in $harnesses; do
    [ -d "tests/fuzz/corpus/$h" ] || { echo "fuzz: no harness '$h' (parser, policy, protocol)" >&2; exit 2; }
    fuzz_targets="$fuzz_targets tests/fuzz/fuzz_$h"
done
# shellcheck disable=SC2086
ninja -C "$dir" $fuzz_targets $unit_targets

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

# The unit tests run on one core while the fuzzers, one at a time, use the
# other; their output goes to $dir/unit-tests.log and is shown at the end.
unit_tests_run() {
    old_ifs=$IFS
    IFS='|'
    # shellcheck disable=SC2086
    set -- $unit_tests
    IFS=$old_ifs
    status=0
    # The sanitizers make every test several times slower than its timeout
    # assumes (more so on a host that steals the vCPUs): triple the limits.
    meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 1 --timeout-multiplier 3 "$@" || status=1
    return $status
}
echo "fuzz: unit tests under ASan and UBSan, beside the fuzzers"
unit_tests_run >"$dir/unit-tests.log" 2>&1 &
unit_tests_pid=$!

failed=""
mkdir -p "$dir/fuzz-artifacts"
for h in $harnesses; do
    mkdir -p "$dir/fuzz-corpus/$h"
    dict=""
    [ -f "tests/fuzz/$h.dict" ] && dict="-dict=tests/fuzz/$h.dict"
    echo "fuzz: $h for ${seconds}s"
    # -runs=0 stops after the corpora are replayed; otherwise fuzz for the
    # time given. New inputs go to the first directory only.
    if [ "$seconds" -eq 0 ]; then limit="-runs=0"; else limit="-max_total_time=$seconds"; fi
    # shellcheck disable=SC2086
    if ! "$dir/tests/fuzz/fuzz_$h" $limit $dict -timeout=10 -print_final_stats=1 \
            -artifact_prefix="$dir/fuzz-artifacts/$h-" \
            "$dir/fuzz-corpus/$h" "tests/fuzz/corpus/$h" >"$dir/fuzz-$h.log" 2>&1; then
        tail -n 60 "$dir/fuzz-$h.log" >&2
        failed="$failed fuzz_$h"
    else
        grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec|^Done' "$dir/fuzz-$h.log" || true
    fi
done

if wait "$unit_tests_pid"; then
    grep -E '^(Ok|Fail|Timeout): |^All tests passed' "$dir/unit-tests.log"
else
    tail -n 80 "$dir/unit-tests.log" >&2
    failed="$failed unit-tests"
fi

if [ -n "$failed" ]; then
    echo "fuzz: FAILED:$failed (logs in $dir/)" >&2
    exit 1
fi
echo "fuzz: all passed"
