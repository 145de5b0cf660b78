// sluiced's settings: from the command line, then from the settings file
// (--config, default /etc/sluice/sluiced.conf when it exists); the command
// line wins where both set a value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace sluice::dataplane {

enum class HugepageMode { automatic, on, off };

struct DaemonOptions {
    std::string lan;                   // DPDK devargs of the LAN port
    std::string wan;                   // DPDK devargs of the WAN port
    std::string lcores;                // EAL --lcores; empty = choose from the CPU affinity
    std::string log_level = "info";
    std::string config_file;           // the settings file actually read, if any
    std::vector<std::string> eal_args; // passed to rte_eal_init as they are
    HugepageMode hugepages = HugepageMode::automatic;
    uint32_t no_huge_memory_mb = 512;  // memory for --no-huge mode
    uint32_t workers = 1;              // workers per direction (each port gets as many queue pairs)
    uint32_t rebalance_us = 100;       // between steps of the shared classes' rebalancer (workers > 1)
    uint32_t burst = 32;
    uint32_t rx_descriptors = 1024;
    uint32_t tx_descriptors = 1024;
    uint32_t egress_queue_packets = 16384;
    uint32_t stats_interval_s = 0;     // 0 = only at exit
    bool idle_sleep = true;            // workers sleep when they have no traffic
    uint32_t idle_sleep_max_us = 250;  // their longest sleep
    std::string socket = "/run/sluice/sluiced.sock";  // control socket
    std::string socket_group = "sluice";  // members may look and shape
    std::string policy_dir = "/etc/sluice";  // where members may name policy files
    std::string metrics;               // [HOST:]PORT for Prometheus; empty = off
    std::string policy_file;           // the policy to run; empty = bridge without classes
    // Kernel interfaces (net_tap) that sluiced creates for the gateway's own
    // traffic on a port the kernel cannot see; empty = none.
    std::string management_tap_lan;
    std::string management_tap_wan;
    bool show_config = false;          // print the effective settings and exit
};

// What the caller should do after parsing.
struct ParsedOptions {
    enum class Action { run, help, version, show_config, check };
    Action action = Action::run;
    DaemonOptions options;
    std::string text;  // help or version text, or the effective settings
};

inline constexpr const char* kDefaultSettingsFile = "/etc/sluice/sluiced.conf";

// Parses argv. Everything after a lone "--" goes to the EAL unchanged.
// `default_settings_file` is read only when it exists and --config is absent.
Result<ParsedOptions> parse_options(int argc, const char* const* argv,
                                    const std::string& default_settings_file = kDefaultSettingsFile);

std::string describe(const DaemonOptions& o);

// The lcores the EAL will run for these settings: counted from --lcores
// ("0-3", "0@0,1@0", "(0,1)@2" ...), two by default.
unsigned lcore_count(const DaemonOptions& o);
// Packet buffers enough for every ring and queue that can hold one at once:
// both ports' rx and tx rings, both directions' egress stages, and the
// per-lcore caches and bursts in flight.
unsigned packet_pool_size(const DaemonOptions& o, unsigned lcores);
// The DPDK memory (MB) these settings need when running without hugepages:
// the packet pool and what the EAL and the ports take beside it. --memory
// must be at least this.
uint32_t memory_needed_mb(const DaemonOptions& o, unsigned lcores);
// Why `o.no_huge_memory_mb` is too small for these settings, naming the
// memory needed and the options that change it; empty when it suffices.
std::string memory_shortfall(const DaemonOptions& o, unsigned lcores);

}  // namespace sluice::dataplane
