#!/bin/bash
# What an idle worker costs and what sleeping costs the first packet after a
# quiet spell: sluiced bridges two network namespaces over af_packet veths
# (one worker for both directions); for each setting it measures
#   - the worker thread's CPU time with no traffic, in % of one core;
#   - ping RTTs through sluiced while pinging every 10 ms, and for pings
#     sent after 1.2 s of silence each. Both find the worker asleep (it
#     polls for 200 µs after a packet, then waits on the ports' wake-up
#     sockets: af_packet ports have them, so the longest sleeps given are
#     only used where they do not); the row with --idle-sleep off is the
#     same path with a polling worker.
# The worker-level figures, without the kernel's network path, come from
# build/tests/integration/idle_worker_test (docs/benchmarks.md).
#
# Usage: scripts/bench-idle.sh [BUILD_DIR] [IDLE_PINGS] [MAX_SLEEP_US ...]
# Needs root. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
IDLE_PINGS=${2:-30}
shift 2 2>/dev/null || shift $#
CAPS=("$@")
[ ${#CAPS[@]} -gt 0 ] || CAPS=(50 250 1000)
[ "$(id -u)" -eq 0 ] || { echo "needs root for network namespaces"; exit 1; }

. scripts/netns-topology.sh
ID=$(( ($$ % 90000) + 10000 ))
WORK=$(mktemp -d /tmp/sluice-idle.XXXXXX)
SLUICED_PID=
cleanup() {
    set +e
    [ -n "$SLUICED_PID" ] && kill "$SLUICED_PID" 2>/dev/null && wait "$SLUICED_PID" 2>/dev/null
    topo_down "$ID"
    rm -rf "$WORK"
}
trap cleanup EXIT
topo_up "$ID"

cpu_percent() {  # the worker threads' CPU over $1 seconds, % of a core, summed
    /usr/bin/python3 - "$SLUICED_PID" "$1" <<'PY'
import os, sys, time
pid, secs = sys.argv[1], float(sys.argv[2])
hz = os.sysconf("SC_CLK_TCK")
def sample():
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        if not open(f"/proc/{pid}/task/{tid}/comm").read().startswith(("rte-worker", "lcore-worker")):
            continue
        f = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        total += int(f[11]) + int(f[12])
    return total
a, t0 = sample(), time.monotonic()
time.sleep(secs)
b, t1 = sample(), time.monotonic()
print(f"{100.0 * (b - a) / hz / (t1 - t0):.1f}")
PY
}

rtts() {  # rtts COUNT INTERVAL: one RTT in µs per answered ping
    ip netns exec "$TOPO_LAN_NS" ping -n -c "$1" -i "$2" -W 1 "$TOPO_WAN_ADDR" |
        sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | awk '{ printf "%.0f\n", $1 * 1000 }'
}

stats() {  # stats FILE: "median p90" of the numbers in FILE
    sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR == 0) { print "- -"; exit }
        m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.9 + 0.999)]; print m, p }'
}

echo "| --idle-sleep | worker CPU idle (% of a core) | RTT steady, median / p90 (µs) | RTT after 1.2 s idle, median / p90 (µs) | idle minus steady, median (µs) |"
echo "|---|---|---|---|---|"
for setting in off "${CAPS[@]}"; do
    if [ "$setting" = off ]; then
        opts=(--idle-sleep off)
        label="off"
    else
        opts=(--idle-sleep-max-us "$setting")
        label="on, max $setting µs"
    fi
    "$BUILD/dataplane/daemon/sluiced" --lan "net_af_packet0,iface=$TOPO_LAN_IF,framecnt=4096" \
        --wan "net_af_packet1,iface=$TOPO_WAN_IF,framecnt=4096" --socket "$WORK/sluiced.sock" \
        "${opts[@]}" >"$WORK/sluiced.log" 2>&1 &
    SLUICED_PID=$!
    wait_for_sluiced "$WORK/sluiced.log" "$SLUICED_PID" || { cat "$WORK/sluiced.log"; exit 1; }
    # af_packet ports get a wake-up socket: the worker then waits for a
    # packet and the longest sleep does not apply.
    if grep -q "waits for packets" "$WORK/sluiced.log"; then
        label="on, waits on the wake-up sockets (max $setting µs unused)"
    fi
    # Warm the neighbour caches so that no ARP exchange rides on a sample.
    ip netns exec "$TOPO_LAN_NS" ping -c 2 -i 0.2 -W 1 "$TOPO_WAN_ADDR" >/dev/null
    sleep 1
    cpu=$(cpu_percent 5)
    rtts 300 0.01 >"$WORK/steady"
    sleep 1.2
    rtts "$IDLE_PINGS" 1.2 >"$WORK/idle"
    read -r sm sp < <(stats "$WORK/steady")
    read -r im ip_ < <(stats "$WORK/idle")
    echo "| $label | $cpu | $sm / $sp | $im / $ip_ | $(( im - sm )) |"
    kill "$SLUICED_PID"
    wait "$SLUICED_PID" 2>/dev/null || true
    SLUICED_PID=
done
