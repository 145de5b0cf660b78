#!/bin/bash
# Shaping accuracy with two workers per direction: one class tree split over
# two schedulers must shape like one.
#
# A LAN host and a WAN host in their own namespaces, joined through sluiced on
# ports with two queue pairs (veths with two rx and two tx queues, af_packet
# qpairs=2). The upload is shaped to 100 Mbit/s on the wire (overhead
# "ethernet"), with two bulk leaves on different workers (a leaf under the
# root belongs to the worker its id names, dataplane::owner_of): "a" (id 1,
# worker 1) and "b" (id 2, worker 0), each
# assured 5 Mbit/s and allowed the whole link. iperf3 offers 120 Mbit/s of UDP
# (on the wire) to them, split 50/50, 90/10 and 100/0; the rates are read
# from sluiced's own per-class counters over a steady window. Then the same
# policy and the same load through `sluiced --workers 1` (one queue pair),
# the reference. The test requires, in every split:
#   - the aggregate (all classes) within 1% of the 100 Mbit/s root, with one
#     worker and with two: an idle worker's share of the root must go to the
#     busy one, or one worker alone gets half the link;
#   - each class's rate with two workers within 2% of the root (2 Mbit/s) of
#     its rate with one.
# And with bulk saturating worker 1, a priority-0 leaf "voice" (id 4, worker 0)
# carrying irtt's 100 packets/s keeps its queueing delay p99 (the shaper's
# own histogram) under 2 ms; irtt's round trip is printed beside it.
#
# Each worker has a CPU of its own (lcores 0@0,1@0,2@1: the control thread,
# which mostly sleeps, shares worker 0's): a worker with packets queued spins,
# and two on one CPU lose tokens whenever one is switched out. A miss
# measured while the host kept a worker off its CPU is a skip (WAIT_LIMIT),
# so is one whose stalls (sluiced's count of gaps over 1 ms between a
# worker's turns) held packets beyond what the shaper makes up, and so is
# one in a window where less than 105% of the root reached
# sluiced's LAN link (the generators started late or fell behind); iperf3's
# own per-second reports of a split that missed are printed.
#
# Usage: workers_accuracy_netns.sh SLUICED SLUICECTL
# Needs root (namespaces, veths); exits 77 (skipped) without it.
set -euo pipefail

SLUICED=$1
SLUICECTL=$2
. "$(dirname "$0")/e2e-common.sh"
# Rates are judged in real time: a failure while the host steals the vCPUs is a skip.
steal_mark

ROOT_BPS=100000000
# UDP payload per datagram; the frame is 42 bytes more (Ethernet, IPv4, UDP
# headers) and costs 24 bytes more on the wire (preamble, FCS, gap).
PAYLOAD=1400
WIRE=$((PAYLOAD + 42 + 24))
OFFERED_BPS=120000000   # on the wire, both classes together: 120% of the root
WARMUP=1.5              # seconds from the load's arrival to the window: queues fill, shares settle
WINDOW=4                # seconds between the two readings of the counters

topo_up "$ID" 2

cat >"$WORK/policy.toml" <<'TOML'
version = 1
[upload]
rate = "100mbit"
overhead = "ethernet"
default_class = "other"
[[upload.class]]
name = "a"
rate = "5mbit"
ceil = "100mbit"
queue = "fifo"
limit = 300
[[upload.class]]
name = "b"
rate = "5mbit"
ceil = "100mbit"
queue = "fifo"
limit = 300
[[upload.class]]
name = "other"
rate = "1mbit"
ceil = "100mbit"
[[upload.class]]
name = "voice"
rate = "2mbit"
ceil = "100mbit"
priority = 0
queue = "fifo"
limit = 100
[download]
rate = "1gbit"
overhead = "ethernet"
[[rule]]
name = "to-a"
protocol = "udp"
dst_port = "5210-5229"
upload_class = "a"
[[rule]]
name = "to-b"
protocol = "udp"
dst_port = "5230-5249"
upload_class = "b"
[[rule]]
name = "irtt"
protocol = "udp"
dst_port = 2112
upload_class = "voice"
TOML

ip netns exec "$TOPO_WAN_NS" irtt server -b "$TOPO_WAN_ADDR:2112" >"$WORK/irtt-server.log" 2>&1 &
BACKGROUND_PIDS+=($!)

