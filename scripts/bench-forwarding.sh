#!/bin/bash
# Forwarding rate on one worker core, against dpdk-testpmd in the same run:
# both replay the same pcap of mixed traffic from memory (net_pcap with
# infinite_rx) into a port that discards (net_null, no-rx), one direction.
# testpmd io-forward touches no packet data; sluiced parses every frame and
# queues it. Then sluiced again with a policy: 1,000 leaf classes under a
# 400 Gbit/s link (so the CPU, not the shaping, sets the rate), 1,000 rules
# on source addresses (rte_acl), each packet classified, shaped and sent:
# the whole pipeline. Prints the rates and their ratio to testpmd.
#
# Usage: scripts/bench-forwarding.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SECS=${2:-5}
# Control on the first CPU, the forwarding lcore on the last.
. scripts/bench-common.sh
bench_begin sluice-bench

/usr/bin/python3 - "$WORK/mix.pcap" <<'PY'
import sys
import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, Dot1Q, IP, IPv6, TCP, UDP, ICMP, Raw, wrpcap
pkts = []
for i in range(1024):
    size = [64, 128, 512, 1500][i % 4]
    if i % 3 == 0:
        p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6(src="2001:db8::%x" % (i + 1), dst="2001:db8:1::1", tc=(i % 64) << 2) / UDP(sport=1024 + i, dport=443)
    elif i % 3 == 1:
        p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="10.0.%d.%d" % (i // 250, i % 250 + 1), dst="198.51.100.1", tos=(i % 64) << 2) / TCP(sport=1024 + i, dport=80)
    else:
        p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Dot1Q(vlan=100 + i % 4) / IP(src="10.1.0.%d" % (i % 250 + 1), dst="203.0.113.9") / UDP(sport=5000 + i, dport=5060)
    pad = max(0, size - len(p) - 4)
    pkts.append(p / Raw(b"\x00" * pad))
wrpcap(sys.argv[1], pkts)
PY

IN="net_pcap0,rx_pcap=$WORK/mix.pcap,infinite_rx=1"
OUT="net_null0,no-rx=1"

echo "== dpdk-testpmd io-forward, ${SECS}s"
dpdk-testpmd --no-huge -m 1024 --no-pci --no-shconf --file-prefix "sb$$t" --log-level=error \
    --lcores "0@$FIRST,1@$LAST" --vdev "$IN" --vdev "$OUT" -- \
    --forward-mode=io --nb-cores=1 --stats-period 1 >"$WORK/testpmd.log" 2>&1 &
PIDS+=($!)
sleep $((SECS + 2))
kill -INT "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
# The port that transmits (port 1) reports Tx-pps each second; take the median.
TESTPMD=$(awk '/NIC statistics for port 1/{p=1} p && /Tx-pps/{print $2; p=0}' "$WORK/testpmd.log" |
    sort -n | awk '{a[NR]=$1} END{print (NR ? a[int((NR+1)/2)] : 0)}')

echo "== sluiced, ${SECS}s"
"$BUILD/dataplane/daemon/sluiced" --lan "$IN" --wan "$OUT" --hugepages off --memory 1024 \
    --lcores "0@$FIRST,1@$LAST" --socket "$WORK/s.sock" --log-level warn >"$WORK/sluiced.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$WORK/s.sock" ] && break; sleep 0.1; done
sleep 1
tx() { "$BUILD/control/sluicectl" --socket "$WORK/s.sock" --json stats |
       /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["directions"][0]["tx_packets"])'; }
A=$(tx); T0=$(date +%s.%N)
sleep "$SECS"
B=$(tx); T1=$(date +%s.%N)
kill -TERM "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
SLUICED=$(/usr/bin/python3 -c "print(int(($B - $A) / ($T1 - $T0)))")

# 1,000 classes, each with a rule for one source address of the capture's
# 10.0.0.0/16 hosts (about a third of the packets match one; the rest go to
# the default class), so every packet takes the ACL path.
/usr/bin/python3 - "$WORK/policy.toml" <<'PY'
import sys
out = ['version = 1', '[upload]', 'rate = "400gbit"', 'default_class = "c0"']
for k in range(1000):
    out += ['[[upload.class]]', f'name = "c{k}"', 'rate = "400mbit"', 'ceil = "400gbit"', 'queue = "fifo"', 'limit = 256']
out += ['[download]', 'rate = "400gbit"']
for k in range(1000):
    out += ['[[rule]]', f'name = "r{k}"', f'src = "10.0.{k // 250}.{k % 250 + 1}/32"', f'upload_class = "c{k}"']
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
echo "== sluiced with 1,000 classes and 1,000 rules, ${SECS}s"
"$BUILD/dataplane/daemon/sluiced" --lan "$IN" --wan "$OUT" --hugepages off --memory 1024 \
    --lcores "0@$FIRST,1@$LAST" --socket "$WORK/s.sock" --log-level warn --policy "$WORK/policy.toml" \
    >"$WORK/sluiced-policy.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$WORK/s.sock" ] && break; sleep 0.1; done
sleep 1
A=$(tx); T0=$(date +%s.%N)
sleep "$SECS"
B=$(tx); T1=$(date +%s.%N)
"$BUILD/control/sluicectl" --socket "$WORK/s.sock" --json stats >"$WORK/stats.json"
kill -TERM "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
SHAPED=$(/usr/bin/python3 -c "print(int(($B - $A) / ($T1 - $T0)))")
# How many classes and rules the traffic really used, and what was dropped.
USED=$(/usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
up = s["policy"]["upload"]
classes = sum(1 for c in up["classes"] if c.get("sent_packets", 0) > 0)
rules = sum(1 for r in up["rules"] if r["hits"] > 0)
drops = sum(v for v in s["directions"][0]["drops"].values())
print(f"{classes} classes and {rules} rules in use, {drops} drops")' "$WORK/stats.json")

/usr/bin/python3 - "$TESTPMD" "$SLUICED" "$SHAPED" "$USED" <<'PY'
import sys
t, s, p = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
pct = lambda x: x / t * 100 if t else 0
print(f"testpmd io-forward            : {t/1e6:7.2f} Mpps")
print(f"sluiced (parse+queue)         : {s/1e6:7.2f} Mpps  ({pct(s):.0f}% of testpmd)")
print(f"sluiced (parse+classify+shape): {p/1e6:7.2f} Mpps  ({pct(p):.0f}% of testpmd; {sys.argv[4]})")
PY
