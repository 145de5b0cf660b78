#!/bin/bash
# End to end: the gateway keeps its own traffic on af_xdp ports. A LAN and a
# WAN namespace are joined through sluiced on af_xdp veths; the LAN veth's
# root end also carries the gateway's own address, with a small TCP echo
# server on it (an SSH stand-in). While iperf3 runs through sluiced (100
# Mbit/s, well under the 1 Gbit/s classes, so any loss would be a fault):
#   - a ping and a TCP exchange from the LAN host to the gateway's address
#     are answered by the kernel (the XDP program passed them), and the
#     program's counters say so in `sluicectl stats`;
#   - the bridged traffic loses nothing;
# then the [management] section changes with `sluicectl policy load`: the
# new address answers and the old one no longer reaches the kernel, without
# a restart; then sluiced is killed with SIGKILL and started again with no
# manual clean-up: the program it left is replaced, and both the bridge
# and the gateway's own traffic work.
#
# Usage: management_netns.sh SLUICED SLUICECTL
set -euo pipefail

SLUICED=$1
SLUICECTL=$2
. "$(dirname "$0")/e2e-common.sh"

topo_up "$ID"

OWN=10.77.0.254      # the gateway's address on its LAN side
NEW_OWN=10.77.0.253  # the one the second policy names instead
ECHO_PORT=2222
SOCK="$WORK/sluiced.sock"
LAN_DEV="net_af_xdp0,iface=$TOPO_LAN_IF"
WAN_DEV="net_af_xdp1,iface=$TOPO_WAN_IF"

# Both addresses live on the root end of the LAN veth, as a gateway's
# management address would; only the policy decides which one its kernel
# gets to see.
ip addr add "$OWN/32" dev "$TOPO_LAN_IF"
ip addr add "$NEW_OWN/32" dev "$TOPO_LAN_IF"
ip route add "$TOPO_LAN_ADDR/32" dev "$TOPO_LAN_IF" src "$OWN"

policy() {  # policy ADDRESS > file
    cat <<TOML
version = 1
[upload]
rate = "1gbit"
default_class = "bulk"
[[upload.class]]
name = "bulk"
rate = "1gbit"
[download]
rate = "1gbit"
default_class = "bulk"
[[download.class]]
name = "bulk"
rate = "1gbit"
[management]
addresses = ["$1"]
[[management.service]]
protocol = "tcp"
ports = [$ECHO_PORT]
[[management.service]]
protocol = "icmp"
TOML
}
policy "$OWN" >"$WORK/policy.toml"
policy "$NEW_OWN" >"$WORK/moved.toml"

# The SSH stand-in: a TCP echo server on every address of the root namespace.
/usr/bin/python3 - "$ECHO_PORT" >"$WORK/echo.log" 2>&1 <<'PY' &
import socketserver, sys
class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        data = self.request.recv(1024)
        self.request.sendall(b"echo " + data)
socketserver.TCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("0.0.0.0", int(sys.argv[1])), Echo).serve_forever()
PY
BACKGROUND_PIDS+=($!)

# talk ADDRESS: one exchange with the echo server from the LAN host; prints
# the answer, fails when there is none within 3 s.
talk() {
    ip netns exec "$TOPO_LAN_NS" /usr/bin/python3 - "$1" "$ECHO_PORT" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
s.sendall(b"hello")
print(s.recv(1024).decode())
PY
}

start_sluiced() {  # start_sluiced LOG
    "$SLUICED" --lan "$LAN_DEV" --wan "$WAN_DEV" --policy "$WORK/policy.toml" --socket "$SOCK" >"$1" 2>&1 &
    SLUICED_PID=$!
    wait_for_sluiced "$1" "$SLUICED_PID" || { cp "$1" "$WORK/sluiced.log"; fail "sluiced did not start within 10 s"; }
}
xdp_counter() {  # xdp_counter ROLE KEY
    "$SLUICECTL" --socket "$SOCK" --json stats | /usr/bin/python3 -c '
import json, sys
p = {x["role"]: x for x in json.load(sys.stdin)["ports"]}[sys.argv[1]]
print(p["xdp"][sys.argv[2]] if "xdp" in p else "none")' "$1" "$2"
}
attached() {  # attached IFACE: the id of the XDP program on IFACE, empty if none
    ip -d link show dev "$1" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p' | head -1
}

start_sluiced "$WORK/sluiced.log"
grep -q "management XDP program" "$WORK/sluiced.log" || fail "no management XDP program on the af_xdp ports"
if grep -q "warning.*\[management\]" "$WORK/sluiced.log"; then fail "af_xdp ports should honour [management] without a warning"; fi

ip netns exec "$TOPO_WAN_NS" iperf3 -s -B "$TOPO_WAN_ADDR" >"$WORK/iperf-server.log" 2>&1 &
IPERF_PID=$!
sleep 0.5
ip netns exec "$TOPO_LAN_NS" iperf3 -c "$TOPO_WAN_ADDR" -t 8 -b 100M -J >"$WORK/iperf.json" &
CLIENT=$!
sleep 1

