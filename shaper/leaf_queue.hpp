// The queue of one leaf class: fifo, CoDel or fq_codel.
//
// Split three ways so that a fifo's packet path touches nothing outside the
// class's own state: the LeafQueue (the kind and the slot list, 32 bytes)
// sits in the scheduler's per-class record, the LeafLimits in the class's
// shared profile, and the LeafTuning beside them (CoDel parameters and
// state, fq_codel sizes and flow table) is read only by the AQM kinds.
// Dispatch is a switch on the kind, no virtual calls. fifo and CoDel queues
// are a slot list in the shared packet pool; fq_codel's flow table is
// allocated when the class first holds a packet and kept for reuse. Limits
// are checked at enqueue; CoDel drops at dequeue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "shaper/class_stats.hpp"
#include "shaper/codel.hpp"
#include "shaper/config.hpp"
#include "shaper/fq_codel.hpp"
#include "shaper/packet.hpp"

namespace sluice::shaper {

struct LeafLimits {
    uint32_t packets = 0;
    uint64_t bytes = 0;  // 0: no byte limit

    friend bool operator==(const LeafLimits&, const LeafLimits&) = default;
};

// What the packet path reads comes first, in one line; the sizes that
// make the flow table are read once.
struct alignas(64) LeafTuning {
    std::unique_ptr<FqCodelQueue> fq;  // fq_codel's flows, from its first packet
    CodelProfile codel_profile{};
    CodelState codel{};
    uint32_t flows = 0;
    uint32_t quantum = 0;
};
static_assert(offsetof(LeafTuning, flows) == 64);

struct LeafQueue {
    PacketList list{};
    LeafKind kind = LeafKind::fifo;

    uint32_t packets(const LeafTuning& t) const {
        return kind == LeafKind::fq_codel ? (t.fq ? t.fq->packets() : 0) : list.packets;
    }
    uint64_t bytes(const LeafTuning& t) const {
        return kind == LeafKind::fq_codel ? (t.fq ? t.fq->bytes() : 0) : list.bytes;
    }
    // Reads the tuning only for fq_codel.
    bool empty(const LeafTuning& t) const { return kind == LeafKind::fq_codel ? packets(t) == 0 : list.empty(); }

    // Queues slot `s` or hands it (or, for fq_codel, another packet) to
    // drop(slot, reason).
    template <typename Drop>
    void enqueue(PacketPool& pool, uint32_t s, const LeafLimits& limits, LeafTuning& t, Drop&& drop) {
        if (kind == LeafKind::fq_codel) {
            if (!t.fq) t.fq = std::make_unique<FqCodelQueue>(t.flows, t.quantum);
            t.fq->enqueue(pool, s, limits.packets, limits.bytes, drop);
            return;
        }
        if (list.packets >= limits.packets || (limits.bytes && list.bytes + pool[s].cost > limits.bytes)) {
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
            case LeafKind::fq_codel: return t.fq ? t.fq->dequeue(pool, t.codel_profile, now, drop) : kNoSlot;
        }
        return kNoSlot;
    }

    // Empties the queue into take(slot), oldest first per flow.
    template <typename Take>
    void drain(PacketPool& pool, LeafTuning& t, Take&& take) {
        for (uint32_t s = list.pop(pool); s != kNoSlot; s = list.pop(pool)) take(s);
        t.codel = {};
        if (t.fq) t.fq->drain(pool, take);
    }
};
static_assert(sizeof(LeafQueue) == 32);

}  // namespace sluice::shaper
