# shellcheck shell=bash
# Sourced by the end-to-end tests once SLUICED and SLUICECTL are set: the
# root check, a topology id, a work directory ($WORK), fail(), and a cleanup
# that always runs and stops what the test started: sluiced ($SLUICED_PID),
# an iperf3 server ($IPERF_PID) and any other process in BACKGROUND_PIDS.
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../scripts/netns-topology.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root for network namespaces"
    exit 77
fi

ID=$(( ($$ % 90000) + 10000 ))
WORK=$(mktemp -d /tmp/sluice-e2e.XXXXXX)
SLUICED_PID=
IPERF_PID=
BACKGROUND_PIDS=()

e2e_cleanup() {
    # Every step runs even when one fails: the namespaces must go in any case.
    set +e
    for p in "${BACKGROUND_PIDS[@]}" $IPERF_PID $SLUICED_PID; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    topo_down "$ID"
    rm -rf "$WORK"
}
trap e2e_cleanup EXIT

fail() {
    echo "FAIL: $*"
    echo "--- sluiced log"
    cat "$WORK/sluiced.log" || true
    exit 1
}
