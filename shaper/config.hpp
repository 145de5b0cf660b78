// Configuration of the shaper as plain structs.
//
// These are what a policy adapter fills in from the policy file; the shaper
// never reads the policy format itself. Everything here is validated by
// Scheduler::apply() before it touches live state, and turned there into
// precomputed fixed-point profiles so the packet path never divides.
#pragma once

#include <cstdint>
#include <optional>

#include "shaper/overhead.hpp"

namespace sluice::shaper {

// The deepest tree the scheduler accepts (root at depth 0). HTB stops at 8
// levels and rte_sched at 5; 64 keeps one machine word per level bitmap.
inline constexpr uint32_t kMaxDepth = 62;
inline constexpr uint32_t kPrioCount = 8;  // priorities 0 (first) .. 7
inline constexpr uint32_t kNoParent = 0xffffffffu;

enum class LeafKind : uint8_t { fifo, codel, fq_codel };

// RFC 8289 defaults: 5 ms target, 100 ms interval.
struct CodelParams {
    uint32_t target_us = 5'000;
    uint32_t interval_us = 100'000;

    friend bool operator==(const CodelParams&, const CodelParams&) = default;
};

struct LeafConfig {
    LeafKind kind = LeafKind::codel;
    // Queue limits. For fq_codel, the limit is for the whole class; when it
    // is reached the head of the fattest flow is dropped, not the arrival.
    uint32_t limit_packets = 1'000;
    uint64_t limit_bytes = 0;  // 0: no byte limit
    CodelParams codel{};
    // fq_codel only (RFC 8290 defaults).
    uint32_t flows = 1'024;    // rounded up to a power of two
    uint32_t quantum = 1'514;  // bytes of credit a flow gets per round

    friend bool operator==(const LeafConfig&, const LeafConfig&) = default;
};

struct ClassConfig {
    uint32_t id = 0;
    uint32_t parent = kNoParent;  // kNoParent: a root (the link)
    uint64_t rate = 0;            // assured, bytes per second on the wire
    uint64_t ceil = 0;            // maximum with borrowing; 0 = rate
    uint32_t burst = 0;           // bytes at `rate`; 0 = default for the rate
    uint32_t cburst = 0;          // bytes at `ceil`; 0 = default for the ceil
    uint8_t prio = 0;             // 0..7, leaves only; 0 is served first
    uint32_t weight = 1;          // share among equals when borrowing, >= 1
    LeafConfig leaf{};            // used while the class has no children

    friend bool operator==(const ClassConfig&, const ClassConfig&) = default;
};

struct SchedulerConfig {
    uint64_t tick_hz = 1'000'000'000;  // rate of the `now` the caller passes
    OverheadModel overhead{};          // applied to every packet exactly once
    uint32_t mtu = 1'514;              // frame bytes; floor of every burst
    // Default burst = rate * default_burst_us (a scheduling round at that
    // rate), never below one MTU on the wire. A fixed small burst is what
    // holds fast shaped links well below their rate.
    uint32_t default_burst_us = 1'000;
    // The longest gap between the caller's clock readings that is made up
    // for: see "When the clock jumps" in docs/shaper.md. 0: none.
    uint32_t catch_up_us = 10'000;
    // Bytes of DRR credit per unit of weight; at least one MTU on the wire.
    uint32_t quantum_per_weight = 1'600;
    // Packet slots shared by all classes, allocated once at construction.
    uint32_t packet_capacity = 1u << 16;
};

}  // namespace sluice::shaper
