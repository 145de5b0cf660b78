// Several workers on one class tree, in virtual time.
//
// W real schedulers, each holding a local copy of the link root (class 1)
// and the leaves its worker owns, each driven by its own VirtualTraffic;
// one RateShare re-divides the root every period from what it reads of
// them, and its changes are applied to each scheduler at that tick, as the
// daemon's workers would apply them between bursts. The workers' clocks
// advance together, a period at a time. With `rebalance` off the root
// stays split equally: what a fixed division (cake_mq's, with every
// queue active) gives, the baseline the tests compare against.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "shaper/rate_share.hpp"
#include "tests/shaper/virtual_traffic.hpp"

namespace sluice::shaper::testing {

inline constexpr uint32_t kRootId = 1;

struct SimLeaf {
    uint32_t worker = 0;
    ClassConfig config;  // parent kRootId
};

struct SimFlow {
    uint32_t worker = 0;
    Source source;
};

struct SimSetup {
    uint32_t workers = 2;
    uint64_t root_rate = mbit(100);
    std::vector<SimLeaf> leaves;
    std::vector<SimFlow> flows;
    bool rebalance = true;
    uint64_t period = 100'000;  // ticks (ns) between rebalance steps
    RateShareConfig share{};
};

// A share of the root, as the rebalancer set it for one worker at a step.
struct ShareSample {
    uint64_t tick = 0;
    uint64_t rate = 0;
};

class MultiWorkerSim {
public:
    explicit MultiWorkerSim(const SimSetup& setup) : setup_(setup), share_(setup.share, setup.workers) {
        setup_.share.tick_hz = kHz;
        share_ = RateShare(setup_.share, setup_.workers);
        check(share_.add_class({kRootId, setup_.root_rate, setup_.root_rate}), "root");
        for (const SimLeaf& l : setup_.leaves)
            check(share_.add_member({kRootId, l.worker, l.config.id, l.config.prio, l.config.rate, l.config.weight,
                                     std::max(l.config.ceil, l.config.rate)}),
                  "member");
        std::vector<uint64_t> initial(setup_.workers, 0);
        for (const LocalChange& c : share_.initial_split()) initial[c.worker] = *c.change.rate;
        for (uint32_t w = 0; w < setup_.workers; ++w) {
            SchedulerConfig cfg;
            cfg.tick_hz = kHz;
            auto s = std::make_unique<Scheduler>(cfg);
            check(s->apply(AddClass{leaf(kRootId, kNoParent, initial[w])}, 0), "root copy");
            for (const SimLeaf& l : setup_.leaves)
                if (l.worker == w) check(s->apply(AddClass{l.config}, 0), "leaf");
            schedulers_.push_back(std::move(s));
        }
        for (uint32_t w = 0; w < setup_.workers; ++w)
            traffic_.push_back(std::make_unique<VirtualTraffic>(*schedulers_[w]));
        for (const SimFlow& f : setup_.flows) flow_index_.push_back(traffic_[f.worker]->add(f.source));
        trace_.resize(setup_.workers);
    }

    // Runs to `end`, counting departures in [w0, w1).
    void run(uint64_t end, uint64_t w0 = 0, uint64_t w1 = UINT64_MAX) {
        while (now_ < end) {
            now_ += setup_.period;
            for (auto& t : traffic_) t->run(now_, w0, w1);
            if (setup_.rebalance) rebalance();
        }
    }

    Source& flow(size_t i) { return traffic_[setup_.flows[i].worker]->source(flow_index_[i]); }
    size_t flow_count() const { return setup_.flows.size(); }
    // Departed bytes of every flow inside the window, as a rate.
    double aggregate_rate(uint64_t window) {
        double sum = 0;
        for (size_t i = 0; i < flow_count(); ++i) sum += flow(i).window_rate(window);
        return sum;
    }
    const std::vector<ShareSample>& trace(uint32_t w) const { return trace_[w]; }
    uint64_t steps() const { return steps_; }
    // Median wall time of one rebalance (read every worker, divide) and of
    // the divide alone, ns: the median, as other work on the machine
    // lengthens a few steps by far more than a step costs.
    double rebalance_ns() const { return median(step_ns_); }
    double divide_ns() const { return median(divide_ns_); }
    const RateShare& share() const { return share_; }

private:
    static void check(const Status& s, const char* what) {
        if (!s.ok()) throw std::runtime_error(std::string(what) + ": " + s.error());
    }

    void rebalance() {
        using clock = std::chrono::steady_clock;
        const auto t0 = clock::now();
        for (uint32_t w = 0; w < setup_.workers; ++w) share_.read(w, *schedulers_[w]);
        const auto t1 = clock::now();
        const std::span<const LocalChange> changes = share_.step(now_);
        const auto t2 = clock::now();
        step_ns_.push_back(std::chrono::duration<double, std::nano>(t2 - t0).count());
        divide_ns_.push_back(std::chrono::duration<double, std::nano>(t2 - t1).count());
        ++steps_;
        for (const LocalChange& c : changes) {
            check(schedulers_[c.worker]->apply(c.change, now_), "local change");
            trace_[c.worker].push_back({now_, *c.change.rate});
        }
    }

    static double median(std::vector<double> v) {
        if (v.empty()) return 0;
        std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(v.size() / 2), v.end());
        return v[v.size() / 2];
    }

    SimSetup setup_;
    RateShare share_;
    std::vector<std::unique_ptr<Scheduler>> schedulers_;
    std::vector<std::unique_ptr<VirtualTraffic>> traffic_;
    std::vector<size_t> flow_index_;
    std::vector<std::vector<ShareSample>> trace_;
    uint64_t now_ = 0;
    uint64_t steps_ = 0;
    std::vector<double> step_ns_;
    std::vector<double> divide_ns_;
};

