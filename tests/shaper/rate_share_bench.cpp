// Several workers on one root: the rebalancer in virtual time, as a table.
//
// For 2, 4, 8 and 16 workers, each case runs the real schedulers (one per
// worker, a copy of a 100 Mbit/s root in each) under RateShare every
// period, and prints per case:
//   aggregate   what all workers sent together over 1 s after 0.2 s of
//               warm-up, and its error against the root rate;
//   static      the same error with the root split equally and never moved;
//   classes     the largest gap between a flow's rate and what one
//               scheduler with the same policy gives it, % of that;
//   to 99%      all on one: from the start (an equal split) until the busy
//               worker's share of the root is >= 99%; moving load: from the
//               move until the new worker's is, and in brackets from the
//               old worker's last departure (its queue drains first);
//   voice p99   the priority-0 flow's 99th-percentile delay;
//   step        median wall time of one rebalance (read and sum every
//               worker's leaves, divide), and of summing and dividing
//               alone (one thread doing every worker's part). The inputs
//               are the same every run (virtual time), so the work per
//               step is the same; only the clock's noise differs.
// Then, on plain samples as the leaves per worker grow, what each worker
// pays to sum its own leaves and what worker 0 pays to combine and divide.
//
//   rate_share_bench [period-us]   (default 100)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/shaper/multi_worker_sim.hpp"

using namespace sluice::shaper;
using namespace sluice::shaper::testing;

namespace {

constexpr uint64_t kWarm = ms(200);
constexpr uint64_t kWindow = sec(1);

struct Row {
    std::string name;
    SimSetup setup;
    uint64_t move_at = 0;  // moving load: when the load moves
    bool voice = false;
    bool one_busy = false;  // worker 0 alone has traffic, from the start
};

double error_pct(double got, uint64_t root) { return 100.0 * (got - root) / root; }

void run_row(uint32_t workers, const Row& row, uint64_t period) {
    SimSetup setup = row.setup;
    setup.period = period;
    MultiWorkerSim sim(setup);
    sim.run(kWarm + kWindow, kWarm, kWarm + kWindow);
    const double agg = sim.aggregate_rate(kWindow);

    SimSetup fixed = setup;
    fixed.rebalance = false;
    MultiWorkerSim baseline(fixed);
    baseline.run(kWarm + kWindow, kWarm, kWarm + kWindow);
    const double agg_static = baseline.aggregate_rate(kWindow);

    double worst = 0;
    if (!row.move_at) {
        const std::vector<double> one = single_scheduler_rates(setup, kWarm, kWindow);
        for (size_t i = 0; i < one.size(); ++i)
            if (one[i] > 0) worst = std::max(worst, std::abs(sim.flow(i).window_rate(kWindow) - one[i]) / one[i]);
    }

    std::string handover = "-";
    auto us = [](uint64_t t) { return t == UINT64_MAX ? std::string("never") : std::to_string(t / 1000) + " us"; };
    if (row.move_at) {
        const auto& d = sim.flow(0).departures;
        const uint64_t last = d.empty() ? row.move_at : d.back().first;
        const uint64_t t = share_reached(sim, workers - 1, row.move_at, 0.99, setup.root_rate);
        handover = t == UINT64_MAX ? "never" : us(t - row.move_at) + " (" + us(t > last ? t - last : 0) + ")";
    } else if (row.one_busy) {
        handover = us(share_reached(sim, 0, 0, 0.99, setup.root_rate));
    }
    std::string voice = "-";
    if (row.voice) {
        char b[32];
        std::snprintf(b, sizeof b, "%.1f us", sim.flow(0).delay_quantile(0.99) / 1e3);
        voice = b;
    }
    std::printf("| %2u | %-22s | %7.3f | %+7.3f%% | %+8.2f%% | %6.2f%% | %18s | %9s | %7.0f | %7.0f |\n", workers,
                row.name.c_str(), agg * 8 / 1e6, error_pct(agg, setup.root_rate), error_pct(agg_static, setup.root_rate),
                row.move_at ? 0.0 : 100 * worst, handover.c_str(), voice.c_str(), sim.rebalance_ns(),
                sim.divide_ns());
    std::fflush(stdout);
}

std::vector<Row> rows(uint32_t workers) {
    const double offered = 1.5 * mbit(100);
    std::vector<Row> r;
    std::vector<double> even(workers, 1.0 / workers);
    r.push_back({"even, 1.5x the link", split_load(workers, even, offered)});
    std::vector<double> skew(workers, 0.1 / (workers - 1));
    skew[0] = 0.9;
    r.push_back({workers == 2 ? "90/10" : "90% on one, rest even", split_load(workers, skew, offered)});
    std::vector<double> one(workers, 0.0);
    one[0] = 1.0;
    r.push_back({"all on one (100/0...)", split_load(workers, one, offered), 0, false, true});
    r.push_back({"moving at 0.7 s", moving_load(workers, ms(700)), ms(700)});
    r.push_back({"voice p0 + bulk others", voice_and_bulk(workers), 0, true});
    return r;
}

// The step on plain samples, as the leaves per worker grow: one shared
// root, `leaves` members per worker spread over the 8 bands, each sample
// moved by a fixed pseudo-random stream (the same every run), half the
// workers queued. Medians over `steps` steps of what each worker pays to
// sum its own leaves (ShareSampler::sum, per worker) and of what worker 0
// pays to combine every worker's cells and divide (step_summed), in ns.
struct StepCost {
    double sum_per_worker = 0;
    double combine = 0;
};

StepCost step_cost(uint32_t workers, uint32_t leaves, uint32_t steps) {
    RateShare rs({}, workers);
    (void)rs.add_class({kRootId, mbit(100) * 100});
    for (uint32_t w = 0; w < workers; ++w)
        for (uint32_t i = 0; i < leaves; ++i)
            (void)rs.add_member({kRootId, w, 1000 + w * leaves + i, static_cast<uint8_t>(i % 8), mbit(1), 1});
    uint64_t x = 88172645463325252ull;
    auto next = [&] { return x ^= x << 13, x ^= x >> 7, x ^= x << 17; };
    std::vector<double> sum_ns, combine_ns;
    sum_ns.reserve(steps * workers);
    combine_ns.reserve(steps);
    auto since = [](auto t0) {
        return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    };
    for (uint32_t s = 1; s <= steps; ++s) {
        const uint64_t now = uint64_t{s} * 100'000;
        for (uint32_t w = 0; w < workers; ++w) {
            ShareSampler& sampler = rs.sampler(w);
            for (LeafSample& l : sampler.samples()) {
                l.departed += next() % 3'000;
                l.backlog = w % 2 ? next() % 50'000 : 0;
            }
            const auto t0 = std::chrono::steady_clock::now();
            sampler.sum(now);
            sum_ns.push_back(since(t0));
            rs.take_sums(w);
        }
        const auto t0 = std::chrono::steady_clock::now();
        (void)rs.step_summed(now);
        combine_ns.push_back(since(t0));
    }
    auto median = [](std::vector<double>& v) {
        std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
        return v[v.size() / 2];
    };
    return {median(sum_ns), median(combine_ns)};
}

}  // namespace

