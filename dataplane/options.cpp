#include "dataplane/options.hpp"

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace po = boost::program_options;

namespace sluice::dataplane {
namespace {

// What the EAL, the ports' rings and the pool's own tables take of --memory
// beside the buffers (see memory_needed_mb): a few MB measured, with room.
constexpr uint64_t kMemoryBesidesPoolMb = 16;

constexpr std::array kLogLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};

bool is_power_of_two(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Options that both the command line and the settings file may set.
po::options_description settings_options(DaemonOptions& o, std::string& hugepages, std::string& idle_sleep) {
    po::options_description d("Ports and lcores");
    d.add_options()
        ("policy", po::value(&o.policy_file)->value_name("FILE"),
         "the policy file (TOML) to run; SIGHUP or 'sluicectl policy reload' reloads it")
        ("lan", po::value(&o.lan)->value_name("DEVARGS"),
         "LAN-side port: a PCI address or a DPDK vdev, e.g. net_af_packet0,iface=veth0")
        ("wan", po::value(&o.wan)->value_name("DEVARGS"),
         "WAN-side port, same forms as --lan")
        ("lcores", po::value(&o.lcores)->value_name("LIST"),
         "EAL lcore list (e.g. 0,1 or 0@0,1@1); the first is the control thread, "
         "the others forward. Default: control on the first allowed CPU, one worker on the last")
        ("log-level", po::value(&o.log_level)->value_name("LEVEL"),
         "trace, debug, info, warn, error, critical or off (default info)")
        ("hugepages", po::value(&hugepages)->value_name("MODE"),
         "auto (use hugepages when mounted with enough free), on, or off (default auto)")
        ("memory", po::value(&o.no_huge_memory_mb)->value_name("MB"),
         "memory to reserve when running without hugepages (default 512); the least that works depends on "
         "the descriptor and egress queue sizes, and sluiced says how much when it is too little")
        ("workers", po::value(&o.workers)->value_name("N"),
         "workers per direction, 1-16 (default 1): each port opens N rx and N tx queues, and each "
         "worker owns a share of the classes (docs/operations.md); needs N worker lcores at least, "
         "2N to give every worker its own")
        ("rebalance-us", po::value(&o.rebalance_us)->value_name("MICROSECONDS"),
         "with several workers: how often worker 0 of each direction divides the shared classes (the "
         "link root and every inner class) among the workers by their demand, 20-10000 (default 100); "
         "shorter lends an idle worker's share sooner, at more CPU on worker 0 (docs/shaper.md)")
        ("burst", po::value(&o.burst)->value_name("N"), "packets per rx/tx burst, 1-256 (default 32)")
        ("rx-descriptors", po::value(&o.rx_descriptors)->value_name("N"),
         "receive ring size per port (default 1024)")
        ("tx-descriptors", po::value(&o.tx_descriptors)->value_name("N"),
         "transmit ring size per port (default 1024)")
        ("egress-queue", po::value(&o.egress_queue_packets)->value_name("N"),
         "packets each direction may hold (all its class queues together), a power of two (default 16384)")
        ("stats-interval", po::value(&o.stats_interval_s)->value_name("SECONDS"),
         "log counters every SECONDS; 0 logs them only at exit (default 0)")
        ("idle-sleep", po::value(&idle_sleep)->value_name("on|off"),
         "on: a worker with no traffic sleeps between polls instead of spinning; off: it always "
         "spins, a full CPU each (default on)")
        ("idle-sleep-max-us", po::value(&o.idle_sleep_max_us)->value_name("MICROSECONDS"),
         "the longest such sleep, 1-100000: what the first packet after a quiet spell may wait "
         "for, against the CPU an idle worker uses (default 250)")
        ("socket", po::value(&o.socket)->value_name("PATH"),
         "control socket for sluicectl (default /run/sluice/sluiced.sock)")
        ("socket-group", po::value(&o.socket_group)->value_name("GROUP"),
         "the group whose members may use the control socket to look and shape (default sluice)")
        ("policy-dir", po::value(&o.policy_dir)->value_name("DIR"),
         "the only directory in which group members may name policy files to load or save (default /etc/sluice)")
        ("metrics", po::value(&o.metrics)->value_name("[HOST:]PORT"),
         "serve Prometheus metrics at http://HOST:PORT/metrics; a bare PORT binds 127.0.0.1, e.g. 9464 or "
         "0.0.0.0:9464 (default off)")
        ("management-tap-lan", po::value(&o.management_tap_lan)->value_name("NAME"),
         "for a LAN port the kernel cannot see (PCI, pcap, ring, null): create the kernel interface NAME, "
         "through which the gateway's own traffic on that port (the policy's [management]) reaches the kernel "
         "and its replies leave (default none)")
        ("management-tap-wan", po::value(&o.management_tap_wan)->value_name("NAME"),
         "the same for the WAN port (default none)")
        ("eal", po::value(&o.eal_args)->composing()->value_name("ARG"),
         "one extra EAL argument (repeatable); arguments after a lone -- go to the EAL too");
    return d;
}

// Why the kernel would refuse `name` for a new interface; empty when it
// would take it (the rules of the kernel's dev_valid_name).
std::string interface_name_problem(const std::string& name) {
    if (name.empty()) return "an interface name cannot be empty";
    if (name.size() > 15) return fmt::format("'{}' is {} characters long; interface names have at most 15", name, name.size());
    if (name == "." || name == "..") return fmt::format("'{}' is not an interface name", name);
    for (const char c : name) {
        if (c == '/' || c == ':' || c == '\0' || std::isspace(static_cast<unsigned char>(c)) || !std::isprint(static_cast<unsigned char>(c)))
            return fmt::format("'{}' holds a character interface names cannot have (/, :, spaces or control characters)", name);
    }
    return {};
}

Result<ParsedOptions> validate(ParsedOptions p, const std::string& hugepages, const std::string& idle_sleep) {
    DaemonOptions& o = p.options;
    if (hugepages == "auto" || hugepages.empty()) {
        o.hugepages = HugepageMode::automatic;
    } else if (hugepages == "on") {
        o.hugepages = HugepageMode::on;
    } else if (hugepages == "off") {
        o.hugepages = HugepageMode::off;
    } else {
        return Error{fmt::format("--hugepages must be auto, on or off, not '{}'", hugepages)};
    }
    bool level_ok = false;
    for (const char* l : kLogLevels) level_ok |= (o.log_level == l);
    if (!level_ok) {
        return Error{fmt::format(
            "--log-level must be one of trace, debug, info, warn, error, critical, off, not '{}'",
            o.log_level)};
    }
    if (p.action == ParsedOptions::Action::check && o.policy_file.empty()) {
        return Error{"--check needs --policy FILE: the policy to validate"};
    }
    if (p.action == ParsedOptions::Action::run) {
        if (o.lan.empty()) return Error{"--lan is required: the LAN-side port's devargs, e.g. --lan net_af_packet0,iface=lan0"};
        if (o.wan.empty()) return Error{"--wan is required: the WAN-side port's devargs, e.g. --wan net_af_packet1,iface=wan0"};
    }
    if (!o.lan.empty() && o.lan == o.wan) return Error{"--lan and --wan name the same port; a bridge needs two"};
    if (o.burst < 1 || o.burst > 256) return Error{fmt::format("--burst must be 1-256, not {}", o.burst)};
    if (o.workers < 1 || o.workers > 16) return Error{fmt::format("--workers must be 1-16, not {}", o.workers)};
    if (o.rebalance_us < 20 || o.rebalance_us > 10000)
        return Error{fmt::format("--rebalance-us must be 20-10000 (microseconds), not {}", o.rebalance_us)};
    if (!o.lcores.empty() && lcore_count(o) < o.workers + 1) {
        return Error{fmt::format("--workers {} needs at least {} lcores (one control thread and one per worker; "
                                 "{} gives each worker its own), but --lcores '{}' gives {}",
                                 o.workers, o.workers + 1, 2 * o.workers + 1, o.lcores, lcore_count(o))};
    }
    if (o.rx_descriptors < 64 || o.rx_descriptors > 16384)
        return Error{fmt::format("--rx-descriptors must be 64-16384, not {}", o.rx_descriptors)};
    if (o.tx_descriptors < 64 || o.tx_descriptors > 16384)
        return Error{fmt::format("--tx-descriptors must be 64-16384, not {}", o.tx_descriptors)};
    if (!is_power_of_two(o.egress_queue_packets) || o.egress_queue_packets < o.burst ||
        o.egress_queue_packets > (1u << 20)) {
        return Error{fmt::format(
            "--egress-queue must be a power of two between --burst and 1048576, not {}",
            o.egress_queue_packets)};
    }
    if (o.socket.empty()) return Error{"--socket must name a path, e.g. /run/sluice/sluiced.sock"};
    if (o.socket_group.empty()) return Error{"--socket-group must name a group, e.g. sluice"};
    if (o.policy_dir.empty() || o.policy_dir.front() != '/') {
        return Error{fmt::format("--policy-dir must be an absolute path, e.g. /etc/sluice, not '{}'", o.policy_dir)};
    }
    if (idle_sleep == "on" || idle_sleep.empty()) {
        o.idle_sleep = true;
    } else if (idle_sleep == "off") {
        o.idle_sleep = false;
    } else {
        return Error{fmt::format("--idle-sleep must be on or off, not '{}'", idle_sleep)};
    }
    if (o.idle_sleep_max_us < 1 || o.idle_sleep_max_us > 100000) {
        return Error{fmt::format("--idle-sleep-max-us must be 1-100000 (microseconds), not {}", o.idle_sleep_max_us)};
    }
    for (const auto& [option, name] : {std::pair{"--management-tap-lan", &o.management_tap_lan},
                                       std::pair{"--management-tap-wan", &o.management_tap_wan}}) {
        if (name->empty()) continue;
        if (const std::string why = interface_name_problem(*name); !why.empty())
            return Error{fmt::format("{}: {}", option, why)};
    }
    if (!o.management_tap_lan.empty() && o.management_tap_lan == o.management_tap_wan) {
        return Error{fmt::format("--management-tap-lan and --management-tap-wan both name {}; each port needs its own",
                                 o.management_tap_lan)};
    }
    // --memory is used whenever hugepages may be missing: checked unless
    // they are required, against what these settings need.
    if (o.hugepages != HugepageMode::on) {
        if (const std::string why = memory_shortfall(o, lcore_count(o)); !why.empty()) return Error{why};
    }
    return p;
}

}  // namespace

unsigned lcore_count(const DaemonOptions& o) {
    if (o.lcores.empty()) return 1 + o.workers;  // default_lcores(): control and one lcore per worker
    // Elements separated by commas outside parentheses; each is a number, a
    // range a-b or a group (a,b-c), optionally followed by @CPUS.
    unsigned count = 0;
    auto count_ids = [&count](std::string_view ids) {
        size_t at = 0;
        while (at <= ids.size()) {
            const size_t comma = std::min(ids.find(',', at), ids.size());
            const std::string_view item = ids.substr(at, comma - at);
            const size_t dash = item.find('-');
            if (dash == std::string_view::npos) {
                count += item.empty() ? 0 : 1;
            } else {
                const unsigned lo = static_cast<unsigned>(std::atoi(std::string(item.substr(0, dash)).c_str()));
                const unsigned hi = static_cast<unsigned>(std::atoi(std::string(item.substr(dash + 1)).c_str()));
                count += hi >= lo ? hi - lo + 1 : 1;
            }
            at = comma + 1;
        }
    };
    const std::string& l = o.lcores;
    size_t at = 0;
    while (at < l.size()) {
        size_t end = at;
        int depth = 0;
        while (end < l.size() && (depth > 0 || l[end] != ',')) {
            depth += l[end] == '(' ? 1 : l[end] == ')' ? -1 : 0;
            ++end;
        }
        std::string_view element(l.data() + at, end - at);
        element = element.substr(0, element.find('@'));
        if (!element.empty() && element.front() == '(') element = element.substr(1, element.find(')') - 1);
        count_ids(element);
        at = end + 1;
    }
    return std::max(count, 1u);
}

unsigned packet_pool_size(const DaemonOptions& o, unsigned lcores) {
    // Every worker has its own rx and tx rings on each port and its own egress stage.
    // With several, the hand-off rings between them (2048 each, one per
    // ordered pair of workers and direction) hold packets too.
    const unsigned handoff = o.workers > 1 ? 2 * o.workers * (o.workers - 1) * 2048 : 0;
    return 2 * o.workers * (o.rx_descriptors + o.tx_descriptors + o.egress_queue_packets) + handoff +
           4 * o.burst * lcores + 256 * lcores;
}

uint32_t memory_needed_mb(const DaemonOptions& o, unsigned lcores) {
    // A buffer is 2,368 bytes (rte_mbuf, headroom, 2 KiB of data, the
    // mempool's header), but without hugepages the EAL's memory is in 4 KiB
    // pages and the pool puts no buffer across a page boundary (each page
    // has its own IO address): one buffer takes a page. Measured: the
    // defaults' 37,632 buffers fail in 148 MB and start in 150.
    constexpr uint64_t kBytesPerBuffer = 4096;
    constexpr uint64_t kBesidesPoolMb = kMemoryBesidesPoolMb;
    const uint64_t pool = uint64_t{packet_pool_size(o, lcores)} * kBytesPerBuffer;
    return static_cast<uint32_t>((pool + (1 << 20) - 1) / (1 << 20) + kBesidesPoolMb);
}

std::string memory_shortfall(const DaemonOptions& o, unsigned lcores) {
    const uint32_t needed = memory_needed_mb(o, lcores);
    if (o.no_huge_memory_mb >= needed) return {};
    return fmt::format(
        "--memory {} MB is too little for these settings: without hugepages they need at least {} MB ({} packet "
        "buffers for --rx-descriptors {}, --tx-descriptors {} and --egress-queue {} on both ports and {} lcores, "
        "and the EAL beside them); give --memory {} or more, or lower --egress-queue (each halving saves about "
        "{} MB) or the descriptor counts; with hugepages (--hugepages) --memory is not used",
        o.no_huge_memory_mb, needed, packet_pool_size(o, lcores), o.rx_descriptors, o.tx_descriptors,
        o.egress_queue_packets, lcores, needed, o.egress_queue_packets * 4096 / (1 << 20));
}

Result<ParsedOptions> parse_options(int argc, const char* const* argv,
                                    const std::string& default_settings_file) {
    ParsedOptions p;
    DaemonOptions& o = p.options;
    std::string hugepages;
    std::string idle_sleep;
    std::string config;

    // Arguments after a lone "--" belong to the EAL.
    int own_argc = argc;
    std::vector<std::string> eal_tail;
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--") {
            own_argc = i;
            for (int j = i + 1; j < argc; ++j) eal_tail.emplace_back(argv[j]);
            break;
        }
    }

    po::options_description general("General");
    general.add_options()
        ("help,h", "show this help and exit")
        ("version,V", "show the version and exit")
        ("config,c", po::value(&config)->value_name("FILE"),
         "settings file with the long options below as key = value lines "
         "(default /etc/sluice/sluiced.conf when it exists)")
        ("show-config", "print the effective settings and exit")
        ("check", "validate the --policy file and exit: 0 valid, 1 invalid (problems on stderr)");
    po::options_description settings = settings_options(o, hugepages, idle_sleep);
    po::options_description all;
    all.add(general).add(settings);

    po::variables_map vm;
    try {
        po::store(po::command_line_parser(own_argc, argv).options(all).run(), vm);
        if (vm.count("help")) {
            std::ostringstream s;
            s << "Usage: sluiced --lan DEVARGS --wan DEVARGS [options] [-- EAL arguments]\n\n"
                 "Sluice dataplane daemon: a transparent LAN/WAN bridge on DPDK ports that\n"
                 "classifies, polices and shapes traffic in both directions.\n\n"
              << all;
            p.action = ParsedOptions::Action::help;
            p.text = s.str();
            return p;
        }
        if (vm.count("version")) {
            p.action = ParsedOptions::Action::version;
            p.text = std::string("sluiced ") + SLUICE_VERSION + "\n";
            return p;
        }
        if (vm.count("config")) config = vm["config"].as<std::string>();
        std::string file = config;
        if (file.empty() && std::filesystem::exists(default_settings_file)) file = default_settings_file;
        if (!file.empty()) {
            std::ifstream in(file);
            if (!in) return Error{fmt::format("cannot read settings file {}", file)};
            try {
                // Values already given on the command line are kept: store()
                // never overwrites.
                po::store(po::parse_config_file(in, settings), vm);
            } catch (const po::error& e) {
                return Error{fmt::format("{}: {}", file, e.what())};
            }
            o.config_file = file;
        }
        po::notify(vm);
    } catch (const po::error& e) {
        return Error{fmt::format("{} (see sluiced --help)", e.what())};
    }
    for (auto& a : eal_tail) o.eal_args.push_back(std::move(a));
    if (vm.count("show-config")) p.action = ParsedOptions::Action::show_config;
    if (vm.count("check")) p.action = ParsedOptions::Action::check;
    auto r = validate(std::move(p), hugepages, idle_sleep);
    if (r && r->action == ParsedOptions::Action::show_config) r->text = describe(r->options);
    return r;
}

