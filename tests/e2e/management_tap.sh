#!/bin/bash
# End to end: the gateway's own traffic on ports the kernel cannot see
# (net_pcap files here, standing in for a PCI NIC), through sluiced's
# exception tap. The LAN port's input is an ARP request and an ICMP echo
# request for the gateway's address, replayed without end (infinite_rx: the
# tap only gets its address once sluiced has created it); the kernel must
# answer both through the tap, and the answers must leave in the LAN port's
# output, the port they came from, while nothing of it is bridged to the
# WAN side. Without a tap, the same policy loads with a warning that names
# the port and the option.
#
# Usage: management_tap.sh SLUICED SLUICECTL
set -euo pipefail

SLUICED=$1
SLUICECTL=$2
. "$(dirname "$0")/e2e-common.sh"

OWN=198.51.100.1
PEER=198.51.100.2
PEER_MAC=02:00:00:00:00:02
TAP=slm$ID

/usr/bin/python3 - "$WORK" "$OWN" "$PEER" "$PEER_MAC" <<'PY'
import sys
from scapy.all import ARP, Ether, ICMP, IP, wrpcap
work, own, peer, mac = sys.argv[1:5]
wrpcap(f"{work}/lan-in.pcap", [
    Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac, psrc=peer, pdst=own),
    # To the broadcast MAC: the test cannot know the port's address before
    # sluiced gives it to the tap.
    Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src=peer, dst=own) / ICMP(type=8, id=7, seq=1) / b"sluice",
])
wrpcap(f"{work}/wan-in.pcap", [], linktype=1)
PY

cat >"$WORK/policy.toml" <<TOML
version = 1
[upload]
rate = "100mbit"
default_class = "bulk"
[[upload.class]]
name = "bulk"
rate = "100mbit"
[download]
rate = "100mbit"
default_class = "bulk"
[[download.class]]
name = "bulk"
rate = "100mbit"
[management]
addresses = ["$OWN"]
TOML

SOCK="$WORK/sluiced.sock"
run() {  # run LOG [OPTION...]: sluiced on the pcap files, until bridging
    local log=$1
    shift
    "$SLUICED" --lan "net_pcap0,rx_pcap=$WORK/lan-in.pcap,tx_pcap=$WORK/lan-out.pcap,infinite_rx=1" \
        --wan "net_pcap1,rx_pcap=$WORK/wan-in.pcap,tx_pcap=$WORK/wan-out.pcap" \
        --policy "$WORK/policy.toml" --socket "$SOCK" "$@" >"$log" 2>&1 &
    SLUICED_PID=$!
    wait_for_sluiced "$log" "$SLUICED_PID" || { cp "$log" "$WORK/sluiced.log"; fail "sluiced did not start"; }
}

echo "== without a tap: the load warns, naming the port and the option"
run "$WORK/sluiced.log"
grep -q "warning: \[management\]: lan port net_pcap0.*--management-tap-lan" "$WORK/sluiced.log" ||
    fail "no warning for the LAN port that cannot honour [management]"
stop_sluiced "without a tap"

echo "== with --management-tap-lan $TAP: the kernel answers through it"
run "$WORK/sluiced.log" --management-tap-lan "$TAP"
if grep -q "warning: \[management\]: lan port" "$WORK/sluiced.log"; then fail "the LAN port warns although it has a tap"; fi
ip link show "$TAP" >/dev/null || fail "sluiced did not create $TAP"
# The kernel answers nothing on the interface but these frames.
sysctl -qw "net.ipv6.conf.$TAP.disable_ipv6=1"
ip addr add "$OWN/24" dev "$TAP"
ip link set "$TAP" up
sleep 1.5
"$SLUICECTL" --socket "$SOCK" stats | sed -n "/gateway's own traffic/,/^$/p" | sed 's/^/   /'
to_kernel=$("$SLUICECTL" --socket "$SOCK" --json stats |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ports"][0]["exception"]["to_kernel_packets"])')
[ "$to_kernel" -gt 0 ] || fail "nothing was handed to the kernel"
stop_sluiced "with a tap"
ip link show "$TAP" >/dev/null 2>&1 && fail "$TAP outlived sluiced"

/usr/bin/python3 - "$WORK" "$OWN" "$PEER" "$PEER_MAC" <<'PY' || fail "the kernel's answers are not in the LAN port's output"
import sys
from scapy.all import ARP, ICMP, IP, PcapReader, rdpcap
work, own, peer, mac = sys.argv[1:5]
# The input was replayed without end, so the output is long: read it until
# both answers have been seen.
arp = echo = None
seen = 0
for p in PcapReader(f"{work}/lan-out.pcap"):
    seen += 1
    if arp is None and ARP in p and p[ARP].op == 2 and p[ARP].psrc == own and p[ARP].pdst == peer:
        arp = p
    if echo is None and ICMP in p and p[ICMP].type == 0 and p[IP].src == own and p[IP].dst == peer \
            and bytes(p[ICMP].payload) == b"sluice":
        echo = p
    if arp is not None and echo is not None:
        break
print(f"   LAN output: an ARP reply and an echo reply from {own} within its first {seen} frames")
if arp is None or echo is None:
    sys.exit(1)
# Each answer goes to the asker, from the port's (the tap's) MAC address.
if arp.dst.lower() != mac or echo.dst.lower() != mac:
    sys.exit("answers addressed to the wrong MAC")
wan = rdpcap(f"{work}/wan-out.pcap")
print(f"   WAN output: {len(wan)} frames")
if any(ARP in p or ICMP in p for p in wan):
    sys.exit("the gateway's own frames were bridged to the WAN side")
PY
echo "PASS"