SOCK="$WORK/sluiced.sock"
# start_sluiced WORKERS: on ports with as many queue pairs as workers.
start_sluiced() {
    local n=$1 lcores=0@0,1@1
    [ "$n" -eq 2 ] && lcores=${E2E_LCORES:-0@0,1@0,2@1}
    "$SLUICED" --lan "net_af_packet0,iface=$TOPO_LAN_IF,framecnt=4096,qpairs=$n" \
        --wan "net_af_packet1,iface=$TOPO_WAN_IF,framecnt=4096,qpairs=$n" \
        --socket "$SOCK" --workers "$n" --lcores "$lcores" \
        --policy "$WORK/policy.toml" --policy-dir "$WORK" >"$WORK/sluiced.log" 2>&1 &
    SLUICED_PID=$!
    wait_for_sluiced "$WORK/sluiced.log" "$SLUICED_PID" || fail "sluiced --workers $n did not start within 10 s"
    ip netns exec "$TOPO_LAN_NS" ping -c 2 -i 0.2 -W 2 "$TOPO_WAN_ADDR" >/dev/null ||
        fail "ping did not cross sluiced --workers $n"
}

# sample FILE: appends one reading of the upload classes' counters, with its
# time: the middle of the call, so that a slow start of sluicectl on a busy
# host does not count as time the classes had to send in.
sample() {
    /usr/bin/python3 - "$SLUICECTL" "$SOCK" "$SLUICED_PID" "$TOPO_LAN_IF" >>"$1" <<'PY' || fail "sluicectl stats failed"
import glob, json, subprocess, sys, time
# How long each of sluiced's threads has waited for a CPU while runnable
# (schedstat's second field, ns): a worker with packets queued never sleeps,
# so its waits are time the host gave its CPU to something else.
waits = {}
for task in glob.glob(f"/proc/{sys.argv[3]}/task/*"):
    try:
        comm = open(f"{task}/comm").read().strip()
        waits[f"{comm}/{task.rsplit('/', 1)[1]}"] = [int(x) for x in open(f"{task}/schedstat").read().split()[1:3]]
    except OSError:
        pass
# What the LAN host put on its link to sluiced (the veth's end that
# sluiced reads): the load offered, whatever sluiced did with it.
rx = {k: int(open(f"/sys/class/net/{sys.argv[4]}/statistics/rx_{k}").read()) for k in ("packets", "bytes")}
t0 = time.monotonic()
out = subprocess.run([sys.argv[1], "--socket", sys.argv[2], "--json", "stats"],
                     check=True, capture_output=True, text=True).stdout
t1 = time.monotonic()
stats = json.loads(out)
classes = stats["policy"]["upload"]["classes"]
upload = next(d for d in stats["directions"] if d["name"] == "upload")
print(json.dumps({"t": (t0 + t1) / 2, "classes": {c["name"]: c for c in classes}, "workers": upload["workers"],
                  "tsc_hz": upload["tsc_hz"], "offered": rx, "waits": waits}))
PY
}

# offer LABEL SHARE_A SHARE_B DURATION: iperf3 UDP to the two classes, SHARE
# percent of the offered load each (0: none), for DURATION seconds, in the
# background (pids in CLIENTS). Every test has server ports of its own (a:
# 5210-5229, b: 5230-5249): datagrams of the test before, still queued in
# sluiced or in a socket, must not reach the next test's server, which would
# take one of them for its new client and fail ("unable to read from stream
# socket").
CLIENTS=()
TEST_NO=0
offer() {
    local label=$1 duration=$4 side port share rate
    CLIENTS=()
    for side in a b; do
        if [ $side = a ]; then share=$2 port=$((5210 + TEST_NO)); else share=$3 port=$((5230 + TEST_NO)); fi
        [ "$share" -gt 0 ] || continue
        ip netns exec "$TOPO_WAN_NS" iperf3 -s -1 -p "$port" -B "$TOPO_WAN_ADDR" \
            >"$WORK/iperf-$label-$side-server.txt" 2>&1 &
        BACKGROUND_PIDS+=($!)
    done
    sleep 0.3
    for side in a b; do
        if [ $side = a ]; then share=$2 port=$((5210 + TEST_NO)); else share=$3 port=$((5230 + TEST_NO)); fi
        [ "$share" -gt 0 ] || continue
        # iperf3's -b counts UDP payload: scale the wire rate down to it.
        rate=$((OFFERED_BPS * share * PAYLOAD / (100 * WIRE)))
        ip netns exec "$TOPO_LAN_NS" iperf3 -c "$TOPO_WAN_ADDR" -p "$port" -u -b "$rate" -l "$PAYLOAD" \
            -t "$duration" >"$WORK/iperf-$label-$side.txt" 2>&1 &
        CLIENTS+=($!)
    done
    TEST_NO=$((TEST_NO + 1))
}
wait_clients() {
    local p
    for p in "${CLIENTS[@]}"; do
        wait "$p" || fail "iperf3 client failed: $(cat "$WORK"/iperf-*.txt)"
    done
    CLIENTS=()
}

