// fq_codel (RFC 8290): flow queueing with CoDel inside one class.
//
// Packets are spread over per-flow queues by their 5-tuple hash. Flows are
// served by deficit round robin, each with a quantum of bytes per round,
// and each flow runs its own CoDel. A flow that was idle enters the "new"
// list and is served before the "old" list, so a sparse flow (DNS, VoIP,
// an interactive session) rarely waits behind a bulk one: its packets go
// out within one quantum of the bulk flow's. When the class is over its
// limit, the head of the fattest flow is dropped, never an innocent flow's
// packet. The flow table is allocated when the class first holds a packet.
#pragma once

#include <cstdint>
#include <vector>

#include "shaper/class_stats.hpp"
#include "shaper/codel.hpp"
#include "shaper/packet.hpp"

namespace sluice::shaper {

class FqCodelQueue {
public:
    FqCodelQueue(uint32_t flows, uint32_t quantum) : flows_(flows ? flows : 1), quantum_(static_cast<int32_t>(quantum)) {}

    uint32_t packets() const { return packets_; }
    uint64_t bytes() const { return bytes_; }

    // Queues slot `s`; if that puts the class over its limits, drops from
    // the head of the fattest flow via drop(slot, reason).
    template <typename Drop>
    void enqueue(PacketPool& pool, uint32_t s, uint32_t limit_packets, uint64_t limit_bytes, Drop&& drop) {
        const uint32_t idx = flow_of(pool[s].packet.flow_hash);
        Flow& f = flows_[idx];
        f.q.push(pool, s);
        ++packets_;
        bytes_ += pool[s].cost;
        if (f.list == kInNone) {
            f.deficit = quantum_;
            append(new_, idx, kInNew);
        }
        if (f.q.bytes > flows_[fattest_].q.bytes) fattest_ = idx;
        while (packets_ > limit_packets || (limit_bytes && bytes_ > limit_bytes)) {
            if (flows_[fattest_].q.empty()) fattest_ = idx;
            const uint32_t victim = flows_[fattest_].q.pop(pool);
            --packets_;
            bytes_ -= pool[victim].cost;
            drop(victim, DropReason::queue_limit);
        }
    }

    template <typename Drop>
    uint32_t dequeue(PacketPool& pool, const CodelProfile& codel, uint64_t now, Drop&& drop) {
        auto codel_drop = [&](uint32_t victim) {
            --packets_;
            bytes_ -= pool[victim].cost;
            drop(victim, DropReason::codel);
        };
        for (;;) {
            List* list = new_.head != kNone ? &new_ : old_.head != kNone ? &old_ : nullptr;
            if (!list) return kNoSlot;
            const uint32_t idx = list->head;
            Flow& f = flows_[idx];
            if (f.deficit <= 0) {
                f.deficit += quantum_;
                pop_head(*list);
                append(old_, idx, kInOld);
                continue;
            }
            const uint32_t s = codel_dequeue(f.codel, codel, pool, f.q, now, codel_drop);
            if (s == kNoSlot) {
                // An emptied new flow goes once through the old list, so a
                // flow cannot stay "new" by emptying itself every round.
                pop_head(*list);
                if (list == &new_ && old_.head != kNone)
                    append(old_, idx, kInOld);
                else
                    flows_[idx].list = kInNone;
                continue;
            }
            --packets_;
            bytes_ -= pool[s].cost;
            f.deficit -= static_cast<int32_t>(pool[s].cost);
            return s;
        }
    }

    // Removes every queued packet (control path: class removal), in flow order.
    template <typename Take>
    void drain(PacketPool& pool, Take&& take) {
        for (Flow& f : flows_) {
            for (uint32_t s = f.q.pop(pool); s != kNoSlot; s = f.q.pop(pool)) take(s);
            f.list = kInNone;
            f.codel = {};
        }
        new_ = {};
        old_ = {};
        packets_ = 0;
        bytes_ = 0;
    }

private:
    static constexpr uint32_t kNone = 0xffffffffu;
    static constexpr uint8_t kInNone = 0, kInNew = 1, kInOld = 2;

    struct Flow {
        PacketList q;
        CodelState codel;
        int32_t deficit = 0;
        uint32_t next = kNone;
        uint8_t list = kInNone;
    };
    struct List {
        uint32_t head = kNone;
        uint32_t tail = kNone;
    };

    // Multiply-shift maps the hash onto the table without a division.
    uint32_t flow_of(uint32_t hash) const {
        return static_cast<uint32_t>((uint64_t{hash} * flows_.size()) >> 32);
    }
    void append(List& l, uint32_t idx, uint8_t which) {
        flows_[idx].next = kNone;
        flows_[idx].list = which;
        if (l.tail == kNone)
            l.head = idx;
        else
            flows_[l.tail].next = idx;
        l.tail = idx;
    }
    void pop_head(List& l) {
        const uint32_t idx = l.head;
        l.head = flows_[idx].next;
        if (l.head == kNone) l.tail = kNone;
    }

    std::vector<Flow> flows_;
    int32_t quantum_;
    List new_, old_;
    uint32_t fattest_ = 0;
    uint32_t packets_ = 0;
    uint64_t bytes_ = 0;
};

}  // namespace sluice::shaper
