// The queue of one leaf class: fifo, CoDel or fq_codel.
//
// Split in two so that a fifo's packet path touches one cache line: the
// LeafQueue (limits, the slot list, the fq_codel table pointer; 64 bytes,
// line-aligned) and the LeafTuning beside it (CoDel parameters and state,
// fq_codel sizes), which only the AQM kinds read. Dispatch is a switch on
// the kind, no virtual calls. fifo and CoDel queues are a slot list in the
// shared packet pool; fq_codel's flow table is allocated when the class
// first holds a packet and kept for reuse. Limits are checked at enqueue;
// CoDel drops at dequeue.
#pragma once

#include <cstdint>
#include <memory>

#include "shaper/class_stats.hpp"
#include "shaper/codel.hpp"
#include "shaper/config.hpp"
#include "shaper/fq_codel.hpp"
#include "shaper/packet.hpp"

namespace sluice::shaper {

struct LeafTuning {
    uint32_t flows = 0;
    uint32_t quantum = 0;
    CodelProfile codel_profile{};
    CodelState codel{};
};

struct alignas(64) LeafQueue {
    LeafKind kind = LeafKind::fifo;
    uint32_t limit_packets = 0;
    uint64_t limit_bytes = 0;
    PacketList list{};
    std::unique_ptr<FqCodelQueue> fq;

    uint32_t packets() const { return kind == LeafKind::fq_codel ? (fq ? fq->packets() : 0) : list.packets; }
    uint64_t bytes() const { return kind == LeafKind::fq_codel ? (fq ? fq->bytes() : 0) : list.bytes; }
    bool empty() const { return packets() == 0; }

    // Queues slot `s` or hands it (or, for fq_codel, another packet) to
    // drop(slot, reason).
    template <typename Drop>
    void enqueue(PacketPool& pool, uint32_t s, const LeafTuning& t, Drop&& drop) {
        if (kind == LeafKind::fq_codel) {
            if (!fq) fq = std::make_unique<FqCodelQueue>(t.flows, t.quantum);
            fq->enqueue(pool, s, limit_packets, limit_bytes, drop);
            return;
        }
        if (list.packets >= limit_packets || (limit_bytes && list.bytes + pool[s].cost > limit_bytes)) {
            drop(s, DropReason::queue_limit);
            return;
        }
        list.push(pool, s);
    }

    template <typename Drop>
    uint32_t dequeue(PacketPool& pool, uint64_t now, LeafTuning& t, Drop&& drop) {
        switch (kind) {
            case LeafKind::fifo: return list.pop(pool);
            case LeafKind::codel:
                return codel_dequeue(t.codel, t.codel_profile, pool, list, now,
                                     [&](uint32_t v) { drop(v, DropReason::codel); });
            case LeafKind::fq_codel: return fq ? fq->dequeue(pool, t.codel_profile, now, drop) : kNoSlot;
        }
        return kNoSlot;
    }

    // Empties the queue into take(slot), oldest first per flow.
    template <typename Take>
    void drain(PacketPool& pool, LeafTuning& t, Take&& take) {
        for (uint32_t s = list.pop(pool); s != kNoSlot; s = list.pop(pool)) take(s);
        t.codel = {};
        if (fq) fq->drain(pool, take);
    }
};
static_assert(sizeof(LeafQueue) == 64);

}  // namespace sluice::shaper
