#!/bin/bash
# End to end: one daemon per port. sluiced bridges a LAN and a WAN namespace
# over af_xdp veths; then
#   - a second sluiced on the same veths (its own socket and EAL file prefix)
#     exits 1 within a few seconds naming the first one's pid, and the first
#     keeps forwarding with its XDP programs in place;
#   - a second sluiced on other ports but the first one's socket is refused
#     the same way, and the socket still answers for the first;
#   - one daemon with both ports on one interface is refused;
#   - a veth set down shows as down in `show ports` and `status`, and as
#     delivering again once it is up;
#   - an XDP program replaced by one that passes everything to the kernel
#     (built with clang when there is one) is found by the counters: the
#     kernel counts packets arriving, the port none;
#   - an XDP program removed by hand is reported in the log and in `status`.
#
# Usage: second_daemon_netns.sh SLUICED SLUICECTL
# Needs root (namespaces, veths); exits 77 (skipped) without it.
set -euo pipefail

SLUICED=$1
SLUICECTL=$2
. "$(dirname "$0")/e2e-common.sh"

topo_up "$ID"
LAN_DEV="net_af_xdp0,iface=$TOPO_LAN_IF"
WAN_DEV="net_af_xdp1,iface=$TOPO_WAN_IF"
SOCK="$WORK/sluiced.sock"

"$SLUICED" --lan "$LAN_DEV" --wan "$WAN_DEV" --socket "$SOCK" >"$WORK/sluiced.log" 2>&1 &
SLUICED_PID=$!
wait_for_sluiced "$WORK/sluiced.log" "$SLUICED_PID" || fail "sluiced did not start within 10 s"

# port_field ROLE KEY: a field of a port's entry in `status`.
port_field() {
    "$SLUICECTL" --socket "$SOCK" --json status |
        /usr/bin/python3 -c 'import json,sys
r = json.load(sys.stdin)
p = [p for p in r["ports"] if p["role"] == sys.argv[1]][0]
v = p.get(sys.argv[2])
print(json.dumps(v) if not isinstance(v, str) else v)' "$1" "$2"
}

# wait_for ROLE KEY VALUE [SECONDS]: until the status field has that value.
wait_for() {
    for _ in $(seq $(( ${4:-5} * 10 ))); do
        [ "$(port_field "$1" "$2")" = "$3" ] && return 0
        sleep 0.1
    done
    [ "$(port_field "$1" "$2")" = "$3" ]
}

ping_through() {
    ip netns exec "$TOPO_LAN_NS" ping -c 3 -i 0.2 -W 2 "$TOPO_WAN_ADDR" >/dev/null
}

# run_second LOG ARGS...: runs another sluiced, which must exit 1 within
# 5 s; prints how long it took.
run_second() {
    local log=$1
    shift
    local start end rc=0
    start=$(date +%s%N)
    timeout 5 "$SLUICED" "$@" >"$log" 2>&1 || rc=$?
    end=$(date +%s%N)
    [ "$rc" -ne 124 ] || { cat "$log"; fail "the second sluiced was still running after 5 s"; }
    [ "$rc" -eq 1 ] || { cat "$log"; fail "the second sluiced exited with $rc, not 1"; }
    echo "   refused in $(( (end - start) / 1000000 )) ms: $(grep -m1 ' error ' "$log" | cut -d' ' -f4-)"
}

echo "== ping LAN -> WAN through the first sluiced (pid $SLUICED_PID)"
ping_through || fail "ping did not cross the first sluiced"
for role in lan wan; do
    [ "$(port_field $role delivering)" = true ] || fail "$role port is not delivering at start"
done

echo "== a second sluiced on the same veths"
run_second "$WORK/second.log" --lan "$LAN_DEV" --wan "$WAN_DEV" --socket "$WORK/second.sock" \
    -- --file-prefix "sluice-second-$ID"
grep -Eq "interface ($TOPO_LAN_IF|$TOPO_WAN_IF) is already driven by sluiced pid $SLUICED_PID; stop it first" \
    "$WORK/second.log" || { cat "$WORK/second.log"; fail "the refusal does not name the interface and pid $SLUICED_PID"; }
# Refused before the EAL started: no port of the first daemon was opened.
if grep -q "port net_af_xdp" "$WORK/second.log"; then
    cat "$WORK/second.log"
    fail "the second sluiced opened a port before it was refused"
fi
for ifc in "$TOPO_LAN_IF" "$TOPO_WAN_IF"; do
    ip link show dev "$ifc" | grep -q "xdp" || fail "$ifc lost its XDP program"
done
ping_through || fail "ping no longer crosses the first sluiced"
for role in lan wan; do
    wait_for $role delivering true 3 || fail "$role port of the first sluiced is not delivering: $(port_field $role reason)"
done
echo "   the first sluiced still forwards; both ports delivering"

echo "== a second sluiced on other ports but the same socket"
run_second "$WORK/second-socket.log" --lan net_null0 --wan net_null1 --socket "$SOCK" \
    -- --file-prefix "sluice-second-$ID"
