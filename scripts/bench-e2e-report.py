#!/usr/bin/python3
"""Reads what scripts/bench-e2e.sh measured (its raw directory), prints the
tables, writes bench-e2e.json and renders the plots of rate and delay over
time. Exits 1 when a figure is missing, so that the smoke run fails on it.

Rates are given as the wire rate they stand for: TCP goodput times the frame
on the wire (MSS + 12 bytes of timestamps + 40 of TCP/IP + 14 of Ethernet
header + 24 of preamble, FCS and gap) over the MSS, since both shapers count
whole frames with that overhead against the configured rate.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SETUPS = ("sluice", "kernel")
RATES = (10, 50, 200)
WIRE_EXTRA = 12 + 20 + 20 + 14 + 24
SETTLE_BAND = 0.05  # "within 5% of the new rate"
SETTLE_RUN = 3      # ... for this many 0.1 s reports in a row


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def wire_factor(client):
    mss = (client or {}).get("start", {}).get("tcp_mss_default") or 1448
    return (mss + WIRE_EXTRA) / mss


def intervals(raw, name):
    """The receiver's reports: (start s, end s, wire Mbit/s) every 0.1 s."""
    server = load_json(os.path.join(raw, name + ".server.json"))
    client = load_json(os.path.join(raw, name + ".client.json"))
    if not server or "intervals" not in server:
        return []
    k = wire_factor(client) / 1e6
    return [(i["sum"]["start"], i["sum"]["end"], i["sum"]["bits_per_second"] * k)
            # The last report of a run is a sliver of the flow's end: left out.
            for i in server["intervals"] if i["sum"]["end"] - i["sum"]["start"] > 0.05]


def steady_rate(ivs):
    """Mean received wire rate after the first second (slow start and the
    queue filling), or over everything in a run shorter than two seconds."""
    if not ivs:
        return None
    total = ivs[-1][1]
    skip = 1.0 if total > 2.0 else 0.0
    sel = [iv for iv in ivs if iv[0] >= skip - 1e-6]
    secs = sum(e - s for s, e, _ in sel)
    return sum((e - s) * r for s, e, r in sel) / secs if secs > 0 else None


def cpu_marks(raw, name):
    try:
        rows = [line.split() for line in open(os.path.join(raw, name + ".cpu"))]
        return rows[0], rows[-1]
    except (OSError, IndexError):
        return None


