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
//
// A class's fq_codel is one block: a header line (list heads, backlog,
// quantum, the fattest flow, CoDel's parameters; then a line the packet
// path does not read) followed by its flows, a line each. A packet then
// costs two cache lines here, both found from the block's address and the
// packet's hash alone, so that a burst can prefetch them (prefetch_enqueue)
// before any packet of it is queued. The table's size, needed for that
// before the header is read, comes from the caller, who keeps it. With many classes
// each packet meets a cold class: dependent misses (a queue object, then a
// table, then a flow) would not overlap and would cost more than the rest
// of the shaper. The blocks come from an FqBlockArena in 2 MiB pages, for
// the same reason as the scheduler's arrays (see huge_array.hpp): a block
// per class on 4 KiB pages would add a TLB miss to every packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "shaper/class_stats.hpp"
#include "shaper/codel.hpp"
#include "shaper/huge_array.hpp"
#include "shaper/packet.hpp"

namespace sluice::shaper {

// A prefetch the compiler keeps. Written with __builtin_prefetch, GCC 12
// at -O3 deleted enqueue_burst's whole loop of fq_codel table prefetches
// (seen in the object code, and the 100,000-class figures); a volatile asm
// cannot be deleted.
inline void prefetch_line(const void* p) {
#if defined(__x86_64__)
    asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
    __builtin_prefetch(p);
#endif
}

// Memory for fq_codel blocks (sizes in whole cache lines): carved from
// 2 MiB chunks, and a block given back (its class removed) waits for the
// next block of its size. Chunks go back to the system with the arena, and
// so do the blocks in use then: their owners need not give them back
// first. A block of more than a quarter chunk (over 8,190 flows) has its
// own allocation.
class FqBlockArena {
public:
    FqBlockArena() = default;
    FqBlockArena(const FqBlockArena&) = delete;
    FqBlockArena& operator=(const FqBlockArena&) = delete;
    ~FqBlockArena() {
        for (void* c : chunks_) huge_free(c, kHugePage);
        for (const auto& [p, bytes] : big_) huge_free(p, bytes);
    }

    void* take(size_t bytes) {
        if (bytes > kMaxCarved) {
            big_.reserve(big_.size() + 1);
            void* p = huge_allocate(bytes);
            big_.emplace_back(p, bytes);
            return p;
        }
        const size_t lines = bytes / 64;
        if (lines < free_.size() && !free_[lines].empty()) {
            void* p = free_[lines].back();
            free_[lines].pop_back();
            return p;
        }
        if (left_ < bytes) {
            chunks_.push_back(huge_allocate(kHugePage));
            next_ = static_cast<char*>(chunks_.back());
            left_ = kHugePage;
        }
        void* p = next_;
        next_ += bytes;
        left_ -= bytes;
        return p;
    }
    void give_back(void* p, size_t bytes) {
        if (bytes > kMaxCarved) {
            for (auto& b : big_)
                if (b.first == p) {
                    b = big_.back();
                    big_.pop_back();
                    return huge_free(p, bytes);
                }
            return;
        }
        const size_t lines = bytes / 64;
        if (lines >= free_.size()) free_.resize(lines + 1);
        free_[lines].push_back(p);
    }

private:
    static constexpr size_t kMaxCarved = kHugePage / 4;
    std::vector<void*> chunks_;
    std::vector<std::pair<void*, size_t>> big_;
    std::vector<std::vector<void*>> free_;  // by size in lines
    char* next_ = nullptr;
    size_t left_ = 0;
};

class alignas(64) FqCodelQueue {
    // A block from the heap is freed; one from an arena is the arena's
    // (see recycle), so an owner may outlive its arena or not.
    struct Free {
        void operator()(FqCodelQueue* q) const {
            if (!q->arena_) ::operator delete(q, kAlign);
        }
    };

public:
    using Owner = std::unique_ptr<FqCodelQueue, Free>;

    // Drops `q`'s block, back into its arena for the next class.
    static void recycle(Owner& q) {
        if (q && q->arena_) q->arena_->give_back(q.get(), block_bytes(q->flows_));
        q.reset();
    }

    // The header and `flows` flows (at least one) in one block, from
    // `arena` if there is one (the scheduler's), else from the heap.
    static Owner make(uint32_t flows, uint32_t quantum, const CodelProfile& codel, FqBlockArena* arena = nullptr) {
        if (flows == 0) flows = 1;
        void* block = arena ? arena->take(block_bytes(flows)) : ::operator new(block_bytes(flows), kAlign);
        auto* q = new (block) FqCodelQueue(flows, quantum, codel, arena);
        for (uint32_t i = 0; i < flows; ++i) new (&q->flow(i)) Flow{};
        return Owner(q);
    }
    FqCodelQueue(const FqCodelQueue&) = delete;
    FqCodelQueue& operator=(const FqCodelQueue&) = delete;

    uint32_t packets() const { return packets_; }
    uint64_t bytes() const { return bytes_; }

    // The lines enqueue() of a packet with this hash touches; `flows` is the
    // table's size as configured, so that this does not wait for the header.
    void prefetch_enqueue(uint32_t hash, uint32_t flows) const {
        prefetch_line(this);
        prefetch_line(&flow(flow_of(hash, flows ? flows : 1)));
    }
    // The header line, which dequeue() reads first.
    void prefetch_header() const { prefetch_line(this); }
    // The flow dequeue() will most likely serve; the header must be cached
    // (or on its way) already, or this waits for it.
    void prefetch_dequeue() const {
        const uint32_t idx = new_.head != kEnd ? new_.head : old_.head;
        if (idx != kEnd) prefetch_line(&flow(idx));
    }

