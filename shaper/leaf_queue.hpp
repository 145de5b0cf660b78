// The queue of one leaf class: fifo, CoDel or fq_codel.
//
// Split three ways so that a fifo's packet path touches nothing outside the
// class's own state: the LeafQueue (the kind and the slot list, or a
// fq_codel class's table reference; 32 bytes) sits in the scheduler's
// per-class record, the LeafLimits in the class's shared profile, and the
// LeafTuning beside them (CoDel parameters and state, fq_codel sizes and
// the table's ownership) is read on the packet path by CoDel only, and by
// fq_codel when its first packet makes the table. Dispatch is a switch on
// the kind, no virtual calls. fifo and CoDel queues are a slot list in the
// shared packet pool; fq_codel's flow table (one block, see fq_codel.hpp)
// is allocated when the class first holds a packet and kept for reuse until
// the class is removed or turns inner. Limits are checked at enqueue; CoDel
// drops at dequeue.
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

// What the packet path reads comes first, in one line: CoDel's. A fq_codel
// class's packets do not read the tuning (its table has a copy of the CoDel
// parameters); the rest makes the flow table, once.
struct alignas(64) LeafTuning {
    CodelProfile codel_profile{};
    CodelState codel{};
    FqCodelQueue::Owner fq;  // fq_codel's flows, from its first packet
    uint32_t flows = 0;
    uint32_t quantum = 0;
    FqBlockArena* arena = nullptr;  // for the flow table; null: the heap
};
static_assert(offsetof(LeafTuning, codel) + sizeof(CodelState) <= 64);

struct LeafQueue {
    // A fq_codel class's table as its queue sees it: reached from the
    // class's own state without a look at the tuning (which owns it).
    struct FqRef {
        FqCodelQueue* table;  // from the class's first packet
        uint32_t flows;       // the table's size, known before it is read
    };
    // fifo and CoDel keep the packets here; fq_codel its table.
    union {
        PacketList list{};
        FqRef fq;
    };
    LeafKind kind = LeafKind::fifo;

    // Sets the kind of an empty queue (one with no fq_codel table).
    void set_kind(LeafKind k) {
        kind = k;
        if (k == LeafKind::fq_codel)
            fq = FqRef{nullptr, 0};
        else
            list = PacketList{};
    }

    uint32_t packets() const {
        return kind == LeafKind::fq_codel ? (fq.table ? fq.table->packets() : 0) : list.packets;
    }
    uint64_t bytes() const {
        return kind == LeafKind::fq_codel ? (fq.table ? fq.table->bytes() : 0) : list.bytes;
    }
    bool empty() const { return kind == LeafKind::fq_codel ? packets() == 0 : list.empty(); }

    // Queues slot `s` or hands it (or, for fq_codel, another packet) to
    // drop(slot, reason). Only fq_codel's first packet reads the tuning.
    template <typename Drop>
    void enqueue(PacketPool& pool, uint32_t s, const LeafLimits& limits, LeafTuning& t, Drop&& drop) {
        if (kind == LeafKind::fq_codel) {
            if (!fq.table) [[unlikely]] {
                if (!t.fq) t.fq = FqCodelQueue::make(t.flows, t.quantum, t.codel_profile, t.arena);
                fq = {t.fq.get(), t.flows};
            }
            fq.table->enqueue(pool, s, fq.flows, limits.packets, limits.bytes, drop);
            return;
        }
        if (list.packets >= limits.packets || (limits.bytes && list.bytes + pool[s].cost > limits.bytes)) {
            drop(s, DropReason::queue_limit);
            return;
        }
        list.push(pool, s);
    }

    // Fetches what enqueue() of a packet with this hash will touch beyond
    // the class's own state.
    void prefetch_enqueue(uint32_t flow_hash) const {
        if (const FqCodelQueue* table = fq_table()) table->prefetch_enqueue(flow_hash, fq.flows);
    }
    // Fetches the packet or (fq_codel) the flow that dequeue() will most
    // likely take; fq_codel's table header should be on its way already.
    void prefetch_dequeue(PacketPool& pool) const {
        if (kind == LeafKind::fq_codel) {
            if (fq.table) fq.table->prefetch_dequeue();
        } else if (list.head != kNoSlot) {
            __builtin_prefetch(&pool[list.head]);
        }
    }
    // The fq_codel table, if any.
    const FqCodelQueue* fq_table() const { return kind == LeafKind::fq_codel ? fq.table : nullptr; }

    template <typename Drop>
    uint32_t dequeue(PacketPool& pool, uint64_t now, LeafTuning& t, Drop&& drop) {
        switch (kind) {
            case LeafKind::fifo: return list.pop(pool);
            case LeafKind::codel:
                return codel_dequeue(t.codel, t.codel_profile, pool, list, now,
                                     [&](uint32_t v) { drop(v, DropReason::codel); });
            case LeafKind::fq_codel: return fq.table ? fq.table->dequeue(pool, now, drop) : kNoSlot;
        }
        return kNoSlot;
    }

    // Empties the queue into take(slot), oldest first per flow.
    template <typename Take>
    void drain(PacketPool& pool, LeafTuning& t, Take&& take) {
        if (kind == LeafKind::fq_codel) {
            if (fq.table) fq.table->drain(pool, take);
            return;
        }
        for (uint32_t s = list.pop(pool); s != kNoSlot; s = list.pop(pool)) take(s);
        t.codel = {};
    }
};
static_assert(sizeof(LeafQueue) == 32);

}  // namespace sluice::shaper
