#!/bin/bash
# End to end against the kernel: the same LAN host and WAN host twice, in
# network namespaces, shaped to the same policy on the upload (LAN -> WAN):
#
#   sluice:  [LAN ns] --veth-- sluiced (af_packet vdevs) --veth-- [WAN ns]
#   kernel:  [LAN ns] --veth-- [bridge ns: br0, htb on the WAN port] --veth-- [WAN ns]
#
# The kernel side shapes with htb and pfifo leaves (the only leaf qdiscs this
# kernel has besides tbf); both sides count 24 bytes of Ethernet overhead a
# frame (preamble, FCS, gap) and keep the same packet limits. Measured for
# both, one after the other so that they never share the CPUs:
#   - TCP throughput against the configured rate at 10, 50 and 200 Mbit/s;
#   - an EF probe's RTT p50/p99 under 4 saturating TCP flows, with and
#     without a priority class for EF;
#   - Jain's fairness index among 8 TCP flows in one class;
#   - how long a live rate change takes to show in the received rate;
# and for sluiced alone, a 40 Mbit/s class with the worker's CPU shared with
# a busy loop against the same on an idle CPU.
# It prints tables, writes bench-e2e.json and plots into the output directory.
#
# Usage: bench-e2e.sh [--smoke] [--nice N] [--sluiced PATH] [--sluicectl PATH] [--out DIR]
#   --smoke   durations of one or two seconds: checks that every figure is
#             produced, not what it is (the meson e2e suite runs this)
#   --nice N  niceness of sluiced, the traffic tools and the busy loop
#             (default -10): on a shared host they then take their CPU
#             from ordinary tasks, as the kernel's softirq path does anyway
# Needs root (namespaces, veths); exits 77 (skipped) without it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SLUICED=$ROOT/build/dataplane/daemon/sluiced
SLUICECTL=$ROOT/build/control/sluicectl
OUT=$ROOT/build/bench-e2e
SMOKE=0
NICE=-10
usage() { sed -n 's/^# \{0,1\}//; /^Usage:/,/^Needs root/p' "$0"; }
while [ $# -gt 0 ]; do
    case $1 in
    --smoke) SMOKE=1 ;;
    --nice)
        NICE=${2:?--nice needs a number}; shift
        if ! [[ $NICE =~ ^-?[0-9]+$ ]] || [ "$NICE" -lt -20 ] || [ "$NICE" -gt 19 ]; then
            echo "bench-e2e: --nice takes -20..19, not '$NICE'" >&2
            exit 2
        fi
        ;;
    --sluiced) SLUICED=${2:?--sluiced needs a path}; shift ;;
    --sluicectl) SLUICECTL=${2:?--sluicectl needs a path}; shift ;;
    --out) OUT=${2:?--out needs a directory}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench-e2e: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root for network namespaces"
    exit 77
fi
for f in "$SLUICED" "$SLUICECTL"; do
    [ -x "$f" ] || { echo "bench-e2e: $f is not built (ninja -C build dataplane/daemon/sluiced control/sluicectl)" >&2; exit 2; }
done
for tool in iperf3 tc taskset ip; do
    command -v "$tool" >/dev/null || { echo "bench-e2e: $tool missing: run scripts/install-deps.sh" >&2; exit 2; }
done
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null ||
    { echo "bench-e2e: /usr/bin/python3 lacks matplotlib: run scripts/install-deps.sh" >&2; exit 2; }
# irtt sends the EF probe with its DSCP; ping -Q does when irtt is missing.
PROBE=ping
command -v irtt >/dev/null && PROBE=irtt

if [ "$SMOKE" = 1 ]; then
    T_RATE=1.5      # each throughput run
    T_LOAD=3        # each delay run; the probe runs T_LOAD - 1.5 s
    T_FAIR=1.5      # the fairness run
    T_STEP=1.5      # the rate-change run: a change every T_STEP seconds
    T_SHARED=3      # each shared-CPU run; the probe runs T_SHARED - 1.5 s
else
    T_RATE=6
    T_LOAD=12
    T_FAIR=10
    T_STEP=4
    T_SHARED=10
fi
PROBE_INTERVAL_MS=10
LIMIT=100             # packets in every fifo / pfifo leaf
NCPU=$(nproc)
WORKER_CPU=$(( NCPU - 1 ))   # sluiced's one worker; tools run on CPU 0
LCORES="0@0,1@$WORKER_CPU"

