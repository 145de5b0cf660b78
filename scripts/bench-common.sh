# Sourced by the benchmark scripts that start processes of their own: a
# work directory and the PIDs to end when the script exits, and the CPUs
# this shell may use (control goes on the first, a worker on the last).
#
# bench_begin NAME   sets WORK (a new directory /tmp/NAME.XXXXXX), PIDS (add
#                    each background PID), FIRST and LAST; on exit, ends
#                    the PIDS, waits for them and removes WORK.

bench_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}

bench_begin() {
    WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    PIDS=()
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    local cpus
    cpus=$(taskset -pc $$ | sed 's/.*: //')
    FIRST=$(echo "$cpus" | tr ',-' '\n\n' | head -1)
    LAST=$(echo "$cpus" | tr ',-' '\n\n' | tail -1)
}
