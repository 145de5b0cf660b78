// What the shared classes' rebalancer costs the workers as a subscriber
// tree grows: a policy of P plans (each an inner class with three leaves,
// owned with its leaves by one worker) under the link root (shared),
// divided among 2 and 4 workers, as ShareLink runs it every --rebalance-us:
// each worker reads its own leaves from its scheduler and sums them
// (ShareSampler), and worker 0 combines everyone's sums and divides the
// shared classes (RateShare::step_summed). Medians of 2,000 periods, with
// every leaf idle, and with every leaf queued and sending (between
// periods, untimed, each leaf gets a packet and the scheduler sends as
// many: every class is divided at every step).
//
//   rebalance_step_bench [PLANS...]   (default 10 100 1000 4000)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "control/policy/loader.hpp"
#include "control/runtime/worker_share.hpp"

using namespace sluice;

namespace {

std::string plans_policy(int plans) {
    std::string t = "version = 1\n[upload]\nrate = \"10gbit\"\ndefault_class = \"s0l2\"\n";
    for (int p = 0; p < plans; ++p) {
        const std::string s = "s" + std::to_string(p);
        t += "[[upload.class]]\nname = \"" + s + "\"\nrate = \"2mbit\"\nceil = \"100mbit\"\n";
        for (int l = 0; l < 3; ++l) {
            t += "[[upload.class]]\nname = \"" + s + "l" + std::to_string(l) + "\"\nparent = \"" + s +
                 "\"\nrate = \"500kbit\"\nceil = \"100mbit\"\nqueue = \"fifo\"\npriority = " + std::to_string(l) +
                 "\n";
        }
    }
    return t + "[download]\nrate = \"10gbit\"\n";
}

double median(std::vector<double>& v) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<int> sizes;
    for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
    if (sizes.empty()) sizes = {10, 100, 1000, 4000};
    std::printf("%8s %8s %8s %8s | %s | %s\n", "plans", "shared", "leaves", "workers",
                "reading per worker, idle / busy (us)", "combine and divide, idle / busy (us)");
    for (const int plans : sizes) {
        const auto loaded = policy::load_string(plans_policy(plans), "plans.toml");
        if (!loaded.ok()) {
            std::fprintf(stderr, "the generated policy does not load\n");
            return 1;
        }
        const auto& tree = loaded.policy->directions[0];
        for (const unsigned workers : {2u, 4u}) {
            double reading[2] = {0, 0};
            double combine[2] = {0, 0};
            size_t shared = 0;
            for (const bool busy : {false, true}) {
                shaper::RateShareConfig config;
                config.tick_hz = 1'000'000'000;
                auto share = runtime::build_rate_share(tree, {}, workers, config);
                auto schedulers = runtime::build_worker_schedulers(tree, config.tick_hz, 16384, 0, workers);
                if (!share || !schedulers) {
                    std::fprintf(stderr, "%s\n", share ? schedulers.error().c_str() : share.error().c_str());
                    return 1;
                }
                shaper::RateShare& rs = **share;
                shared = rs.class_ids().size();
                for (const auto& c : rs.initial_split()) (void)(*schedulers)[c.worker]->apply(c.change, 0);
                std::vector<shaper::Packet> out(64);
                uint64_t now = 0;
                std::vector<double> read_us;
                std::vector<double> combine_us;
                for (int i = 0; i < 2'100; ++i) {
                    now += 100'000;
                    for (unsigned w = 0; w < workers && busy; ++w) {
                        shaper::Scheduler& s = *(*schedulers)[w];
                        const auto leaves = rs.members_of(w);
                        for (const uint32_t leaf : leaves) (void)s.enqueue(leaf, {1, 1'000, 0}, now);
                        for (size_t sent = 0; sent < leaves.size();) {
                            const uint32_t n = s.dequeue_burst(out.data(), 64, now);
                            if (n == 0) break;
                            sent += n;
                        }
                    }
                    for (unsigned w = 0; w < workers; ++w) {
                        const auto t0 = std::chrono::steady_clock::now();
                        shaper::ShareSampler& sampler = rs.sampler(w);
                        sampler.sum(*(*schedulers)[w], now);
                        const auto t1 = std::chrono::steady_clock::now();
                        rs.take_sums(w);
                        if (i >= 100) read_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
                    }
                    const auto t0 = std::chrono::steady_clock::now();
                    for (const auto& c : rs.step_summed(now)) (void)(*schedulers)[c.worker]->apply(c.change, now);
                    if (i >= 100)
                        combine_us.push_back(
                            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
                }
                reading[busy] = median(read_us);
                combine[busy] = median(combine_us);
            }
            std::printf("%8d %8zu %8d %8u | %17.2f / %-16.2f | %17.2f / %-16.2f\n", plans, shared, 3 * plans, workers,
                        reading[0], reading[1], combine[0], combine[1]);
        }
    }
    return 0;
}