// The same leaves and flows on one scheduler: what the policy gives when
// nothing is divided. Returns each flow's rate over [w0, w0 + window).
// Flows of identical classes with identical sources get their group's mean:
// one scheduler's round robin itself spreads equal classes by a few per
// cent over a second (which of them is ahead changes from run to run),
// and it is the policy's share, not that spread, the workers must match.
inline std::vector<double> single_scheduler_rates(const SimSetup& setup, uint64_t w0, uint64_t window) {
    SchedulerConfig cfg;
    cfg.tick_hz = kHz;
    Scheduler s(cfg);
    (void)s.apply(AddClass{leaf(kRootId, kNoParent, setup.root_rate)}, 0);
    for (const SimLeaf& l : setup.leaves)
        if (Status st = s.apply(AddClass{l.config}, 0); !st.ok()) throw std::runtime_error(st.error());
    VirtualTraffic t(s);
    for (const SimFlow& f : setup.flows) t.add(f.source);
    t.run(w0 + window, w0, w0 + window);
    auto class_of = [&](uint32_t id) -> ClassConfig {
        for (const SimLeaf& l : setup.leaves)
            if (l.config.id == id) return l.config;
        return {};
    };
    auto same = [&](const SimFlow& a, const SimFlow& b) {
        ClassConfig ca = class_of(a.source.class_id), cb = class_of(b.source.class_id);
        ca.id = cb.id = 0;
        const Source &x = a.source, &y = b.source;
        return ca == cb && x.kind == y.kind && x.rate == y.rate && x.length == y.length && x.start == y.start &&
               x.stop == y.stop && x.keep_queued == y.keep_queued;
    };
    std::vector<double> rates;
    for (size_t i = 0; i < setup.flows.size(); ++i) {
        double sum = 0;
        int n = 0;
        for (size_t j = 0; j < setup.flows.size(); ++j) {
            if (!same(setup.flows[i], setup.flows[j])) continue;
            sum += t.source(j).window_rate(window);
            ++n;
        }
        rates.push_back(sum / n);
    }
    return rates;
}

// ---- the scenarios the test and the benchmark share ----

inline Source saturating(uint32_t class_id, uint64_t start = 0, uint64_t stop = UINT64_MAX) {
    Source s;
    s.class_id = class_id;
    s.start = start;
    s.stop = stop;
    return s;
}

inline Source paced(uint32_t class_id, double rate, uint32_t length = 1'500) {
    Source s;
    s.class_id = class_id;
    s.kind = Source::Kind::paced;
    s.rate = rate;
    s.length = length;
    return s;
}

// One bulk leaf per worker (id 100 + w), equal rates, ceil the link.
inline SimSetup bulk_per_worker(uint32_t workers, uint64_t root = mbit(100)) {
    SimSetup s;
    s.workers = workers;
    s.root_rate = root;
    for (uint32_t w = 0; w < workers; ++w)
        s.leaves.push_back({w, leaf(100 + w, kRootId, root / (2 * workers), root, 1)});
    return s;
}

// Offered load split between the workers in `fractions` of `offered`
// (bytes/s): a fraction that alone exceeds the link saturates, the others
// are paced at their part.
inline SimSetup split_load(uint32_t workers, const std::vector<double>& fractions, double offered) {
    SimSetup s = bulk_per_worker(workers);
    for (uint32_t w = 0; w < workers && w < fractions.size(); ++w) {
        if (fractions[w] <= 0) continue;
        const double part = fractions[w] * offered;
        s.flows.push_back({w, part >= static_cast<double>(s.root_rate) ? saturating(100 + w) : paced(100 + w, part)});
    }
    return s;
}

// Voice: a priority-0 leaf (rate 2, ceil 30 Mbit/s) on worker 0 paced at
// 8 Mbit/s in 200-byte packets, so it borrows; bulk leaves (priority 1)
// saturating on every other worker.
inline SimSetup voice_and_bulk(uint32_t workers) {
    SimSetup s;
    s.workers = workers;
    s.leaves.push_back({0, leaf(10, kRootId, mbit(2), mbit(30), 0)});
    s.flows.push_back({0, paced(10, mbit(8), 200)});
    for (uint32_t w = 1; w < workers; ++w) {
        s.leaves.push_back({w, leaf(100 + w, kRootId, mbit(60) / (workers - 1), mbit(100), 1)});
        s.flows.push_back({w, saturating(100 + w)});
    }
    return s;
}

// The load moves: worker 0 saturates until `at`, then worker W-1 does.
inline SimSetup moving_load(uint32_t workers, uint64_t at) {
    SimSetup s = bulk_per_worker(workers);
    // A short queue, as a TCP sender keeps: what it holds at the move
    // drains before its worker is idle.
    Source first = saturating(100, 0, at);
    first.keep_queued = 4;
    first.record_departures = true;
    s.flows.push_back({0, first});
    s.flows.push_back({workers - 1, saturating(100 + workers - 1, at)});
    return s;
}

// The first tick from `after` on at which worker w's share of the root
// is at least `fraction` of it: `after` itself if the share set before it
// already was (UINT64_MAX: never).
inline uint64_t share_reached(const MultiWorkerSim& sim, uint32_t w, uint64_t after, double fraction,
                              uint64_t root) {
    const double want = fraction * static_cast<double>(root);
    bool enough = false;  // the share in force at `after`
    for (const ShareSample& s : sim.trace(w)) {
        if (s.tick >= after) {
            if (enough) return after;
            if (static_cast<double>(s.rate) >= want) return s.tick;
            continue;
        }
        enough = static_cast<double>(s.rate) >= want;
    }
    return enough ? after : UINT64_MAX;
}

}  // namespace sluice::shaper::testing
