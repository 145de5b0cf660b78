#include "dataplane/eal.hpp"

#include <rte_eal.h>
#include <rte_errno.h>

#include <fmt/format.h>
#include <sched.h>

#include <fstream>
#include <regex>
#include <sstream>

namespace sluice::dataplane {

HugepageProbe probe_hugepages() {
    HugepageProbe p;
    std::ifstream mounts("/proc/mounts");
    std::string dev, dir, type, rest;
    while (mounts >> dev >> dir >> type && std::getline(mounts, rest)) {
        if (type == "hugetlbfs") p.mounted = true;
    }
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    uint64_t value = 0, free_pages = 0, page_kb = 0;
    while (meminfo >> key >> value && std::getline(meminfo, rest)) {
        if (key == "HugePages_Free:") free_pages = value;
        if (key == "Hugepagesize:") page_kb = value;
    }
    p.free_bytes = free_pages * page_kb * 1024;
    return p;
}

bool is_pci_address(const std::string& devargs) {
    static const std::regex pci(R"(^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$)");
    return std::regex_match(device_name(devargs), pci);
}

std::string device_name(const std::string& devargs) {
    return devargs.substr(0, devargs.find(','));
}

std::string default_lcores(unsigned workers) {
    cpu_set_t set;
    CPU_ZERO(&set);
    int first = -1, last = -1;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE; ++c) {
            if (CPU_ISSET(c, &set)) {
                if (first < 0) first = c;
                last = c;
            }
        }
    }
    if (first < 0) first = last = 0;
    // lcore 0 runs the control thread, lcore 1 forwards; '@' pins each to a CPU.
    if (workers <= 1) return fmt::format("0@{},1@{}", first, last);
    // More workers: the allowed CPUs from the last down, round and round.
    std::vector<int> cpus;
    for (int c = CPU_SETSIZE - 1; c >= 0; --c)
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    if (cpus.empty()) cpus.push_back(last);
    std::string l = fmt::format("0@{}", first);
    for (unsigned w = 0; w < workers; ++w) l += fmt::format(",{}@{}", w + 1, cpus[w % cpus.size()]);
    return l;
}

std::vector<std::string> eal_arguments(const DaemonOptions& o, bool use_hugepages) {
    std::vector<std::string> a{"sluiced"};
    a.push_back("--lcores");
    a.push_back(o.lcores.empty() ? default_lcores(o.workers) : o.lcores);
    bool any_pci = false;
    for (const std::string* dev : {&o.lan, &o.wan}) {
        if (is_pci_address(*dev)) {
            any_pci = true;
            a.push_back("-a");
        } else {
            a.push_back("--vdev");
        }
        a.push_back(*dev);
    }
    // Without a PCI port, probing the PCI bus would only find devices that
    // belong to someone else.
    if (!any_pci) a.push_back("--no-pci");
    if (!use_hugepages) {
        a.push_back("--no-huge");
        a.push_back("-m");
        a.push_back(std::to_string(o.no_huge_memory_mb));
    }
    // Keep no EAL runtime files, so that several daemons (and tests) can run
    // side by side: --in-memory says that for hugepage memory; without
    // hugepages only the shared config needs turning off.
    // Only a multi-process setup (--proc-type) needs the shared files; a
    // --file-prefix alone still names the telemetry socket's directory.
    bool multi_process = false;
    for (const auto& e : o.eal_args) {
        if (e.rfind("--proc-type", 0) == 0) multi_process = true;
    }
    if (!multi_process) a.push_back(use_hugepages ? "--in-memory" : "--no-shconf");
    // DPDK's own logging follows ours, one step quieter: its info level is chatty.
    const std::string& l = o.log_level;
    const char* dpdk_level = (l == "trace" || l == "debug") ? "info"
                             : l == "info"                  ? "notice"
                             : l == "warn"                  ? "warning"
                             : l == "off"                   ? "emerg"
                                                            : "error";
    a.push_back(std::string("--log-level=") + dpdk_level);
    for (const auto& e : o.eal_args) a.push_back(e);
    return a;
}

Result<std::unique_ptr<Eal>> Eal::init(const std::vector<std::string>& args) {
    // rte_eal_init may permute argv; give it a private, writable copy.
    std::vector<std::string> storage(args);
    std::vector<char*> argv;
    for (auto& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    const int ret = rte_eal_init(static_cast<int>(storage.size()), argv.data());
    if (ret < 0) {
        std::ostringstream cmd;
        for (const auto& s : args) cmd << ' ' << s;
        return Error{fmt::format("DPDK EAL initialisation failed: {} (EAL arguments:{})",
                                 rte_strerror(rte_errno), cmd.str())};
    }
    return std::unique_ptr<Eal>(new Eal());
}

Eal::~Eal() { rte_eal_cleanup(); }

}  // namespace sluice::dataplane