echo "== while iperf3 runs: the gateway's own address answers from its kernel"
to_kernel_before=$(xdp_counter lan to_kernel)
ip netns exec "$TOPO_LAN_NS" ping -c 5 -i 0.2 -W 2 "$OWN" >"$WORK/ping-own.txt" ||
    fail "ping to the gateway's address failed: $(cat "$WORK/ping-own.txt")"
answer=$(talk "$OWN") || fail "no TCP answer from the gateway's echo server"
[ "$answer" = "echo hello" ] || fail "the echo server answered '$answer'"
echo "   ping: $(grep -o '[0-9]* received' "$WORK/ping-own.txt"), tcp: $answer"
to_kernel_after=$(xdp_counter lan to_kernel)
[ "$to_kernel_after" -ge $((to_kernel_before + 8)) ] ||
    fail "the LAN port's XDP program passed $to_kernel_before then $to_kernel_after frames to the kernel"
"$SLUICECTL" --socket "$SOCK" stats | sed -n "/gateway's own traffic/,/^$/p" | sed 's/^/   /'

wait "$CLIENT" || fail "iperf3 failed: $(cat "$WORK/iperf.json")"
/usr/bin/python3 - "$WORK/iperf.json" <<'PY'
import json, sys
end = json.load(open(sys.argv[1]))["end"]
recv = end["sum_received"]
print(f"== iperf3 through sluiced meanwhile: {recv['bits_per_second']/1e6:.0f} Mbit/s, "
      f"{end['sum_sent'].get('retransmits', 0)} retransmits")
if recv["bytes"] <= 0:
    sys.exit("no data received")
PY

echo "== the management address moves with a policy load, no restart"
out=$("$SLUICECTL" --socket "$SOCK" policy load "$WORK/moved.toml") || fail "moved policy refused: $out"
ip netns exec "$TOPO_LAN_NS" ping -c 3 -i 0.2 -W 2 "$NEW_OWN" >/dev/null || fail "the new address does not answer"
answer=$(talk "$NEW_OWN") || fail "no TCP answer on the new address"
[ "$answer" = "echo hello" ] || fail "the echo server answered '$answer' on the new address"
# The old address's frames now go to the data plane and are bridged to the
# WAN side, where nobody has that address.
if ip netns exec "$TOPO_LAN_NS" ping -c 3 -i 0.2 -W 1 "$OWN" >/dev/null 2>&1; then
    fail "the old address still reaches the gateway's kernel"
fi
echo "   $NEW_OWN answers, $OWN no longer reaches the kernel"
# Back to the first policy for the restart below.
"$SLUICECTL" --socket "$SOCK" policy load "$WORK/policy.toml" >/dev/null || fail "the first policy was refused again"

kill "$IPERF_PID"; wait "$IPERF_PID" 2>/dev/null || true
IPERF_PID=
stop_sluiced
value() {  # value DIRECTION KEY: from the counters sluiced logged at exit
    grep "counters direction=$1" "$WORK/sluiced.log" | head -1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}
for dir in upload download; do
    rx=$(value $dir rx_packets); tx=$(value $dir tx_packets); dropped=$(value $dir dropped)
    echo "   $dir: rx $rx tx $tx dropped $dropped"
    [ "$dropped" = 0 ] || fail "$dir dropped $dropped packets"
    [ "$rx" = "$tx" ] || fail "$dir received $rx but transmitted $tx"
done
[ -z "$(attached "$TOPO_LAN_IF")" ] || fail "the XDP program stayed on $TOPO_LAN_IF after a clean stop"

echo "== kill -9, then a fresh start with no manual clean-up"
start_sluiced "$WORK/first.log"
left=$(attached "$TOPO_LAN_IF")
kill -9 "$SLUICED_PID"; wait "$SLUICED_PID" 2>/dev/null || true
SLUICED_PID=
[ -n "$left" ] && [ "$(attached "$TOPO_LAN_IF")" = "$left" ] || fail "expected the killed run's program on $TOPO_LAN_IF"
start_sluiced "$WORK/sluiced.log"
grep -q "removed the XDP program a previous run left" "$WORK/sluiced.log" ||
    fail "the fresh start did not say it removed the killed run's program"
[ "$(attached "$TOPO_LAN_IF")" != "$left" ] || fail "the killed run's program is still attached"
ip netns exec "$TOPO_LAN_NS" ping -c 3 -i 0.2 -W 2 "$TOPO_WAN_ADDR" >/dev/null || fail "no bridge after the restart"
ip netns exec "$TOPO_LAN_NS" ping -c 3 -i 0.2 -W 2 "$OWN" >/dev/null || fail "no gateway after the restart"
[ "$(talk "$OWN")" = "echo hello" ] || fail "no TCP answer after the restart"
echo "   bridge and gateway answer after the restart"
stop_sluiced "after the restart"
echo "PASS"