. "$ROOT/scripts/netns-topology.sh"
# Six digits: the e2e tests and the demo use at most five, so no name collides.
ID=$(( 100000 + $$ % 800000 ))
KLAN=sluice-klan-$ID
KWAN=sluice-kwan-$ID
KBR=sluice-kbr-$ID
mkdir -p "$OUT"
RAW=$OUT/raw
rm -rf "$RAW"
mkdir -p "$RAW"
SOCK=$RAW/sluiced.sock
SLUICED_PID=
BUSY_PID=
TCP_SERVER=
TCP_CLIENT=
BACKGROUND_PIDS=()

cleanup() {
    # Every step runs even when one fails: the namespaces must go in any case.
    set +e
    for p in "${BACKGROUND_PIDS[@]}" $TCP_CLIENT $TCP_SERVER $BUSY_PID $SLUICED_PID; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    topo_down "$ID"
    ip link del "sk${ID}l" 2>/dev/null
    ip link del "sk${ID}w" 2>/dev/null
    ip netns del "$KLAN" 2>/dev/null
    ip netns del "$KWAN" 2>/dev/null
    ip netns del "$KBR" 2>/dev/null
    [ -n "$AUTOGROUP_WAS" ] && echo "$AUTOGROUP_WAS" >/proc/self/autogroup 2>/dev/null
}
trap cleanup EXIT
# With the kernel's autogroups (CONFIG_SCHED_AUTOGROUP, on in Debian's
# kernels) a task's niceness orders it only within its session's group, and
# each session's group gets an equal share of a CPU: a compile started from
# another terminal then halves sluiced's worker whatever its niceness. The
# group's own niceness is set to --nice for the run and put back after.
AUTOGROUP_WAS=
if [ -w /proc/self/autogroup ]; then
    AUTOGROUP_WAS=$(sed -n 's/.* nice \(-\{0,1\}[0-9]*\)$/\1/p' /proc/self/autogroup)
    echo "$NICE" >/proc/self/autogroup 2>/dev/null || AUTOGROUP_WAS=
fi
fail() {
    echo "bench-e2e: FAIL: $*" >&2
    [ -f "$RAW/sluiced.log" ] && tail -20 "$RAW/sluiced.log" >&2
    exit 1
}

# --- the kernel's topology: the two hosts of netns-topology.sh, joined by a
# Linux bridge in a third namespace instead of sluiced.
kernel_up() {
    ip netns add "$KLAN"
    ip netns add "$KWAN"
    ip netns add "$KBR"
    ip -n "$KBR" link set lo up
    ip -n "$KBR" link add br0 type bridge
    ip -n "$KBR" link set br0 up
    for side in lan wan; do
        ns=$KLAN; addr=$TOPO_LAN_ADDR; port=lan
        [ $side = wan ] && { ns=$KWAN; addr=$TOPO_WAN_ADDR; port=wan; }
        ip link add "sk${ID}${side:0:1}" type veth peer name eth0 netns "$ns"
        ip link set "sk${ID}${side:0:1}" netns "$KBR"
        ip -n "$KBR" link set "sk${ID}${side:0:1}" name "$port"
        ip -n "$KBR" link set "$port" master br0
        ip -n "$KBR" link set "$port" up
        ip -n "$ns" link set lo up
        ip -n "$ns" addr add "$addr/24" dev eth0
        ip -n "$ns" link set eth0 up
        # The same frames as through sluiced: whole, with real checksums, and
        # not merged again by GRO before the shaper sees them.
        ip netns exec "$ns" ethtool -K eth0 tx off tso off gso off gro off >/dev/null 2>&1 || true
        ip netns exec "$KBR" ethtool -K "$port" tx off tso off gso off gro off >/dev/null 2>&1 || true
    done
}

