#!/bin/bash
# End to end: sluiced's workers sleep when there is no traffic and wake for it.
# A LAN and a WAN namespace joined through sluiced on af_packet ports, with a
# policy (so live changes go through the workers' change channels):
#   - each af_packet port gets a wake-up socket on its interface, and the
#     workers wait on those rather than sleeping by time;
#   - with no traffic, each worker thread uses well under a core (its CPU
#     time read from /proc over a few seconds), and it did sleep;
#   - after the quiet spell, pings cross at once and are answered;
#   - sluicectl commands that a worker must apply (set class) and a policy
#     reload (which waits for every worker's RCU grace period) answer quickly
#     while the workers are idle;
#   - with --idle-sleep off the same worker never sleeps (its CPU share is
#     printed beside the sleeping one's).
# Usage: idle_netns.sh SLUICED SLUICECTL
set -euo pipefail
SLUICED=$1
SLUICECTL=$2
. "$(dirname "$0")/e2e-common.sh"

# A worker with no traffic may use at most this share of a core. The product
# aims lower (docs/benchmarks.md has the figure): this bound leaves room for a
# loaded test machine, where each wake-up costs more, and is still far below
# the whole core a spinning worker takes.
MAX_IDLE_PERCENT=${MAX_IDLE_PERCENT:-30}

cat >"$WORK/policy.toml" <<'TOML'
version = 1
[upload]
rate = "50mbit"
default_class = "bulk"
[[upload.class]]
name = "bulk"
rate = "50mbit"
[download]
rate = "50mbit"
default_class = "bulk"
[[download.class]]
name = "bulk"
rate = "50mbit"
TOML

topo_up "$ID"
LAN_DEV="net_af_packet0,iface=$TOPO_LAN_IF,framecnt=4096"
WAN_DEV="net_af_packet1,iface=$TOPO_WAN_IF,framecnt=4096"
SOCK="$WORK/sluiced.sock"

start_sluiced() {  # start_sluiced LOG [options...]
    local log=$1
    shift
    "$SLUICED" --lan "$LAN_DEV" --wan "$WAN_DEV" --socket "$SOCK" --policy-dir "$WORK" \
        --policy "$WORK/policy.toml" "$@" >"$log" 2>&1 &
    SLUICED_PID=$!
    wait_for_sluiced "$log" "$SLUICED_PID" || { cp "$log" "$WORK/sluiced.log"; fail "sluiced did not start within 10 s"; }
}

# worker_cpu_percent SECONDS: the CPU time of sluiced's worker threads (DPDK
# names them rte-worker-N) over SECONDS, in percent of one core, the
# busiest first, one per line.
worker_cpu_percent() {
    /usr/bin/python3 - "$SLUICED_PID" "$1" <<'PY'
import os, sys, time
pid, secs = sys.argv[1], float(sys.argv[2])
hz = os.sysconf("SC_CLK_TCK")
def sample():
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if not f.read().startswith(("rte-worker", "lcore-worker")):
                continue
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out[tid] = int(fields[11]) + int(fields[12])  # utime + stime
    return out
a, t0 = sample(), time.monotonic()
time.sleep(secs)
b, t1 = sample(), time.monotonic()
if not a:
    sys.exit("no DPDK worker thread found")
for tid in sorted(a, key=lambda t: a[t] - b[t]):
    print(f"{100.0 * (b[tid] - a[tid]) / hz / (t1 - t0):.1f}")
PY
}

# The veths' own chatter (none expected) would not keep a worker awake for
# long; the namespaces' hosts stay quiet until pinged.
echo "== idle: sleeping workers"
start_sluiced "$WORK/sluiced.log"
sleep 1
cpu=$(worker_cpu_percent 3) || fail "cannot read the workers' CPU time"
busiest=$(echo "$cpu" | head -1)
echo "worker CPU with no traffic (% of a core): $(echo $cpu)"
/usr/bin/python3 -c "import sys; sys.exit(0 if float('$busiest') < $MAX_IDLE_PERCENT else 1)" ||
    fail "an idle worker used $busiest% of a core (at most $MAX_IDLE_PERCENT% expected)"

