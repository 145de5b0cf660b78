#!/bin/bash
# End to end: the class tree changes while traffic crosses sluiced.
#   - `policy load` of a file with new classes (a group with a capped video
#     class inside) and a changed bulk rate is applied live: the reply counts
#     what was kept, changed, added; a UDP flow sent to the new class gets
#     its 4 Mbit/s cap; bulk keeps its counters (it is the same class);
#   - EF pings through the kept voice class lose nothing across the changes;
#   - loading the old file again removes the new classes; their traffic
#     falls back to the default class;
#   - SIGHUP reloads a changed file the same way;
#   - a file that changes the link's overhead model is refused whole.
# Usage: class_tree_netns.sh SLUICED SLUICECTL
set -euo pipefail
SLUICED=$1
SLUICECTL=$2
. "$(dirname "$0")/e2e-common.sh"
# Rates are judged in real time: a failure while the host steals the vCPUs is a skip.
steal_mark

common() {
    cat <<'TOML'
version = 1
[upload]
rate = "20mbit"
overhead = "ethernet"
default_class = "bulk"
[[upload.class]]
name = "voice"
rate = "2mbit"
priority = 0
queue = "fifo"
limit = 100
TOML
}
tail_part() {
    cat <<'TOML'
[download]
rate = "100mbit"
[[rule]]
name = "voice-ef"
dscp = "EF"
upload_class = "voice"
TOML
}
# Two classes: voice and bulk.
{ common; printf '[[upload.class]]\nname = "bulk"\nrate = "18mbit"\npriority = 5\nqueue = "fq_codel"\n'; tail_part; } >"$WORK/small.toml"
# Four: a media group with a video class capped at 4 Mbit/s, bulk at 12.
{ common
  printf '[[upload.class]]\nname = "media"\nrate = "6mbit"\nceil = "20mbit"\n'
  printf '[[upload.class]]\nname = "video"\nparent = "media"\nrate = "4mbit"\nceil = "4mbit"\npriority = 2\nqueue = "fifo"\nlimit = 200\n'
  printf '[[upload.class]]\nname = "bulk"\nrate = "12mbit"\npriority = 5\nqueue = "fq_codel"\n'
  tail_part
  printf '[[rule]]\nname = "video-udp"\nprotocol = "udp"\ndst_port = 5004\nupload_class = "video"\n'
} >"$WORK/big.toml"

topo_up "$ID"
SOCK="$WORK/sluiced.sock"
cp "$WORK/small.toml" "$WORK/policy.toml"
"$SLUICED" --lan "net_af_packet0,iface=$TOPO_LAN_IF,framecnt=4096" --wan "net_af_packet1,iface=$TOPO_WAN_IF,framecnt=4096" \
    --policy "$WORK/policy.toml" --socket "$SOCK" >"$WORK/sluiced.log" 2>&1 &
SLUICED_PID=$!
wait_for_sluiced "$WORK/sluiced.log" "$SLUICED_PID" || fail "sluiced did not start"

ip netns exec "$TOPO_WAN_NS" iperf3 -s -B "$TOPO_WAN_ADDR" >/dev/null 2>&1 &
BACKGROUND_PIDS+=($!)
ip netns exec "$TOPO_WAN_NS" iperf3 -s -B "$TOPO_WAN_ADDR" -p 5004 >/dev/null 2>&1 &
BACKGROUND_PIDS+=($!)
sleep 0.5

# class NAME FIELD: a class's counter from sluiced's own statistics.
class() {
    "$SLUICECTL" --socket "$SOCK" --json stats | /usr/bin/python3 -c '
import json, sys
c = {x["name"]: x for x in json.load(sys.stdin)["policy"]["upload"]["classes"]}
print(c[sys.argv[1]].get(sys.argv[2], 0) if sys.argv[1] in c else "absent")' "$1" "$2"
}

# A bulk upload and EF pings across every change that follows.
ip netns exec "$TOPO_LAN_NS" iperf3 -c "$TOPO_WAN_ADDR" -t 16 >/dev/null &
BULK=$!
ip netns exec "$TOPO_LAN_NS" ping -Q 0xb8 -c 300 -i 0.05 -W 1 "$TOPO_WAN_ADDR" >"$WORK/ping-ef.txt" &
PING=$!
sleep 2

