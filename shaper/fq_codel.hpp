// fq_codel (RFC 8290): flow queueing with CoDel inside one class.
//
// Packets are spread over per-flow queues by their 5-tuple hash (a bucket:
// multiply-shift of the hash onto the class's configured `flows`). Flows
// are served by deficit round robin, each with a quantum of bytes per
// round, and each flow runs its own CoDel. A flow that was idle enters the
// "new" list and is served before the "old" list, so a sparse flow (DNS,
// VoIP, an interactive session) rarely waits behind a bulk one: its packets
// go out within one quantum of the bulk flow's. A new flow that empties
// goes once through the old list, so a flow cannot stay "new" by emptying
// itself every round. When the class is over its limit (packets or bytes),
// the head of the fattest flow is dropped, never an innocent flow's packet.
//
// Memory follows the flows that hold packets, not the flows configured. A
// flow's state (its packet list, CoDel state, DRR deficit, list links) is a
// 64-byte record from one table shared by the scheduler's classes (a
// FlowTable), found by the key (class slot, bucket) through an
// open-addressing index (linear probing, Fibonacci hash of the key, 8-byte
// entries: a tag and the record's index; the record holds the key). A
// record exists while its flow holds packets, and is freed as soon as the
// flow empties (at once, not at its next turn as in Linux: so no other
// empty flow holds a record, and a packet that arrives just after its
// flow emptied starts it as a new flow), except when:
//   - it is a new flow that emptied while old flows wait: it stays, empty,
//     in the old list ("parked") until its turn comes, as RFC 8290 says;
//     at most a fixed share of the table is parked at once (past that, such
//     a flow is simply freed and would come back as new);
//   - its CoDel state still matters: CoDel restarts a flow's drop count
//     from the last episode's only if it starts dropping again within 16
//     intervals of its last drop_next (see codel.hpp), so a flow that
//     dropped more than once is "remembered" until then. Remembered records
//     wait in a FIFO, oldest first, and are freed when their time is up;
//     when the table has no free record the oldest remembered flow is
//     forgotten, and should it come back it restarts CoDel at count 1.
// The table is sized once, from the scheduler's packet pool: one record per
// packet slot plus a share for parked and one for remembered flows, and the
// index a power of two at most half full. Flows with packets can then never
// want for a record, and the packet path never allocates. An idle flow with
// no CoDel memory costs nothing.
//
// The class's own part (new and old list ends, backlog, the fattest flow
// and its backlog) is an FqHeader of 32 bytes that lives inline in the
// class's state; quantum and CoDel parameters (FqParams) are in the class's
// shared profile. A packet so touches the class state and one flow record;
// the record's index line is found from (class slot, hash) alone, so a
// burst can fetch it together with the class state, and the record a few
// packets later (Scheduler::enqueue_burst). A class's backlog is kept in
// 32 bits: a fq_codel class holds at most kFqMaxBytes (2 GiB; Linux's
// fq_codel defaults to 32 MB), over which the fattest flow loses its head
// as over any byte limit.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "shaper/class_stats.hpp"
#include "shaper/codel.hpp"
#include "shaper/huge_array.hpp"
#include "shaper/packet.hpp"

namespace sluice::shaper {

// A prefetch the compiler keeps. Written with __builtin_prefetch, GCC 12
// at -O3 deleted enqueue_burst's whole loop of fq_codel prefetches (seen
// in the object code); a volatile asm cannot be deleted.
inline void prefetch_line(const void* p) {
#if defined(__x86_64__)
    asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
    __builtin_prefetch(p);
#endif
}

// A fq_codel class's settings, shared through its profile.
struct FqParams {
    uint32_t flows = 0;    // buckets, 1..65536
    uint32_t quantum = 0;  // bytes of DRR credit per round
    CodelProfile codel{};
};

inline constexpr uint32_t kFqMaxBytes = 1u << 31;

// The bucket of a flow hash among `flows`: multiply-shift, no division.
inline uint32_t fq_bucket(uint32_t hash, uint32_t flows) {
    return static_cast<uint32_t>((uint64_t{hash} * flows) >> 32);
}

// One flow's packets: a slot list with its byte backlog (at most a class's,
// so 32 bits).
struct FlowQueue {
    uint32_t head = kNoSlot;
    uint32_t tail = kNoSlot;
    uint32_t bytes = 0;

