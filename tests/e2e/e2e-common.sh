# shellcheck shell=bash
# Sourced by the end-to-end tests once SLUICED and SLUICECTL are set: the
# root check, a topology id, a work directory ($WORK), fail(), stop_sluiced(),
# and a cleanup
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
    if [ -n "$STEAL_MARK" ]; then
        local stolen
        stolen=$(stolen_pct)
        if [ "$stolen" -gt "$STEAL_LIMIT" ]; then
            echo "SKIP: $* -- but the hypervisor took ${stolen}% of the CPU time meanwhile"
            echo "      (more than ${STEAL_LIMIT}%): a rate measured in real time cannot be judged"
            exit 77
        fi
    fi
    echo "FAIL: $*"
    echo "--- sluiced log"
    cat "$WORK/sluiced.log" || true
    exit 1
}

# Rates measured in real time mean nothing while the hypervisor takes the
# vCPUs away. steal_mark notes /proc/stat's CPU time; from then on, a failure
# while more than STEAL_LIMIT percent of it was stolen is a skip (exit 77)
# that says so, not a verdict on Sluice.
STEAL_LIMIT=20
STEAL_MARK=
cpu_times() {  # prints: total stolen (jiffies, all CPUs)
    awk '/^cpu / {t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $9}' /proc/stat
}
steal_mark() { STEAL_MARK=$(cpu_times); }
stolen_pct() {
    local t0 s0 t1 s1
    read -r t0 s0 <<<"$STEAL_MARK"
    read -r t1 s1 <<<"$(cpu_times)"
    echo $(( t1 > t0 ? (s1 - s0) * 100 / (t1 - t0) : 0 ))
}

# stop_sluiced [WHEN]: SIGTERM to sluiced, which must then exit 0; WHEN
# tells apart several stops in one test ("after the restart").
stop_sluiced() {
    kill -TERM "$SLUICED_PID"
    local rc=0
    wait "$SLUICED_PID" || rc=$?
    SLUICED_PID=
    [ "$rc" -eq 0 ] || fail "sluiced exited with $rc after SIGTERM${1:+ $1}"
}

# iperf_tcp LABEL [IPERF3 OPTIONS...]: five seconds of TCP from the LAN
# namespace to the WAN address (its iperf3 server already listening;
# -R for download), the JSON kept in $WORK; prints the rate received and
# fails the test when the run fails or nothing arrives.
iperf_tcp() {
    local label=$1
    shift
    ip netns exec "$TOPO_LAN_NS" iperf3 -c "$TOPO_WAN_ADDR" -t 5 -J "$@" >"$WORK/iperf-$label.json" ||
        fail "iperf3 $label failed: $(cat "$WORK/iperf-$label.json")"
    /usr/bin/python3 - "$WORK/iperf-$label.json" "$*" "$label" <<'PY' || fail "iperf3 $label: no data received"
import json, sys
end = json.load(open(sys.argv[1]))["end"]
sent, recv = end["sum_sent"], end["sum_received"]
options = sys.argv[2].replace("-R", "").strip()
print(f"== iperf3 TCP {options + ' ' if options else ''}{sys.argv[3]}: "
      f"{recv['bits_per_second']/1e9:.2f} Gbit/s received, {sent.get('retransmits', 0)} retransmits")
if recv["bytes"] <= 0:
    sys.exit("no data received")
PY
}