std::string describe(const DaemonOptions& o) {
    std::string eal;
    for (const auto& a : o.eal_args) eal += (eal.empty() ? "" : " ") + a;
    const char* huge = o.hugepages == HugepageMode::on    ? "on"
                       : o.hugepages == HugepageMode::off ? "off"
                                                          : "auto";
    return fmt::format(
        "config = {}\nlan = {}\nwan = {}\nlcores = {}\nlog-level = {}\nhugepages = {}\n"
        "memory = {}\nworkers = {}\nrebalance-us = {}\nburst = {}\nrx-descriptors = {}\ntx-descriptors = {}\negress-queue = {}\n"
        "stats-interval = {}\nidle-sleep = {}\nidle-sleep-max-us = {}\nsocket = {}\nsocket-group = {}\npolicy-dir = {}\nmetrics = {}\npolicy = {}\nmanagement-tap-lan = {}\nmanagement-tap-wan = {}\neal = {}\n",
        o.config_file.empty() ? "(none)" : o.config_file, o.lan, o.wan,
        o.lcores.empty() ? "(automatic)" : o.lcores, o.log_level, huge, o.no_huge_memory_mb, o.workers, o.rebalance_us, o.burst,
        o.rx_descriptors, o.tx_descriptors, o.egress_queue_packets, o.stats_interval_s, o.idle_sleep ? "on" : "off", o.idle_sleep_max_us, o.socket,
        o.socket_group, o.policy_dir, o.metrics.empty() ? "(off)" : o.metrics, o.policy_file.empty() ? "(none)" : o.policy_file,
        o.management_tap_lan.empty() ? "(none)" : o.management_tap_lan,
        o.management_tap_wan.empty() ? "(none)" : o.management_tap_wan, eal);
}

}  // namespace sluice::dataplane