int main(int argc, char** argv) {
    const uint64_t period = (argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100) * 1000;
    std::printf("root 100 Mbit/s, rebalance every %llu us, 1 s measured after 0.2 s\n\n",
                static_cast<unsigned long long>(period / 1000));
    std::printf("| W  | case                   | Mbit/s  | error    | static    | classes | to 99%%             | voice p99 | step ns | divide ns |\n");
    std::printf("|---:|------------------------|--------:|---------:|----------:|--------:|-------------------:|----------:|--------:|--------:|\n");
    for (uint32_t w : {2u, 4u, 8u, 16u})
        for (const Row& row : rows(w)) run_row(w, row, period);

    std::printf("\nthe step on plain samples, median ns: each worker summing its own leaves, then worker 0\n"
                "combining every worker's cells and dividing (leaves per worker across)\n\n");
    std::printf("| W  | sum, 1 | sum, 10 | sum, 100 | sum, 1,000 | combine, 1 | combine, 1,000 |\n");
    std::printf("|---:|-------:|--------:|---------:|-----------:|-----------:|---------------:|\n");
    for (uint32_t w : {2u, 4u, 8u, 16u}) {
        std::printf("| %2u |", w);
        double combine_one = 0, combine_many = 0;
        for (uint32_t leaves : {1u, 10u, 100u, 1000u}) {
            const StepCost c = step_cost(w, leaves, 2'000);
            std::printf(" %*.0f |", leaves == 1 ? 6 : leaves == 10 ? 7 : leaves == 100 ? 8 : 10, c.sum_per_worker);
            if (leaves == 1) combine_one = c.combine;
            if (leaves == 1000) combine_many = c.combine;
        }
        std::printf(" %10.0f | %14.0f |\n", combine_one, combine_many);
        std::fflush(stdout);
    }
    return 0;
}
