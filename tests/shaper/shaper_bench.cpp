// Shaper benchmark: enqueue + dequeue packets per second on one core.
//
// For 10, 1,000 and 100,000 leaf classes, flat (root -> leaves) and three
// levels deep (root -> groups -> subgroups -> leaves), with fifo and with
// fq_codel leaves, it pushes bursts of 32 64-byte packets to uniformly
// random classes and takes bursts of 32 back, with the TSC as the clock.
// The 100 Gbit/s root keeps the CPU, not the shaping, the bottleneck. Class
// ids run from 0, parents first, as sluiced numbers its classes. Three
// workloads per case:
//   own-rate    each leaf's rate is twice its share of the offered load, so
//               it always sends on its own tokens;
//   borrowing   each leaf's rate is half its share and its ceil the link, so
//               leaves keep switching between their own rate and borrowing:
//               mode changes, feeds and timers all run;
//   backlogged  borrowing, with a standing backlog (16 packets per class, at
//               most 65,536), so dequeue meets classes it did not just touch.
//
// Each kind and shape ends with a "100k/10" line: the 100,000-class figure
// as a share of the 10-class one, the median of three pairs of runs made
// back to back (see main), then each pair's share in the order run.
//
// As a reference it then runs DPDK's rte_sched (4,096 pipes, one subport,
// best-effort class) on the same packet stream, as scheduler-only enqueue +
// dequeue of real (recycled) mbufs, and the Sluice scheduler with 4,096
// flat classes.
//
//   shaper_bench [seconds-per-case [classes flat|3-deep fifo|fq_codel [0|1|2]]]
//   (default 1.0 s; naming one case runs only that case, for profiling,
//   with any number of classes; the last argument picks own-rate (0),
//   borrowing (1) or backlogged (2))
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_sched.h>
#include <x86intrin.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "shaper/scheduler.hpp"

using namespace sluice::shaper;

