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

// lcore 0 (this thread) on the first allowed CPU and `workers` worker
// lcores, the first on the last CPU and the next ones on the first and the
// last in turn, for tests that run forwarding loops beside the test thread.
// The first call in a process decides.
inline void ensure_eal(unsigned workers = 1) {
    static const bool ready = [workers] {
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
        if (first < 0) first = 0;
        std::string lcores = "0@" + std::to_string(first);
        for (unsigned w = 1; w <= workers; ++w)
            lcores += "," + std::to_string(w) + "@" + std::to_string(w % 2 == 1 ? last : first);
        static std::vector<std::string> args{"sluice-test", "--no-huge", "-m", "256", "--no-pci",
                                             "--no-shconf", "--lcores", lcores, "--log-level=error"};
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
