// sluiced: the dataplane daemon. The main lcore is the control thread (it
// owns setup, signals and reporting); worker lcores own the packet path.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <memory>
#include <vector>

#include "control/server/socket_server.hpp"
#include "control/runtime/daemon_commands.hpp"
#include "control/server/metrics_server.hpp"
#include "dataplane/pipeline/direction.hpp"
#include "dataplane/pipeline/direction_group.hpp"
#include "dataplane/pipeline/handoff.hpp"
#include "control/runtime/worker_share.hpp"
#include "control/runtime/metrics.hpp"
#include "control/runtime/policy_commands.hpp"
#include "control/runtime/policy_runtime.hpp"
#include "control/runtime/shaper_config.hpp"
#include "control/policy/management_filter.hpp"
#include "dataplane/management_match.hpp"
#include "dataplane/pipeline/exception_paths.hpp"
#include "dataplane/eal.hpp"
#include "dataplane/instance_lock.hpp"
#include "dataplane/pipeline/port_watch.hpp"
#include "dataplane/mempool.hpp"
#include "dataplane/options.hpp"
#include "dataplane/xdp_port.hpp"
#include "dataplane/port.hpp"
#include "dataplane/tsc_rate.hpp"
#include "control/runtime/report.hpp"
#include "dataplane/daemon/service_notify.hpp"
#include "dataplane/pipeline/worker.hpp"

namespace dp = sluice::dataplane;
namespace rt = sluice::runtime;

namespace {

void setup_logging(const std::string& level) {
    auto logger = spdlog::stderr_color_mt("sluiced");
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(level));
}