namespace {

constexpr uint32_t kBurst = 32;
constexpr uint32_t kPairs = 3;  // runs of 10 and 100,000 classes per scale ratio
constexpr uint32_t kStream = 1u << 20;  // precomputed random stream
constexpr uint32_t kLength = 64;
constexpr uint64_t kLink = 100'000'000'000ull / 8;  // bytes/s

uint64_t tsc_hz() {
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t c0 = __rdtsc();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const uint64_t c1 = __rdtsc();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return static_cast<uint64_t>(static_cast<double>(c1 - c0) / s);
}

struct Stream {
    std::vector<uint32_t> index;  // leaf index per packet
    std::vector<uint32_t> hash;
};

Stream make_stream(uint32_t leaves) {
    Stream s;
    std::mt19937 rng(42);
    s.index.resize(kStream);
    s.hash.resize(kStream);
    for (uint32_t i = 0; i < kStream; ++i) {
        s.index[i] = rng() % leaves;
        s.hash[i] = static_cast<uint32_t>(rng());
    }
    return s;
}

struct Built {
    std::unique_ptr<Scheduler> sched;
    std::vector<uint32_t> leaf_ids;
};

Built build(uint32_t leaves, bool deep, LeafKind kind, uint64_t hz, double offered_pps, double rate_share) {
    SchedulerConfig cfg;
    cfg.tick_hz = hz;
    cfg.packet_capacity = 1u << 17;
    Built b{std::make_unique<Scheduler>(cfg), {}};
    auto add = [&](uint32_t id, uint32_t parent, uint64_t rate) {
        ClassConfig c;
        c.id = id;
        c.parent = parent;
        c.rate = rate;
        c.ceil = kLink;
        c.leaf.kind = kind;
        c.leaf.flows = 16;  // as in the figures of docs/benchmarks.md; memory no longer depends on it
        const Status st = b.sched->apply(AddClass{c}, __rdtsc());
        if (!st.ok()) {
            std::fprintf(stderr, "%s\n", st.error().c_str());
            std::exit(1);
        }
    };
    const auto leaf_rate = std::max<uint64_t>(
        Scheduler::kMinRate, static_cast<uint64_t>(offered_pps * kLength * rate_share / leaves));
    // Ids in a run from 0, parents first, as sluiced numbers its classes.
    uint32_t next_id = 0;
    const uint32_t root = next_id++;
    add(root, kNoParent, kLink);
    if (!deep) {
        for (uint32_t i = 0; i < leaves; ++i) {
            add(next_id, root, leaf_rate);
            b.leaf_ids.push_back(next_id++);
        }
        return b;
    }
    const auto fan = static_cast<uint32_t>(std::ceil(std::cbrt(static_cast<double>(leaves))));
    std::vector<uint32_t> mid;
    const uint32_t per_sub = (leaves + fan * fan - 1) / (fan * fan);
    for (uint32_t g = 0; g < fan; ++g) {
        const uint32_t gid = next_id++;
        add(gid, root, leaf_rate * per_sub * fan);
        for (uint32_t s = 0; s < fan; ++s) {
            add(next_id, gid, leaf_rate * per_sub);
            mid.push_back(next_id++);
        }
    }
    for (uint32_t i = 0; i < leaves; ++i) {
        add(next_id, mid[i % mid.size()], leaf_rate);
        b.leaf_ids.push_back(next_id++);
    }
    return b;
}

void drop_nothing(void*, const Packet&, DropReason) {}

// Returns Mpps of packets enqueued and dequeued.
double run_sluice(Scheduler& s, const std::vector<uint32_t>& leaf_ids, const Stream& st, double seconds,
                  uint32_t prefill, uint64_t& drops, uint32_t& backlog) {
    s.set_drop_handler(
        [](void* ctx, const Packet&, DropReason) { ++*static_cast<uint64_t*>(ctx); }, &drops);
    std::vector<uint32_t> ids(kStream);
    for (uint32_t i = 0; i < kStream; ++i) ids[i] = leaf_ids[st.index[i]];
    Packet in[kBurst], out[kBurst];
    uint32_t pos = 0;
    uint64_t done = 0;
    auto step = [&] {
        for (uint32_t k = 0; k < kBurst; ++k) {
            in[k] = Packet{pos + k, kLength, st.hash[pos + k]};
        }
        s.enqueue_burst(&ids[pos], in, kBurst, __rdtsc());
        pos = (pos + kBurst) & (kStream - 1);
        done += s.dequeue_burst(out, kBurst, __rdtsc());
    };
    // A standing backlog, if asked for: enqueue without dequeueing first.
    for (uint32_t k = 0; k < prefill; k += kBurst) {
        for (uint32_t j = 0; j < kBurst; ++j) in[j] = Packet{pos + j, kLength, st.hash[pos + j]};
        s.enqueue_burst(&ids[pos], in, kBurst, __rdtsc());
        pos = (pos + kBurst) & (kStream - 1);
    }
    // Warm-up: touch every class.
    const auto warm_until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds / 4);
    while (std::chrono::steady_clock::now() < warm_until)
        for (int i = 0; i < 256; ++i) step();
    done = 0;
    const auto t0 = std::chrono::steady_clock::now();
    double elapsed = 0;
    while (elapsed < seconds) {
        for (int i = 0; i < 1024; ++i) step();
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    s.set_drop_handler(drop_nothing, nullptr);
    backlog = s.backlog_packets();
    return static_cast<double>(done) / elapsed / 1e6;
}

// ---- DPDK rte_sched reference ----

struct SchedRef {
    rte_sched_port* port = nullptr;
    rte_mempool* pool = nullptr;
};

SchedRef make_rte_sched(uint32_t pipes) {
    SchedRef r;
    r.pool = rte_pktmbuf_pool_create("bench_pool", 1u << 17, 256, 0, RTE_PKTMBUF_HEADROOM + 256, 0);
    if (!r.pool) {
        std::fprintf(stderr, "rte_sched reference: mempool: %s\n", rte_strerror(rte_errno));
        return r;
    }
    static rte_sched_subport_profile_params sp{};
    sp.tb_rate = kLink;
    sp.tb_size = 1'000'000;
    for (auto& t : sp.tc_rate) t = kLink;
    sp.tc_period = 10;
    rte_sched_port_params pp{};
    pp.name = "bench_port";
    pp.socket = 0;
    pp.rate = kLink;
    pp.mtu = 1522;
    pp.frame_overhead = 24;
    pp.n_subports_per_port = 1;
    pp.subport_profiles = &sp;
    pp.n_subport_profiles = 1;
    pp.n_max_subport_profiles = 1;
    pp.n_pipes_per_subport = pipes;
    r.port = rte_sched_port_config(&pp);
    if (!r.port) {
        std::fprintf(stderr, "rte_sched reference: port config failed\n");
        return r;
    }
    static rte_sched_pipe_params pipe{};
    pipe.tb_rate = kLink / 4;
    pipe.tb_size = 1'000'000;
    for (auto& t : pipe.tc_rate) t = kLink / 4;
    pipe.tc_period = 40;
    pipe.tc_ov_weight = 1;
    for (auto& w : pipe.wrr_weights) w = 1;
    rte_sched_subport_params sub{};
    sub.n_pipes_per_subport_enabled = pipes;
    for (auto& q : sub.qsize) q = 64;
    sub.pipe_profiles = &pipe;
    sub.n_pipe_profiles = 1;
    sub.n_max_pipe_profiles = 1;
    if (const int rc = rte_sched_subport_config(r.port, 0, &sub, 0); rc != 0) {
        std::fprintf(stderr, "rte_sched reference: subport config: %d\n", rc);
        rte_sched_port_free(r.port);
        r.port = nullptr;
        return r;
    }
    for (uint32_t p = 0; p < pipes; ++p) rte_sched_pipe_config(r.port, 0, p, 0);
    return r;
}

double run_rte_sched(SchedRef& r, uint32_t pipes, const Stream& st, double seconds, uint32_t prefill) {
    // Dequeued mbufs are reused for the next enqueue, as the Sluice run
    // reuses its packet slots: neither side pays for buffer allocation.
    std::vector<rte_mbuf*> spare;
    rte_mbuf* out[kBurst];
    uint32_t pos = 0;
    uint64_t done = 0;
    auto step = [&] {
        if (spare.size() < kBurst) {
            rte_mbuf* fresh[kBurst];
            if (rte_pktmbuf_alloc_bulk(r.pool, fresh, kBurst) != 0) return;
            for (rte_mbuf* m : fresh) {
                rte_pktmbuf_append(m, kLength);
                spare.push_back(m);
            }
        }
        rte_mbuf** in = spare.data() + spare.size() - kBurst;
        for (uint32_t k = 0; k < kBurst; ++k)
            rte_sched_port_pkt_write(r.port, in[k], 0, st.index[pos + k] % pipes, RTE_SCHED_TRAFFIC_CLASS_BE,
                                     st.hash[pos + k] & 3, RTE_COLOR_GREEN);
        rte_sched_port_enqueue(r.port, in, kBurst);  // frees what it drops
        spare.resize(spare.size() - kBurst);
        pos = (pos + kBurst) & (kStream - 1);
        const int n = prefill ? 0 : rte_sched_port_dequeue(r.port, out, kBurst);
        spare.insert(spare.end(), out, out + n);
        done += static_cast<uint64_t>(n);
    };
    for (const uint32_t fill = prefill; prefill > 0;) {
        step();
        prefill = prefill > kBurst ? prefill - kBurst : 0;
        (void)fill;
    }
    const auto warm_until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds / 4);
    while (std::chrono::steady_clock::now() < warm_until)
        for (int i = 0; i < 256; ++i) step();
    done = 0;
    const auto t0 = std::chrono::steady_clock::now();
    double elapsed = 0;
    while (elapsed < seconds) {
        for (int i = 0; i < 1024; ++i) step();
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    return static_cast<double>(done) / elapsed / 1e6;
}

}  // namespace

