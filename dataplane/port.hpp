// One Ethernet port: found by the devargs sluiced was given, configured with
// one rx and one tx queue per worker of a direction (PortSettings::queues), started, and stopped and closed on destruction.
#pragma once

#include <rte_ethdev.h>

#include <cstdint>
#include <memory>
#include <string>

#include "bpf/management_program.hpp"
#include "common/counter_fields.hpp"
#include "common/result.hpp"
#include "dataplane/management_filter.hpp"
#include "dataplane/packet_wake.hpp"

namespace sluice::dataplane {

struct PortSettings {
    std::string role;      // "lan" or "wan", for messages
    std::string devargs;
    uint16_t rx_descriptors = 1024;
    uint16_t tx_descriptors = 1024;
    // Ask for a receive interrupt, so an idle worker can wait for packets
    // instead of polling; kept only where the driver provides one.
    bool rx_interrupts = false;
    // Receive and transmit queues (one per worker of the direction that
    // reads or writes the port). With more than one, a driver that has RSS
    // spreads frames by a hash of the IP source and destination addresses
    // (see open()), so one subscriber's packets stay on one queue.
    uint16_t queues = 1;
};

// How the kernel sees a port's frames, and so how the gateway's own traffic
// (the policy's [management] section) can reach it.
enum class KernelAccess {
    copy,         // net_af_packet, net_pcap on a live interface: the kernel receives every frame besides the port
    xdp_program,  // net_af_xdp: the kernel gets what the port's XDP program passes to it
    none,         // PCI NICs bound to DPDK, pcap, ring, null: only through an exception tap
};

constexpr const char* kernel_access_name(KernelAccess a) {
    switch (a) {
    case KernelAccess::copy: return "copy";
    case KernelAccess::xdp_program: return "xdp_program";
    case KernelAccess::none: return "none";
    }
    return "unknown";
}

// By driver name ("net_af_packet", "net_af_xdp", ...) and whether the port
// reads a kernel interface (a pcap port with iface= or rx_iface=).
KernelAccess kernel_access_of(const std::string& driver, bool on_interface = false);

struct PortStats {
    uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
    uint64_t rx_missed = 0, rx_errors = 0, tx_errors = 0, rx_no_mbuf = 0;
};

// PortStats for every renderer (see counter_fields.hpp).
inline constexpr CounterField<PortStats> kPortFields[] = {
    {"rx_packets", &PortStats::rx_packets, "rx_packets_total", "packets the port received"},
    {"rx_bytes", &PortStats::rx_bytes, "rx_bytes_total", "bytes the port received"},
    {"tx_packets", &PortStats::tx_packets, "tx_packets_total", "packets the port transmitted"},
    {"tx_bytes", &PortStats::tx_bytes, "tx_bytes_total", "bytes the port transmitted"},
    {"rx_missed", &PortStats::rx_missed, "rx_missed_total", "packets the port dropped because its receive ring was full"},
    {"rx_errors", &PortStats::rx_errors, "rx_errors_total", "receive errors reported by the port"},
    {"tx_errors", &PortStats::tx_errors, "tx_errors_total", "transmit errors reported by the port"},
    {"rx_no_mbuf", &PortStats::rx_no_mbuf, "rx_no_mbuf_total", "packets the port dropped for want of a packet buffer"},
};

class Port {
public:
    // Finds the port that the EAL probed for `settings.devargs` and starts it.
    // For an af_xdp port that runs Sluice's XDP program (xdp_prog= in the
    // devargs, see xdp_port.hpp), `management` is written into the program's
    // maps as soon as the driver has attached it, before the port starts.
    static Result<std::unique_ptr<Port>> open(const PortSettings& settings, rte_mempool* pool,
                                              const ManagementFilter& management = {});
    ~Port();
    Port(const Port&) = delete;
    Port& operator=(const Port&) = delete;

    uint16_t id() const { return id_; }
    const std::string& role() const { return role_; }
    const std::string& name() const { return name_; }
    const std::string& driver() const { return driver_; }
    // The kernel interface behind the port (iface= of an af_xdp, af_packet
    // or pcap vdev); empty for PCI ports and process-local vdevs.
    const std::string& interface() const { return interface_; }
    int socket_id() const;
    // The link as the kernel sees the interface where there is one, as the
    // driver reports it otherwise: "link up at ..." or "link down ...".
    std::string link_status() const;
    bool link_up() const;
    PortStats stats() const;
    // Whether the receive queue raises an interrupt a worker can wait for
    // (rte_eth_dev_rx_intr_ctl_q): PCI NICs and net_tap can, af_packet,
    // af_xdp, pcap, ring and null cannot.
    bool rx_interrupts() const { return rx_interrupts_; }
    uint16_t queues() const { return queues_; }
    // How frames are spread over the rx queues: "none" (one queue), "rss ip"
    // (hash of the IPv4/IPv6 addresses), or "driver" (the driver's own way:
    // af_xdp follows the kernel interface's RSS, net_ring/net_pcap give
    // each queue its own ring or file).
    const std::string& spread() const { return spread_; }
    // For an af_packet port asked for rx interrupts (it has none): a packet
    // socket on its interface that an idle worker can wait on instead; null
    // otherwise, or when it could not be opened (then workers sleep by time).
    PacketWake* packet_wake() const { return wake_.get(); }
    // For an af_xdp port running Sluice's XDP program: its owner, to refill
    // its maps (apply) and read its verdict counters (counters); null for
    // every other port. Removed from the interface when the port closes.
    bpf::ManagementProgram* management() const { return management_.get(); }
    // Whether and how the kernel sees this port's frames: a [management]
    // section needs copy or xdp_program, or an exception tap (ExceptionPort)
    // for a port with none.
    KernelAccess kernel_access() const { return kernel_access_of(driver_, !interface_.empty()); }

private:
    Port(uint16_t id, std::string role, std::string name, std::string driver)
        : id_(id), role_(std::move(role)), name_(std::move(name)), driver_(std::move(driver)) {}

    uint16_t id_;
    std::string role_;
    std::string name_;
    std::string driver_;
    std::string interface_;
    bool started_ = false;
    bool rx_interrupts_ = false;
    std::unique_ptr<PacketWake> wake_;
    std::unique_ptr<bpf::ManagementProgram> management_;
    uint16_t queues_ = 1;
    std::string spread_ = "none";
    uint16_t rx_descriptors_ = 0;
    uint16_t tx_descriptors_ = 0;
};

// Finds the ethdev id for a device the EAL probed from `devargs`.
Result<uint16_t> find_port(const std::string& devargs);

}  // namespace sluice::dataplane
