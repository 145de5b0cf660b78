#!/bin/bash
# The whole pipeline with one worker against two, in the same run: sluiced
# with 1,000 leaf classes and 1,000 rules on source addresses (as in
# bench-forwarding.sh) reads a pcap of mixed traffic from memory (net_pcap,
# infinite_rx) and sends into a port that discards (net_null), upload only.
# With --workers 2 the LAN port has two rx queues, one pcap file each, the
# way RSS on the source address would split subscribers:
#   aligned: each queue carries the subscribers whose classes its worker
#            owns (what an ownership table that follows RSS would give);
#   spread:  subscribers split by address, unrelated to class ownership
#            (owner_of), so about half the packets are handed over.
# Prints packets per second of each and the ratio to one worker, per round
# and as medians over the rounds.
#
# Usage: scripts/bench-workers.sh [BUILD_DIR] [SECONDS] [ROUNDS]
# BENCH_SLUICED_ARGS adds options to every sluiced (--rebalance-us 1000, say);
# BENCH_VERBOSE=1 prints each run's counters.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SECS=${2:-5}
ROUNDS=${3:-3}
. scripts/bench-common.sh
bench_begin sluice-benchw

# A mix like bench-forwarding.sh's (sizes 64-1500, UDP, TCP, VLAN-tagged),
# IPv4 from 1,000 subscribers; the policy's class c<k> (number k + 1, a
# leaf under the root, so owned by the worker its id names:
# dataplane::owner_of, the top bit of (id x 0x9E3779B1) mod 2^32 for two
# workers) takes source 10.0.<k/250>.<k%250+1>.
/usr/bin/python3 - "$WORK" <<'PY'
import sys, logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, Dot1Q, IP, TCP, UDP, Raw, wrpcap
work = sys.argv[1]
pkts, owner = [], []
for i in range(2048):
    size = [64, 128, 512, 1500][i % 4]
    # Every packet from one of the 1,000 subscribers, so the classes (and
    # their owners) share the traffic evenly.
    j = i % 1000
    src = "10.0.%d.%d" % (j // 250, j % 250 + 1)
    if i % 3 == 0:
        p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst="198.51.100.7", tos=(i % 64) << 2) / UDP(sport=1024 + i, dport=443)
    elif i % 3 == 1:
        p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src, dst="198.51.100.1") / TCP(sport=1024 + i, dport=80)
    else:
        p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Dot1Q(vlan=100 + i % 4) / IP(src=src, dst="203.0.113.9") / UDP(sport=5000 + i, dport=5060)
    k = j
    pad = max(0, size - len(p) - 4)
    pkts.append(p / Raw(b"\x00" * pad))
    owner.append((((k + 1) * 0x9E3779B1) & 0xFFFFFFFF) >> 31)
