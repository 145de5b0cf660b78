#!/bin/bash
# The whole pipeline on one forwarding core, against DPDK's own peers, in one
# sitting on the same input.
#
# Every contender replays the same pcap from memory (net_pcap with
# infinite_rx) into a port that discards (net_null, no-rx), one direction,
# one forwarding lcore pinned to the last allowed CPU (control on the first):
#
#   dpdk-testpmd io-forward     touches no packet data: the ceiling of the I/O
#   ip_pipeline + rte_sched     DPDK's ip_pipeline example: rx, hash lookup of
#                               the QinQ pair, rte_sched over 4,096 pipes, tx
#   qos_sched                   DPDK's qos_sched example, 4,096 pipes; its rx
#                               and scheduler threads cannot share an lcore, so
#                               both run as lcores on the same CPU
#   sluiced                     the ladder of policies, from none to 100,000
#                               classes, and the like-for-like row: 4,096
#                               subscriber classes three deep, one host rule
#                               each; then the same subscribers backlogged
#
# The input: 60-byte QinQ frames (802.1ad outer, 802.1Q inner) carrying
# IPv4/UDP for 4,096 subscribers, each its own (svlan, cvlan) pair and source
# address, interleaved so consecutive frames go to different subscribers.
#
# The peers are built from Debian's dpdk-doc example sources in
# BUILD_DIR/peers (they are not part of Sluice). Results: a table on stdout,
# BUILD_DIR/bench/whole-pipeline.json and the plots beside it.
#
# Usage: scripts/bench.sh [--smoke] [--seconds N] [--rounds N] [--out DIR] [BUILD_DIR]
#   --smoke     1 second per contender; fail unless every figure is produced
#   --seconds   measuring window per contender (default 5)
#   --rounds    run every contender N times, interleaved, and report the
#               medians (default 1; use 3 or more on a CPU shared with others)
#   --out       where the JSON and the plots go (default BUILD_DIR/bench)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SMOKE=0
SECS=5
ROUNDS=1
OUT=""
BUILD=build
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) SMOKE=1; SECS=1 ;;
        --seconds) SECS=$2; shift ;;
        --seconds=*) SECS=${1#*=} ;;
        --rounds) ROUNDS=$2; shift ;;
        --rounds=*) ROUNDS=${1#*=} ;;
        --out) OUT=$2; shift ;;
        --out=*) OUT=${1#*=} ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "bench: unknown option '$1' (see --help)" >&2; exit 2 ;;
        *) BUILD=$1 ;;
    esac
    shift
done
case "$SECS" in ''|*[!0-9]*|0) echo "bench: --seconds wants a whole number above 0, not '$SECS'" >&2; exit 2 ;; esac
case "$ROUNDS" in ''|*[!0-9]*|0) echo "bench: --rounds wants a whole number above 0, not '$ROUNDS'" >&2; exit 2 ;; esac
[ -f "$BUILD/build.ninja" ] || { echo "bench: '$BUILD' is not a meson build directory; run 'meson setup $BUILD' first" >&2; exit 2; }
BUILD=$(cd "$BUILD" && pwd)
OUT=${OUT:-$BUILD/bench}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

EXAMPLES=/usr/share/dpdk/examples
SLUICED=$BUILD/dataplane/daemon/sluiced
SLUICECTL=$BUILD/control/sluicectl
PY=/usr/bin/python3

