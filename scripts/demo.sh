#!/bin/bash
# The Sluice demo: installs what is missing, builds, puts a LAN host and a WAN
# host in two network namespaces joined only through sluiced, sends ping and
# iperf3 traffic across in both directions, shows what passed, and cleans up.
# Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

./scripts/install-deps.sh
if [ ! -f build/build.ninja ]; then
    meson setup build -Dwerror=true >/dev/null
fi
ninja -C build >/dev/null
SLUICED=build/dataplane/daemon/sluiced
SLUICECTL=build/control/sluicectl
echo "== built $($SLUICED --version)"

. scripts/netns-topology.sh
ID=$(( $$ % 100000 ))
LOG=$(mktemp /tmp/sluice-demo.XXXXXX.log)
SLUICED_PID=
IPERF_PID=
cleanup() {
    # Every step runs even when one fails: the namespaces must go in any case.
    set +e
    [ -n "$IPERF_PID" ] && kill "$IPERF_PID" 2>/dev/null && wait "$IPERF_PID" 2>/dev/null
    [ -n "$SLUICED_PID" ] && kill "$SLUICED_PID" 2>/dev/null && wait "$SLUICED_PID" 2>/dev/null
    topo_down "$ID"
    rm -f "$LOG"
}
trap cleanup EXIT

topo_up "$ID"
echo "== LAN host $TOPO_LAN_ADDR ($TOPO_LAN_NS) <-> sluiced <-> WAN host $TOPO_WAN_ADDR ($TOPO_WAN_NS)"
echo "== policy configs/home.toml: a 100/20 Mbit/s line shaped to 95/19 Mbit/s, voice (EF) first"

SOCK=/run/sluice/demo-$ID.sock
$SLUICED --config "$ROOT/configs/sluiced.conf" --socket "$SOCK" --policy "$ROOT/configs/home.toml" \
    --lan "net_af_packet0,iface=$TOPO_LAN_IF,framecnt=4096" \
    --wan "net_af_packet1,iface=$TOPO_WAN_IF,framecnt=4096" \
    --stats-interval 0 >"$LOG" 2>&1 &
SLUICED_PID=$!
if ! wait_for_sluiced "$LOG" "$SLUICED_PID"; then cat "$LOG"; exit 1; fi
sed 's/^/   sluiced: /' "$LOG"

echo "== ping over IPv4 and IPv6"
ip netns exec "$TOPO_LAN_NS" ping -c 3 -i 0.2 "$TOPO_WAN_ADDR" | tail -2
ip netns exec "$TOPO_LAN_NS" ping -6 -c 3 -i 0.2 "$TOPO_WAN_ADDR6" | tail -2

ip netns exec "$TOPO_WAN_NS" iperf3 -s -B "$TOPO_WAN_ADDR" >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.5
for dir in upload download; do
    flag=; [ $dir = download ] && flag=-R
    echo "== iperf3 TCP $dir, 5 seconds, with EF-marked pings (voice) crossing at the same time"
    ip netns exec "$TOPO_LAN_NS" ping -Q 0xb8 -c 15 -i 0.2 "$TOPO_WAN_ADDR" >"$LOG.ping" &
    ip netns exec "$TOPO_LAN_NS" iperf3 -c "$TOPO_WAN_ADDR" -t 5 $flag | grep -E "sender|receiver"
    wait $! || true
    echo "   EF ping during the transfer: $(tail -1 "$LOG.ping")"
done
rm -f "$LOG.ping"
kill "$IPERF_PID"; wait "$IPERF_PID" 2>/dev/null || true
IPERF_PID=

echo "== sluicectl status, show classes and stats, live"
$SLUICECTL --socket "$SOCK" status | sed 's/^/   /'
$SLUICECTL --socket "$SOCK" show classes | sed 's/^/   /'
$SLUICECTL --socket "$SOCK" stats | sed 's/^/   /'

kill -TERM "$SLUICED_PID"
wait "$SLUICED_PID" || true
SLUICED_PID=
echo "== what sluiced counted"
grep -E "counters|port role" "$LOG" | sed 's/^.* info /   /'
echo "== done; namespaces and veths removed"