    bool empty() const { return head == kNoSlot; }
    void push(PacketPool& pool, uint32_t s) {
        append_slot(pool, head, tail, s);
        bytes += pool[s].cost;
    }
    uint32_t pop(PacketPool& pool) {
        const uint32_t s = take_first_slot(pool, head, tail);
        if (s != kNoSlot) bytes -= pool[s].cost;
        return s;
    }
};

// The scheduler's flow records and their index (see the top of the file).
// Records never move, so lists link them by index.
class FlowTable {
public:
    static constexpr uint32_t kNone = 0xffffffffu;
    enum Where : uint8_t { kFree, kIdle, kNew, kOld, kParked, kRemembered };

    struct alignas(64) Record {
        FlowQueue q;
        int32_t deficit = 0;
        uint32_t next = kNone;  // in its DRR list, the FIFO or the free list
        uint32_t prev = kNone;  // in its DRR list (unless the head) or the FIFO
        uint32_t cls = 0;       // the key: class slot...
        uint16_t bucket = 0;    // ...and bucket
        Where where = kFree;
        uint8_t spare = 0;
        // While remembered, first_above_time holds when the memory expires
        // (it is 0 for any empty flow otherwise).
        CodelState codel{};
    };
    static_assert(sizeof(Record) == 64);

    FlowTable() = default;
    FlowTable(FlowTable&&) = default;
    FlowTable& operator=(FlowTable&&) = default;

    // Sizes an empty table for a pool of `packets` slots; once.
    void reserve(uint32_t packets) {
        if (!records_.empty()) return;
        const uint32_t share = std::max<uint32_t>(packets / 8, 64);
        parked_cap_ = share;
        // (Over 2^30 records, 64 GiB, is beyond any real pool; the cap keeps
        // the index's arithmetic in 32 bits.)
        const auto n = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{packets} + 2 * uint64_t{share}, 1u << 30));
        records_.resize(n);
        for (uint32_t i = 0; i < n; ++i) records_[i].next = i + 1 < n ? i + 1 : kNone;
        free_ = 0;
        const uint32_t bits = static_cast<uint32_t>(std::bit_width(uint64_t{n} * 2 - 1));
        index_.assign(size_t{1} << bits, Entry{});
        mask_ = (1u << bits) - 1;
        shift_ = 32 - bits;
    }

    uint32_t capacity() const { return static_cast<uint32_t>(records_.size()); }
    uint32_t in_use() const { return in_use_; }
    uint32_t remembered() const { return remembered_; }
    uint32_t parked() const { return parked_; }
    size_t memory_bytes() const { return records_.size() * sizeof(Record) + index_.size() * sizeof(Entry); }

    Record& operator[](uint32_t r) { return records_[r]; }
    const Record& operator[](uint32_t r) const { return records_[r]; }

    // The record of (class slot, bucket), or kNone.
    uint32_t find(uint32_t cls, uint32_t bucket) const {
        const uint32_t t = tag_of(cls, bucket);
        for (uint32_t i = t >> shift_;; i = (i + 1) & mask_) {
            const Entry e = index_[i];
            if (e.rec == kNone) return kNone;
            if (e.tag == t) {
                const Record& r = records_[e.rec];
                if (r.cls == cls && r.bucket == bucket) return e.rec;
            }
        }
    }
    // The index line find() starts at: needs nothing but the key.
    void prefetch_index(uint32_t cls, uint32_t bucket) const {
        if (!index_.empty()) prefetch_line(&index_[tag_of(cls, bucket) >> shift_]);
    }
    // The record itself, once the index line is in.
    void prefetch_record(uint32_t cls, uint32_t bucket) const {
        if (index_.empty()) return;
        if (const uint32_t r = find(cls, bucket); r != kNone) prefetch_line(&records_[r]);
    }

    // The record of (cls, bucket), found in one walk of the index, or a new
    // one in state kIdle if it has none. For a new one the oldest
    // remembered flow is forgotten if no record is free; kNone only if the
    // table is full of flows with packets, which its size rules out.
    [[gnu::always_inline]] uint32_t find_or_insert(uint32_t cls, uint32_t bucket, uint64_t now) {
        const uint32_t t = tag_of(cls, bucket);
        for (uint32_t i = t >> shift_;; i = (i + 1) & mask_) {
            const Entry e = index_[i];
            if (e.rec == kNone) return insert_at(i, t, cls, bucket, now);
            if (e.tag == t) {
                const Record& r = records_[e.rec];
                if (r.cls == cls && r.bucket == bucket) return e.rec;
            }
        }
    }

    // A remembered record whose flow has a packet again: back to kIdle,
    // with its CoDel memory.
    void revive(uint32_t r) {
        fifo_unlink(r);
        records_[r].codel.first_above_time = 0;
        records_[r].where = kIdle;
    }

    // The flow of `r` is empty and in no list: remembered if its CoDel state
    // still matters (more than one drop in its last episode, and less than
    // 16 intervals since drop_next), otherwise freed.
    [[gnu::always_inline]] void release(uint32_t r, uint64_t now, uint64_t interval) {
        Record& rec = records_[r];
        const CodelState& st = rec.codel;
        const auto since = static_cast<int64_t>(now - st.drop_next);
        if (st.count - st.lastcount > 1 && since < static_cast<int64_t>(16 * interval)) [[unlikely]]
            return remember(r, now, interval);
        free(r);
    }

    // Whether one more emptied new flow may be parked in its old list.
    bool may_park() const { return parked_ < parked_cap_; }
    void park(uint32_t r) {
        records_[r].where = kParked;
        ++parked_;
    }
    void unpark(uint32_t r) {
        records_[r].where = kOld;
        --parked_;
    }

    // Frees a record at once, whatever its CoDel state (class drained).
    [[gnu::always_inline]] void free(uint32_t r) {
        Record& rec = records_[r];
        if (rec.where == kParked) --parked_;
        if (rec.where == kRemembered) [[unlikely]]
            fifo_unlink(r);
        erase_index(r);
        rec.where = kFree;
        rec.next = free_;
        free_ = r;
        --in_use_;
    }

    // Forgets the remembered flows of class slot `cls` (removed, or about to
    // be another class), so that it starts clean.
    void purge(uint32_t cls) {
        for (uint32_t r = fifo_head_; r != kNone && remembered_;) {
            const uint32_t next = records_[r].next;
            if (records_[r].cls == cls) forget(r);
            r = next;
        }
    }

    // Frees remembered records whose time is up, oldest first (a few at a
    // time; they only wait for a record to be wanted otherwise).
    void expire(uint64_t now) {
        for (int i = 0; i < 2 && fifo_head_ != kNone; ++i) {
            if (static_cast<int64_t>(now - records_[fifo_head_].codel.first_above_time) < 0) return;
            forget(fifo_head_);
        }
    }

