// The exception path of one data port the kernel cannot see (a PCI NIC
// bound to vfio-pci, or a pcap, ring or null vdev): a net_tap device whose
// kernel interface stands for the data port. The gateway's own frames that
// arrive on the data port are written to the tap, so the kernel receives
// them on that interface; what the kernel sends out of the interface is
// read from the tap and leaves on the data port.
//
// The tap takes the data port's MAC address: the kernel's replies then
// carry the port's address, and frames addressed to the port's MAC are the
// interface's own for the kernel. The interface's addresses and routes are
// the operator's (or the system's network configuration's) to set.
//
// Owns:     the vdev, created at open() with one rx and one tx queue and
//           started; stopped, closed and removed on destruction (the kernel
//           interface goes with it).
// Threads:  to_kernel() is called by the worker that receives from the data
//           port only (the tap's tx queue), from_kernel() by the worker that
//           transmits on it only (the tap's rx queue); each writes its own
//           half of the counters. The control thread reads them.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/counter_fields.hpp"
#include "common/result.hpp"

namespace sluice::dataplane {

struct ExceptionPortSettings {
    std::string role;        // "lan" or "wan", for messages
    std::string interface;   // the kernel interface to create; must not exist yet
    uint16_t data_port = 0;  // the port it stands for: its MAC address is the tap's
    uint16_t descriptors = 512;
};

// Single writer per half; read without locks like the direction counters.
struct ExceptionCounters {
    struct alignas(64) Half {
        uint64_t packets = 0;
        uint64_t bytes = 0;
        uint64_t dropped = 0;  // the tap's (to the kernel) or the data port's (from it) queue was full
    };
    Half to_kernel;    // frames of the data port handed to the kernel
    Half from_kernel;  // frames of the kernel sent out of the data port
};

// ExceptionCounters read into one flat record, for the renderers.
struct ExceptionStats {
    uint64_t to_kernel_packets = 0, to_kernel_bytes = 0, to_kernel_dropped = 0;
    uint64_t from_kernel_packets = 0, from_kernel_bytes = 0, from_kernel_dropped = 0;
};

// ExceptionStats for every renderer (see common/counter_fields.hpp).
inline constexpr CounterField<ExceptionStats> kExceptionFields[] = {
    {"to_kernel_packets", &ExceptionStats::to_kernel_packets, "to_kernel_packets_total",
     "the gateway's own frames handed to the kernel through the port's tap"},
    {"to_kernel_bytes", &ExceptionStats::to_kernel_bytes, "to_kernel_bytes_total",
     "bytes of the gateway's own frames handed to the kernel through the port's tap"},
    {"to_kernel_dropped", &ExceptionStats::to_kernel_dropped, "to_kernel_dropped_total",
     "own frames dropped because the tap's queue was full"},
    {"from_kernel_packets", &ExceptionStats::from_kernel_packets, "from_kernel_packets_total",
     "frames the kernel sent out of the port through its tap"},
    {"from_kernel_bytes", &ExceptionStats::from_kernel_bytes, "from_kernel_bytes_total",
     "bytes the kernel sent out of the port through its tap"},
    {"from_kernel_dropped", &ExceptionStats::from_kernel_dropped, "from_kernel_dropped_total",
     "kernel frames dropped because the port's transmit queue was full"},
};

class ExceptionPort {
public:
    static Result<std::unique_ptr<ExceptionPort>> open(const ExceptionPortSettings& settings, rte_mempool* pool);
    ~ExceptionPort();
    ExceptionPort(const ExceptionPort&) = delete;
    ExceptionPort& operator=(const ExceptionPort&) = delete;

    uint16_t id() const { return id_; }
    const std::string& role() const { return role_; }
    const std::string& interface() const { return interface_; }
    const std::string& device() const { return device_; }
    const ExceptionCounters& counters() const { return counters_; }
    ExceptionStats stats() const {
        return {counters_.to_kernel.packets,   counters_.to_kernel.bytes,   counters_.to_kernel.dropped,
                counters_.from_kernel.packets, counters_.from_kernel.bytes, counters_.from_kernel.dropped};
    }
    // Whether the tap's rx queue raises an interrupt a worker can wait for
    // (net_tap's does).
    bool rx_interrupts() const { return rx_interrupts_; }

    // The most frames one call moves.
    static constexpr uint32_t kMaxBurst = 256;

    // Hands frames[0, n) to the kernel (n at most kMaxBurst); what the tap
    // does not take is freed and counted as dropped. Takes every frame.
    void to_kernel(rte_mbuf** frames, uint32_t n);

    // Sends up to `burst` frames the kernel wrote to the interface out of
    // `egress_port` (tx queue 0, which the caller owns); what the port does
    // not take is freed and counted as dropped. `scratch` holds `burst`
    // pointers. Returns the frames read from the tap, at most kMaxBurst.
    uint32_t from_kernel(uint16_t egress_port, rte_mbuf** scratch, uint32_t burst);

private:
    ExceptionPort() = default;

    uint16_t id_ = 0;
    std::string role_;
    std::string interface_;
    std::string device_;  // the vdev's name
    bool created_ = false;
    bool started_ = false;
    bool rx_interrupts_ = false;
    ExceptionCounters counters_;
};

}  // namespace sluice::dataplane