wrpcap(f"{work}/all.pcap", pkts)
wrpcap(f"{work}/aligned0.pcap", [p for p, o in zip(pkts, owner) if o == 0])
wrpcap(f"{work}/aligned1.pcap", [p for p, o in zip(pkts, owner) if o == 1])
# Subscribers by address pairs: each queue has half its packets for each owner.
spread = [(i % 1000 // 2) % 2 for i in range(len(pkts))]
wrpcap(f"{work}/spread0.pcap", [p for p, q in zip(pkts, spread) if q == 0])
wrpcap(f"{work}/spread1.pcap", [p for p, q in zip(pkts, spread) if q == 1])
out = ['version = 1', '[upload]', 'rate = "400gbit"', 'default_class = "c0"']
for k in range(1000):
    out += ['[[upload.class]]', f'name = "c{k}"', 'rate = "400mbit"', 'ceil = "400gbit"', 'queue = "fifo"', 'limit = 256']
out += ['[download]', 'rate = "400gbit"']
for k in range(1000):
    out += ['[[rule]]', f'name = "r{k}"', f'src = "10.0.{k // 250}.{k % 250 + 1}/32"', f'upload_class = "c{k}"']
open(f"{work}/policy.toml", "w").write("\n".join(out) + "\n")
PY

LOG_LEVEL=warn
[ -z "${BENCH_VERBOSE:-}" ] || LOG_LEVEL=info
tx() { "$BUILD/control/sluicectl" --socket "$WORK/s.sock" --json stats |
       /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["directions"][0]; print(d["tx_packets"], d["handoffs_out"])'; }
# run LABEL LCORES WORKERS LAN_DEVARGS: prints the packets per second sent and the hand-off share.
run() {
    "$BUILD/dataplane/daemon/sluiced" --lan "$4" --wan "net_null0,no-rx=1" --hugepages off --memory 1500 \
        --lcores "$2" --workers "$3" --idle-sleep off --socket "$WORK/s.sock" --log-level "$LOG_LEVEL" \
        --policy "$WORK/policy.toml" ${BENCH_SLUICED_ARGS:-} >"$WORK/sluiced-$1.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do [ -S "$WORK/s.sock" ] && break; sleep 0.1; done
    sleep 1
    read -r A HA <<<"$(tx)"; T0=$(date +%s.%N)
    sleep "$SECS"
    read -r B HB <<<"$(tx)"; T1=$(date +%s.%N)
    [ -z "${BENCH_VERBOSE:-}" ] || "$BUILD/control/sluicectl" --socket "$WORK/s.sock" status | grep -A8 "^workers" >&2
    kill -TERM "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
    [ -z "${BENCH_VERBOSE:-}" ] || grep -E "counters direction=upload|worker [01]:" "$WORK/sluiced-$1.log" | cut -c1-400 >&2
    /usr/bin/python3 -c "d=$B-$A; print(int(d/($T1-$T0)), round(100*($HB-$HA)/max(d,1)))"
}
P="$WORK"
# Each round runs one worker, then two on aligned queues, then two on
# spread ones; the ratios are each round's against its own one-worker run,
# and the medians over the rounds are what to quote (one run alone moves
# by a quarter on a shared VM).
for r in $(seq "$ROUNDS"); do
    # One worker: control on the first CPU, the worker on the last.
    read -r ONE _ <<<"$(run one "0@$FIRST,1@$LAST" 1 "net_pcap0,rx_pcap=$P/all.pcap,infinite_rx=1")"
    # Two workers: the second shares the first CPU with the control thread
    # (which only answers the two stats requests meanwhile).
    read -r ALIGNED HA <<<"$(run aligned "0@$FIRST,1@$LAST,2@$FIRST" 2 \
        "net_pcap0,rx_pcap=$P/aligned0.pcap,rx_pcap=$P/aligned1.pcap,infinite_rx=1")"
    read -r SPREAD HS <<<"$(run spread "0@$FIRST,1@$LAST,2@$FIRST" 2 \
        "net_pcap0,rx_pcap=$P/spread0.pcap,rx_pcap=$P/spread1.pcap,infinite_rx=1")"
    echo "$ONE $ALIGNED $HA $SPREAD $HS" >>"$WORK/rounds"
done
/usr/bin/python3 - "$WORK/rounds" <<'PY'
import statistics, sys
rows = [[int(x) for x in line.split()] for line in open(sys.argv[1])]
for i, (one, al, ha, sp, hs) in enumerate(rows, 1):
    print(f"round {i}: 1 worker {one/1e6:5.2f} Mpps, aligned {al/1e6:5.2f} Mpps ({al/one:.2f}x), "
          f"spread {sp/1e6:5.2f} Mpps ({sp/one:.2f}x, {hs}% handed over)")
med = lambda xs: statistics.median(xs)
one = med([r[0] for r in rows])
print(f"1 worker                       : {one/1e6:6.2f} Mpps (median)")
print(f"2 workers, queues aligned      : {med([r[1] for r in rows])/1e6:6.2f} Mpps, "
      f"median ratio {med([r[1]/r[0] for r in rows]):.2f}x ({rows[0][2]}% handed over)")
print(f"2 workers, subscribers spread  : {med([r[3] for r in rows])/1e6:6.2f} Mpps, "
      f"median ratio {med([r[3]/r[0] for r in rows]):.2f}x ({rows[0][4]}% handed over)")
PY
