# Sourced by the demo and the end-to-end tests: a LAN host and a WAN host,
# each in its own network namespace, joined only through sluiced.
#
#   [ns LAN: eth0 10.77.0.1/24 fd77::1/64] --veth-- sl<ID>l  (sluiced --lan)
#   [ns WAN: eth0 10.77.0.2/24 fd77::2/64] --veth-- sl<ID>w  (sluiced --wan)
#
# The root-namespace ends have no addresses: sluiced reads and writes them
# through af_packet (or af_xdp), so the two hosts share one L2 segment.
# Nothing here touches an interface or namespace it did not create.

TOPO_LAN_ADDR=10.77.0.1
TOPO_WAN_ADDR=10.77.0.2
TOPO_LAN_ADDR6=fd77::1
TOPO_WAN_ADDR6=fd77::2

# topo_up ID [QUEUES]: creates namespaces sluice-lan-ID, sluice-wan-ID and
# veths slIDl, slIDw; with QUEUES, every veth end has that many rx and tx
# queues (for sluiced's ports with several queue pairs, one per worker).
topo_up() {
    id=$1
    queues=${2:+numtxqueues $2 numrxqueues $2}
    TOPO_LAN_NS=sluice-lan-$id
    TOPO_WAN_NS=sluice-wan-$id
    TOPO_LAN_IF=sl${id}l
    TOPO_WAN_IF=sl${id}w
    ip netns add "$TOPO_LAN_NS"
    ip netns add "$TOPO_WAN_NS"
    for side in LAN WAN; do
        eval ns=\$TOPO_${side}_NS
        eval ifc=\$TOPO_${side}_IF
        eval addr=\$TOPO_${side}_ADDR
        eval addr6=\$TOPO_${side}_ADDR6
        # shellcheck disable=SC2086 # $queues: empty, or the four words to split
        ip link add "$ifc" $queues type veth peer name eth0 $queues netns "$ns"
        ip -n "$ns" link set lo up
        ip -n "$ns" addr add "$addr/24" dev eth0
        ip -n "$ns" addr add "$addr6/64" dev eth0 nodad
        ip -n "$ns" link set eth0 up
        ip link set "$ifc" up
        # Frames must be whole and carry real checksums when they leave a
        # host: sluiced forwards exactly what it reads, and veth would
        # otherwise hand it 64 KiB segments with checksums left to "hardware".
        ip netns exec "$ns" ethtool -K eth0 tx off tso off gso off gro off >/dev/null 2>&1 || true
        ethtool -K "$ifc" tx off tso off gso off gro off >/dev/null 2>&1 || true
        # No router solicitations or other chatter from the root-side end.
        sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=1" 2>/dev/null || true
    done
}

# topo_down ID: removes what topo_up ID created; safe to call twice.
topo_down() {
    id=$1
    ip link del "sl${id}l" 2>/dev/null || true
    ip link del "sl${id}w" 2>/dev/null || true
    ip netns del "sluice-lan-$id" 2>/dev/null || true
    ip netns del "sluice-wan-$id" 2>/dev/null || true
}

# wait_for_sluiced LOG PID: returns 0 once sluiced's log says it is bridging,
# 1 if the process exits first or 10 s pass.
wait_for_sluiced() {
    for _ in $(seq 100); do
        grep -q "bridging" "$1" && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    grep -q "bridging" "$1"
}