echo "== policy load with new classes, while traffic runs"
BULK_BEFORE=$(class bulk sent_packets)
CLASSIFIED_BEFORE=$(class bulk classified_packets)
EF_BEFORE=$("$SLUICECTL" --socket "$SOCK" --json stats | /usr/bin/python3 -c '
import json, sys
print(next(r["hits"] for r in json.load(sys.stdin)["policy"]["upload"]["rules"] if r["name"] == "voice-ef"))')
out=$("$SLUICECTL" --socket "$SOCK" policy load "$WORK/big.toml") || fail "policy with new classes refused: $out"
echo "$out" | sed 's/^/   /'
grep -q "upload classes: 3 kept (1 changed), 2 added, 0 removed" <<<"$out" || fail "the reply does not say what changed"
"$SLUICECTL" --socket "$SOCK" show classes >"$WORK/classes.txt"
grep -q "video rate 4mbit ceil 4mbit" "$WORK/classes.txt" || fail "video not shown: $(cat "$WORK/classes.txt")"
grep -q "bulk rate 12mbit" "$WORK/classes.txt" || fail "bulk's new rate not shown: $(cat "$WORK/classes.txt")"
sleep 0.5
BULK_AFTER=$(class bulk sent_packets)
[ "$BULK_AFTER" -ge "$BULK_BEFORE" ] || fail "bulk's counters restarted ($BULK_BEFORE then $BULK_AFTER): not the same class"
# The classifier's counters run on across the new tables too.
CLASSIFIED_AFTER=$(class bulk classified_packets)
EF_AFTER=$("$SLUICECTL" --socket "$SOCK" --json stats | /usr/bin/python3 -c '
import json, sys
print(next(r["hits"] for r in json.load(sys.stdin)["policy"]["upload"]["rules"] if r["name"] == "voice-ef"))')
echo "   bulk classified $CLASSIFIED_BEFORE then $CLASSIFIED_AFTER packets; rule voice-ef hit $EF_BEFORE then $EF_AFTER times"
[ "$CLASSIFIED_AFTER" -ge "$CLASSIFIED_BEFORE" ] || fail "bulk's classified packets stepped back"
[ "$EF_AFTER" -ge "$EF_BEFORE" ] && [ "$EF_BEFORE" -gt 0 ] || fail "rule hits stepped back ($EF_BEFORE then $EF_AFTER)"

echo "== the new video class gets its 4 Mbit/s cap"
ip netns exec "$TOPO_LAN_NS" iperf3 -u -b 10M -c "$TOPO_WAN_ADDR" -p 5004 -t 5 >/dev/null &
UDP=$!
sleep 1.5
# Bytes, packets and the time of one stats reading: the middle of the
# call, so that a slow start of sluicectl on a busy host does not count as
# time the class had to send in.
video_sample() {
    local t0 t1 counts
    t0=$(date +%s.%N)
    counts=$("$SLUICECTL" --socket "$SOCK" --json stats | /usr/bin/python3 -c '
import json, sys
c = {x["name"]: x for x in json.load(sys.stdin)["policy"]["upload"]["classes"]}
print(c["video"]["sent_bytes"], c["video"]["sent_packets"])')
    t1=$(date +%s.%N)
    echo "$counts $(/usr/bin/python3 -c "print(($t0 + $t1) / 2)")"
}
read -r A PA TA <<<"$(video_sample)"
sleep 3
read -r B PB TB <<<"$(video_sample)"
wait "$UDP" || true
/usr/bin/python3 - "$A" "$B" "$PA" "$PB" "$TA" "$TB" <<'PY' || fail "video is not held to its ceil"
import sys
a, b, pa, pb = (int(x) for x in sys.argv[1:5])
ta, tb = float(sys.argv[5]), float(sys.argv[6])
frame = (b - a) / max(pb - pa, 1)
rate = (b - a) * 8 / (tb - ta)
# 4 Mbit/s on the wire, where each frame carries 24 bytes more (Ethernet).
expected = 4e6 * frame / (frame + 24)
print(f"   video sends {rate/1e6:.3f} Mbit/s of {frame:.0f}-byte frames (expected {expected/1e6:.3f})")
sys.exit(0 if 0.97 * expected <= rate <= 1.03 * expected else 1)
PY

echo "== loading the old file removes the new classes; their traffic goes to the default"
sleep 1
out=$("$SLUICECTL" --socket "$SOCK" policy load "$WORK/small.toml") || fail "the smaller tree was refused: $out"
echo "$out" | sed 's/^/   /'
grep -q "upload classes: 3 kept (1 changed), 0 added, 2 removed" <<<"$out" || fail "the reply does not say what changed"
[ "$(class video sent_bytes)" = absent ] || fail "video still listed"
B1=$(class bulk sent_packets)
ip netns exec "$TOPO_LAN_NS" iperf3 -u -b 2M -c "$TOPO_WAN_ADDR" -p 5004 -t 1 >/dev/null || fail "UDP after the removal failed"
B2=$(class bulk sent_packets)
[ "$B2" -gt "$B1" ] || fail "traffic of the removed class does not reach the default class"

echo "== SIGHUP applies a changed tree from the file"
cp "$WORK/big.toml" "$WORK/policy.toml"
"$SLUICECTL" --socket "$SOCK" policy load "$WORK/policy.toml" >/dev/null || fail "reload of the bigger tree refused"
cp "$WORK/small.toml" "$WORK/policy.toml"
kill -HUP "$SLUICED_PID"
for _ in $(seq 50); do
    grep -q "SIGHUP: policy $WORK/policy.toml reloaded" "$WORK/sluiced.log" && break
    sleep 0.1
done
grep -q "SIGHUP: policy $WORK/policy.toml reloaded" "$WORK/sluiced.log" || fail "SIGHUP did not reload"
[ "$(class video sent_bytes)" = absent ] || fail "SIGHUP did not remove video"

echo "== a file that changes the link's overhead model is refused; nothing changes"
sed 's/overhead = "ethernet"/overhead = "raw"/' "$WORK/big.toml" >"$WORK/raw.toml"
if out=$("$SLUICECTL" --socket "$SOCK" policy load "$WORK/raw.toml" 2>&1); then fail "overhead change accepted: $out"; fi
grep -q "overhead (overhead, mpu, framing) changes only at a restart" <<<"$out" || fail "unclear refusal: $out"
[ "$(class video sent_bytes)" = absent ] || fail "the refused file changed the classes"

wait "$PING" || true
wait "$BULK" || fail "the bulk upload failed across the changes"
received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$WORK/ping-ef.txt")
echo "   EF pings across all changes: $received of 300 answered"
[ "$received" -eq 300 ] || fail "EF pings were lost across the changes ($received of 300)"
! grep -q "failed" "$WORK/sluiced.log" || fail "sluiced logged a failure"

stop_sluiced
echo "PASS"