uint32_t prefill_for(uint32_t classes) { return std::min<uint32_t>(16 * classes, 65'536); }

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
    const bool one_case = argc > 4;
    const uint64_t hz = tsc_hz();
    std::printf("shaper_bench: TSC %.3f GHz, %u-packet bursts of %u-byte frames, %.1f s per case\n", static_cast<double>(hz) / 1e9,
                kBurst, kLength, seconds);
    std::printf("own-rate:   leaves' rates exceed their load; queues empty, so nearly every packet\n"
                "            activates and deactivates its class;\n"
                "borrowing:  leaves' rates are half their load, the rest is borrowed from the parent;\n"
                "backlogged: borrowing, with a standing backlog of min(16 x classes, 65536) packets.\n\n");
    std::printf("%-8s %-7s %-9s %10s %10s %10s\n", "classes", "shape", "leaves", "own-rate", "borrowing", "backlogged");
    const double offered = 20e6;
    // One figure: a tree built, run and thrown away.
    auto measure = [&](uint32_t n, bool deep, LeafKind kind, int mode) {
        const Stream st = make_stream(n);
        Built b = build(n, deep, kind, hz, offered, mode == 0 ? 2.0 : 0.5);
        uint64_t drops = 0;
        uint32_t backlog = 0;
        const double mpps = run_sluice(*b.sched, b.leaf_ids, st, seconds, mode == 2 ? prefill_for(n) : 0, drops, backlog);
        if (drops) std::printf("  (%llu drops)\n", static_cast<unsigned long long>(drops));
        return mpps;
    };
    for (const LeafKind kind : {LeafKind::fifo, LeafKind::fq_codel}) {
        for (const bool deep : {false, true}) {
            // One case may name any class count (to see how a figure
            // moves with the working set); the table has three.
            const std::vector<uint32_t> counts =
                one_case ? std::vector<uint32_t>{static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10))}
                         : std::vector<uint32_t>{10u, 1'000u, 100'000u};
            for (const uint32_t n : counts) {
                if (one_case && (n == 0 || std::string(deep ? "3-deep" : "flat") != argv[3] ||
                                 std::string(kind == LeafKind::fifo ? "fifo" : "fq_codel") != argv[4]))
                    continue;
                double mpps[3];
                for (int mode = 0; mode < 3; ++mode) {
                    const bool skip = one_case && argc > 5 && std::atoi(argv[5]) != mode;
                    mpps[mode] = skip ? 0 : measure(n, deep, kind, mode);
                }
                std::printf("%-8u %-7s %-9s %10.2f %10.2f %10.2f\n", n, deep ? "3-deep" : "flat",
                            kind == LeafKind::fifo ? "fifo" : "fq_codel", mpps[0], mpps[1], mpps[2]);
                std::fflush(stdout);
            }
            if (one_case) continue;
            // The scale target compares 100,000 classes with 10. The 100,000
            // figure depends on the memory system, which other tenants of
            // the machine share, so one run of each, a minute apart, can be
            // far off: the ratio is taken from runs in pairs, 10 classes and
            // then 100,000 straight after, and the median pair reported.
            // Every pair is printed too, in the order run, so that a reader
            // sees how far apart they were.
            std::array<std::array<double, kPairs>, 3> ratios{};
            for (int mode = 0; mode < 3; ++mode)
                for (double& r : ratios[mode]) {
                    const double ten = measure(10, deep, kind, mode);
                    r = measure(100'000, deep, kind, mode) / ten;
                }
            std::printf("%-8s %-7s %-9s", "100k/10", deep ? "3-deep" : "flat", kind == LeafKind::fifo ? "fifo" : "fq_codel");
            for (const auto& pairs : ratios) {
                auto sorted = pairs;
                std::sort(sorted.begin(), sorted.end());
                std::printf(" %9.0f%%", 100 * sorted[kPairs / 2]);
            }
            std::printf("   (median of %u pairs:", kPairs);
            for (const auto& pairs : ratios) {
                std::printf(" ");
                for (uint32_t i = 0; i < kPairs; ++i) std::printf("%s%.0f", i ? "/" : "", 100 * pairs[i]);
            }
            std::printf(")\n");
            std::fflush(stdout);
        }
    }
    if (one_case) return 0;

    // Reference: rte_sched and Sluice on the same 4,096-class stream.
    constexpr uint32_t kPipes = 4'096;
    const Stream st = make_stream(kPipes);
    double ours[2];
    for (int mode = 0; mode < 2; ++mode) {
        Built b = build(kPipes, false, LeafKind::fifo, hz, offered, 2.0);
        uint64_t drops = 0;
        uint32_t backlog = 0;
        ours[mode] = run_sluice(*b.sched, b.leaf_ids, st, seconds, mode ? prefill_for(kPipes) : 0, drops, backlog);
    }
    std::printf("\nSame 4,096-class stream, leaves within their rate:  %10s %10s\n", "empty", "backlogged");
    std::printf("%-50s %10.2f %10.2f\n", "sluice, 4096 flat fifo classes", ours[0], ours[1]);
    std::vector<char*> eal_args;
    std::string a0 = "shaper_bench", a1 = "--no-huge", a2 = "-m", a3 = "512", a4 = "--no-shconf", a5 = "--no-pci",
                a6 = "--log-level=error", a7 = "-l", a8 = "0";
    for (std::string* a : {&a0, &a1, &a2, &a3, &a4, &a5, &a6, &a7, &a8}) eal_args.push_back(a->data());
    if (rte_eal_init(static_cast<int>(eal_args.size()), eal_args.data()) < 0) {
        std::printf("%-40s %12s\n", "rte_sched, 4096 pipes", "skipped (EAL init failed)");
        return 0;
    }
    double theirs[2] = {0, 0};
    for (int mode = 0; mode < 2; ++mode) {
        SchedRef ref = make_rte_sched(kPipes);
        if (!ref.port) {
            std::printf("%-40s %12s\n", "rte_sched, 4096 pipes", "skipped (setup failed)");
            return 0;
        }
        theirs[mode] = run_rte_sched(ref, kPipes, st, seconds, mode ? prefill_for(kPipes) : 0);
        rte_sched_port_free(ref.port);
        rte_mempool_free(ref.pool);
    }
    std::printf("%-50s %10.2f %10.2f\n", "rte_sched, 4096 pipes, 1 subport, BE class", theirs[0], theirs[1]);
    return 0;
}
