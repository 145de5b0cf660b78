// Brings up a small DPDK environment once per test process, for tests of
// code that needs the EAL (rte_meter reads the TSC frequency, rte_acl and
// rte_ring allocate from DPDK memory): no hugepages, no PCI, no files.
#pragma once

#include <rte_eal.h>
#include <sched.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::test {

// lcore 0 (this thread) on the first allowed CPU and one worker lcore on the
// last, for tests that run a forwarding loop beside the test thread.
inline void ensure_eal() {
    static const bool ready = [] {
        cpu_set_t set;
        CPU_ZERO(&set);
        sched_getaffinity(0, sizeof(set), &set);
        int first = -1, last = 0;
        for (int c = 0; c < CPU_SETSIZE; ++c) {
            if (CPU_ISSET(c, &set)) {
                if (first < 0) first = c;
                last = c;
            }
        }
        static std::vector<std::string> args{"sluice-test", "--no-huge", "-m", "256", "--no-pci",
                                             "--no-shconf", "--lcores",
                                             "0@" + std::to_string(first < 0 ? 0 : first) + ",1@" + std::to_string(last),
                                             "--log-level=error"};
        static std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
            throw std::runtime_error("rte_eal_init failed");
        }
        return true;
    }();
    (void)ready;
}

}  // namespace sluice::test
