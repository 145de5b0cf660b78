#!/usr/bin/python3
"""The report of scripts/bench.sh: the table, the JSON result file and the plots.

Reads the run's results (one tab-separated line per contender: id, label,
packets per second, share of the forwarding CPU its lcores got, note) and
writes OUT/whole-pipeline.json, OUT/whole-pipeline.png and .svg. With
--smoke 1 it exits 1 unless every contender has a figure above zero and the
files exist: that is what the CI smoke test checks.
"""
import argparse
import datetime
import json
import os
import platform
import sys

PEERS = ("testpmd", "ip_pipeline", "qos_sched")
LIKE_FOR_LIKE = "subscribers"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def median(values):
    v = sorted(values)
    if not v:
        return 0
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def read_results(path):
    """One row per contender, in the order first seen; with several rounds,
    the median of each figure and every round's figures under "rounds"."""
    rows, by = [], {}
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 6:
                continue
            rid, label, pps, share, note, expected = fields
            try:
                pps = int(float(pps))
            except ValueError:
                pps = 0
            try:
                share = float(share)
            except ValueError:
                share = 0.0
            run = {"pps": pps, "core_share": share, "note": note}
            if expected:
                run["expected_pps"] = int(expected)
            if rid not in by:
                by[rid] = {"id": rid, "label": label, "rounds": []}
                rows.append(by[rid])
            by[rid]["rounds"].append(run)
    for r in rows:
        runs = r["rounds"]
        r["pps"] = int(median([x["pps"] for x in runs]))
        r["mpps"] = round(r["pps"] / 1e6, 3)
        r["core_share"] = round(median([x["core_share"] for x in runs]), 2)
        # What a whole core would move at this cost per packet: on a CPU
        # shared with other work, the fairer comparison.
        per_core = [x["pps"] / 1e6 / x["core_share"] for x in runs if x["core_share"] > 0 and x["pps"] > 0]
        r["mpps_per_core"] = round(median(per_core), 3) if per_core else None
        r["note"] = runs[-1]["note"]
        if any("expected_pps" in x for x in runs):
            r["expected_pps"] = int(median([x.get("expected_pps", 0) for x in runs]))
    return rows


def ratio(a, b):
    return round(a / b, 3) if a and b else None