grep -q "control socket $SOCK is already served by sluiced pid $SLUICED_PID; stop it first" "$WORK/second-socket.log" ||
    { cat "$WORK/second-socket.log"; fail "the refusal does not name the socket and pid $SLUICED_PID"; }
pid=$("$SLUICECTL" --socket "$SOCK" --json status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
[ "$pid" = "$SLUICED_PID" ] || fail "the socket answers for pid $pid, not $SLUICED_PID"
ping_through || fail "ping no longer crosses the first sluiced"

echo "== one sluiced with both ports on one interface"
run_second "$WORK/same-port.log" --lan "net_af_packet0,iface=$TOPO_LAN_IF" --wan "net_af_xdp1,iface=$TOPO_LAN_IF" \
    --socket "$WORK/same-port.sock" -- --file-prefix "sluice-same-$ID"
grep -q -- "--lan and --wan both name interface $TOPO_LAN_IF" "$WORK/same-port.log" ||
    { cat "$WORK/same-port.log"; fail "a daemon with one interface twice was not refused as such"; }

echo "== the WAN veth set down, then up"
ip link set dev "$TOPO_WAN_IF" down
wait_for wan condition link_down 3 || fail "status does not report the WAN link down: $(port_field wan reason)"
"$SLUICECTL" --socket "$SOCK" show ports
"$SLUICECTL" --socket "$SOCK" show ports | grep -q "link down (interface $TOPO_WAN_IF is administratively down)" ||
    fail "show ports does not say the WAN link is down"
[ "$(port_field wan delivering)" = false ] || fail "a port whose link is down is said to deliver"
grep -q "wan port net_af_xdp1: not delivering: link down" "$WORK/sluiced.log" || fail "no log line for the link going down"
ip link set dev "$TOPO_WAN_IF" up
wait_for wan delivering true 5 || fail "the WAN port does not deliver again once up: $(port_field wan reason)"
grep -q "wan port net_af_xdp1: delivering again" "$WORK/sluiced.log" || fail "no log line for the link coming back"
"$SLUICECTL" --socket "$SOCK" show ports | grep -q "^wan .*link up" || fail "show ports does not say the WAN link is up again"
ping_through || fail "ping does not cross after the WAN veth came back up"

echo "== the WAN veth's XDP program replaced by one that passes everything to the kernel"
# The XDP program is attached, so only the counters can tell: the kernel
# counts the WAN host's packets arriving, the port receives none.
if command -v clang >/dev/null; then
    cat >"$WORK/pass.c" <<'C'
struct xdp_md;
__attribute__((section("xdp"), used)) int pass_all(struct xdp_md* ctx) { (void)ctx; return 2; /* XDP_PASS */ }
char _license[] __attribute__((section("license"), used)) = "GPL";
C
    clang -O2 -target bpf -c "$WORK/pass.c" -o "$WORK/pass.o" || fail "cannot build the pass-all XDP program"
    ip -force link set dev "$TOPO_WAN_IF" xdpdrv obj "$WORK/pass.o" sec xdp || fail "cannot attach the pass-all program"
    ip netns exec "$TOPO_WAN_NS" ping -c 40 -i 0.2 -W 1 "$TOPO_LAN_ADDR" >/dev/null 2>&1 &
    BACKGROUND_PIDS+=($!)
    wait_for wan condition stalled 8 || fail "status does not report the stalled WAN port: $(port_field wan reason)"
    echo "   status: $(port_field wan reason)"
    grep -Eq "wan port net_af_xdp1: not delivering: [0-9]+ packets arrived on interface $TOPO_WAN_IF in the last [0-9]+ s and the port received none" \
        "$WORK/sluiced.log" || fail "no log line for the stalled WAN port"
else
    echo "   skipped: no clang to build an XDP program"
fi

echo "== the LAN veth's XDP program removed by hand"
ip link set dev "$TOPO_LAN_IF" xdp off
wait_for lan condition no_xdp_program 3 || fail "status does not report the missing XDP program"
echo "   status: $(port_field lan reason)"
"$SLUICECTL" --socket "$SOCK" status | grep -q "^lan .*NOT DELIVERING: no XDP program" ||
    fail "sluicectl status does not show that the LAN port is not delivering"
grep -q "lan port net_af_xdp0: not delivering: no XDP program is attached to interface $TOPO_LAN_IF" \
    "$WORK/sluiced.log" || fail "no log line for the missing XDP program"
[ "$(grep -c "lan port net_af_xdp0: not delivering" "$WORK/sluiced.log")" = 1 ] ||
    fail "the stall was logged more than once"
grep -E "not delivering|delivering again" "$WORK/sluiced.log"

stop_sluiced
for f in "iface-$TOPO_LAN_IF.lock" "iface-$TOPO_WAN_IF.lock"; do
    [ ! -e "/run/lock/sluice/$f" ] || fail "sluiced left /run/lock/sluice/$f behind"
done
echo "PASS: a second sluiced is refused without disturbing the first; link and delivery show in status"
