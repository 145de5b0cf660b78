#!/bin/bash
# End to end: a LAN host and a WAN host in their own network namespaces, joined
# only through sluiced on af_packet (or af_xdp) ports. Ping (IPv4 and IPv6) and
# iperf3 TCP in both directions must pass, and sluiced must lose nothing.
#
# Usage: bridge_netns.sh SLUICED SLUICECTL [af_packet|af_xdp]
# Needs root (namespaces, veths); exits 77 (skipped) without it.
set -euo pipefail

SLUICED=$1
SLUICECTL=$2
PMD=${3:-af_packet}
. "$(dirname "$0")/e2e-common.sh"

topo_up "$ID"

case $PMD in
af_packet)
    LAN_DEV="net_af_packet0,iface=$TOPO_LAN_IF,framecnt=4096"
    WAN_DEV="net_af_packet1,iface=$TOPO_WAN_IF,framecnt=4096"
    ;;
af_xdp)
    LAN_DEV="net_af_xdp0,iface=$TOPO_LAN_IF"
    WAN_DEV="net_af_xdp1,iface=$TOPO_WAN_IF"
    ;;
*) echo "unknown PMD $PMD"; exit 2 ;;
esac

SOCK="$WORK/sluiced.sock"
"$SLUICED" --lan "$LAN_DEV" --wan "$WAN_DEV" --socket "$SOCK" >"$WORK/sluiced.log" 2>&1 &
SLUICED_PID=$!
wait_for_sluiced "$WORK/sluiced.log" "$SLUICED_PID" || fail "sluiced did not start within 10 s"

echo "== ping LAN -> WAN (IPv4, IPv6)"
ip netns exec "$TOPO_LAN_NS" ping -c 5 -i 0.2 -W 2 "$TOPO_WAN_ADDR" || fail "IPv4 ping did not cross"
ip netns exec "$TOPO_LAN_NS" ping -6 -c 5 -i 0.2 -W 2 "$TOPO_WAN_ADDR6" || fail "IPv6 ping did not cross"

ip netns exec "$TOPO_WAN_NS" iperf3 -s -B "$TOPO_WAN_ADDR" >"$WORK/iperf-server.log" 2>&1 &
IPERF_PID=$!
sleep 0.5

iperf_tcp upload
iperf_tcp download -R

echo "== sluicectl while running"
"$SLUICECTL" --socket "$SOCK" status || fail "sluicectl status failed"
"$SLUICECTL" --socket "$SOCK" stats || fail "sluicectl stats failed"
live_tx=$("$SLUICECTL" --socket "$SOCK" --json stats |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["directions"][0]["tx_packets"])')
[ "$live_tx" -gt 1000 ] || fail "sluicectl reports only $live_tx upload packets"

kill "$IPERF_PID"; wait "$IPERF_PID" 2>/dev/null || true
IPERF_PID=

stop_sluiced

grep -E "counters|port role" "$WORK/sluiced.log"
value() {  # value DIRECTION-OR-ROLE-TAG KEY
    grep "$1" "$WORK/sluiced.log" | head -1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}
for dir in upload download; do
    rx=$(value "direction=$dir" rx_packets)
    tx=$(value "direction=$dir" tx_packets)
    dropped=$(value "direction=$dir" dropped)
    [ "$dropped" = 0 ] || fail "$dir dropped $dropped packets"
    [ "$rx" = "$tx" ] || fail "$dir received $rx but transmitted $tx"
    [ "$rx" -gt 1000 ] || fail "$dir saw only $rx packets"
done
for role in lan wan; do
    missed=$(value "role=$role" rx_missed)
    [ "$missed" = 0 ] || fail "$role port missed $missed packets (rx ring overflow)"
done
echo "PASS: ping and iperf3 crossed sluiced over $PMD; every received packet was transmitted"