# kernel_shape RATE_MBIT PRIO LEAF_LIMIT: htb on the bridge's WAN port (the
# upload's egress): a link class at RATE, and either one bulk class at RATE
# or, with PRIO=1, voice (2 Mbit/s, priority 0, EF by u32) beside bulk.
kernel_shape() {
    local r=$1 prio=$2 limit=$3 tcb="ip netns exec $KBR tc"
    $tcb qdisc del dev wan root 2>/dev/null || true
    $tcb qdisc add dev wan root handle 1: htb default 20
    $tcb class add dev wan parent 1: classid 1:1 htb rate "${r}mbit" ceil "${r}mbit" overhead 24 quantum 1538
    if [ "$prio" = 1 ]; then
        $tcb class add dev wan parent 1:1 classid 1:10 htb rate 2mbit ceil "${r}mbit" prio 0 overhead 24 quantum 1538
        $tcb class add dev wan parent 1:1 classid 1:20 htb rate "$(( r - 2 ))mbit" ceil "${r}mbit" prio 5 overhead 24 quantum 1538
        $tcb qdisc add dev wan parent 1:10 handle 10: pfifo limit "$limit"
        $tcb filter add dev wan parent 1: protocol ip prio 1 u32 match ip tos 0xb8 0xfc flowid 1:10
    else
        $tcb class add dev wan parent 1:1 classid 1:20 htb rate "${r}mbit" ceil "${r}mbit" prio 5 overhead 24 quantum 1538
    fi
    $tcb qdisc add dev wan parent 1:20 handle 20: pfifo limit "$limit"
}

# sluice_policy RATE_MBIT PRIO LEAF [BULK_RATE_MBIT]: the same policy for
# sluiced. LEAF is "fifo" (limit LIMIT, as pfifo) or "fq_codel".
sluice_policy() {
    local r=$1 prio=$2 leaf=$3 bulk=${4:-}
    local lim=""
    [ "$leaf" = fifo ] && lim="limit = $LIMIT"
    [ -n "$bulk" ] || { bulk=$r; [ "$prio" = 1 ] && bulk=$(( r - 2 )); }
    printf 'version = 1\n[upload]\nrate = "%smbit"\noverhead = "ethernet"\ndefault_class = "bulk"\n' "$r"
    if [ "$prio" = 1 ]; then
        printf '[[upload.class]]\nname = "voice"\nrate = "2mbit"\npriority = 0\nqueue = "fifo"\nlimit = %s\n' "$LIMIT"
    fi
    printf '[[upload.class]]\nname = "bulk"\nrate = "%smbit"\nceil = "%smbit"\npriority = 5\nqueue = "%s"\n%s\n' \
        "$bulk" "$( [ -n "${4:-}" ] && echo "$bulk" || echo "$r")" "$leaf" "$lim"
    printf '[download]\nrate = "1gbit"\n'
    if [ "$prio" = 1 ]; then
        printf '[[rule]]\nname = "voice-ef"\ndscp = "EF"\nupload_class = "voice"\n'
    fi
}

sluice_start() {  # sluice_start POLICY_FILE
    sluice_stop
    nice -n "$NICE" "$SLUICED" --lan "net_af_packet0,iface=$TOPO_LAN_IF,framecnt=4096" \
        --wan "net_af_packet1,iface=$TOPO_WAN_IF,framecnt=4096" \
        --lcores "$LCORES" --policy "$1" --socket "$SOCK" --stats-interval 0 >"$RAW/sluiced.log" 2>&1 &
    SLUICED_PID=$!
    wait_for_sluiced "$RAW/sluiced.log" "$SLUICED_PID" || fail "sluiced did not start with $1"
}
sluice_stop() {
    [ -n "$SLUICED_PID" ] || return 0
    kill -TERM "$SLUICED_PID"
    wait "$SLUICED_PID" || fail "sluiced exited with an error"
    SLUICED_PID=
}

# sluice_stats NAME: sluiced's counters now, in NAME.stats.json, and the
# wall time beside them in NAME.stats.t: the class rates on the wire and the
# delay the scheduler itself measured.
sluice_stats() {
    date +%s.%N >"$RAW/$1.stats.t"
    "$SLUICECTL" --socket "$SOCK" --json stats >"$RAW/$1.stats.json" || fail "sluicectl stats failed"
}

# Tools run on CPU 0, away from sluiced's worker, in both setups alike.
in_lan() { nice -n "$NICE" ip netns exec "$LAN_NS" taskset -c 0 "$@"; }
in_wan() { nice -n "$NICE" ip netns exec "$WAN_NS" taskset -c 0 "$@"; }

# cpu_mark NAME: appends to NAME.cpu sluiced's CPU time so far (user +
# system, clock ticks; "-" when it does not run), the wall time, the tick
# rate, and the machine's stolen and total CPU ticks: the share of a CPU
# sluiced got in a run, and how much of the machine the hypervisor took.
cpu_mark() {
    local own=-
    [ -n "$SLUICED_PID" ] && own=$(awk '{print $14 + $15}' "/proc/$SLUICED_PID/stat")
    echo "$own $(date +%s.%N) $(getconf CLK_TCK) $(awk '/^cpu /{t = 0; for (i = 2; i <= NF; i++) t += $i; print $9, t}' /proc/stat)" \
        >>"$RAW/$1.cpu"
}

