// Counters of one forwarding direction. Written only by the lcore that owns
// the direction (single writer, plain stores); the control thread reads them
// without locks. Torn reads are impossible for aligned 64-bit words on the
// platforms DPDK supports, and a slightly stale sum is fine for statistics.
#pragma once

#include <array>
#include <cstdint>

#include "common/counter_fields.hpp"
#include "dataplane/packet_meta.hpp"

namespace sluice::dataplane {

// Every mbuf that is not transmitted is freed under exactly one of these.
enum class DropReason : uint8_t {
    malformed = 0,        // header parse failed; the detail is in malformed_by_error
    egress_queue_full,    // the direction's egress queue was at its limit
    meter_yellow,         // a policer coloured it yellow and its action is drop
    meter_red,            // a policer coloured it red and its action is drop
    shaper,               // the scheduler dropped it (CoDel, removed class, ...)
    shutdown,             // still queued when the daemon stopped and the drain timed out
    handoff_ring_full,    // the ring to the worker that owns its class was full (--workers > 1)
    count_
};

inline constexpr unsigned kDropReasonCount = static_cast<unsigned>(DropReason::count_);

constexpr const char* drop_reason_name(DropReason r) {
    switch (r) {
    case DropReason::malformed: return "malformed";
    case DropReason::egress_queue_full: return "egress_queue_full";
    case DropReason::meter_yellow: return "meter_yellow";
    case DropReason::meter_red: return "meter_red";
    case DropReason::shaper: return "shaper";
    case DropReason::shutdown: return "shutdown";
    case DropReason::handoff_ring_full: return "handoff_ring_full";
    case DropReason::count_: break;
    }
    return "unknown";
}

struct alignas(64) DirectionCounters {
    uint64_t rx_packets = 0;
    uint64_t rx_bytes = 0;
    uint64_t tx_packets = 0;
    uint64_t tx_bytes = 0;
    uint64_t non_ip_packets = 0;   // passed through the default path (ARP, LLDP, ...)
    uint64_t tx_retries = 0;       // tx bursts that the port did not take whole
    uint64_t kernel_copies = 0;    // the gateway's own frames on a port whose frames the kernel
                                   // gets a copy of (af_packet): left to it, not bridged
    uint64_t handoffs_out = 0;     // packets handed to the worker that owns their class
    uint64_t handoffs_in = 0;      // packets other workers handed to this one
    uint64_t rebalance_changes = 0;  // local rates of shared classes set by the rebalancer
    uint64_t busy_cycles = 0;      // TSC cycles of this direction's turns that moved packets
    // Turns that began more than kStallGapUs (direction.hpp) after the last
    // one while packets waited (the worker's thread lost its CPU, or a turn
    // ran long), and the TSC cycles of those gaps.
    uint64_t stalls = 0;
    uint64_t stalled_cycles = 0;
    std::array<uint64_t, kDropReasonCount> drops{};
    std::array<uint64_t, kParseErrorCount> malformed_by_error{};

    uint64_t dropped() const {
        uint64_t n = 0;
        for (uint64_t d : drops) n += d;
        return n;
    }
};

// The plain counters above, for every renderer (see counter_fields.hpp);
// the drops by reason and malformed frames by cause are labelled families
// walked by their enums.
inline constexpr CounterField<DirectionCounters> kDirectionFields[] = {
    {"rx_packets", &DirectionCounters::rx_packets, "rx_packets_total", "packets received by a direction's ingress port"},
    {"rx_bytes", &DirectionCounters::rx_bytes, "rx_bytes_total", "bytes received by a direction's ingress port"},
    {"tx_packets", &DirectionCounters::tx_packets, "tx_packets_total", "packets a direction transmitted"},
    {"tx_bytes", &DirectionCounters::tx_bytes, "tx_bytes_total", "bytes a direction transmitted"},
    {"non_ip", &DirectionCounters::non_ip_packets, "non_ip_packets_total", "non-IP frames passed through"},
    {"tx_retries", &DirectionCounters::tx_retries, "tx_retries_total",
     "transmit bursts the egress port did not take whole at the first try"},
    {"kernel_copies", &DirectionCounters::kernel_copies, "kernel_copies_total",
     "the gateway's own frames left to the kernel, which has its copy, instead of being bridged (af_packet ports)"},
    {"handoffs_out", &DirectionCounters::handoffs_out, "handoffs_out_total",
     "packets a worker handed to the worker that owns their class"},
    {"handoffs_in", &DirectionCounters::handoffs_in, "handoffs_in_total",
     "packets a worker received from other workers to queue in the classes it owns"},
    {"stalls", &DirectionCounters::stalls, "stalls_total",
     "turns a worker began more than a millisecond after its last while packets waited (its thread lost the CPU)"},
    {"rebalance_changes", &DirectionCounters::rebalance_changes, "rebalance_changes_total",
     "local rates and ceils of shared classes the rebalancer set on a worker (--workers > 1)"},
};

}  // namespace sluice::dataplane
