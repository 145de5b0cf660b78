#!/bin/bash
# End to end with two workers per direction: a LAN host and a WAN host in
# their own namespaces, joined through sluiced --workers 2 on ports with two
# queue pairs (veths created with two rx and two tx queues; af_packet ports
# with qpairs=2, which the kernel fills by a flow hash, or af_xdp ports with
# queue_count=2). iperf3 with four parallel TCP streams each way must pass,
# with a policy whose classes are spread over both workers; sluiced must
# lose nothing, and its log and `status` must show both workers moving
# packets and the hand-offs between them.
#
# Usage: workers_netns.sh SLUICED SLUICECTL [af_packet|af_xdp]
# Needs root (namespaces, veths); exits 77 (skipped) without it.
set -euo pipefail

SLUICED=$1
SLUICECTL=$2
PMD=${3:-af_packet}
. "$(dirname "$0")/e2e-common.sh"

# The topology of netns-topology.sh, with two queues on every veth end.
topo_up "$ID" 2
LAN_NS=$TOPO_LAN_NS
WAN_NS=$TOPO_WAN_NS
LAN_IF=$TOPO_LAN_IF
WAN_IF=$TOPO_WAN_IF

case $PMD in
af_packet)
    LAN_DEV="net_af_packet0,iface=$LAN_IF,framecnt=4096,qpairs=2"
    WAN_DEV="net_af_packet1,iface=$WAN_IF,framecnt=4096,qpairs=2"
    ;;
af_xdp)
    LAN_DEV="net_af_xdp0,iface=$LAN_IF,start_queue=0,queue_count=2"
    WAN_DEV="net_af_xdp1,iface=$WAN_IF,start_queue=0,queue_count=2"
    ;;
*) echo "unknown PMD $PMD"; exit 2 ;;
esac

# Three leaves, so that both workers own some (a leaf under the root belongs
# to the worker its id names, dataplane::owner_of); the link root is shared. The links
# are far above what veths carry and the FIFOs long: the queues never drop
# for the shaper's sake, so any loss is the pipeline's.
cat >"$WORK/policy.toml" <<'TOML'
version = 1
[upload]
rate = "10gbit"
default_class = "other"
[[upload.class]]
name = "other"
rate = "1gbit"
ceil = "10gbit"
queue = "fifo"
limit = 8000
[[upload.class]]
name = "p1"
rate = "1gbit"
ceil = "10gbit"
queue = "fifo"
limit = 8000
[[upload.class]]
name = "p2"
rate = "1gbit"
ceil = "10gbit"
queue = "fifo"
limit = 8000
[download]
rate = "10gbit"
default_class = "other"
[[download.class]]
name = "other"
rate = "1gbit"
ceil = "10gbit"
queue = "fifo"
limit = 8000
[[download.class]]
name = "p1"
rate = "1gbit"
ceil = "10gbit"
queue = "fifo"
limit = 8000
[[download.class]]
name = "p2"
rate = "1gbit"
ceil = "10gbit"
queue = "fifo"
limit = 8000
[[rule]]
name = "iperf"
protocol = "tcp"
dst_port = 5201
class = "p1"
[[rule]]
name = "iperf-back"
protocol = "tcp"
src_port = 5201
class = "p2"
TOML

SOCK="$WORK/sluiced.sock"
"$SLUICED" --lan "$LAN_DEV" --wan "$WAN_DEV" --socket "$SOCK" --workers 2 --lcores "${E2E_LCORES:-0@0,1@1,2@1}" \
    --policy "$WORK/policy.toml" --policy-dir "$WORK" >"$WORK/sluiced.log" 2>&1 &
SLUICED_PID=$!
wait_for_sluiced "$WORK/sluiced.log" "$SLUICED_PID" || fail "sluiced did not start within 10 s"
grep -E "queue pairs|worker [01]|interim|lcore" "$WORK/sluiced.log" || true

ip netns exec "$LAN_NS" ping -c 3 -i 0.2 -W 2 "$TOPO_WAN_ADDR" || fail "IPv4 ping did not cross"

ip netns exec "$WAN_NS" iperf3 -s -B "$TOPO_WAN_ADDR" >"$WORK/iperf-server.log" 2>&1 &
IPERF_PID=$!
sleep 0.5
iperf_tcp upload -P 4
iperf_tcp download -P 4 -R

"$SLUICECTL" --socket "$SOCK" status || fail "sluicectl status failed"
"$SLUICECTL" --socket "$SOCK" --json stats >"$WORK/stats.json" || fail "sluicectl stats failed"
/usr/bin/python3 - "$WORK/stats.json" <<'PY' || fail "the workers' counters are not as expected"
import json, sys
s = json.load(open(sys.argv[1]))
for d in s["directions"]:
    w = d["workers"]
    print(d["name"], {k: (v["rx_packets"], v["handoffs_out"], v["handoffs_in"]) for k, v in w.items()})
    if len(w) != 2:
        sys.exit(f"{d['name']}: {len(w)} workers")
    # Both queues received (the kernel spread the four streams), and the
    # sums are the sums of the workers.
    if any(v["rx_packets"] == 0 for v in w.values()):
        sys.exit(f"{d['name']}: a worker received nothing")
    if sum(v["rx_packets"] for v in w.values()) != d["rx_packets"]:
        sys.exit(f"{d['name']}: rx_packets is not the workers' sum")
    if d["handoffs_out"] != sum(v["handoffs_out"] for v in w.values()):
        sys.exit(f"{d['name']}: handoffs_out is not the workers' sum")
PY

kill "$IPERF_PID"; wait "$IPERF_PID" 2>/dev/null || true
IPERF_PID=
stop_sluiced

grep -E "counters|worker [01]:" "$WORK/sluiced.log"
value() {  # value DIRECTION KEY
    grep "direction=$1" "$WORK/sluiced.log" | head -1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}
handoffs=0
for dir in upload download; do
    rx=$(value "$dir" rx_packets)
    tx=$(value "$dir" tx_packets)
    dropped=$(value "$dir" dropped)
    [ "$dropped" = 0 ] || fail "$dir dropped $dropped packets"
    [ "$rx" = "$tx" ] || fail "$dir received $rx but transmitted $tx"
    [ "$rx" -gt 1000 ] || fail "$dir saw only $rx packets"
    handoffs=$((handoffs + $(value "$dir" handoffs_out)))
done
[ "$handoffs" -gt 0 ] || fail "no packet was handed between the workers"
echo "PASS: iperf3 -P 4 crossed sluiced --workers 2 over $PMD with two queues; nothing lost, $handoffs hand-offs"