# tcp NAME FLOWS SECONDS: FLOWS TCP flows upload; a one-off iperf3 server
# reports what it received every 0.1 s in NAME.server.json. NAME.t0 holds the
# wall time just before the client starts.
tcp_start() {
    local name=$1 flows=$2 secs=$3
    in_wan iperf3 -s -1 -B "$TOPO_WAN_ADDR" -i 0.1 -J --logfile "$RAW/$name.server.json" &
    TCP_SERVER=$!
    for _ in $(seq 50); do
        ip netns exec "$WAN_NS" ss -Hltn "sport = :5201" | grep -q . && break
        sleep 0.05
    done
    date +%s.%N >"$RAW/$name.t0"
    cpu_mark "$name"
    in_lan iperf3 -c "$TOPO_WAN_ADDR" -P "$flows" -t "$secs" -J >"$RAW/$name.client.json" &
    TCP_CLIENT=$!
}
tcp_wait() {
    wait "$TCP_CLIENT" || fail "iperf3 client of $1 failed: $(head -c 400 "$RAW/$1.client.json")"
    cpu_mark "$1"
    wait "$TCP_SERVER" || fail "iperf3 server of $1 failed"
}

# probe NAME SECONDS: the EF probe, one packet every PROBE_INTERVAL_MS.
probe() {
    local name=$1 secs=$2
    if [ "$PROBE" = irtt ]; then
        in_lan irtt client -Q -i "${PROBE_INTERVAL_MS}ms" -d "${secs}s" --dscp=0xb8 \
            -o "$RAW/$name.irtt.json" "$TOPO_WAN_ADDR" || fail "irtt probe $name failed"
    else
        local n
        n=$(/usr/bin/python3 -c "print(int($secs * 1000 / $PROBE_INTERVAL_MS))")
        in_lan ping -Q 0xb8 -D -i "0.0$(( PROBE_INTERVAL_MS / 10 ))" -c "$n" -W 1 "$TOPO_WAN_ADDR" \
            >"$RAW/$name.ping.txt" || true
    fi
}

PROBE_SERVER=
probe_server_start() {
    [ "$PROBE" = irtt ] || return 0
    nice -n "$NICE" ip netns exec "$WAN_NS" irtt server -b "$TOPO_WAN_ADDR" -i 0 >"$RAW/irtt-server-$WAN_NS.log" 2>&1 &
    PROBE_SERVER=$!
    BACKGROUND_PIDS+=("$PROBE_SERVER")
    sleep 0.2
}
probe_server_stop() {
    [ -n "$PROBE_SERVER" ] || return 0
    kill "$PROBE_SERVER"; wait "$PROBE_SERVER" 2>/dev/null || true
    PROBE_SERVER=
}

# The measurements, the same for both setups; $1 is "sluice" or "kernel".
# apply RATE PRIO LEAF [BULK]: puts the policy in place for the next run.
apply() {
    if [ "$SETUP" = sluice ]; then
        sluice_policy "$@" >"$RAW/policy.toml"
        sluice_start "$RAW/policy.toml"
    else
        kernel_shape "$1" "$2" "$LIMIT"
    fi
}