int run(const dp::DaemonOptions& o) {
    // Signals are taken synchronously by the control thread. Blocking them
    // before the EAL starts its threads makes every thread inherit the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    bool hugepages = false;
    std::string memory;
    const auto probe = dp::probe_hugepages();
    constexpr uint64_t kHugepagesNeededMb = 128;
    switch (o.hugepages) {
    case dp::HugepageMode::on: hugepages = true; break;
    case dp::HugepageMode::off: hugepages = false; break;
    case dp::HugepageMode::automatic: hugepages = probe.usable(kHugepagesNeededMb); break;
    }
    if (hugepages) {
        memory = fmt::format("hugepages ({} MiB free in hugetlbfs)", probe.free_bytes >> 20);
    } else {
        memory = fmt::format("no hugepages ({}), running with --no-huge and {} MiB",
                             o.hugepages == dp::HugepageMode::off ? "turned off by --hugepages off"
                             : probe.mounted ? "too few free in hugetlbfs"
                                             : "hugetlbfs not mounted",
                             o.no_huge_memory_mb);
    }
    spdlog::info("memory: {}", memory);
    if (!hugepages) {
        // Said before the EAL starts, naming the option, rather than as a
        // failed allocation later.
        if (const std::string why = dp::memory_shortfall(o, dp::lcore_count(o)); !why.empty()) {
            spdlog::error("{}", why);
            return 1;
        }
    }

    // One daemon per port and per control socket, settled before the EAL
    // probes a port: a refused daemon must not touch a running one's ports.
    auto instance = dp::InstanceLock::acquire(o);
    if (!instance) {
        spdlog::error("{}", instance.error());
        return 1;
    }

    // af_xdp ports run Sluice's XDP program: the driver loads it from a file.
    auto eal_args = dp::with_management_program(dp::eal_arguments(o, hugepages));
    if (!eal_args) {
        spdlog::error("{}", eal_args.error());
        return 1;
    }
    auto eal = dp::Eal::init(*eal_args);
    if (!eal) {
        spdlog::error("{}", eal.error());
        return 1;
    }
    if (rte_lcore_count() < 2) {
        spdlog::error("--lcores gives {} lcore; sluiced needs two: one control thread and at "
                      "least one worker (e.g. --lcores 0@0,1@0 runs both on CPU 0)",
                      rte_lcore_count());
        return 1;
    }
    // --workers N: N workers per direction, each with its own queue pair on both ports.
    const unsigned nworkers = o.workers;
    if (rte_lcore_count() - 1 < nworkers) {
        spdlog::error("--workers {} needs {} worker lcores at least ({} to give each its own), --lcores gives {}",
                      nworkers, nworkers, 2 * nworkers, rte_lcore_count() - 1);
        return 1;
    }
    if (nworkers > 1 && (!o.management_tap_lan.empty() || !o.management_tap_wan.empty())) {
        spdlog::error("--management-tap-lan/-wan work with --workers 1 only: a tap has one queue pair");
        return 1;
    }

    auto pool = dp::make_packet_pool("sluice_pkts", dp::packet_pool_size(o, rte_lcore_count()),
                                     static_cast<int>(rte_socket_id()));
    if (!pool) {
        // Without hugepages the EAL has --memory and no more.
        const std::string why = hugepages ? std::string() : dp::memory_shortfall(o, rte_lcore_count());
        spdlog::error("{}{}", pool.error(), why.empty() ? "" : "; " + why);
        return 1;
    }
    const auto rxd = static_cast<uint16_t>(o.rx_descriptors);
    const auto txd = static_cast<uint16_t>(o.tx_descriptors);
    const auto queues = static_cast<uint16_t>(nworkers);
    auto lan = dp::Port::open({"lan", o.lan, rxd, txd, o.idle_sleep, queues}, pool->get());
    if (!lan) {
        spdlog::error("{}", lan.error());
        return 1;
    }
    auto wan = dp::Port::open({"wan", o.wan, rxd, txd, o.idle_sleep, queues}, pool->get());
    if (!wan) {
        spdlog::error("{}", wan.error());
        return 1;
    }

    // Classifier tables reach the workers through one publisher; the policy
    // is loaded (and checked) before any packet moves.
    // One reader per worker lcore (see the layout below).
    const unsigned worker_lcore_count = rte_lcore_count() - 1;
    const bool own_lcores = worker_lcore_count >= 2 * nworkers;
    auto publisher = sluice::classifier::TablePublisher::create(own_lcores ? 2 * nworkers : nworkers);
    if (!publisher) {
        spdlog::error("{}", publisher.error());
        return 1;
    }
    // Until a policy is published the pointer is null and packets pass unclassified.
    const sluice::classifier::TablePublisher* tables = publisher->get();
    // Taps for the gateway's own traffic on ports the kernel cannot see;
    // set_management() gives them the policy's [management] matcher.
    auto exception = dp::ExceptionPaths::open({o.management_tap_lan, o.management_tap_wan}, **lan, **wan,
                                              pool->get(), **publisher);
    if (!exception) {
        spdlog::error("{}", exception.error());
        return 1;
    }

    rt::PolicyRuntime policy(**publisher, nworkers);
    // A policy's [management] section goes to both enforcers: the XDP
    // program of each af_xdp port, and the matcher of the exception paths
    // (ports with a tap, and af_packet ports, whose frames the kernel has
    // already). Ports that can honour neither are named in a warning.
    policy.set_management_hook([&](const sluice::policy::Management& section)
                                   -> sluice::Result<std::vector<std::string>> {
        const dp::ManagementFilter filter = sluice::policy::compile_management(section);
        auto match = dp::ManagementMatch::compile(filter);
        if (!match) return sluice::Error{match.error()};
        for (const dp::Port* port : {lan->get(), wan->get()}) {
            if (auto* program = port->management()) {
                auto r = program->apply(filter);
                if (!r) return sluice::Error{fmt::format("{} port {}: {}", port->role(), port->name(), r.error())};
            }
        }
        (*exception)->set_management(filter.empty() ? nullptr : *match);
        return filter.empty() ? std::vector<std::string>{} : (*exception)->unreachable();
    });
    if (!o.policy_file.empty()) {
        auto r = policy.load_file(o.policy_file);
        if (!r) {
            spdlog::error("{}", r.error());
            return 1;
        }
        spdlog::info("policy {} (checksum {}, {} warnings)", r->file, r->checksum, r->warnings);
        for (const auto& m : r->messages) spdlog::warn("{}", m);
    } else {
        spdlog::info("no --policy: forwarding without classes, rules or shaping");
    }
    // With a policy, each worker of each direction gets a scheduler with the
    // policy's whole class tree, owned here and used only by that worker;
    // with several workers, each copy of a shared (inner) class gets its
    // share of the class's rate and ceil from the rebalancer, which worker
    // 0 of the direction steps (control/runtime/worker_share.hpp).
    std::vector<std::unique_ptr<sluice::shaper::Scheduler>> schedulers[2];
    std::vector<std::unique_ptr<dp::ChangeChannel>> channels[2];
    std::unique_ptr<dp::HandoffRings> handoff[2];
    uint32_t default_class[2] = {0, 0};
    std::array<dp::ShareLink*, 2> share_links{nullptr, nullptr};
    if (const auto p = policy.current()) {
        for (size_t d = 0; d < 2; ++d) {
            const char* dir = d == 0 ? "upload" : "download";
            auto built = rt::build_worker_schedulers(p->directions[d], dp::tsc_hz(), o.egress_queue_packets,
                                                     rte_rdtsc(), nworkers);
            if (!built) {
                spdlog::error("{} shaper: {}", dir, built.error());
                return 1;
            }
            schedulers[d] = std::move(*built);
            for (unsigned w = 0; w < nworkers; ++w) {
                auto ch = dp::ChangeChannel::create(fmt::format("sl_chg_{}_{}", d == 0 ? "up" : "down", w));
                if (!ch) {
                    spdlog::error("{}", ch.error());
                    return 1;
                }
                channels[d].push_back(std::move(*ch));
            }
            default_class[d] = p->directions[d].default_class;
            spdlog::info("{} shaper: {} classes under a {} byte/s link", dir, p->directions[d].classes.size(),
                         p->directions[d].link.rate);
            if (nworkers > 1) {
                spdlog::info("{} shaper: {} workers, each with the whole tree; a leaf belongs to worker (class id "
                             "mod {}); the {} inner classes (the link root included) are divided among the workers "
                             "by their demand every {} us, by worker 0",
                             dir, nworkers, nworkers, rt::initial_split(p->directions[d], {}, nworkers).size(),
                             o.rebalance_us);
                auto h = dp::HandoffRings::create(d == 0 ? "sl_ho_up" : "sl_ho_down", nworkers, dp::kHandoffRingSize);
                if (!h) {
                    spdlog::error("{}", h.error());
                    return 1;
                }
                handoff[d] = std::move(*h);
            }
        }
        std::vector<const sluice::shaper::Scheduler*> views[2];
        std::vector<dp::ChangeChannel*> chans[2];
        for (size_t d = 0; d < 2; ++d) {
            for (auto& s : schedulers[d]) views[d].push_back(s.get());
            for (auto& c : channels[d]) chans[d].push_back(c.get());
        }
        policy.set_schedulers(views[0], views[1]);
        policy.set_channels(chans[0], chans[1]);
        if (nworkers > 1) {
            auto links = policy.start_rebalancing(o.rebalance_us);
            if (!links) {
                spdlog::error("{}", links.error());
                return 1;
            }
            share_links = *links;
        }
    }

    // One Direction per worker and direction: worker w reads rx queue w of
    // the ingress port and writes tx queue w of the egress port.
    std::vector<std::unique_ptr<dp::Direction>> directions[2];
    for (unsigned w = 0; w < nworkers; ++w) {
        dp::DirectionConfig up_cfg{"upload", (*lan)->id(), (*wan)->id(), o.burst, o.egress_queue_packets,
                                   sluice::classifier::Side::lan, tables};
        dp::DirectionConfig down_cfg{"download", (*wan)->id(), (*lan)->id(), o.burst, o.egress_queue_packets,
                                     sluice::classifier::Side::wan, tables};
        dp::DirectionConfig* cfgs[2] = {&up_cfg, &down_cfg};
        for (size_t d = 0; d < 2; ++d) {
            auto& c = *cfgs[d];
            c.scheduler = schedulers[d].empty() ? nullptr : schedulers[d][w].get();
            c.default_class = default_class[d];
            c.changes = channels[d].empty() ? nullptr : channels[d][w].get();
            c.worker = w;
            c.rx_queue = static_cast<uint16_t>(w);
            c.tx_queue = static_cast<uint16_t>(w);
            c.handoff = handoff[d].get();
            c.share = share_links[d];
        }
        (*exception)->wire(up_cfg, down_cfg);
        directions[0].push_back(std::make_unique<dp::Direction>(up_cfg));
        directions[1].push_back(std::make_unique<dp::Direction>(down_cfg));
    }
    std::vector<const dp::Direction*> members[2];
    for (size_t d = 0; d < 2; ++d)
        for (auto& dir : directions[d]) members[d].push_back(dir.get());
    const dp::DirectionGroup upload("upload", members[0]);
    const dp::DirectionGroup download("download", members[1]);
    // Says in the log and in `status` when a port stops delivering.
    dp::PortWatch watch({lan->get(), wan->get()});

    // The control socket is bound before any packet moves, so a daemon that
    // cannot be managed never starts forwarding.
    sluice::control::CommandTable commands;
    rt::DaemonView view;
    view.ports = {lan->get(), wan->get()};
    view.directions = {&upload, &download};
    view.started = std::chrono::steady_clock::now();
    view.control_lcore = rte_lcore_id();
    view.memory = memory;
    view.socket = o.socket;
    view.policy = &policy;
    view.watch = &watch;
    view.exception = exception->get();
    view.policy_dir = o.policy_dir;
    const auto policy_dir = sluice::policy::PolicyDirectory::open(o.policy_dir);
    commands.set_group_name(o.socket_group);
    rt::register_daemon_commands(commands, view);
    rt::register_policy_commands(commands, policy, policy_dir);
    auto server = sluice::control::SocketServer::bind(o.socket, commands, {}, o.socket_group);
    if (!server) {
        spdlog::error("control socket: {}", server.error());
        return 1;
    }
    std::unique_ptr<sluice::control::MetricsServer> metrics;
    if (!o.metrics.empty()) {
        auto m = sluice::control::MetricsServer::bind(o.metrics, [&view] { return rt::prometheus_text(view); });
        if (!m) {
            spdlog::error("{}", m.error());
            return 1;
        }
        metrics = std::move(*m);
    }
    rt::register_telemetry(view);

    std::atomic<bool> stop{false};
    std::vector<unsigned> lcores;
    unsigned lc;
    RTE_LCORE_FOREACH_WORKER(lc) lcores.push_back(lc);
    view.worker_lcores = lcores;
    // Per direction N workers (--workers). With 2N worker lcores or more
    // each has its own lcore: upload's on the first N, download's on the
    // next N. With fewer (N at least), lcore i runs worker i of both
    // directions. N = 1 is the single worker of old: one lcore for both
    // directions, or one each.
    const size_t lcore_jobs = own_lcores ? 2 * nworkers : nworkers;
    std::vector<dp::Worker> workers(lcore_jobs);
    for (size_t i = 0; i < workers.size(); ++i) {
        workers[i].stop = &stop;
        // Every worker reads the tables, even before a policy is loaded:
        // 'policy load' may publish some later.
        workers[i].tables = publisher->get();
        workers[i].reader_id = static_cast<unsigned>(i);
        workers[i].idle = dp::idle_settings(o.idle_sleep ? o.idle_sleep_max_us : 0);
    }
    // Worker 0 of a direction steps its rebalancer: it sleeps no longer than
    // a period, or a busy worker would wait for an idle one's share.
    if (nworkers > 1 && (share_links[0] != nullptr || share_links[1] != nullptr) && o.idle_sleep) {
        for (size_t i : {size_t{0}, own_lcores ? size_t{nworkers} : size_t{0}})
            workers[i].idle = dp::idle_settings(std::min(o.idle_sleep_max_us, o.rebalance_us));
    }
    for (unsigned w = 0; w < nworkers; ++w) {
        workers[w].directions.push_back(directions[0][w].get());
        workers[own_lcores ? nworkers + w : w].directions.push_back(directions[1][w].get());
    }
    // Upload reads the LAN port, download the WAN port. Interrupts and
    // wake-up sockets are for queue 0: with several workers they sleep by time.
    if (nworkers == 1) {
        const auto wake_on = [](dp::Worker& w, const dp::Port& p) {
            if (p.rx_interrupts()) w.wake_ports.push_back({p.id(), nullptr});
            else if (p.packet_wake()) w.wake_ports.push_back({p.id(), p.packet_wake()});
        };
        wake_on(workers[0], **lan);
        wake_on(workers[workers.size() - 1], **wan);
        for (auto& w : workers) {
            if (w.wake_ports.size() != w.directions.size()) w.wake_ports.clear();
        }
        (*exception)->add_wake_sources(workers.front(), workers.back());
    }
    if (lcores.size() > lcore_jobs) {
        spdlog::warn("{} worker lcores given; {} are used ({} per direction{}), the rest stay idle", lcores.size(),
                     lcore_jobs, nworkers, own_lcores ? ", each on its own lcore" : "");
    }
    for (size_t i = 0; i < workers.size(); ++i) {
        const int rc = rte_eal_remote_launch(dp::Worker::run, &workers[i], lcores[i]);
        if (rc != 0) {
            spdlog::error("cannot start worker on lcore {}: {}", lcores[i], rc);
            stop = true;
            rte_eal_mp_wait_lcore();
            return 1;
        }
        std::string names;
        for (auto* d : workers[i].directions) {
            const bool up = d->name() == "upload";
            names += (names.empty() ? "" : ", ") + d->name();
            if (nworkers > 1) {
                unsigned w = 0;
                while (w < nworkers && directions[up ? 0 : 1][w].get() != d) ++w;
                names += fmt::format(" worker {} ({} rx queue {} -> {} tx queue {})", w, up ? "lan" : "wan", w,
                                     up ? "wan" : "lan", w);
            }
        }
        spdlog::info("lcore {}: forwarding {}; {}", lcores[i], names,
                     !o.idle_sleep ? std::string("polls without sleeping")
                     : workers[i].wake_ports.empty()
                         ? fmt::format("sleeps up to {} us when idle", o.idle_sleep_max_us)
                         : std::string("waits for packets (rx interrupts or a wake-up socket) when idle"));
    }
    (*server)->start();
    spdlog::info("control socket {}", o.socket);
    if (metrics) {
        metrics->start();
        spdlog::info("Prometheus metrics at http://{}:{}/metrics", metrics->host(), metrics->port());
    }
    spdlog::info("bridging {} <-> {}; SIGINT or SIGTERM stops", (*lan)->name(), (*wan)->name());
    dp::notify_ready(fmt::format("bridging {} <-> {}", (*lan)->name(), (*wan)->name()));

    // The main thread wakes every few seconds to sample the classes' delay
    // histograms (the recent window of `stats`), and logs the counters
    // every --stats-interval.
    const int tick_s = o.stats_interval_s != 0 && o.stats_interval_s < rt::DelayWindows::kSampleSeconds
                           ? static_cast<int>(o.stats_interval_s)
                           : rt::DelayWindows::kSampleSeconds;
    const timespec tick{static_cast<time_t>(tick_s), 0};
    auto last_stats = std::chrono::steady_clock::now();
    auto last_sample = last_stats;
    for (;;) {
        const int sig = sigtimedwait(&signals, nullptr, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            spdlog::info("{}: stopping, draining queued packets", sig == SIGINT ? "SIGINT" : "SIGTERM");
            dp::notify_stopping();
            break;
        }
        if (sig == SIGHUP) {
            dp::notify_reloading();
            auto r = policy.reload();
            if (r) {
                spdlog::info("SIGHUP: policy {} reloaded (checksum {}, workers switched in {:.2f} ms)", r->file,
                             r->checksum, r->publish_ms);
            } else {
                spdlog::warn("SIGHUP: {}", r.error());
            }
            // Ready again either way: a refused file leaves the running policy.
            dp::notify_ready(r ? "policy reloaded" : "policy reload refused; the running policy stays");
            continue;
        }
        if (std::chrono::steady_clock::now() - last_sample >=
            std::chrono::seconds(rt::DelayWindows::kSampleSeconds) - std::chrono::milliseconds(100)) {
            last_sample = std::chrono::steady_clock::now();
            policy.sample_delays();
        }
        if (o.stats_interval_s != 0 &&
            std::chrono::steady_clock::now() - last_stats >= std::chrono::seconds(o.stats_interval_s)) {
            last_stats = std::chrono::steady_clock::now();
            spdlog::info("{}", rt::format_counters(upload.name(), upload.counters()));
            spdlog::info("{}", rt::format_counters(download.name(), download.counters()));
        }
    }
    // Stop answering first: no command may reach a pipeline being torn down.
    (*server)->stop();
    if (metrics) metrics->stop();
    stop.store(true, std::memory_order_relaxed);
    rte_eal_mp_wait_lcore();

    for (size_t i = 0; i < workers.size(); ++i) {
        spdlog::info("worker lcore={} sleeps={} slept_ms={} rx_interrupts={}", lcores[i], workers[i].sleeps,
                     workers[i].slept_ns / 1'000'000, workers[i].waits_for_rx ? "yes" : "no");
    }
    spdlog::info("{}", rt::format_counters(upload.name(), upload.counters()));
    spdlog::info("{}", rt::format_counters(download.name(), download.counters()));
    for (const auto& line : (*exception)->describe_counters()) spdlog::info("{}", line);
    spdlog::info("{}", rt::format_port_stats(**lan));
    spdlog::info("{}", rt::format_port_stats(**wan));
    if (nworkers > 1) {
        for (const dp::DirectionGroup* g : {&upload, &download}) {
            for (size_t w = 0; w < g->workers().size(); ++w) {
                const auto& c = g->workers()[w]->counters();
                spdlog::info("{} worker {}: rx_packets={} tx_packets={} handoffs_out={} handoffs_in={} busy_ms={}",
                             g->name(), w, c.rx_packets, c.tx_packets, c.handoffs_out, c.handoffs_in,
                             c.busy_cycles * 1000 / rte_get_tsc_hz());
            }
        }
    }
    if constexpr (dp::kStageCycles) {
        for (const dp::DirectionGroup* g : {&upload, &download})
            for (const dp::Direction* d : g->workers())
                spdlog::info("{}", rt::format_stage_cycles(d->name(), d->stage_clock(), d->counters().rx_packets));
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    auto parsed = dp::parse_options(argc, argv);
    if (!parsed) {
        std::fprintf(stderr, "sluiced: %s\n", parsed.error().c_str());
        return 2;
    }
    switch (parsed->action) {
    case dp::ParsedOptions::Action::help:
    case dp::ParsedOptions::Action::version:
    case dp::ParsedOptions::Action::show_config:
        std::fputs(parsed->text.c_str(), stdout);
        return 0;
    case dp::ParsedOptions::Action::check: {
        auto r = rt::check_policy_file(parsed->options.policy_file);
        if (!r) {
            std::fprintf(stderr, "%s\n", r.error().c_str());
            return 1;
        }
        for (const auto& line : *r) std::fprintf(stderr, "%s\n", line.c_str());
        std::fprintf(stderr, "%s: valid\n", parsed->options.policy_file.c_str());
        return 0;
    }
    case dp::ParsedOptions::Action::run:
        break;
    }
    setup_logging(parsed->options.log_level);
    if (!parsed->options.config_file.empty()) {
        spdlog::info("settings read from {}", parsed->options.config_file);
    }
    const int rc = run(parsed->options);
    spdlog::info("exit {}", rc);
    return rc;
}