log() { echo "bench: $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

# --- what the run needs ------------------------------------------------------
if [ ! -d "$EXAMPLES/ip_pipeline" ] || ! command -v dpdk-testpmd >/dev/null ||
   ! "$PY" -c 'import scapy, matplotlib' 2>/dev/null; then
    [ "$(id -u)" -eq 0 ] || die "dpdk-doc, dpdk, python3-scapy or python3-matplotlib missing; run scripts/install-deps.sh as root"
    "$ROOT/scripts/install-deps.sh"
fi
[ "$(id -u)" -eq 0 ] || die "must run as root (DPDK needs it for its memory and vdevs)"
if [ ! -x "$SLUICED" ] || [ ! -x "$SLUICECTL" ]; then
    ninja -C "$BUILD" dataplane/daemon/sluiced control/sluicectl >&2
fi

# The peers, from Debian's example sources, built with their own Makefiles
# against the installed libdpdk. Sources are copied again when Debian's are
# newer, so a dpdk-doc upgrade rebuilds them.
PEERS=$BUILD/peers
for app in ip_pipeline qos_sched; do
    if [ ! -f "$PEERS/$app/Makefile" ] || [ -n "$(find "$EXAMPLES/$app" -newer "$PEERS/$app/Makefile" -print -quit)" ]; then
        rm -rf "${PEERS:?}/$app"
        mkdir -p "$PEERS"
        cp -r "$EXAMPLES/$app" "$PEERS/$app"
        if [ "$app" = qos_sched ]; then
            # qos_sched checks its lcore ids against the number of CPUs in
            # /sys, not against the EAL's lcores, so a run that maps its
            # three lcores onto two CPUs (--lcores 2@N) is refused on a
            # two-CPU machine. Only that check is relaxed; the data path is
            # Debian's as shipped.
            sed -i 's/nb_lcores = app_cpu_core_count();/nb_lcores = RTE_MAX_LCORE;/' "$PEERS/$app/args.c"
        fi
    fi
    log "building peer $app in $PEERS/$app"
    make -s -C "$PEERS/$app" -j2 >"$PEERS/$app.build.log" 2>&1 ||
        { tail -20 "$PEERS/$app.build.log" >&2; die "building $app failed (log: $PEERS/$app.build.log)"; }
done

# --- the run's environment ---------------------------------------------------
# Control on the first allowed CPU, the forwarding lcore on the last.
. scripts/bench-common.sh
bench_begin sluice-bench
[ "$FIRST" != "$LAST" ] || log "only CPU $FIRST is allowed: control and forwarding share it"

# Hugepages when mounted with at least 1 GB free, else plain memory.
HUGE_FREE_KB=$(awk '/HugePages_Free/{f=$2} /Hugepagesize/{s=$2} END{print f*s}' /proc/meminfo)
if grep -q hugetlbfs /proc/mounts && [ "${HUGE_FREE_KB:-0}" -ge 1048576 ]; then
    EAL_MEM=(-m 1024 --in-memory)
    SLUICE_MEM=(--hugepages on)
    MEMORY="hugepages"
else
    EAL_MEM=(--no-huge -m 1024 --no-shconf)
    SLUICE_MEM=(--hugepages off --memory 1024)
    MEMORY="4 KiB pages (--no-huge, 1 GB)"
fi
LCORES="0@$FIRST,1@$LAST"
EAL_COMMON=(--no-pci --log-level=error)
# The input is generated once per output directory (scapy is slow on a busy
# machine) and again whenever its generator below changes.
GEN_PCAP=$(cat <<'PY'
import sys, logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, Dot1AD, Dot1Q, IP, UDP, Raw, wrpcap
# Subscriber i: svlan 100 + i/64 (64 groups), cvlan i (qos_sched takes its
# pipe from the cvlan's 12 bits, so all 4,096 values are used), source
# 10.1.i/256.i%256, UDP source port 1024 + i, DSCP from a set of four. The
# order strides by 1031 (prime to 4,096) so neighbours differ in group and
# subscriber, as arrivals at a real edge do.
n = 4096
dscp = [0, 10, 34, 46]
pkts = []
for j in range(n):
    i = (j * 1031) % n
    p = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
         Dot1AD(vlan=100 + i // 64) / Dot1Q(vlan=i) /
         IP(src=f"10.1.{i >> 8}.{i & 255}", dst="192.0.2.1", tos=dscp[i % 4] << 2) /
         UDP(sport=1024 + i, dport=5001))
    p = p / Raw(b"\x00" * (60 - len(p)))
    assert len(p) == 60
    pkts.append(p)
wrpcap(sys.argv[1], pkts)
PY
)
PCAP=$OUT/input/qinq-4096-$(printf '%s' "$GEN_PCAP" | sha1sum | cut -c1-12).pcap
if [ ! -s "$PCAP" ]; then
    log "generating the input: $PCAP"
    mkdir -p "$OUT/input"
    "$PY" -c "$GEN_PCAP" "$PCAP.tmp" || die "generating the input pcap failed"
    mv "$PCAP.tmp" "$PCAP"
fi
IN="net_pcap0,rx_pcap=$PCAP,infinite_rx=1"
OUT_PORT="net_null0,no-rx=1"

RESULTS=$WORK/results.tsv
: >"$RESULTS"
# record ID LABEL PPS CORE_SHARE NOTE [EXPECTED_PPS]
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6:-}" >>"$RESULTS"; }