    // Queues slot `s`; if that puts the class over its limits, drops from
    // the head of the fattest flow via drop(slot, reason). `flows` is the
    // table's size as made.
    template <typename Drop>
    void enqueue(PacketPool& pool, uint32_t s, uint32_t flows, uint32_t limit_packets, uint64_t limit_bytes,
                 Drop&& drop) {
        const uint32_t idx = flow_of(pool[s].packet.flow_hash, flows ? flows : 1);
        Flow& f = flow(idx);
        f.q.push(pool, s);
        ++packets_;
        bytes_ += pool[s].cost;
        if (f.next == kIdle) {
            f.deficit = quantum_;
            append(new_, idx);
        }
        // The fattest flow's backlog is kept here, beside its index, so
        // this comparison does not read a second flow's line.
        if (idx == fattest_ || f.q.bytes > fattest_bytes_) {
            fattest_ = idx;
            fattest_bytes_ = f.q.bytes;
        }
        while (packets_ > limit_packets || (limit_bytes && bytes_ > limit_bytes)) [[unlikely]] {
            if (flow(fattest_).q.empty()) fattest_ = idx;
            Flow& fat = flow(fattest_);
            const uint32_t victim = fat.q.pop(pool);
            fattest_bytes_ = fat.q.bytes;
            --packets_;
            bytes_ -= pool[victim].cost;
            drop(victim, DropReason::queue_limit);
        }
    }

    template <typename Drop>
    uint32_t dequeue(PacketPool& pool, uint64_t now, Drop&& drop) {
        const CodelProfile codel{target_, interval_, mtu_};
        auto codel_drop = [&](uint32_t victim) {
            --packets_;
            bytes_ -= pool[victim].cost;
            drop(victim, DropReason::codel);
        };
        for (;;) {
            List* list = new_.head != kEnd ? &new_ : old_.head != kEnd ? &old_ : nullptr;
            if (!list) return kNoSlot;
            const uint32_t idx = list->head;
            Flow& f = flow(idx);
            if (f.deficit <= 0) {
                f.deficit += quantum_;
                pop_head(*list);
                append(old_, idx);
                continue;
            }
            const uint32_t s = codel_dequeue(f.codel, codel, pool, f.q, now, codel_drop);
            if (idx == fattest_) fattest_bytes_ = f.q.bytes;
            if (s == kNoSlot) {
                // An emptied new flow goes once through the old list, so a
                // flow cannot stay "new" by emptying itself every round.
                pop_head(*list);
                if (list == &new_ && old_.head != kEnd)
                    append(old_, idx);
                else
                    f.next = kIdle;
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
        for (uint32_t i = 0; i < flows_; ++i) {
            Flow& f = flow(i);
            for (uint32_t s = f.q.pop(pool); s != kNoSlot; s = f.q.pop(pool)) take(s);
            f.next = kIdle;
            f.codel = {};
        }
        new_ = {};
        old_ = {};
        packets_ = 0;
        bytes_ = 0;
        fattest_bytes_ = 0;
    }

private:
    static constexpr std::align_val_t kAlign{64};
    // Flow::next: the end of a list, or a flow in no list.
    static constexpr uint32_t kEnd = 0xffffffffu;
    static constexpr uint32_t kIdle = 0xfffffffeu;

    struct alignas(64) Flow {
        PacketList q;
        CodelState codel;
        int32_t deficit = 0;
        uint32_t next = kIdle;  // in the new or old list, or kIdle
    };
    static_assert(sizeof(Flow) == 64);
    struct List {
        uint32_t head = kEnd;
        uint32_t tail = kEnd;
    };

    FqCodelQueue(uint32_t flows, uint32_t quantum, const CodelProfile& codel, FqBlockArena* arena)
        : quantum_(static_cast<int32_t>(quantum)),
          mtu_(codel.mtu),
          target_(codel.target),
          interval_(codel.interval),
          flows_(flows),
          arena_(arena) {}
    static size_t block_bytes(uint32_t flows) { return sizeof(FqCodelQueue) + size_t{flows} * sizeof(Flow); }

    // The flows follow the header in the same block.
    Flow& flow(uint32_t i) { return reinterpret_cast<Flow*>(this + 1)[i]; }
    const Flow& flow(uint32_t i) const { return reinterpret_cast<const Flow*>(this + 1)[i]; }

    // Multiply-shift maps the hash onto the table without a division.
    static uint32_t flow_of(uint32_t hash, uint32_t flows) {
        return static_cast<uint32_t>((uint64_t{hash} * flows) >> 32);
    }
    void append(List& l, uint32_t idx) {
        flow(idx).next = kEnd;
        if (l.tail == kEnd)
            l.head = idx;
        else
            flow(l.tail).next = idx;
        l.tail = idx;
    }
    void pop_head(List& l) {
        const uint32_t idx = l.head;
        l.head = flow(idx).next;
        if (l.head == kEnd) l.tail = kEnd;
    }

    List new_, old_;
    int32_t quantum_;
    uint32_t packets_ = 0;
    uint64_t bytes_ = 0;
    uint32_t fattest_ = 0;  // the flow that grew biggest last; see enqueue
    uint32_t mtu_;          // CoDel's (a CodelProfile, spread to fit the line)
    uint64_t fattest_bytes_ = 0;  // its backlog
    uint64_t target_;
    uint64_t interval_;
    // Control path only.
    alignas(64) uint32_t flows_;
    FqBlockArena* arena_;  // where the block goes back to; null: the heap
};
static_assert(sizeof(FqCodelQueue) == 128);  // flows_ starts the second line

}  // namespace sluice::shaper