private:
    // Puts `r` at the end of the FIFO of remembered flows.
    [[gnu::noinline]] void remember(uint32_t r, uint64_t now, uint64_t interval) {
        Record& rec = records_[r];
        if (rec.where == kParked) --parked_;
        rec.codel.dropping = false;
        rec.codel.first_above_time = rec.codel.drop_next + 16 * interval;
        rec.where = kRemembered;
        rec.next = kNone;
        rec.prev = fifo_tail_;
        if (fifo_tail_ == kNone)
            fifo_head_ = r;
        else
            records_[fifo_tail_].next = r;
        fifo_tail_ = r;
        ++remembered_;
        expire(now);
    }

    struct Entry {
        uint32_t tag = 0;  // the key's hash; its top bits are the home
        uint32_t rec = kNone;
    };

    static uint32_t tag_of(uint32_t cls, uint32_t bucket) {
        return static_cast<uint32_t>((((uint64_t{cls} << 16) | bucket) * 0x9E3779B97F4A7C15ull) >> 32);
    }

    void forget(uint32_t r) { free(r); }

    // A new record for (cls, bucket) at index position `i`, the end of the
    // key's probe chain.
    [[gnu::always_inline]] uint32_t insert_at(uint32_t i, uint32_t t, uint32_t cls, uint32_t bucket, uint64_t now) {
        if (fifo_head_ != kNone) [[unlikely]]
            i = make_room(t, now);
        const uint32_t r = free_;
        if (r == kNone) [[unlikely]]
            return kNone;
        free_ = records_[r].next;
        Record& rec = records_[r];
        rec = Record{};
        rec.cls = cls;
        rec.bucket = static_cast<uint16_t>(bucket);
        rec.where = kIdle;
        index_[i] = {t, r};
        ++in_use_;
        return r;
    }

    // Frees remembered records that expired, and the oldest one if no
    // record is free; returns where the key of tag `t` now goes in the
    // index (freeing moves entries).
    [[gnu::noinline]] uint32_t make_room(uint32_t t, uint64_t now) {
        expire(now);
        if (free_ == kNone) forget(fifo_head_);
        uint32_t i = t >> shift_;
        while (index_[i].rec != kNone) i = (i + 1) & mask_;
        return i;
    }

    void fifo_unlink(uint32_t r) {
        Record& rec = records_[r];
        if (rec.prev == kNone)
            fifo_head_ = rec.next;
        else
            records_[rec.prev].next = rec.next;
        if (rec.next == kNone)
            fifo_tail_ = rec.prev;
        else
            records_[rec.next].prev = rec.prev;
        rec.next = rec.prev = kNone;
        --remembered_;
    }

    // Backward-shift deletion keeps probe chains unbroken without tombstones;
    // an entry's home comes from its tag, so no record is read.
    void erase_index(uint32_t r) {
        const uint32_t t = tag_of(records_[r].cls, records_[r].bucket);
        uint32_t i = t >> shift_;
        while (index_[i].rec != r) i = (i + 1) & mask_;
        uint32_t hole = i;
        for (uint32_t j = (i + 1) & mask_; index_[j].rec != kNone; j = (j + 1) & mask_) {
            const uint32_t h = index_[j].tag >> shift_;
            const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
            if (!stays) {
                index_[hole] = index_[j];
                hole = j;
            }
        }
        index_[hole] = Entry{};
    }

    HugeVector<Record> records_;
    HugeVector<Entry> index_;
    uint32_t mask_ = 0;
    uint32_t shift_ = 32;
    uint32_t free_ = kNone;
    uint32_t fifo_head_ = kNone;  // remembered records, oldest first
    uint32_t fifo_tail_ = kNone;
    uint32_t in_use_ = 0;
    uint32_t remembered_ = 0;
    uint32_t parked_ = 0;
    uint32_t parked_cap_ = 0;
};

