#!/bin/bash
# One shaped class under load, end to end: 4 TCP flows (iperf3 -P 4) and an
# EF-marked ping share a single 20 Mbit/s class in sluiced, bridging veths in
# two network namespaces through af_packet. For each queue kind given it
# prints the flows' goodput and retransmissions, the ping's RTT p50/p99 and losses, and the
# class's own counters (CoDel drops, queue delay quantiles from sluiced).
#
# Usage: aqm-netns.sh [-t SECONDS] [-r MBIT] SLUICED SLUICECTL [QUEUE...]
#   QUEUE: fifo, codel or fq_codel (default: all three, in that order)
# Needs root, iperf3 and ping. Output: one line per queue kind, and with
# AQM_JSON=FILE a JSON list of the same figures.
set -euo pipefail
SECONDS_RUN=25
RATE=20
while getopts "t:r:" o; do
    case $o in
        t) SECONDS_RUN=$OPTARG ;;
        r) RATE=$OPTARG ;;
        *) echo "usage: $0 [-t SECONDS] [-r MBIT] SLUICED SLUICECTL [QUEUE...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || { echo "usage: $0 [-t SECONDS] [-r MBIT] SLUICED SLUICECTL [QUEUE...]" >&2; exit 2; }
SLUICED=$1
SLUICECTL=$2
shift 2
QUEUES=("$@")
[ ${#QUEUES[@]} -gt 0 ] || QUEUES=(fifo codel fq_codel)
for q in "${QUEUES[@]}"; do
    case $q in fifo | codel | fq_codel) ;; *) echo "unknown queue kind '$q' (fifo, codel, fq_codel)" >&2; exit 2 ;; esac
done
[ "$SECONDS_RUN" -ge 8 ] 2>/dev/null || { echo "-t must be a whole number of seconds, at least 8" >&2; exit 2; }

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../tests/e2e/e2e-common.sh"

# Pings: one every 100 ms from 3 s into the run until 2 s before its end.
PINGS=$(( (SECONDS_RUN - 5) * 10 ))
RESULTS=()

run_one() {  # run_one QUEUE
    local q=$1
    cat >"$WORK/policy.toml" <<TOML
version = 1
[upload]
rate = "${RATE}mbit"
overhead = "ethernet"
default_class = "only"
[[upload.class]]
name = "only"
rate = "${RATE}mbit"
queue = "$q"
[download]
rate = "1gbit"
TOML
    SOCK="$WORK/sluiced.sock"
    "$SLUICED" --lan "net_af_packet0,iface=$TOPO_LAN_IF,framecnt=4096" --wan "net_af_packet1,iface=$TOPO_WAN_IF,framecnt=4096" \
        --policy "$WORK/policy.toml" --socket "$SOCK" >"$WORK/sluiced.log" 2>&1 &
    SLUICED_PID=$!
    wait_for_sluiced "$WORK/sluiced.log" "$SLUICED_PID" || fail "sluiced did not start"
    ip netns exec "$TOPO_WAN_NS" iperf3 -s -B "$TOPO_WAN_ADDR" >/dev/null 2>&1 &
    IPERF_PID=$!
    sleep 0.5
    ip netns exec "$TOPO_LAN_NS" iperf3 -c "$TOPO_WAN_ADDR" -P 4 -t "$SECONDS_RUN" -J >"$WORK/iperf-$q.json" &
    local client=$!
    sleep 3
    ip netns exec "$TOPO_LAN_NS" ping -Q 0xb8 -c "$PINGS" -i 0.1 -W 2 "$TOPO_WAN_ADDR" >"$WORK/ping-$q.txt" || true
    wait "$client" || fail "iperf3 failed with queue $q"
    "$SLUICECTL" --socket "$SOCK" --json stats >"$WORK/stats-$q.json" || fail "sluicectl stats failed"
    kill "$IPERF_PID"; wait "$IPERF_PID" 2>/dev/null || true
    IPERF_PID=
    kill -TERM "$SLUICED_PID"; wait "$SLUICED_PID" 2>/dev/null || true
    SLUICED_PID=
    RESULTS+=("$(/usr/bin/python3 - "$q" "$WORK/iperf-$q.json" "$WORK/ping-$q.txt" "$WORK/stats-$q.json" "$PINGS" <<'PY'
import json, re, sys
q, iperf, ping, stats, sent = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
end = json.load(open(iperf))["end"]
goodput = end["sum_received"]["bits_per_second"] / 1e6
rtts = sorted(float(m) for m in re.findall(r"icmp_seq=\d+ ttl=\d+ time=([\d.]+) ms", open(ping).read()))
def pct(p):
    return rtts[min(len(rtts) - 1, int(p * len(rtts)))] if rtts else float("nan")
cls = {c["name"]: c for c in json.load(open(stats))["policy"]["upload"]["classes"]}["only"]
print(json.dumps({
    "queue": q, "goodput_mbit": round(goodput, 2), "retransmits": end["sum_sent"].get("retransmits", 0),
    "ping_p50_ms": pct(0.5), "ping_p99_ms": pct(0.99), "ping_sent": sent, "ping_lost": sent - len(rtts),
    "sent_packets": cls["sent_packets"], "codel_drops": cls["drops"].get("codel", 0),
    "queue_limit_drops": cls["drops"].get("queue_limit", 0),
    "class_delay_p50_ms": cls.get("delay_p50_us", 0) / 1000, "class_delay_p99_ms": cls.get("delay_p99_us", 0) / 1000,
}))
PY
)")
}

topo_up "$ID"
for q in "${QUEUES[@]}"; do run_one "$q"; done

/usr/bin/python3 - "${AQM_JSON:-}" "${RESULTS[@]}" <<'PY'
import json, sys
rows = [json.loads(r) for r in sys.argv[2:]]
print(f"{'queue':9} {'goodput':>9} {'retrans':>8} {'ping p50':>9} {'ping p99':>9} {'lost':>8} {'sent pkts':>10} {'codel drops':>12} {'limit drops':>12}  queue p50/p99 ms (sluiced)")
for r in rows:
    print(f"{r['queue']:9} {r['goodput_mbit']:>9.2f} {r['retransmits']:>8} {r['ping_p50_ms']:>9.2f} {r['ping_p99_ms']:>9.2f} "
          f"{r['ping_lost']:>4}/{r['ping_sent']:<3} {r['sent_packets']:>10} {r['codel_drops']:>12} {r['queue_limit_drops']:>12}  {r['class_delay_p50_ms']:.2f}/{r['class_delay_p99_ms']:.2f}")
if sys.argv[1]:
    json.dump(rows, open(sys.argv[1], "w"), indent=1)
PY
