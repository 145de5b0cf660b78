// What one step of the shared classes' rebalancer costs worker 0 as a
// subscriber tree grows: a policy of P plans (each an inner class with
// three leaves, owned with its leaves by one worker) under the link root
// (shared), divided among 2 and 4 workers;
// each step reads every worker's leaves and divides the shared classes, as
// ShareLink does every --rebalance-us. Prints the median of 2,000 steps,
// with every leaf idle (read from idle schedulers: the classes keep their
// division) and with every leaf sending and queued (samples written by
// hand: every class is divided at every step).
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

}  // namespace

int main(int argc, char** argv) {
    std::vector<int> sizes;
    for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
    if (sizes.empty()) sizes = {10, 100, 1000, 4000};
    std::printf("%8s %8s %8s %8s %16s %16s\n", "plans", "shared", "leaves", "workers", "idle step (us)",
                "busy step (us)");
    for (const int plans : sizes) {
        const auto loaded = policy::load_string(plans_policy(plans), "plans.toml");
        if (!loaded.ok()) {
            std::fprintf(stderr, "the generated policy does not load\n");
            return 1;
        }
        const auto& tree = loaded.policy->directions[0];
        for (const unsigned workers : {2u, 4u}) {
            shaper::RateShareConfig config;
            config.tick_hz = 1'000'000'000;
            auto share = runtime::build_rate_share(tree, {}, workers, config);
            auto schedulers = runtime::build_worker_schedulers(tree, config.tick_hz, 16384, 0, workers);
            if (!share || !schedulers) {
                std::fprintf(stderr, "%s\n", share ? schedulers.error().c_str() : share.error().c_str());
                return 1;
            }
            shaper::RateShare& rs = **share;
            (void)rs.initial_split();
            // One idle run, then one with every member sending and queued.
            double median[2] = {0, 0};
            for (const bool busy : {false, true}) {
                uint64_t now = 0;
                std::vector<double> us;
                for (int i = 0; i < 2'100; ++i) {
                    now += 100'000;
                    const auto t0 = std::chrono::steady_clock::now();
                    for (unsigned w = 0; w < workers; ++w) {
                        if (!busy) {
                            rs.read(w, *(*schedulers)[w]);
                            continue;
                        }
                        for (auto& sample : rs.samples_of(w)) {
                            sample.departed += 600 + static_cast<uint64_t>(i % 7) * 100;
                            sample.backlog = 1'500 * static_cast<uint64_t>(1 + i % 3);
                        }
                    }
                    (void)rs.step(now);
                    if (i >= 100)
                        us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
                }
                std::nth_element(us.begin(), us.begin() + static_cast<std::ptrdiff_t>(us.size() / 2), us.end());
                median[busy] = us[us.size() / 2];
            }
            std::printf("%8d %8zu %8d %8u %16.2f %16.2f\n", plans, rs.class_ids().size(), 3 * plans, workers, median[0],
                        median[1]);
        }
    }
    return 0;
}