def cpu_share(raw, name):
    """sluiced's CPU time over the run's wall time (1.0 = one whole CPU)."""
    try:
        (t0, w0, hz, *_), (t1, w1, *_) = cpu_marks(raw, name)
        return (float(t1) - float(t0)) / float(hz) / (float(w1) - float(w0))
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def steal_share(raw, name):
    """The share of the machine's CPU time the hypervisor took in a run."""
    try:
        (*_, s0, n0), (*_, s1, n1) = cpu_marks(raw, name)
        return (float(s1) - float(s0)) / (float(n1) - float(n0))
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def percentile(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def probe_samples(raw, name):
    """[(seconds since the first probe, RTT ms)] and the number lost."""
    irtt = load_json(os.path.join(raw, name + ".irtt.json"))
    out, lost = [], 0
    if irtt is not None:
        t0 = None
        for rt in irtt.get("round_trips", []):
            if str(rt.get("lost", "false")) != "false" or "rtt" not in rt.get("delay", {}):
                lost += 1
                continue
            wall = rt["timestamps"]["client"]["send"]["wall"]
            t0 = wall if t0 is None else t0
            out.append(((wall - t0) / 1e9, rt["delay"]["rtt"] / 1e6))
        return out, lost
    path = os.path.join(raw, name + ".ping.txt")
    if not os.path.exists(path):
        return [], 0
    t0 = None
    sent = None
    for line in open(path):
        m = re.match(r"\[([\d.]+)\].*time=([\d.]+) ms", line)
        if m:
            t = float(m.group(1))
            t0 = t if t0 is None else t0
            out.append((t - t0, float(m.group(2))))
        m = re.match(r"(\d+) packets transmitted", line)
        if m:
            sent = int(m.group(1))
    return out, (sent - len(out)) if sent is not None else 0


def delay_figures(raw, name):
    s, lost = probe_samples(raw, name)
    rtts = [r for _, r in s]
    return {"p50_ms": percentile(rtts, 0.5), "p99_ms": percentile(rtts, 0.99),
            "samples": len(rtts), "lost": lost,
            "tcp_mbit": steady_rate(intervals(raw, name))}


def class_stats(raw, name, cls):
    """The upload class `cls` in sluiced's `stats` saved as NAME, or None."""
    s = load_json(os.path.join(raw, f"{name}.stats.json"))
    if not s:
        return None
    for c in s.get("policy", {}).get("upload", {}).get("classes", []):
        if c.get("name") == cls:
            return c
    return None


def class_wire_mbit(raw, name, cls, overhead=24):
    """What sluiced sent of class `cls` between NAME.start and NAME.end, in
    wire Mbit/s: its frames plus the Ethernet overhead the policy counts."""
    a, b = class_stats(raw, f"{name}.start", cls), class_stats(raw, f"{name}.end", cls)
    try:
        t0 = float(open(os.path.join(raw, f"{name}.start.stats.t")).read())
        t1 = float(open(os.path.join(raw, f"{name}.end.stats.t")).read())
    except (OSError, ValueError):
        return None
    if not a or not b or t1 <= t0:
        return None
    wire = (b["sent_bytes"] - a["sent_bytes"]) + overhead * (b["sent_packets"] - a["sent_packets"])
    return wire * 8 / (t1 - t0) / 1e6


def shaper_delay_ms(raw, name, cls):
    """The p50 and p99 delay sluiced's scheduler measured for `cls`, in ms."""
    c = class_stats(raw, name, cls)
    if not c:
        return None, None
    return c.get("delay_p50_us", 0) / 1000, c.get("delay_p99_us", 0) / 1000


def jain(raw, name):
    client = load_json(os.path.join(raw, name + ".client.json"))
    if not client:
        return None
    k = wire_factor(client)
    flows = [s["receiver"]["bits_per_second"] * k / 1e6 for s in client["end"].get("streams", [])]
    if not flows or sum(flows) == 0:
        return None
    return {"jain": sum(flows) ** 2 / (len(flows) * sum(x * x for x in flows)),
            "flows_mbit": flows, "total_mbit": sum(flows)}


def settle_times(raw, name):
    """For each live change, the seconds from the command to the end of the
    first of SETTLE_RUN successive 0.1 s reports within SETTLE_BAND of the new
    rate (None when the rate never got there before the next change)."""
    ivs = intervals(raw, name)
    try:
        t0 = float(open(os.path.join(raw, name + ".t0")).read())
        changes = [(float(a) - t0, float(b)) for a, b in
                   (line.split() for line in open(os.path.join(raw, name + ".changes")) if line.strip())]
    except (OSError, ValueError):
        return []
    out = []
    for n, (tc, rate) in enumerate(changes):
        t_next = changes[n + 1][0] if n + 1 < len(changes) else float("inf")
        after = [iv for iv in ivs if iv[1] > tc and iv[0] < t_next]
        found = None
        for k in range(len(after)):
            run = after[k:k + SETTLE_RUN]
            if len(run) == SETTLE_RUN and all(abs(r - rate) <= SETTLE_BAND * rate for _, _, r in run):
                found = round(after[k][1] - tc, 3)
                break
        out.append({"to_mbit": rate, "at_s": round(tc, 3), "settle_s": found})
    return out


def fmt(x, spec=".2f", none="-"):
    return none if x is None else format(x, spec)


def table(title, head, rows):
    print(f"\n{title}\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "kernel": platform.release(),
            "iperf3": subprocess.run(["iperf3", "--version"], capture_output=True, text=True).stdout.split("\n")[0]}


def plot(res, raw, out, step):
    files = []
    fig, (a, b) = plt.subplots(2, 1, figsize=(9, 7.5))
    for setup, color in zip(SETUPS, ("tab:blue", "tab:orange")):
        ivs = intervals(raw, setup + "-step")
        a.plot([e for _, e, _ in ivs], [r for _, _, r in ivs], color=color, label=f"{setup}: received")
    # When the changes were sent, on average over the two setups.
    at = [statistics.mean(c) for c in zip(*([x["at_s"] for x in res[s]["rate_change"]] for s in SETUPS))]
    if len(at) == 2:
        a.step([0, at[0], at[1], 3 * step], [50, 20, 50, 50], where="post", color="gray", ls="--",
               label="configured (change sent)")
    a.set_title("Live rate change 50 -> 20 -> 50 Mbit/s, one TCP flow, 0.1 s reports")
    a.set_xlabel("s since the flow started")
    a.set_ylabel("Mbit/s on the wire")
    a.legend(loc="lower right")
    for cpu, color in (("idle", "tab:blue"), ("shared", "tab:red")):
        ivs = intervals(raw, "sluice-cpu-" + cpu)
        b.plot([e for _, e, _ in ivs], [r for _, _, r in ivs], color=color,
               label="sluice, worker CPU shared with a busy loop" if cpu == "shared" else "sluice, no busy loop added")
    b.axhline(40, color="gray", ls="--", label="configured 40 Mbit/s")
    b.set_title("Sluice, a 40 Mbit/s class, 4 TCP flows: the worker's CPU with and without a busy loop")
    b.set_xlabel("s since the flows started")
    b.set_ylabel("Mbit/s on the wire")
    b.legend(loc="lower right")
    fig.tight_layout()
    path = os.path.join(out, "bench-e2e-rate.png")
    fig.savefig(path, dpi=90)
    files.append(path)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, setup in zip(axes, SETUPS):
        for prio, color, label in ((1, "tab:green", "EF in a priority class"),
                                   (0, "tab:red", "EF in the bulk class")):
            s, _ = probe_samples(raw, f"{setup}-delay-prio{prio}")
            ax.plot([t for t, _ in s], [r for _, r in s], ".", ms=2, color=color, label=label)
        ax.set_yscale("log")
        ax.set_title(f"{setup}: EF probe RTT under 4 TCP flows, 50 Mbit/s")
        ax.set_xlabel("s since the probe started")
        ax.legend(loc="center right", markerscale=4)
    axes[0].set_ylabel("RTT, ms")
    fig.tight_layout()
    path = os.path.join(out, "bench-e2e-delay.png")
    fig.savefig(path, dpi=90)
    files.append(path)
    plt.close(fig)
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--smoke", type=int, default=0)
    ap.add_argument("--start", default="")
    ap.add_argument("--probe", default="irtt")
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--kernel-leaves", default="")
    ap.add_argument("--worker-cpu", type=int, default=1)
    ap.add_argument("--step", type=float, default=4)
    ap.add_argument("--nice", type=int, default=0)
    a = ap.parse_args()
    raw = a.raw

    def loadavg(which):
        try:
            return [float(x) for x in open(os.path.join(raw, f"loadavg.{which}")).read().split()[:3]]
        except (OSError, ValueError):
            return None
    res = {"date": a.start, "mode": "smoke" if a.smoke else "full", "machine": machine(),
           "loadavg_start": loadavg("start"), "loadavg_end": loadavg("end"), "niceness": a.nice,
           "probe": f"{a.probe}, DSCP EF, every 10 ms", "fifo_limit_packets": a.limit,
           "kernel_leaves": a.kernel_leaves.split(), "sluice": {}, "kernel": {}}
    for setup in SETUPS:
        r = res[setup]
        r["throughput"] = {}
        for rate in RATES:
            got = steady_rate(intervals(raw, f"{setup}-rate-{rate}"))
            r["throughput"][str(rate)] = {"mbit": got, "ratio": got / rate if got else None}
        r["delay"] = {"priority_class": delay_figures(raw, f"{setup}-delay-prio1"),
                      "no_priority_class": delay_figures(raw, f"{setup}-delay-prio0")}
        if setup == "sluice":
            for key, run, cls in (("priority_class", "delay-prio1", "voice"), ("no_priority_class", "delay-prio0", "bulk")):
                p50, p99 = shaper_delay_ms(raw, f"sluice-{run}", cls)
                r["delay"][key]["shaper_p50_ms"], r["delay"][key]["shaper_p99_ms"] = p50, p99
        r["fairness"] = jain(raw, f"{setup}-fair")
        r["fairness_leaf"] = "fq_codel" if setup == "sluice" else "pfifo"
        r["rate_change"] = settle_times(raw, f"{setup}-step")
    # sluiced's share of a CPU in each run: below 1.0 its worker waited for
    # the CPU while others ran (a poll-mode worker wants all of one).
    res["sluice"]["cpu_share"] = {
        n: cpu_share(raw, "sluice-" + n) for n in
        [f"rate-{r}" for r in RATES] + ["delay-prio1", "delay-prio0", "fair", "step", "cpu-idle", "cpu-shared"]}
    # The share of the machine's CPU time the hypervisor took ("steal") in
    # each run: on a shared host, time that neither setup could use.
    for setup in SETUPS:
        res[setup]["stolen"] = {
            n: steal_share(raw, f"{setup}-{n}") for n in
            [f"rate-{r}" for r in RATES] + ["delay-prio1", "delay-prio0", "fair", "step"] +
            (["cpu-idle", "cpu-shared"] if setup == "sluice" else [])}
    res["sluice"]["shared_cpu"] = {}
    for cpu in ("idle", "shared"):
        d = delay_figures(raw, f"sluice-cpu-{cpu}")
        wire = class_wire_mbit(raw, f"sluice-cpu-{cpu}", "bulk")
        _, shaper_p99 = shaper_delay_ms(raw, f"sluice-cpu-{cpu}.end", "voice")
        res["sluice"]["shared_cpu"][cpu] = {"mbit": d["tcp_mbit"],
                                           "ratio": d["tcp_mbit"] / 40 if d["tcp_mbit"] else None,
                                           "class_wire_mbit": wire, "class_ratio": wire / 40 if wire else None,
                                           "voice_shaper_p99_ms": shaper_p99,
                                           "voice_p50_ms": d["p50_ms"], "voice_p99_ms": d["p99_ms"],
                                           "samples": d["samples"], "lost": d["lost"]}

    S, K = res["sluice"], res["kernel"]
    m = res["machine"]
    print(f'{res["date"]}, {m["cpus"]} x {m["cpu"]}, Linux {m["kernel"]}, {m["iperf3"]}; load average '
          f'(1, 5, 15 min) {res["loadavg_start"]} at the start, {res["loadavg_end"]} at the end; '
          f'sluiced and the tools at niceness {a.nice}')
    cpu = S["cpu_share"]

    def stolen(run):
        return f'{fmt(S["stolen"].get(run), ".0%")} / {fmt(K["stolen"].get(run), ".0%")}'
    table("TCP throughput, one flow, wire Mbit/s (achieved / configured)",
          ["configured", "sluice", "kernel htb", "sluiced's CPU share", "stolen (sluice / kernel run)"],
          [[f"{rate} Mbit/s"] + [f'{fmt(x["throughput"][str(rate)]["mbit"])} ({fmt(x["throughput"][str(rate)]["ratio"], ".3f")})'
                                 for x in (S, K)] + [fmt(cpu[f"rate-{rate}"], ".0%"), stolen(f"rate-{rate}")]
           for rate in RATES])
    rows = []
    for setup, x in (("sluice", S), ("kernel htb", K)):
        for key, label in (("priority_class", "yes"), ("no_priority_class", "no")):
            d = x["delay"][key]
            run = "delay-prio1" if label == "yes" else "delay-prio0"
            rows.append([setup, label, fmt(d["p50_ms"]), fmt(d["p99_ms"]), f'{d["lost"]}/{d["samples"] + d["lost"]}',
                         fmt(d.get("shaper_p99_ms"), ".3f"),
                         fmt(d["tcp_mbit"]), fmt(cpu[run] if x is S else None, ".0%"), fmt(x["stolen"][run], ".0%")])
    table(f"EF probe RTT under 4 TCP flows, 50 Mbit/s, fifo leaves of {a.limit} packets",
          ["setup", "EF priority class", "p50 ms", "p99 ms", "lost", "p99 in the shaper, ms", "TCP Mbit/s",
           "sluiced's CPU share", "stolen"],
          rows)
    table("Jain's fairness index, 8 TCP flows in one 50 Mbit/s class",
          ["setup", "leaf", "Jain", "slowest / fastest flow, Mbit/s", "total Mbit/s", "stolen"],
          [[setup, x["fairness_leaf"], fmt((x["fairness"] or {}).get("jain"), ".4f"),
            (f'{min(x["fairness"]["flows_mbit"]):.2f} / {max(x["fairness"]["flows_mbit"]):.2f}' if x["fairness"] else "-"),
            fmt((x["fairness"] or {}).get("total_mbit")), fmt(x["stolen"]["fair"], ".0%")]
           for setup, x in (("sluice", S), ("kernel htb", K))])
    table(f"Live rate change: seconds until {SETTLE_RUN} reports of 0.1 s in a row are within "
          f"{SETTLE_BAND:.0%} of the new rate",
          ["setup", "50 -> 20 Mbit/s", "20 -> 50 Mbit/s", "stolen"],
          [[setup] + [fmt(c["settle_s"], ".1f", "not reached") for c in x["rate_change"]] + [fmt(x["stolen"]["step"], ".0%")]
           for setup, x in (("sluice (sluicectl set class)", S), ("kernel htb (tc class change)", K))])
    table(f"Sluice, a 40 Mbit/s class and a priority-0 class, 4 TCP flows; worker on CPU {a.worker_cpu}",
          ["worker CPU", "bulk Mbit/s (TCP)", "achieved / 40", "class on the wire / 40", "voice p50 ms", "voice p99 ms",
           "voice p99 in the shaper, ms", "sluiced's CPU share", "stolen"],
          [["shared with a busy loop" if c == "shared" else "no busy loop added", fmt(d["mbit"]), fmt(d["ratio"], ".3f"),
            fmt(d["class_ratio"], ".4f"), fmt(d["voice_p50_ms"]), fmt(d["voice_p99_ms"]), fmt(d["voice_shaper_p99_ms"], ".3f"),
            fmt(cpu[f"cpu-{c}"], ".0%"), fmt(S["stolen"][f"cpu-{c}"], ".0%")]
           for c, d in S["shared_cpu"].items()])
    print(f"\nkernel htb leaves: {a.kernel_leaves.strip() or '-'}")

    res["plots"] = plot(res, raw, a.out, a.step)
    path = os.path.join(a.out, "bench-e2e.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    print(f"results: {path}\nplots: {', '.join(res['plots'])}")

    missing = []

    def walk(x, where):
        if x is None:
            missing.append(where)
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{where}.{k}")
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, f"{where}[{i}]")
    for setup in SETUPS:
        walk(res[setup], setup)
        if len(res[setup]["rate_change"]) != 2:
            missing.append(f"{setup}.rate_change (the two changes)")
        for key in ("priority_class", "no_priority_class"):
            if res[setup]["delay"][key]["samples"] == 0:
                missing.append(f"{setup}.delay.{key}: no probe answered")
    if not res["kernel_leaves"]:
        missing.append("kernel_leaves")
    # A change the rate never settled to is a result ("not reached"), not a
    # missing figure; smoke runs' steps are too short to settle at all.
    missing = [m for m in missing if not re.search(r"rate_change\[\d\]\.settle_s$", m)]
    if missing:
        print("missing figures: " + ", ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