measure() {
    SETUP=$1
    for r in 10 50 200; do
        echo "   $SETUP: TCP throughput at $r Mbit/s"
        apply "$r" 0 fifo
        tcp_start "$SETUP-rate-$r" 1 "$T_RATE"
        tcp_wait "$SETUP-rate-$r"
    done
    for prio in 1 0; do
        echo "   $SETUP: EF probe under 4 TCP flows at 50 Mbit/s, priority class: $prio"
        apply 50 "$prio" fifo
        tcp_start "$SETUP-delay-prio$prio" 4 "$T_LOAD"
        sleep 1
        probe "$SETUP-delay-prio$prio" "$(/usr/bin/python3 -c "print($T_LOAD - 1.5)")"
        [ "$SETUP" = sluice ] && sluice_stats "$SETUP-delay-prio$prio"
        tcp_wait "$SETUP-delay-prio$prio"
    done
    if [ "$SETUP" = sluice ]; then
        echo "   $SETUP: fairness among 8 TCP flows at 50 Mbit/s, fq_codel leaf"
        apply 50 0 fq_codel
    else
        echo "   $SETUP: fairness among 8 TCP flows at 50 Mbit/s, pfifo leaf (no fq_codel in this kernel)"
        apply 50 0 fifo
    fi
    tcp_start "$SETUP-fair" 8 "$T_FAIR"
    tcp_wait "$SETUP-fair"

    echo "   $SETUP: live rate change 50 -> 20 -> 50 Mbit/s"
    apply 50 0 fifo
    tcp_start "$SETUP-step" 1 "$(/usr/bin/python3 -c "print(3 * $T_STEP)")"
    : >"$RAW/$SETUP-step.changes"
    for step in 20 50; do
        sleep "$T_STEP"
        t=$(date +%s.%N)
        if [ "$SETUP" = sluice ]; then
            "$SLUICECTL" --socket "$SOCK" set class bulk rate="${step}mbit" ceil="${step}mbit" direction=upload >/dev/null ||
                fail "sluicectl set class refused"
        else
            ip netns exec "$KBR" tc class change dev wan parent 1:1 classid 1:20 htb \
                rate "${step}mbit" ceil "${step}mbit" prio 5 overhead 24 quantum 1538 || fail "tc class change failed"
        fi
        echo "$t $step" >>"$RAW/$SETUP-step.changes"
    done
    tcp_wait "$SETUP-step"
}

# A 40 Mbit/s class (and voice at priority 0 beside it) with the worker's CPU
# idle apart from sluiced, then shared with a busy loop pinned to it.
measure_shared() {
    SETUP=sluice
    for cpu in idle shared; do
        echo "   sluice: 40 Mbit/s class, worker CPU $WORKER_CPU $([ $cpu = shared ] && echo "shared with a busy loop" || echo "without a busy loop")"
        apply 50 1 fifo 40
        if [ $cpu = shared ]; then
            # As sluiced's own niceness, so that the two share the CPU half and half.
            nice -n "$NICE" taskset -c "$WORKER_CPU" sh -c 'while :; do :; done' &
            BUSY_PID=$!
        fi
        tcp_start "sluice-cpu-$cpu" 4 "$T_SHARED"
        sleep 1
        sluice_stats "sluice-cpu-$cpu.start"
        probe "sluice-cpu-$cpu" "$(/usr/bin/python3 -c "print($T_SHARED - 1.5)")"
        sluice_stats "sluice-cpu-$cpu.end"
        tcp_wait "sluice-cpu-$cpu"
        if [ -n "$BUSY_PID" ]; then
            kill "$BUSY_PID"; wait "$BUSY_PID" 2>/dev/null || true
            BUSY_PID=
        fi
    done
}

START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# What else ran meanwhile shows in the figures (above all sluiced's, whose
# worker shares its CPU with whatever the host schedules there): kept with them.
cp /proc/loadavg "$RAW/loadavg.start"
echo "== bench-e2e: $([ $SMOKE = 1 ] && echo smoke || echo full) run, probe $PROBE, sluiced worker on CPU $WORKER_CPU of $NCPU, niceness $NICE$([ -n "$AUTOGROUP_WAS" ] && echo " (the session's autogroup too)")"

topo_up "$ID"
LAN_NS=$TOPO_LAN_NS
WAN_NS=$TOPO_WAN_NS
probe_server_start
measure sluice
measure_shared
sluice_stop
probe_server_stop
topo_down "$ID"

kernel_up
LAN_NS=$KLAN
WAN_NS=$KWAN
probe_server_start
measure kernel
probe_server_stop
ip netns exec "$KBR" tc -s qdisc show dev wan >"$RAW/kernel-qdisc.txt"
LEAVES=$(ip netns exec "$KBR" tc qdisc show dev wan | awk '$2 != "htb" {print $2}' | sort -u | tr '\n' ' ')
echo "   kernel: htb leaves used: $LEAVES"

cp /proc/loadavg "$RAW/loadavg.end"

/usr/bin/python3 "$ROOT/scripts/bench-e2e-report.py" --raw "$RAW" --out "$OUT" \
    --smoke "$SMOKE" --nice "$NICE" --start "$START" --probe "$PROBE" --limit "$LIMIT" \
    --kernel-leaves "$LEAVES" --worker-cpu "$WORKER_CPU" --step "$T_STEP" ||
    fail "the report found a figure missing"
