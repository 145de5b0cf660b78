// The DPDK environment of the process: EAL arguments built from sluiced's
// settings, rte_eal_init on construction, rte_eal_cleanup on destruction.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dataplane/options.hpp"
#include "common/result.hpp"

namespace sluice::dataplane {

// Whether this machine can back DPDK's memory with hugepages right now:
// hugetlbfs mounted and at least `needed_mb` of free hugepages.
struct HugepageProbe {
    bool mounted = false;
    uint64_t free_bytes = 0;
    bool usable(uint64_t needed_mb) const { return mounted && free_bytes >= needed_mb << 20; }
};
HugepageProbe probe_hugepages();

// True for a PCI address (0000:01:00.0 or 01:00.0), false for a vdev.
bool is_pci_address(const std::string& devargs);

// The device name inside devargs: the text before the first comma.
std::string device_name(const std::string& devargs);

// The default lcore map: control thread on the first allowed CPU, one worker on
// the last (both on the same CPU when only one is allowed).
std::string default_lcores();

// The full EAL argv (program name first) for these settings; `use_hugepages`
// comes from the probe or the operator's choice.
std::vector<std::string> eal_arguments(const DaemonOptions& o, bool use_hugepages);

class Eal {
public:
    static Result<std::unique_ptr<Eal>> init(const std::vector<std::string>& args);
    ~Eal();
    Eal(const Eal&) = delete;
    Eal& operator=(const Eal&) = delete;

private:
    Eal() = default;
};

}  // namespace sluice::dataplane
