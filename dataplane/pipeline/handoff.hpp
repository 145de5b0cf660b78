// Packets classified on one worker of a direction whose class another worker
// of that direction owns travel to the owner through these rings: one
// single-producer single-consumer rte_ring per ordered pair of workers, so
// neither side takes a lock. A flow enters on one port queue (RSS hashes
// the addresses), so it has one sender and takes one ring: its order holds.
//
// Which worker owns a class: the control side decides
// (control/runtime/worker_share.hpp, a subscriber's leaves with their plan)
// and publishes it with the classifier's tables; a class they do not name
// belongs to owner_of(its id). The class tree itself exists on every
// worker; only the owner's copy of a leaf ever queues packets.
//
// Expects:  created before the workers start; worker `from` is the only one
//           that enqueues on ring(from, to), worker `to` the only one that
//           dequeues from it.
// Outputs:  items carry the mbuf, its scheduler class and its flow hash, so
//           the owner neither parses nor classifies the packet again.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace sluice::dataplane {

inline constexpr unsigned kMaxWorkers = 16;
// Items per ring: a few bursts of a busy sender while the owner is in a
// long turn (the packet pool counts them, see packet_pool_size).
inline constexpr unsigned kHandoffRingSize = 2048;

struct HandoffItem {
    rte_mbuf* mbuf;
    uint32_t class_id;
    uint32_t flow_hash;
};
static_assert(sizeof(HandoffItem) == 16, "ring elements are a multiple of 4 bytes");

// The worker (0 .. workers-1) an id names: the id scattered by a
// multiplicative (Fibonacci) hash, so that ids in a regular stride (a
// subscriber's plan and its leaves take four ids each, say) still spread
// over every worker, as a plain modulo would not.
inline unsigned owner_of(uint32_t id, unsigned workers) {
    return workers <= 1 ? 0 : static_cast<unsigned>((uint64_t{id * 0x9E3779B1u} * workers) >> 32);
}

class HandoffRings {
public:
    // `name` keeps the rings of two directions apart; `size` items per ring
    // (a power of two).
    static Result<std::unique_ptr<HandoffRings>> create(const std::string& name, unsigned workers, unsigned size);
    ~HandoffRings();
    HandoffRings(const HandoffRings&) = delete;
    HandoffRings& operator=(const HandoffRings&) = delete;

    unsigned workers() const { return workers_; }
    rte_ring* ring(unsigned from, unsigned to) const { return rings_[from * workers_ + to]; }

    // Frees what is left in every ring (after the workers stopped); returns
    // how many packets that was.
    uint64_t free_remaining();

private:
    explicit HandoffRings(unsigned workers) : workers_(workers), rings_(size_t{workers} * workers, nullptr) {}
    unsigned workers_;
    std::vector<rte_ring*> rings_;  // [from * workers + to]; null on the diagonal
};

}  // namespace sluice::dataplane
