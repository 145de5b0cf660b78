#include "dataplane/exception_port.hpp"

#include <net/if.h>
#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice::dataplane {

Result<std::unique_ptr<ExceptionPort>> ExceptionPort::open(const ExceptionPortSettings& s, rte_mempool* pool) {
    const std::string option = "--management-tap-" + s.role;
    // net_tap would attach to an existing tap of that name, or fail on
    // another kind of device with a vaguer message: neither is meant here.
    if (if_nametoindex(s.interface.c_str()) != 0) {
        return Error{fmt::format("{}: an interface named {} exists already; name one that does not (sluiced "
                                 "creates it, and it goes when sluiced stops)",
                                 option, s.interface)};
    }
    rte_ether_addr mac{};
    int rc = rte_eth_macaddr_get(s.data_port, &mac);
    if (rc != 0) return Error{fmt::format("{}: cannot read the {} port's MAC address: {}", option, s.role, rte_strerror(-rc))};
    char mac_text[RTE_ETHER_ADDR_FMT_SIZE];
    rte_ether_format_addr(mac_text, sizeof mac_text, &mac);

    std::unique_ptr<ExceptionPort> p(new ExceptionPort());
    p->role_ = s.role;
    p->interface_ = s.interface;
    p->device_ = "net_tap_sluice_" + s.role;
    // A port without an address of its own (net_ring, net_null) leaves the
    // tap to net_tap's random one.
    const bool has_mac = !rte_is_zero_ether_addr(&mac);
    const std::string args = has_mac ? fmt::format("iface={},mac={}", s.interface, mac_text)
                                     : fmt::format("iface={}", s.interface);
    rc = rte_vdev_init(p->device_.c_str(), args.c_str());
    if (rc != 0) {
        return Error{fmt::format("{}: cannot create the tap {} (net_tap needs /dev/net/tun and CAP_NET_ADMIN): {}",
                                 option, s.interface, rte_strerror(rc < 0 ? -rc : rte_errno))};
    }
    p->created_ = true;
    uint16_t id = 0;
    rc = rte_eth_dev_get_port_by_name(p->device_.c_str(), &id);
    if (rc != 0) return Error{fmt::format("{}: the tap {} has no port: {}", option, s.interface, rte_strerror(-rc))};
    p->id_ = id;

    // With an rx interrupt, a worker that sleeps until its ports have
    // packets wakes for the kernel's frames too.
    rte_eth_conf conf{};
    conf.intr_conf.rxq = 1;
    rc = rte_eth_dev_configure(id, 1, 1, &conf);
    if (rc != 0) return Error{fmt::format("{}: configuring the tap failed: {}", option, rte_strerror(-rc))};
    uint16_t rxd = s.descriptors, txd = s.descriptors;
    rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, &rxd, &txd);
    if (rc != 0) return Error{fmt::format("{}: tap ring sizes refused: {}", option, rte_strerror(-rc))};
    const int socket = std::max(rte_eth_dev_socket_id(id), 0);
    rc = rte_eth_rx_queue_setup(id, 0, rxd, static_cast<unsigned>(socket), nullptr, pool);
    if (rc != 0) return Error{fmt::format("{}: tap rx queue setup failed: {}", option, rte_strerror(-rc))};
    rc = rte_eth_tx_queue_setup(id, 0, txd, static_cast<unsigned>(socket), nullptr);
    if (rc != 0) return Error{fmt::format("{}: tap tx queue setup failed: {}", option, rte_strerror(-rc))};
    rc = rte_eth_dev_start(id);
    if (rc != 0) return Error{fmt::format("{}: starting the tap failed: {}", option, rte_strerror(-rc))};
    p->started_ = true;
    p->rx_interrupts_ = rte_eth_dev_rx_intr_ctl_q_get_fd(id, 0) >= 0;
    spdlog::info("{} port: the gateway's own frames reach the kernel on {} (tap {}, {})", s.role, s.interface,
                 p->device_, has_mac ? fmt::format("the port's MAC {}", mac_text) : "a random MAC: the port has none");
    return p;
}

ExceptionPort::~ExceptionPort() {
    if (started_) {
        const int rc = rte_eth_dev_stop(id_);
        if (rc != 0) spdlog::warn("tap {}: stop failed: {}", interface_, rte_strerror(-rc));
    }
    if (created_) {
        // Closing the port and removing the vdev take the kernel interface away.
        rte_eth_dev_close(id_);
        rte_vdev_uninit(device_.c_str());
    }
}

void ExceptionPort::to_kernel(rte_mbuf** frames, uint32_t n) {
    // The driver may free a frame as soon as it takes it: lengths first.
    uint32_t lengths[kMaxBurst];
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < n; ++i) lengths[i] = rte_pktmbuf_pkt_len(frames[i]);
    const uint16_t sent = rte_eth_tx_burst(id_, 0, frames, static_cast<uint16_t>(n));
    for (uint32_t i = 0; i < sent; ++i) bytes += lengths[i];
    for (uint32_t i = sent; i < n; ++i) rte_pktmbuf_free(frames[i]);
    counters_.to_kernel.packets += sent;
    counters_.to_kernel.bytes += bytes;
    counters_.to_kernel.dropped += n - sent;
}

uint32_t ExceptionPort::from_kernel(uint16_t egress_port, rte_mbuf** scratch, uint32_t burst) {
    const uint16_t n = rte_eth_rx_burst(id_, 0, scratch, static_cast<uint16_t>(std::min(burst, kMaxBurst)));
    if (n == 0) return 0;
    uint32_t lengths[kMaxBurst];
    for (uint16_t i = 0; i < n; ++i) lengths[i] = rte_pktmbuf_pkt_len(scratch[i]);
    const uint16_t sent = rte_eth_tx_burst(egress_port, 0, scratch, n);
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < sent; ++i) bytes += lengths[i];
    for (uint16_t i = sent; i < n; ++i) rte_pktmbuf_free(scratch[i]);
    counters_.from_kernel.packets += sent;
    counters_.from_kernel.bytes += bytes;
    counters_.from_kernel.dropped += n - sent;
    return n;
}

}  // namespace sluice::dataplane