// A fq_codel class's own state, inline in its class record.
struct FqHeader {
    using Record = FlowTable::Record;
    static constexpr uint32_t kNone = FlowTable::kNone;

    struct List {
        uint32_t head = kNone;
        uint32_t tail = kNone;
    };
    List new_list{};
    List old_list{};
    uint32_t packets = 0;
    uint32_t bytes = 0;
    uint32_t fattest = kNone;  // the flow that grew biggest last; see enqueue
    uint32_t fattest_bytes = 0;

    // The flow record dequeue() will most likely serve.
    uint32_t next_flow() const { return new_list.head != kNone ? new_list.head : old_list.head; }

    // Queues slot `s` of class slot `cls`; if that puts the class over its
    // limits, drops from the head of the fattest flow via drop(slot, reason).
    template <typename Drop>
    void enqueue(FlowTable& ft, PacketPool& pool, uint32_t cls, uint32_t s, const FqParams& p, uint32_t limit_packets,
                 uint64_t limit_bytes, uint64_t now, Drop&& drop) {
        const uint32_t bucket = fq_bucket(pool[s].packet.flow_hash, p.flows);
        const uint32_t idx = ft.find_or_insert(cls, bucket, now);
        if (idx == kNone) [[unlikely]]
            return drop(s, DropReason::pool_exhausted);  // ruled out by the table's size
        if (ft[idx].where == FlowTable::kRemembered) ft.revive(idx);
        Record& f = ft[idx];
        f.q.push(pool, s);
        ++packets;
        bytes += pool[s].cost;
        if (f.where == FlowTable::kIdle) {
            f.deficit = static_cast<int32_t>(p.quantum);
            f.where = FlowTable::kNew;
            append(ft, new_list, idx);
        } else if (f.where == FlowTable::kParked) {
            ft.unpark(idx);
        }
        // The fattest flow's backlog is kept here, beside its index, so
        // this comparison does not read a second flow's line.
        if (fattest == kNone || idx == fattest || f.q.bytes > fattest_bytes) {
            fattest = idx;
            fattest_bytes = f.q.bytes;
        }
        const uint64_t byte_limit = limit_bytes && limit_bytes < kFqMaxBytes ? limit_bytes : kFqMaxBytes;
        while (packets > limit_packets || bytes > byte_limit) [[unlikely]] {
            if (fattest == kNone) fattest = any_backlogged(ft);
            const uint32_t fat_idx = fattest;
            Record& fat = ft[fat_idx];
            const uint32_t victim = fat.q.pop(pool);
            fattest_bytes = fat.q.bytes;
            --packets;
            bytes -= pool[victim].cost;
            drop(victim, DropReason::queue_limit);
            if (fat.q.empty()) {
                unlink(ft, fat.where == FlowTable::kNew ? new_list : old_list, fat_idx);
                release(ft, fat_idx, now, p.codel.interval);
            }
        }
        if (packets == 0) [[unlikely]]
            release_parked(ft, now, p.codel.interval);
    }