echo "== the first pings after the quiet spell are answered"
ip netns exec "$TOPO_LAN_NS" ping -c 3 -i 0.2 -W 1 "$TOPO_WAN_ADDR" || fail "ping after idle was not answered"
sleep 1
ip netns exec "$TOPO_WAN_NS" ping -6 -c 3 -i 0.2 -W 1 "$TOPO_LAN_ADDR6" || fail "IPv6 ping (download) after idle was not answered"

echo "== a packet after a quiet spell wakes the worker at once"
# Without the wake-up (or with a worker that waits again before the frame
# reaches the port's ring) a packet waits for the 10 ms timeout each way.
steal_mark
rtts=$(ip netns exec "$TOPO_LAN_NS" ping -n -c 5 -i 1.2 -W 1 "$TOPO_WAN_ADDR" |
    sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | sort -n)
fourth=$(echo "$rtts" | sed -n 4p)
echo "RTTs after 1.2 s of silence (ms): $(echo $rtts)"
[ -n "$fourth" ] || fail "pings after a quiet spell were not answered"
/usr/bin/python3 -c "import sys; sys.exit(0 if float('$fourth') < 5 else 1)" ||
    fail "two of five RTTs after a quiet spell took $fourth ms or more (a woken worker answers in well under 5 ms)"
STEAL_MARK=

echo "== live changes and a policy reload answer while the workers sleep"
sleep 1
t0=$(date +%s%N)
"$SLUICECTL" --socket "$SOCK" set class bulk rate=40mbit >/dev/null || fail "set class refused while idle"
t1=$(date +%s%N)
"$SLUICECTL" --socket "$SOCK" policy reload >/dev/null || fail "policy reload refused while idle"
t2=$(date +%s%N)
echo "set class took $(( (t1 - t0) / 1000000 )) ms, policy reload $(( (t2 - t1) / 1000000 )) ms"
[ $(( (t1 - t0) / 1000000 )) -lt 1000 ] || fail "set class took longer than 1 s while idle"
[ $(( (t2 - t1) / 1000000 )) -lt 2000 ] || fail "policy reload took longer than 2 s while idle"
ip netns exec "$TOPO_LAN_NS" ping -c 2 -i 0.2 -W 1 "$TOPO_WAN_ADDR" >/dev/null || fail "ping after the reload was not answered"

stop_sluiced
for role in lan wan; do
    grep -q "$role port .*wake-up socket on " "$WORK/sluiced.log" || fail "the $role port has no wake-up socket"
done
grep -q "waits for packets (rx interrupts or a wake-up socket) when idle" "$WORK/sluiced.log" ||
    fail "the workers do not wait for packets when idle"
if grep -q "rx_interrupts=no" "$WORK/sluiced.log"; then fail "a worker slept by time instead of waiting for packets"; fi
sleeps=$(grep -o "sleeps=[0-9]*" "$WORK/sluiced.log" | cut -d= -f2 | sort -n | head -1)
echo "fewest sleeps of a worker: $sleeps"
[ -n "$sleeps" ] && [ "$sleeps" -gt 0 ] || fail "a worker never slept"
for dir in upload download; do
    line=$(grep "direction=$dir" "$WORK/sluiced.log" | tail -1)
    rx=$(echo "$line" | tr ' ' '\n' | sed -n 's/^rx_packets=//p')
    tx=$(echo "$line" | tr ' ' '\n' | sed -n 's/^tx_packets=//p')
    [ "$rx" -gt 0 ] && [ "$rx" = "$tx" ] || fail "$dir received $rx but transmitted $tx"
done

echo "== for comparison: --idle-sleep off spins"
start_sluiced "$WORK/sluiced-spin.log" --idle-sleep off
sleep 1
spin=$(worker_cpu_percent 2) || fail "cannot read the workers' CPU time"
echo "worker CPU with no traffic and --idle-sleep off (% of a core): $(echo $spin)"
stop_sluiced
# Only the sleeps are checked here: how much CPU a spinning thread gets
# depends on what else the machine runs.
grep -q "sleeps=0" "$WORK/sluiced-spin.log" || fail "a worker slept with --idle-sleep off"
echo "PASS: idle workers used $(echo $cpu)% of a core (spinning: $(echo $spin)%), slept, and woke for pings and changes"