def plot(rows, path_base, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r["label"] for r in rows]
    values = [r["mpps"] for r in rows]
    colours = ["#8c8c8c" if r["id"] in PEERS else "#1f77b4" for r in rows]
    for i, r in enumerate(rows):
        if r["id"] == LIKE_FOR_LIKE:
            colours[i] = "#d62728"
    per_core = [r["mpps_per_core"] or 0 for r in rows]
    fig, axes = plt.subplots(1, 2, sharey=True, figsize=(13, 0.45 * len(rows) + 1.8))
    y = list(range(len(rows)))
    panels = ((axes[0], values, "Mpps, one forwarding core"),
              (axes[1], per_core, "Mpps per whole core (Mpps / share of the CPU it got)"))
    for ax, vals, xlabel in panels:
        bars = ax.barh(y, vals, color=colours)
        top = max(vals) if vals and max(vals) > 0 else 1
        for bar, v in zip(bars, vals):
            ax.text(bar.get_width() + top * 0.01, bar.get_y() + bar.get_height() / 2, f"{v:.2f}",
                    va="center", fontsize=8)
        ax.set_xlim(0, top * 1.18)
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(labels, fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    out = []
    for ext in ("png", "svg"):
        p = f"{path_base}.{ext}"
        fig.savefig(p, dpi=110)
        out.append(p)
    plt.close(fig)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seconds", type=int, required=True)
    ap.add_argument("--smoke", type=int, default=0)
    ap.add_argument("--commit", default="unknown")
    ap.add_argument("--buildtype", default="unknown")
    ap.add_argument("--memory", default="")
    ap.add_argument("--cpus", default="")
    ap.add_argument("--rounds", type=int, default=1)
    a = ap.parse_args()

    rows = read_results(a.results)
    by = {r["id"]: r for r in rows}
    testpmd = by.get("testpmd", {}).get("pps", 0)
    ip = by.get("ip_pipeline", {}).get("pps", 0)
    for r in rows:
        r["vs_testpmd"] = ratio(r["pps"], testpmd)
        r["vs_ip_pipeline"] = ratio(r["pps"], ip)
    sluice = by.get(LIKE_FOR_LIKE, {}).get("pps", 0)
    per_core = {k: by.get(k, {}).get("mpps_per_core") for k in (LIKE_FOR_LIKE, "ip_pipeline", "testpmd")}
    when = datetime.datetime.now(datetime.timezone.utc)
    result = {
        "benchmark": "whole pipeline, one forwarding core",
        "date": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpu_model": cpu_model(), "cpus_online": os.cpu_count(),
                    "kernel": platform.release(), "pinning": a.cpus, "memory": a.memory,
                    "load_average": list(os.getloadavg())},
        "git_commit": a.commit,
        "build_type": a.buildtype,
        "seconds_per_contender": a.seconds,
        "rounds": a.rounds,
        "smoke": bool(a.smoke),
        "input": "4,096 60-byte QinQ IPv4/UDP frames, one per subscriber, replayed from memory "
                 "(net_pcap infinite_rx) into net_null",
        "contenders": rows,
        "like_for_like": {"sluice_pps": sluice, "ip_pipeline_pps": ip, "testpmd_pps": testpmd,
                          "sluice_over_ip_pipeline": ratio(sluice, ip),
                          "sluice_over_testpmd": ratio(sluice, testpmd),
                          "sluice_over_ip_pipeline_per_core": ratio(per_core[LIKE_FOR_LIKE], per_core["ip_pipeline"]),
                          "sluice_over_testpmd_per_core": ratio(per_core[LIKE_FOR_LIKE], per_core["testpmd"]),
                          "floor": 1.5, "aim": 2.0},
    }
    os.makedirs(a.out, exist_ok=True)
    base = os.path.join(a.out, "whole-pipeline")
    title = (f"Whole pipeline, one core — {result['machine']['cpu_model']}, "
             f"{when:%Y-%m-%d %H:%M} UTC, {a.seconds}s each"
             f"{f', median of {a.rounds} rounds' if a.rounds > 1 else ''}, commit {a.commit}")
    try:
        result["plots"] = plot(rows, base, title)
    except Exception as e:  # the figures still count without a plot; the smoke check says so
        print(f"bench: plotting failed: {e}", file=sys.stderr)
        result["plots"] = []
    with open(base + ".json", "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")

    w = max(len(r["label"]) for r in rows) if rows else 10
    print()
    def num(v, spec=".2f"):
        return "-" if v is None else format(v, spec)
    print(f"{'contender, one forwarding core':<{w}}  {'Mpps':>7}  {'core':>5}  {'Mpps/core':>9}  "
          f"{'/testpmd':>8}  {'/ip_pipeline':>12}")
    for r in rows:
        print(f"{r['label']:<{w}}  {r['mpps']:7.2f}  {r['core_share']:5.2f}  {num(r['mpps_per_core']):>9}  "
              f"{num(r['vs_testpmd']):>8}  {num(r['vs_ip_pipeline']):>12}")
    print()
    print("core = share of the forwarding CPU the contender's lcores used in the window (1.00 = all "
          "of it; less when other work shares the CPU); Mpps/core = Mpps / core")
    if a.rounds > 1:
        print(f"each figure is the median of {a.rounds} rounds")
    if by.get("backlogged", {}).get("expected_pps"):
        print(f"backlogged: sent {by['backlogged']['pps'] / 1e6:.2f} Mpps of the "
              f"{by['backlogged']['expected_pps'] / 1e6:.2f} Mpps the 4,096 caps add up to")
    lfl = result["like_for_like"]
    if lfl["sluice_over_ip_pipeline"] is not None:
        verdict = "meets" if lfl["sluice_over_ip_pipeline"] >= 1.5 else "is below"
        print(f"like for like (4,096 subscribers): Sluice / ip_pipeline = "
              f"{lfl['sluice_over_ip_pipeline']:.2f}x ({verdict} the 1.5x floor; aim 2x); "
              f"per core {num(lfl['sluice_over_ip_pipeline_per_core'])}x; "
              f"Sluice / testpmd = {num(lfl['sluice_over_testpmd'])}")
    else:
        print("like for like (4,096 subscribers): no ratio, a figure is missing")
    for r in rows:
        print(f"  {r['id']}: {r['note']}")
    print()
    print(f"results: {base}.json")
    for p in result["plots"]:
        print(f"plot:    {p}")

    if a.smoke:
        missing = [r["id"] for r in rows if r["pps"] <= 0]
        expected = {"testpmd", "ip_pipeline", "qos_sched", "forward", "dscp", "rules1000", "deep1000",
                    "deep1000_fq", "classes100k", "subscribers", "backlogged"}
        missing += sorted(expected - set(by))
        files = [base + ".json", base + ".png", base + ".svg"]
        missing += [f for f in files if not os.path.isfile(f) or os.path.getsize(f) == 0]
        if missing:
            print(f"bench: smoke check failed, no figure or file for: {', '.join(missing)}", file=sys.stderr)
            return 1
        print("bench: smoke check passed: every figure produced, JSON and plots written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