    template <typename Drop>
    uint32_t dequeue(FlowTable& ft, PacketPool& pool, const FqParams& p, uint64_t now, Drop&& drop) {
        auto codel_drop = [&](uint32_t victim) {
            --packets;
            bytes -= pool[victim].cost;
            drop(victim, DropReason::codel);
        };
        for (;;) {
            const bool is_new = new_list.head != kNone;
            List& list = is_new ? new_list : old_list;
            const uint32_t idx = list.head;
            if (idx == kNone) return kNoSlot;
            Record& f = ft[idx];
            if (f.deficit <= 0) {
                f.deficit += static_cast<int32_t>(p.quantum);
                pop_head(ft, list);
                if (f.where == FlowTable::kNew) f.where = FlowTable::kOld;
                append(ft, old_list, idx);
                continue;
            }
            const uint32_t s = codel_dequeue(f.codel, p.codel, pool, f.q, now, codel_drop);
            if (idx == fattest) fattest_bytes = f.q.bytes;
            if (s != kNoSlot) {
                --packets;
                bytes -= pool[s].cost;
                f.deficit -= static_cast<int32_t>(pool[s].cost);
            }
            if (f.q.empty()) {
                // Dealt with now rather than at its next turn, so that no
                // empty flow but a parked one holds a record. An emptied
                // new flow goes once through the old list.
                pop_head(ft, list);
                if (is_new && old_list.head != kNone && ft.may_park()) {
                    if (idx == fattest) fattest = kNone;
                    f.codel.dropping = false;
                    f.codel.first_above_time = 0;
                    ft.park(idx);
                    append(ft, old_list, idx);
                } else {
                    release(ft, idx, now, p.codel.interval);
                }
                if (packets == 0 && old_list.head != kNone) release_parked(ft, now, p.codel.interval);
            }
            if (s != kNoSlot) return s;
        }
    }

    // Removes every queued packet of class slot `cls` into take(slot), flow
    // by flow, frees its records and forgets its remembered flows.
    template <typename Take>
    void drain(FlowTable& ft, PacketPool& pool, uint32_t cls, Take&& take) {
        for (List* l : {&new_list, &old_list}) {
            while (l->head != kNone) {
                const uint32_t idx = l->head;
                pop_head(ft, *l);
                Record& f = ft[idx];
                for (uint32_t s = f.q.pop(pool); s != kNoSlot; s = f.q.pop(pool)) take(s);
                ft.free(idx);
            }
        }
        if (ft.remembered()) ft.purge(cls);
        *this = FqHeader{};
    }

private:
    static void append(FlowTable& ft, List& l, uint32_t idx) {
        Record& r = ft[idx];
        r.next = kNone;
        r.prev = l.tail;
        if (l.tail == kNone)
            l.head = idx;
        else
            ft[l.tail].next = idx;
        l.tail = idx;
    }
    // The new head's `prev` is left stale: unlink() never reads a head's.
    static void pop_head(FlowTable& ft, List& l) {
        l.head = ft[l.head].next;
        if (l.head == kNone) l.tail = kNone;
    }
    static void unlink(FlowTable& ft, List& l, uint32_t idx) {
        if (idx == l.head) return pop_head(ft, l);
        const Record& r = ft[idx];
        ft[r.prev].next = r.next;
        if (r.next == kNone)
            l.tail = r.prev;
        else
            ft[r.next].prev = r.prev;
    }
    void release(FlowTable& ft, uint32_t idx, uint64_t now, uint64_t interval) {
        if (idx == fattest) {
            fattest = kNone;
            fattest_bytes = 0;
        }
        ft.release(idx, now, interval);
    }
    // The class is empty: only parked flows can be left in its lists.
    void release_parked(FlowTable& ft, uint64_t now, uint64_t interval) {
        for (List* l : {&new_list, &old_list}) {
            while (l->head != kNone) {
                const uint32_t idx = l->head;
                pop_head(ft, *l);
                release(ft, idx, now, interval);
            }
        }
    }
    // A flow with packets, when the fattest one is not known (it emptied).
    uint32_t any_backlogged(const FlowTable& ft) const {
        if (new_list.head != kNone) return new_list.head;
        for (uint32_t r = old_list.head; r != kNone; r = ft[r].next)
            if (!ft[r].q.empty()) return r;
        return kNone;
    }
};
static_assert(sizeof(FqHeader) == 32);

}  // namespace sluice::shaper
