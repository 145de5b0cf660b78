// Brings up a small DPDK environment once per test process, for tests of
// code that needs the EAL (rte_meter reads the TSC frequency, rte_acl and
// rte_ring allocate from DPDK memory): no hugepages, no PCI, no files.
#pragma once

#include <rte_eal.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::test {

inline void ensure_eal() {
    static const bool ready = [] {
        static std::vector<std::string> args{"sluice-test", "--no-huge", "-m", "256", "--no-pci",
                                      "--no-shconf", "--lcores", "0", "--log-level=error"};
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