# wait_for_load: returns once the LAN host's load reaches sluiced's link at
# more than the root (over 100 ms), or after 5 s: the window is measured
# from when the load is there, however long iperf3 took to set its tests up
# (each client sends for its whole -t once its test starts). Says so when
# that took more than a second.
wait_for_load() {
    local f="/sys/class/net/$TOPO_LAN_IF/statistics/rx_bytes" start now t0 t1 b0 b1
    start=$(date +%s%N)
    t0=$start b0=$(cat "$f")
    while :; do
        sleep 0.1
        t1=$(date +%s%N) b1=$(cat "$f")
        if [ $(((b1 - b0) * 8 * 1000000000 / (t1 - t0))) -gt "$ROOT_BPS" ]; then
            [ $((t1 - start)) -le 1000000000 ] ||
                echo "note: the load reached sluiced's LAN link $(((t1 - start) / 1000000)) ms after the clients started"
            return 0
        fi
        if [ $((t1 - start)) -gt 5000000000 ]; then
            echo "note: the load did not reach sluiced's LAN link at the root's rate within 5 s"
            return 0
        fi
        t0=$t1 b0=$b1
    done
}

SPLITS="50:50 90:10 100:0"
run_splits() {  # run_splits WORKERS: one reading pair per split into $WORK/rates-WORKERS-SPLIT.jsonl
    local n=$1 split a b
    for split in $SPLITS; do
        a=${split%:*} b=${split#*:}
        offer "$n-$a-$b" "$a" "$b" 7
        wait_for_load
        sleep "$WARMUP"
        sample "$WORK/rates-$n-$a-$b.jsonl"
        sleep "$WINDOW"
        sample "$WORK/rates-$n-$a-$b.jsonl"
        # The rebalancer's state under load, printed if the test fails.
        { echo "== $split"; "$SLUICECTL" --socket "$SOCK" status; } >>"$WORK/status-$n.txt" 2>&1 || true
        wait_clients
    done
}

echo "== sluiced --workers 2 (two queue pairs)"
start_sluiced 2
"$SLUICECTL" --socket "$SOCK" --json show classes >"$WORK/classes.json" || fail "show classes failed"
grep -E "queue pairs|worker [01]|lcore" "$WORK/sluiced.log" || true
run_splits 2

echo "== priority 0 on worker 0 while bulk saturates worker 1"
offer prio 100 0 8
wait_for_load
sleep 1
sample "$WORK/prio.jsonl"
ip netns exec "$TOPO_LAN_NS" irtt client -Q -i 10ms -d 5s -o "$WORK/irtt.json" "$TOPO_WAN_ADDR:2112" ||
    fail "irtt failed"
sample "$WORK/prio.jsonl"
wait_clients
stop_sluiced "with two workers"
cp "$WORK/sluiced.log" "$WORK/sluiced-2.log"

echo "== sluiced --workers 1 (one queue pair), the reference"
start_sluiced 1
run_splits 1
stop_sluiced "with one worker"

rc=0
/usr/bin/python3 - "$WORK" "$ROOT_BPS" "$SPLITS" <<'PY' || rc=$?
import glob, json, sys
work, root, splits = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
OVERHEAD = 24  # overhead = "ethernet": each frame costs 24 bytes more on the wire (mpu 84 never binds here)
# The load must reach sluiced's LAN link at more than the root, or the root
# is not what limits the classes: iperf3 offers 120%, and a window in which
# less than 105% arrived (the generators started late or fell behind)
# measures the generators, not the shaper.
OFFERED_LIMIT = 1.05
# A worker with packets queued spins; if the host kept one off its CPU for
# more than a quarter of a window (other processes, the traffic generators
# themselves), or for more than 5% in long spells (a bucket holds about a
# millisecond: a longer wait loses tokens), what it sent in that window says
# nothing about the shaper. A quiet run measures 0-20% in waits of tens of
# microseconds (the generators' wake-ups); a compiler beside it, waits of
# milliseconds.
WAIT_LIMIT = 0.25
WAIT_SPELL_SHARE, WAIT_SPELL_LIMIT_US = 0.05, 150
# sluiced counts the gaps of more than a millisecond between a worker's
# turns while packets waited (stalls); the shaper makes up the first 10 ms
# of each (SchedulerConfig::catch_up_us). What a window's stalls held back
# beyond that, over a quarter of a percent of it, is the host's doing.
CATCH_UP_S = 0.010
LOST_LIMIT = 0.0025

def window(name):
    first, second = (json.loads(l) for l in open(f"{work}/{name}.jsonl"))
    dt = second["t"] - first["t"]
    rates, packets = {}, {}
    for cls, c in second["classes"].items():
        c0 = first["classes"][cls]
        packets[cls] = c["sent_packets"] - c0["sent_packets"]
        rates[cls] = ((c["sent_bytes"] - c0["sent_bytes"]) + OVERHEAD * packets[cls]) * 8 / dt
    for w, c in second["workers"].items():
        packets["worker " + w] = c["tx_packets"] - first["workers"][w]["tx_packets"]
    rx = {k: second["offered"][k] - first["offered"][k] for k in ("packets", "bytes")}
    cond = {"offered": (rx["bytes"] + OVERHEAD * rx["packets"]) * 8 / dt}
    workers = [t for t in second["waits"] if t.startswith("rte-worker") and t in first["waits"]]
    cond["wait"] = max((second["waits"][t][0] - first["waits"][t][0]) / 1e9 / dt for t in workers)
    # Mean wait per time the thread was put on a CPU (schedstat's third field).
    cond["spell"] = max((second["waits"][t][0] - first["waits"][t][0]) / 1e3 /
                        max(1, second["waits"][t][1] - first["waits"][t][1]) for t in workers)
    stalls = {w: (c["stalls"] - first["workers"][w]["stalls"],
                  (c["stalled_cycles"] - first["workers"][w]["stalled_cycles"]) / second["tsc_hz"])
              for w, c in second["workers"].items()}
    cond["stalls"] = sum(n for n, _ in stalls.values())
    cond["stalled"] = max(s for _, s in stalls.values())
    cond["lost"] = max(max(0.0, s - CATCH_UP_S * n) for n, s in stalls.values()) / dt
    return rates, packets, cond, second

ok, unjudged, explain = True, [], []
def noisy(c):
    return c["wait"] > WAIT_LIMIT or (c["wait"] > WAIT_SPELL_SHARE and c["spell"] > WAIT_SPELL_LIMIT_US)

def verdict(bad, conds, what, label=None, offered=True):
    """conds: those of every window the checks used; label: the iperf3 runs
    whose outputs explain a miss; offered: whether the check needs the
    load above the root."""
    global ok
    if not bad:
        return ""
    if label:
        explain.append(label)
    for c in conds:
        if noisy(c):
            reason = f"a worker waited {c['wait']*100:.0f}% of a window for a CPU, {c['spell']:.0f} us at a time"
        elif c["lost"] > LOST_LIMIT:
            reason = f"a worker's stalls held packets {c['lost']*100:.2f}% of a window beyond what the shaper makes up"
        elif offered and c["offered"] < OFFERED_LIMIT * root:
            reason = (f"only {c['offered']/1e6:.1f} Mbit/s reached sluiced's LAN link in a window, "
                      f"less than {OFFERED_LIMIT*100:.0f}% of the root")
        else:
            continue
        unjudged.append(what)
        return f"  (unjudged: {reason})"
    ok = False
    return "  FAIL: " + "; ".join(bad)

def show(c):
    return f"{c['wait']*100:.0f}%/{c['spell']:.0f}us"

def show_stalls(c):
    return f"{c['stalls']}/{c['stalled']*1e3:.1f}ms"

# Which worker sends which class: a is class 1 and b class 2 in the file, so
# owner_of puts a on worker 1 and b on worker 0 (voice, 4, on 0).
# With everything offered to a (100/0), only a's owner transmits.
_, pk, wait, _ = window("rates-2-100-0")
print(f"100/0 with two workers: a sent {pk['a']} packets; worker 0 transmitted {pk['worker 0']}, "
      f"worker 1 {pk['worker 1']}")
if not (pk["worker 1"] >= 0.98 * pk["a"] and pk["worker 0"] < 0.02 * pk["a"]):
    print("FAIL: class a (id 1) is not sent by worker 1")
    ok = False

print(f"{'split a/b':>9} {'workers':>7} {'offered':>8} {'a Mbit/s':>9} {'b Mbit/s':>9} {'sum Mbit/s':>10} "
      f"{'sum-root':>8} {'a-1w':>7} {'b-1w':>7} {'cpu wait':>11} {'stalls':>10}   (wire rates from sluiced's\n"
      f"{'':>9} counters; offered: what reached the LAN link, Mbit/s; -1w in % of the root; cpu wait: the most a\n"
      f"{'':>9} worker waited for its CPU, share of the window / mean per wait; stalls: gaps of over 1 ms between\n"
      f"{'':>9} a worker's turns while packets waited, how many / the longest worker's total)")
for split in splits:
    a, b = split.split(":")
    ref, _, ref_wait, _ = window(f"rates-1-{a}-{b}")
    for n in (1, 2):
        r, _, wait, _ = window(f"rates-{n}-{a}-{b}")
        total = r["a"] + r["b"] + r["other"] + r["voice"]
        err = (total - root) / root
        line = (f"{a + '/' + b:>9} {n:>7} {wait['offered']/1e6:8.2f} {r['a']/1e6:9.2f} {r['b']/1e6:9.2f} {total/1e6:10.2f} "
                f"{err*100:+7.2f}%")
        bad = []
        if abs(err) > 0.01:
            bad.append("aggregate off the root by more than 1%")
        if n == 2:
            da, db = ((r[k] - ref[k]) / root for k in ("a", "b"))
            line += f" {da*100:+6.2f}% {db*100:+6.2f}%"
            if abs(da) > 0.02 or abs(db) > 0.02:
                bad.append("a class off its one-worker rate by more than 2% of the root")
        else:
            line += " " * 16
        line += f" {show(wait):>11} {show_stalls(wait):>10}"
        print(line + verdict(bad, [wait, ref_wait], f"{a}/{b} with {n} worker(s)", f"{n}-{a}-{b}"))

# Priority 0 on worker 0 beside saturating bulk on worker 1.
_, pk, wait, last = window("prio")
voice = last["classes"]["voice"]
irtt = json.load(open(f"{work}/irtt.json"))
rtts = sorted(rt["delay"]["rtt"] for rt in irtt["round_trips"] if "rtt" in rt.get("delay", {}))
lost = len(irtt["round_trips"]) - len(rtts)
p99_rtt = rtts[min(len(rtts) - 1, int(0.99 * len(rtts)))] / 1e6 if rtts else float("nan")
print(f"voice (prio 0, worker 0) beside bulk a at 120% (worker 1): queueing delay p50 "
      f"{voice['delay_p50_us']/1000:.3f} ms, p99 {voice['delay_p99_us']/1000:.3f} ms over "
      f"{voice['delay_samples']} packets; irtt RTT median {irtt['stats']['rtt']['median']/1e6:.3f} ms, "
      f"p99 {p99_rtt:.3f} ms, {lost} of {len(irtt['round_trips'])} lost; cpu wait {show(wait)}, "
      f"stalls {show_stalls(wait)}")
bad = []
if voice["delay_samples"] < 400:
    bad.append("the voice class saw fewer than 400 of irtt's 500 packets")
if voice["delay_p99_us"] >= 2000:
    bad.append("the priority-0 class's queueing delay p99 is 2 ms or more")
print(verdict(bad, [wait], "priority 0", offered=False).strip() or "voice: p99 under 2 ms")
# iperf3's own view of a split that missed: when its datagrams left and
# when they arrived, second by second.
for label in explain:
    for path in sorted(glob.glob(f"{work}/iperf-{label}-*.txt")):
        print(f"--- {path.rsplit('/', 1)[1]}")
        print(open(path, errors="replace").read().rstrip())
sys.exit(1 if not ok else 77 if unjudged else 0)
PY
if [ "$rc" -eq 77 ]; then
    echo "SKIP: every check that failed was measured while the host kept a worker off its CPU (more than"
    echo "      a quarter of the window, or over 5% in waits of 150 us and more on average): those rates cannot be judged"
    exit 77
fi
if [ "$rc" -ne 0 ]; then
    echo "--- sluiced --workers 2: status after each split"
    cat "$WORK/status-2.txt"
    echo "--- sluiced --workers 2: log"
    cat "$WORK/sluiced-2.log"
    fail "two workers do not shape like one"
fi
echo "PASS: two workers per direction shape 100 Mbit/s like one worker in every split; priority 0 keeps p99 under 2 ms"