# CPU time (clock ticks) of a process's DPDK lcore threads: how much of the
# forwarding CPU each contender really got on a shared machine.
worker_ticks() {
    local t sum=0
    for t in /proc/"$1"/task/*; do
        case "$(cat "$t/comm" 2>/dev/null)" in
            rte-worker-*|lcore-worker-*)
                sum=$((sum + $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null || echo 0))) ;;
        esac
    done
    echo "$sum"
}
HZ=$(getconf CLK_TCK)
share() { "$PY" -c "import sys; a, b, s = map(float, sys.argv[1:]); print(f'{(b - a) / $HZ / s:.2f}')" "$1" "$2" "$3"; }
now() { date +%s.%N; }
rate() { "$PY" -c "import sys; a, b, t0, t1 = map(float, sys.argv[1:]); print(int((b - a) / (t1 - t0)))" "$1" "$2" "$3" "$4"; }
stop() {
    kill "-${2:-TERM}" "$1" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
median() { sort -n | awk '{a[NR]=$1} END{print (NR ? a[int((NR+1)/2)] : 0)}'; }

# --- dpdk-testpmd --------------------------------------------------------------
# Driven over its interactive prompt so that, as for every contender, the
# rate is the transmitting port's packet counter over a timed window.
run_testpmd() {
log "dpdk-testpmd io-forward, ${SECS}s"
local TP_OUT TESTPMD TP_SHARE
TP_OUT=$("$PY" - "$SECS" "$HZ" stdbuf -oL dpdk-testpmd "${EAL_MEM[@]}" "${EAL_COMMON[@]}" \
    --file-prefix "sbt$$" --lcores "$LCORES" --vdev "$IN" --vdev "$OUT_PORT" -- \
    -i --forward-mode=io --nb-cores=1 --auto-start <<'PY'
import os, re, select, signal, subprocess, sys, time
secs, hz, cmd = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
def until_prompt(timeout=60):
    buf, end = b"", time.time() + timeout
    while not buf.endswith(b"testpmd> "):
        if not select.select([p.stdout], [], [], max(0, end - time.time()))[0]:
            raise SystemExit("testpmd: no prompt")
        chunk = p.stdout.read1(4096)
        if not chunk:
            raise SystemExit("testpmd exited: " + buf.decode(errors="replace")[-500:])
        buf += chunk
    return buf.decode(errors="replace")
def tx():
    p.stdin.write(b"show port stats 1\n"); p.stdin.flush()
    out = until_prompt()
    while "TX-packets" not in out:
        out += until_prompt()
    return int(re.search(r"TX-packets:\s*(\d+)", out).group(1))
def ticks():
    total = 0
    for t in os.listdir(f"/proc/{p.pid}/task"):
        try:
            if open(f"/proc/{p.pid}/task/{t}/comm").read().startswith(("rte-worker-", "lcore-worker-")):
                f = open(f"/proc/{p.pid}/task/{t}/stat").read().rsplit(")", 1)[1].split()
                total += int(f[11]) + int(f[12])
        except OSError:
            pass
    return total
try:
    until_prompt()
    time.sleep(1)
    a, c0, t0 = tx(), ticks(), time.time()
    time.sleep(secs)
    b, c1, t1 = tx(), ticks(), time.time()
    print(int((b - a) / (t1 - t0)), f"{(c1 - c0) / hz / (t1 - t0):.2f}")
    p.stdin.write(b"quit\n"); p.stdin.flush()
    p.wait(timeout=20)
except BaseException as e:
    print(f"bench: testpmd: {e}", file=sys.stderr)
    print("0 0")
finally:
    if p.poll() is None:
        p.kill()
        p.wait()
PY
) || TP_OUT="0 0"
read -r TESTPMD TP_SHARE <<<"$TP_OUT"
record testpmd "dpdk-testpmd io-forward" "$TESTPMD" "$TP_SHARE" "no packet data touched"
}

# --- ip_pipeline with rte_sched ------------------------------------------------
# DPDK's traffic-manager setup for ip_pipeline: pipeline 0 reads the pcap port,
# looks the QinQ pair up in a hash table (8-byte key at the outer TPID, the
# TPIDs masked off) whose entry names the subport and pipe, and writes into
# rte_sched; pipeline 1 reads rte_sched and writes the null port. Both run on
# the forwarding lcore. Every rate (port, subport, pipe, traffic class) is
# 100 Gbit/s so the CPU, not shaping, sets the pace. Key offset 268 = mbuf
# (128) + headroom (128) + the outer TPID's place in the frame (12); the IP
# header (read for the DSCP table) at 256 + 22.
IP_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PY" - "$WORK/tm.cli" <<'PY'
import sys
rate = 12_500_000_000  # bytes/s: 100 Gbit/s
tc = " ".join([str(rate)] * 13)
lines = [
    "mempool MEMPOOL0 buffer 2304 pool 64K cache 256 cpu 0",
    "link LINK0 dev net_pcap0 rxq 1 128 MEMPOOL0 txq 1 512 promiscuous off",
    "link LINK1 dev net_null0 rxq 1 128 MEMPOOL0 txq 1 512 promiscuous off",
    f"tmgr subport profile {rate} 1000000 {tc} 10",
    f"tmgr pipe profile {rate} 1000000 {tc} 10 1 1 1 1 1",
    f"tmgr TMGR rate {rate} spp 1 pps 4096 fo 24 mtu 1522 cpu 0",
    "tmgr TMGR subport 0 profile 0",
    "tmgr TMGR subport 0 pipe from 0 to 4095 profile 0",
    "table action profile AP0 ipv4 offset 278 fwd tm spp 1 pps 4096",
    "table action profile AP1 ipv4 offset 278 fwd",
    "pipeline PIPELINE0 period 10 offset_port_id 0 cpu 0",
    "pipeline PIPELINE0 port in bsz 32 link LINK0 rxq 0",
    "pipeline PIPELINE0 port out bsz 32 tmgr TMGR",
    "pipeline PIPELINE0 table match hash ext key 8 mask 0000FFFF0000FFFF offset 268 buckets 4K size 8K action AP0",
    "pipeline PIPELINE0 port in 0 table 0",
    "pipeline PIPELINE1 period 10 offset_port_id 0 cpu 0",
    "pipeline PIPELINE1 port in bsz 32 tmgr TMGR",
    "pipeline PIPELINE1 port out bsz 32 link LINK1 txq 0",
    "pipeline PIPELINE1 table match stub action AP1",
    "pipeline PIPELINE1 port in 0 table 0",
]
lines += [f"pipeline PIPELINE0 table 0 rule add match hash qinq {100 + i // 64} {i} "
          f"action fwd port 0 tm subport 0 pipe {i}" for i in range(4096)]
lines += [
    "pipeline PIPELINE1 table 0 rule add match default action fwd port 0",
    # Rules go in before the pipelines run, so they are added directly
    # rather than as messages to the data-plane thread.
    "thread 1 pipeline PIPELINE0 enable",
    "thread 1 pipeline PIPELINE1 enable",
]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
run_ip_pipeline() {
log "ip_pipeline with rte_sched (4,096 pipes), ${SECS}s"
local PID IP_OUT IP_PKTS IP_DT IP_TICKS IP_PPS IP_SHARE
"$PEERS/ip_pipeline/build/ip_pipeline" "${EAL_MEM[@]}" "${EAL_COMMON[@]}" --file-prefix "sbi$$" \
    --lcores "$LCORES" --vdev "$IN" --vdev "$OUT_PORT" -- \
    -s "$WORK/tm.cli" -h 127.0.0.1 -p "$IP_PORT" >"$WORK/ip_pipeline.log" 2>&1 &
PID=$!; PIDS+=("$PID")
# Its CLI (a TCP port on loopback) answers once the script has run; the
# rate is the null port's transmitted packets ("link show") over the window.
IP_OUT=$("$PY" - "$IP_PORT" "$SECS" "$PID" <<'PY'
import os, re, socket, sys, time
port, secs, pid = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
deadline = time.time() + 120
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        break
    except OSError:
        if time.time() > deadline or not os.path.exists(f"/proc/{pid}"):
            print("0 0 0 0"); sys.exit(0)
        time.sleep(0.2)
s.settimeout(30)
def reply():
    buf = b""
    while not buf.endswith(b"pipeline> "):
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("ip_pipeline closed its CLI")
        buf += chunk
    return buf.decode()
def tx():
    s.sendall(b"link show LINK1\n")
    m = re.search(r"TX packets (\d+)", reply())
    return int(m.group(1)) if m else 0
def ticks():
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            comm = open(f"/proc/{pid}/task/{t}/comm").read().strip()
            if comm.startswith(("rte-worker-", "lcore-worker-")):
                f = open(f"/proc/{pid}/task/{t}/stat").read().rsplit(")", 1)[1].split()
                total += int(f[11]) + int(f[12])
        except OSError:
            pass
    return total
reply()
time.sleep(1)
a, c0, t0 = tx(), ticks(), time.time()
time.sleep(secs)
b, c1, t1 = tx(), ticks(), time.time()
print(b - a, f"{t1 - t0:.6f}", c1 - c0, 1)
PY
)
stop "$PID" TERM
read -r IP_PKTS IP_DT IP_TICKS _ <<<"$IP_OUT"
if [ "$IP_PKTS" -gt 0 ] 2>/dev/null; then
    IP_PPS=$("$PY" -c "print(int($IP_PKTS / $IP_DT))")
    IP_SHARE=$("$PY" -c "print(f'{$IP_TICKS / $HZ / $IP_DT:.2f}')")
else
    IP_PPS=0; IP_SHARE=0
    log "ip_pipeline forwarded nothing; its log:"; grep -v "rule add" "$WORK/ip_pipeline.log" | tail -20 >&2 || true
fi
record ip_pipeline "ip_pipeline + rte_sched, 4,096 pipes" "$IP_PPS" "$IP_SHARE" \
    "hash on the QinQ pair, 1 subport x 4,096 pipes x 13 TCs, qsize 64"
}

# --- qos_sched -----------------------------------------------------------------
# qos_sched refuses to run its rx and scheduler loops on one lcore, so they
# run as two lcores on the same forwarding CPU (the kernel time-slices them);
# the scheduler lcore also transmits. Its port rate comes from the link speed
# (10 Gbit/s for these vdevs); frame overhead 0 and every subport, pipe and TC
# rate at that speed, so the cap is 10 Gbit/s / 60 bytes = 20.8 Mpps. It takes
# the pipe from the inner VLAN id, the subport from the outer one (1 subport).
"$PY" - "$WORK/qos_sched.cfg" <<'PY'
import sys
rate = 1_250_000_000  # bytes/s: the vdevs' 10 Gbit/s link speed
tcs = "\n".join(f"tc {k} rate = {rate}" for k in range(13))
open(sys.argv[1], "w").write(f"""[port]
frame overhead = 0
number of subports per port = 1

[subport 0]
number of pipes per subport = 4096
queue sizes = 64 64 64 64 64 64 64 64 64 64 64 64 64
pipe 0-4095 = 0

[subport profile 0]
tb rate = {rate}
tb size = 1000000
{tcs}
tc period = 10

[pipe profile 0]
tb rate = {rate}
tb size = 1000000
{tcs}
tc period = 40
tc 12 oversubscription weight = 1
tc 12 wrr weights = 1 1 1 1
""")
PY
run_qos_sched() {
log "qos_sched (4,096 pipes), ${SECS}s"
local PID C0 C1 N0 QOS
stdbuf -oL "$PEERS/qos_sched/build/qos_sched" "${EAL_MEM[@]}" "${EAL_COMMON[@]}" --file-prefix "sbq$$" \
    --lcores "0@$FIRST,1@$LAST,2@$LAST" --vdev "$IN" --vdev "$OUT_PORT" -- \
    --pfc "0,1,1,2" --mnc 0 --cfg "$WORK/qos_sched.cfg" --msz 65536 >"$WORK/qos_sched.log" 2>&1 &
PID=$!; PIDS+=("$PID")
for _ in $(seq 600); do grep -q "TX port" "$WORK/qos_sched.log" 2>/dev/null && break; kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
sleep 1
C0=$(worker_ticks "$PID")
N0=$(grep -c "TX port 1: tx:" "$WORK/qos_sched.log" || true)
sleep $((SECS + 1))
C1=$(worker_ticks "$PID")
stop "$PID" TERM
# It prints the transmitted packets of each second; the lines of the window.
QOS=$(grep "TX port 1: tx:" "$WORK/qos_sched.log" | tail -n +$((N0 + 1)) | awk '{print $5}' | median)
if [ "${QOS:-0}" -eq 0 ]; then
    log "qos_sched forwarded nothing; its log:"; tail -20 "$WORK/qos_sched.log" >&2 || true
    QOS=0
fi
record qos_sched "qos_sched, 4,096 pipes (rx + scheduler threads on one CPU)" "$QOS" \
    "$(share "$C0" "$C1" $((SECS + 1)))" "two lcores time-share the forwarding CPU"
}

# --- the Sluice ladder -----------------------------------------------------------
cat >"$WORK/policies.py" <<'PY'
import sys
work = sys.argv[1]
only = sys.argv[2] if len(sys.argv) > 2 else None
LINK = "400gbit"

def write(name, classes, rules, default):
    if only and name != only:
        return
    out = ["version = 1", "[upload]", f'rate = "{LINK}"', f'default_class = "{default}"']
    for c in classes:
        out.append("[[upload.class]]")
        out += [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in c.items()]
    out += ["[download]", f'rate = "{LINK}"']
    for r in rules:
        out.append("[[rule]]")
        out += [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in r.items()]
    open(f"{work}/{name}.toml", "w").write("\n".join(out) + "\n")

def leaf(name, rate, ceil=LINK, parent=None, queue="fifo"):
    c = {"name": name}
    if parent:
        c["parent"] = parent
    c["rate"] = rate
    if ceil:  # None: the parent's ceil, which keeps 100,000 classes under the 12 MiB file limit
        c["ceil"] = ceil
    c["queue"] = queue
    if queue == "fifo":
        c["limit"] = 64  # rte_sched's queue size in both peers
    return c

def host(i):
    return f"10.1.{i >> 8}.{i & 255}"

# DSCP classes only: four classes, rules on DSCP alone (a table lookup).
write("dscp", [leaf(n, "90gbit") for n in ("ef", "af4", "af1", "be")],
      [{"dscp": "EF", "upload_class": "ef"}, {"dscp": "AF41", "upload_class": "af4"},
       {"dscp": "AF11", "upload_class": "af1"}], "be")

# 1,000 multi-field rules (source /30, destination, protocol, both ports),
# each to its own class; they cover subscribers 0-3,999 (the other 96 go to
# the default class).
def rule_mf(k, cls):
    return {"src": f"10.1.{(4 * k) >> 8}.{(4 * k) & 255}/30", "dst": "192.0.2.1/32",
            "protocol": "udp", "src_port": f"{1024 + 4 * k}-{1027 + 4 * k}", "dst_port": 5001,
            "upload_class": cls}
write("rules1000", [leaf(f"c{k}", "400mbit") for k in range(1000)],
      [rule_mf(k, f"c{k}") for k in range(1000)], "c0")

# The same rules into 1,000 classes three deep: link -> 25 groups -> 40 leaves.
def deep1000(queue):
    cls = [{"name": f"g{g}", "rate": "16gbit", "ceil": LINK} for g in range(25)]
    cls += [leaf(f"c{k}", "400mbit", parent=f"g{k // 40}", queue=queue) for k in range(1000)]
    return cls
write("deep1000", deep1000("fifo"), [rule_mf(k, f"c{k}") for k in range(1000)], "c0")
write("deep1000_fq", deep1000("fq_codel"), [rule_mf(k, f"c{k}") for k in range(1000)], "c0")

# 100,000 classes: link -> 100 groups -> 1,000 leaves; the 4,096 subscribers'
# host rules spread over them (the rest of the tree idles, as at a real edge).
cls = [{"name": f"g{g}", "rate": "4gbit", "ceil": LINK} for g in range(100)]
cls += [leaf(f"c{k}", "4mbit", ceil=None, parent=f"g{k // 1000}") for k in range(100_000)]
write("classes100k", cls,
      [{"src": host(i), "upload_class": f"c{(i % 100) * 1000 + i // 100}"} for i in range(4096)], "c0")

# Like for like with ip_pipeline: 4,096 subscriber leaves, link -> 64 groups
# -> 64 subscribers, fifo, one host rule each; rates far above what one core
# moves, so the CPU sets the pace.
def subscribers(sub_rate, sub_ceil):
    cls = [{"name": f"g{g}", "rate": "6gbit", "ceil": LINK} for g in range(64)]
    cls += [leaf(f"s{i}", sub_rate, ceil=sub_ceil, parent=f"g{i // 64}") for i in range(4096)]
    return cls
sub_rules = [{"src": host(i), "upload_class": f"s{i}"} for i in range(4096)]
write("subscribers", subscribers("90mbit", LINK), sub_rules, "s0")
# Backlogged: each subscriber capped (rate = ceil) below what it is offered,
# so every packet waits in its queue for the scheduler. The cap is set after
# the like-for-like row (argument 3, kbit/s): the 4,096 caps add up to half
# of what that row moved, below what the core can do, so the figure is the
# scheduler holding 4,096 backlogged rates, not the CPU running out.
if len(sys.argv) > 3:
    kbit = sys.argv[3]
    write("backlogged", subscribers(f"{kbit}kbit", f"{kbit}kbit"), sub_rules, "s0")
PY
"$PY" "$WORK/policies.py" "$WORK"

sluice_row() {  # ID LABEL POLICY|"" NOTE [EXPECTED_PPS]
    local id=$1 label=$2 policy=$3 note=$4 expected=${5:-} sock=$WORK/$1.sock args=()
    rm -f "$sock"
    [ -n "$policy" ] && args=(--policy "$WORK/$policy.toml")
    log "sluiced: $label, ${SECS}s"
    "$SLUICED" --lan "$IN" --wan "$OUT_PORT" "${SLUICE_MEM[@]}" --lcores "$LCORES" \
        --socket "$sock" --log-level warn "${args[@]}" >"$WORK/$id.log" 2>&1 &
    local pid=$!; PIDS+=("$pid")
    for _ in $(seq 1200); do [ -S "$sock" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if [ ! -S "$sock" ]; then
        log "sluiced ($id) did not start; its log:"; tail -20 "$WORK/$id.log" >&2
        record "$id" "$label" 0 0 "did not start"
        stop "$pid" TERM; return
    fi
    # Counters of one class only: a full stats reply of 100,000 classes
    # takes longer than the measuring window.
    local one=()
    [ -n "$policy" ] && one=("$(sed -n 's/^default_class = "\(.*\)"$/\1/p' "$WORK/$policy.toml")")
    tx() { "$SLUICECTL" --socket "$sock" --timeout 30 --json stats "${one[@]}" |
           "$PY" -c 'import json,sys; print(json.load(sys.stdin)["directions"][0]["tx_packets"])'; }
    sleep 1
    local a c0 t0 b c1 t1
    a=$(tx) || a=""; c0=$(worker_ticks "$pid"); t0=$(now)
    sleep "$SECS"
    b=$(tx) || b=""; c1=$(worker_ticks "$pid"); t1=$(now)
    "$SLUICECTL" --socket "$sock" --timeout 60 --json stats >"$WORK/$id.stats.json" || true
    stop "$pid" TERM
    local pps used
    if [ -z "$a" ] || [ -z "$b" ]; then
        log "sluiced ($id) did not answer sluicectl stats; its log:"; tail -20 "$WORK/$id.log" >&2
        record "$id" "$label" 0 0 "no counters from sluicectl"
        return
    fi
    pps=$(rate "$a" "$b" "$t0" "$t1")
    # How many classes carried traffic and what was dropped, for the note.
    used=$("$PY" - "$WORK/$id.stats.json" <<'PY'
import json, sys
try:
    s = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    print(""); sys.exit()
up = s.get("policy", {}).get("upload", {})
# Rules name leaves, so the classes that classified packets are the leaves in use.
classes = sum(1 for c in up.get("classes", []) if c.get("classified_packets", 0) > 0)
drops = sum(v for v in s["directions"][0]["drops"].values() if isinstance(v, int))
print(f"{classes} leaves in use, {drops} drops" if up else f"{drops} drops")
PY
)
    record "$id" "$label" "$pps" "$(share "$c0" "$c1" "$("$PY" -c "print($t1 - $t0)")")" \
        "$note${used:+; $used}" "$expected"
}

run_ladder() {
sluice_row forward "Sluice: forward (parse + queue, no policy)" "" "rx, parse, egress queue, tx"
sluice_row dscp "Sluice: 4 DSCP classes" dscp "3 DSCP rules, 4 flat fifo classes"
sluice_row rules1000 "Sluice: 1,000 multi-field rules, 1,000 classes" rules1000 \
    "rte_acl on src/dst/proto/ports, 1,000 flat fifo classes"
sluice_row deep1000 "Sluice: 1,000 classes three deep" deep1000 "the same rules; link, 25 groups, 1,000 fifo leaves"
sluice_row deep1000_fq "Sluice: 1,000 classes three deep, fq_codel" deep1000_fq "the same with fq_codel leaves"
sluice_row classes100k "Sluice: 100,000 classes" classes100k "link, 100 groups, 100,000 leaves; 4,096 host rules"
sluice_row subscribers "Sluice: 4,096 subscribers (like for like)" subscribers \
    "link, 64 groups, 4,096 fifo leaves; 4,096 host /32 rules"
# Each subscriber's cap: half the like-for-like rate over 4,096, in 60-byte
# frames, rounded down to two significant figures (at least 8 kbit/s).
local LFL_PPS BACKLOG_KBIT BACKLOG_PPS
LFL_PPS=$(awk -F'\t' '$1 == "subscribers" {print $3}' "$RESULTS" | tail -1)
BACKLOG_KBIT=$("$PY" -c "
import math, sys
kbit = max(8, int(${LFL_PPS:-0}) * 0.5 * 480 / 4096 / 1000)
scale = 10 ** max(0, int(math.log10(kbit)) - 1)
print(int(kbit // scale * scale))")
BACKLOG_PPS=$("$PY" -c "print(int(4096 * $BACKLOG_KBIT * 1000 / 480))")
"$PY" "$WORK/policies.py" "$WORK" backlogged "$BACKLOG_KBIT"
sluice_row backlogged "Sluice: 4,096 subscribers backlogged" backlogged \
    "each capped at $BACKLOG_KBIT kbit/s; the caps add up to $BACKLOG_PPS pps" "$BACKLOG_PPS"
}

for ROUND in $(seq "$ROUNDS"); do
    [ "$ROUNDS" -eq 1 ] || log "round $ROUND of $ROUNDS"
    run_testpmd
    run_ip_pipeline
    run_qos_sched
    run_ladder
done

# --- the report ------------------------------------------------------------------
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then COMMIT="$COMMIT+dirty"; fi
BUILDTYPE=$(meson introspect --buildoptions "$BUILD" 2>/dev/null |
    "$PY" -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))' 2>/dev/null || echo unknown)
"$PY" "$ROOT/scripts/bench_report.py" --results "$RESULTS" --out "$OUT" --seconds "$SECS" \
    --smoke "$SMOKE" --commit "$COMMIT" --buildtype "$BUILDTYPE" --memory "$MEMORY" \
    --cpus "control $FIRST, forwarding $LAST" --rounds "$ROUNDS"
