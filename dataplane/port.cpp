#include "dataplane/port.hpp"

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_errno.h>
#include <rte_log.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "dataplane/eal.hpp"
#include "dataplane/instance_lock.hpp"
#include "dataplane/kernel_link.hpp"
#include "dataplane/xdp_port.hpp"

namespace sluice::dataplane {

Result<uint16_t> find_port(const std::string& devargs) {
    std::string want = device_name(devargs);
    // A short PCI address (01:00.0) is probed under its full name (0000:01:00.0).
    if (is_pci_address(devargs) && want.size() == 7) want = "0000:" + want;
    uint16_t id;
    RTE_ETH_FOREACH_DEV(id) {
        rte_eth_dev_info info{};
        if (rte_eth_dev_info_get(id, &info) != 0 || info.device == nullptr) continue;
        if (want == rte_dev_name(info.device)) return id;
    }
    return Error{fmt::format("no DPDK port for '{}': the device was not probed (check the name, "
                             "the interface, and that the driver for it is installed)",
                             devargs)};
}

KernelAccess kernel_access_of(const std::string& driver, bool on_interface) {
    // libpcap on a live interface captures beside the kernel's own stack.
    if (driver == "net_af_packet" || (driver == "net_pcap" && on_interface)) return KernelAccess::copy;
    if (driver == "net_af_xdp") return KernelAccess::xdp_program;
    return KernelAccess::none;
}

namespace {

// Whether the port's rx queue 0 has an interrupt fd. ethdev logs an error
// for every port without one; for a question that is noise, so its log
// is kept quiet for the call.
bool has_rx_interrupt_fd(uint16_t id) {
    const int type = rte_log_register("lib.ethdev");
    const int level = type >= 0 ? rte_log_get_level(type) : -1;
    if (level >= 0) rte_log_set_level(type, RTE_LOG_CRIT);
    const bool has = rte_eth_dev_rx_intr_ctl_q_get_fd(id, 0) >= 0;
    if (level >= 0) rte_log_set_level(type, static_cast<uint32_t>(level));
    return has;
}

}  // namespace

Result<std::unique_ptr<Port>> Port::open(const PortSettings& s, rte_mempool* pool,
                                         const ManagementFilter& management) {
    auto found = find_port(s.devargs);
    if (!found) return Error{fmt::format("--{}: {}", s.role, found.error())};
    const uint16_t id = *found;

    rte_eth_dev_info info{};
    int rc = rte_eth_dev_info_get(id, &info);
    if (rc != 0) return Error{fmt::format("--{}: cannot read device info: {}", s.role, rte_strerror(-rc))};
    if (s.queues == 0 || s.queues > info.max_rx_queues || s.queues > info.max_tx_queues) {
        return Error{fmt::format("--{}: {} queues asked for (one per worker, --workers), the driver {} offers {} rx and "
                                 "{} tx queues{}",
                                 s.role, s.queues, info.driver_name ? info.driver_name : "?", info.max_rx_queues,
                                 info.max_tx_queues,
                                 std::string(info.driver_name ? info.driver_name : "") == "net_af_xdp"
                                     ? " (give the vdev queue_count=N and the interface N combined channels)"
                                     : "")};
    }
    std::unique_ptr<Port> port(new Port(id, s.role, device_name(s.devargs),
                                        info.driver_name ? info.driver_name : "?"));
    port->interface_ = kernel_interface(s.devargs);

    // An af_xdp port given Sluice's program attaches it when its rx queue is
    // set up, and only to an interface without one (the driver asks the
    // kernel for that). A program that a killed run left behind goes first;
    // anything else on the interface is not ours to remove, and the port is
    // refused with the command that would.
    const rte_devargs* given = rte_dev_devargs(info.device);
    const bool xdp_program = port->driver_ == "net_af_xdp" && !port->interface_.empty() && given != nullptr &&
                             given->args != nullptr && names_xdp_program(std::string(",") + given->args);
    if (xdp_program) {
        auto cleared = bpf::clear_stale_program(port->interface_);
        if (!cleared) return Error{fmt::format("--{}: {}", s.role, cleared.error())};
        if (*cleared)
            spdlog::warn("{} port {}: removed the XDP program a previous run left on {}", s.role, port->name_,
                         port->interface_);
    }

    // A transparent bridge must not let the NIC alter frames: no offloads.
    // With rx interrupts asked for, the port is set up with them first; a
    // driver that has none ignores the request or refuses to start, and then
    // the port is set up again without.
    const auto setup = [&](bool interrupts) -> Result<bool> {
        rte_eth_conf conf{};
        conf.intr_conf.rxq = interrupts ? 1 : 0;
        const uint16_t queues = s.queues;
        port->spread_ = queues <= 1 ? "none" : "driver";
        if (queues > 1 && (info.flow_type_rss_offloads & RTE_ETH_RSS_IP) != 0) {
            // The addresses only, not the ports: a fragmented datagram's
            // pieces land on one queue. Where the driver can hash one
            // address alone, the subscriber's (the source of what the LAN
            // port receives, the destination of what the WAN port
            // receives), all of a subscriber's flows land on one queue.
            conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_key = nullptr;
            conf.rx_adv_conf.rss_conf.rss_hf = RTE_ETH_RSS_IP & info.flow_type_rss_offloads;
            port->spread_ = "rss ip";
            const bool lan = s.role == "lan";
            const uint64_t one = lan ? RTE_ETH_RSS_L3_SRC_ONLY : RTE_ETH_RSS_L3_DST_ONLY;
            if ((info.flow_type_rss_offloads & one) != 0) {
                conf.rx_adv_conf.rss_conf.rss_hf |= one;
                port->spread_ = lan ? "rss ip source (the subscriber)" : "rss ip destination (the subscriber)";
            }
        }
        int r = rte_eth_dev_configure(id, queues, queues, &conf);
        if (r != 0) return Error{fmt::format("--{}: configure failed: {}", s.role, rte_strerror(-r))};

        uint16_t rxd = s.rx_descriptors, txd = s.tx_descriptors;
        r = rte_eth_dev_adjust_nb_rx_tx_desc(id, &rxd, &txd);
        if (r != 0) return Error{fmt::format("--{}: ring sizes refused: {}", s.role, rte_strerror(-r))};

        const int socket = port->socket_id();
        for (uint16_t q = 0; q < queues; ++q) {
            r = rte_eth_rx_queue_setup(id, q, rxd, static_cast<unsigned>(socket), nullptr, pool);
            if (r != 0)
                return Error{fmt::format("--{}: rx queue {} setup failed: {}", s.role, q, rte_strerror(-r))};
        }
        // The driver has attached the program now, with empty maps: until
        // they are filled the gateway's own frames would reach the data
        // plane, so they are filled before the port starts.
        if (xdp_program && !port->management_) {
            auto adopted = bpf::ManagementProgram::adopt(port->interface_);
            if (!adopted) return Error{fmt::format("--{}: {}", s.role, adopted.error())};
            auto applied = (*adopted)->apply(management);
            if (!applied) return Error{fmt::format("--{}: {}", s.role, applied.error())};
            port->management_ = std::move(*adopted);
        }
        for (uint16_t q = 0; q < queues; ++q) {
            r = rte_eth_tx_queue_setup(id, q, txd, static_cast<unsigned>(socket), nullptr);
            if (r != 0)
                return Error{fmt::format("--{}: tx queue {} setup failed: {}", s.role, q, rte_strerror(-r))};
        }

        r = rte_eth_dev_start(id);
        if (r != 0 && interrupts) return false;
        if (r != 0) return Error{fmt::format("--{}: start failed: {}", s.role, rte_strerror(-r))};
        port->started_ = true;
        port->queues_ = queues;
        port->rx_descriptors_ = rxd;
        port->tx_descriptors_ = txd;
        return true;
    };
    auto started = setup(s.rx_interrupts);
    if (!started) return Error{started.error()};
    if (!*started) {
        spdlog::info("{} port {}: does not start with rx interrupts; idle workers will sleep by time",
                     s.role, port->name_);
        started = setup(false);
        if (!started) return Error{started.error()};
    }
    // Drivers without rx interrupts accept the request and give no queue fd.
    port->rx_interrupts_ = s.rx_interrupts && *started && has_rx_interrupt_fd(id);
    if (s.rx_interrupts && !port->rx_interrupts_ && port->driver_ == "net_af_packet" && !port->interface_.empty()) {
        auto wake = PacketWake::open(port->interface_);
        if (wake) {
            port->wake_ = std::move(*wake);
        } else {
            spdlog::info("{} port {}: no wake-up socket ({}); idle workers will sleep by time", s.role, port->name_,
                         wake.error());
        }
    }

    // A bridge forwards frames for every address, not only the port's own.
    rc = rte_eth_promiscuous_enable(id);
    if (rc != 0 && rc != -ENOTSUP) {
        spdlog::warn("{} port {}: cannot enable promiscuous mode: {}", s.role, port->name_,
                     rte_strerror(-rc));
    }
    spdlog::info("{} port {} (id {}, driver {}): {} rx / {} tx descriptors{}, {}{}{}", s.role,
                 port->name_, id, port->driver_, port->rx_descriptors_, port->tx_descriptors_,
                 port->queues_ > 1 ? fmt::format(" on each of {} queue pairs, spread by {}", port->queues_, port->spread_)
                                   : std::string(),
                 port->link_status(), port->rx_interrupts_ ? ", rx interrupts"
                                      : port->wake_ ? ", wake-up socket on " + port->interface_
                                                    : std::string(),
                 port->management_ ? fmt::format(", management XDP program {} on {}", port->management_->program_id(),
                                                 port->interface_)
                                   : std::string());
    return port;
}

Port::~Port() {
    // The program first, and only while it is still the one we adopted; the
    // driver's close would remove whatever program the interface has.
    management_.reset();
    if (started_) {
        int rc = rte_eth_dev_stop(id_);
        if (rc != 0) spdlog::warn("{} port {}: stop failed: {}", role_, name_, rte_strerror(-rc));
    }
    rte_eth_dev_close(id_);
}

int Port::socket_id() const {
    const int s = rte_eth_dev_socket_id(id_);
    // Virtual devices report no NUMA node; any socket will do.
    return s < 0 ? 0 : s;
}

std::string Port::link_status() const {
    if (!interface_.empty()) return read_kernel_link(interface_).describe(interface_);
    rte_eth_link link{};
    if (rte_eth_link_get_nowait(id_, &link) != 0) return "link unknown";
    if (link.link_status == RTE_ETH_LINK_DOWN) return "link down";
    const std::string speed = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN
                                  ? std::string("unknown speed")
                                  : fmt::format("{} Mbit/s", link.link_speed);
    return fmt::format("link up at {}, {} duplex", speed,
                       link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX ? "full" : "half");
}

bool Port::link_up() const {
    if (!interface_.empty()) return read_kernel_link(interface_).up();
    rte_eth_link link{};
    return rte_eth_link_get_nowait(id_, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

PortStats Port::stats() const {
    rte_eth_stats st{};
    PortStats out;
    if (rte_eth_stats_get(id_, &st) != 0) return out;
    out.rx_packets = st.ipackets;
    out.rx_bytes = st.ibytes;
    out.tx_packets = st.opackets;
    out.tx_bytes = st.obytes;
    out.rx_missed = st.imissed;
    out.rx_errors = st.ierrors;
    out.tx_errors = st.oerrors;
    out.rx_no_mbuf = st.rx_nombuf;
    return out;
}

}  // namespace sluice::dataplane
