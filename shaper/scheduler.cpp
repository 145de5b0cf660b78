// The HTB algorithm, as Linux sch_htb defines its behaviour, on flat arrays.
//
// Each class has two token buckets: `tokens` at its rate and `ctokens` at
// its ceil. From them it is in one of three modes:
//   can_send    tokens >= 0: it may send on its own rate;
//   may_borrow  tokens < 0 <= ctokens: it may send if an ancestor lends;
//   cant_send   ctokens < 0: it is at its ceil.
// Leaves are at level 0 and an inner class at depth d is at level 63 - d,
// so every path from a leaf up climbs in level. For each level and priority
// there is a "row": the classes of that level which are can_send and have
// packets somewhere below them. A may_borrow class hangs instead in its
// parent's "feed" for that priority, and so on upwards until a can_send
// ancestor, which sits in its row. Dequeue takes the lowest level, then the
// lowest priority, with a non-empty row (two find-first-set operations),
// follows the feeds down to a leaf by deficit round robin with quanta set by
// the weights, and charges the packet's wire cost to every class on the
// path: the rate bucket of the lender and those above it, the ceil bucket of
// all. A class whose mode changes moves between rows and feeds; a class that
// is not can_send sleeps on the timer wheel until its tokens make it so.
// Nothing is scanned: cost is O(depth) per packet, whatever the class count.#include "shaper/scheduler.hpp"

#include <bit>

#include "shaper/scheduler_inline.hpp"

namespace sluice::shaper {

namespace {

int floor_log2(uint64_t v) { return v ? 63 - std::countl_zero(v) : 0; }

}  // namespace

Scheduler::Scheduler(const SchedulerConfig& config)
    : config_(config),
      mtu_cost_(config.overhead.wire_cost(config.mtu)),
      pool_(config.packet_capacity),
      // Level-0 wheel slots of about a microsecond.
      wheel_(std::max(0, floor_log2(config.tick_hz / 1'000'000))),
      delay_floor_shift_(std::max(0, floor_log2(config.tick_hz / 1'000'000) - 2)) {
    if (config_.tick_hz == 0) config_.tick_hz = 1;
    if (config_.quantum_per_weight < mtu_cost_) config_.quantum_per_weight = mtu_cost_;
}

// ----------------------------------------------------------- activation

// Makes the priorities in x's prio_activity visible: a borrowing class joins
// its parent's feeds, and the parent becomes active on the priorities that
// are new to it, up to the first class that can send (which joins its row)
// or cannot (which waits for its timer to call change_mode).
void Scheduler::activate_prios(uint32_t x) {
    uint32_t c = x;
    uint32_t p = cls_[c].parent;
    uint8_t mask = cls_[c].prio_activity;
    while (cls_[c].mode == Mode::may_borrow && p != kNone && mask) {
        for (uint8_t m = mask; m; m &= static_cast<uint8_t>(m - 1)) {
            const uint32_t prio = ctz8(m);
            if (feed_[p][prio].cur != kNone) mask &= static_cast<uint8_t>(~(1u << prio));
            list_add(feed_[p][prio], c, prio);
        }
        const bool was_idle = cls_[p].prio_activity == 0;
        cls_[p].prio_activity |= mask;
        if (was_idle && mask) refresh_mode(p);
        c = p;
        p = cls_[c].parent;
    }
    if (cls_[c].mode == Mode::can_send && mask) add_to_row(c, mask);
}

// The inverse: leave the parent's feeds, and the parent loses the
// priorities whose feed became empty, and so on upwards.
void Scheduler::deactivate_prios(uint32_t x) {
    uint32_t c = x;
    uint32_t p = cls_[c].parent;
    uint8_t mask = cls_[c].prio_activity;
    while (cls_[c].mode == Mode::may_borrow && p != kNone && mask) {
        const uint8_t m0 = mask;
        mask = 0;
        for (uint8_t m = m0; m; m &= static_cast<uint8_t>(m - 1)) {
            const uint32_t prio = ctz8(m);
            list_remove(feed_[p][prio], c, prio);
            if (feed_[p][prio].cur == kNone) mask |= static_cast<uint8_t>(1u << prio);
        }
        cls_[p].prio_activity &= static_cast<uint8_t>(~mask);
        c = p;
        p = cls_[c].parent;
    }
    if (cls_[c].mode == Mode::can_send && mask) remove_from_row(c, mask);
}

void Scheduler::on_timer(uint32_t x) {
    cls_[x].timer_armed = false;
    if (!cls_[x].prio_activity) return;  // idle: refreshed when it wakes up
    int64_t wait = 0;
    change_mode(x, credit(now_ - cls_[x].t_c), wait);
    if (cls_[x].mode != Mode::can_send) arm_timer(x, wait);
}

// Charges one departed packet to the path from the leaf up. Classes below
// the level it was sent at borrowed: their rate bucket only refills.
void Scheduler::charge(uint32_t leaf, uint32_t level, uint32_t cost) {
    if (level > 0) ++cls_[leaf].borrowed;
    for (uint32_t x = leaf; x != kNone; x = cls_[x].parent) {
        ClassState& c = cls_[x];
        const int64_t cr = credit(now_ - c.t_c);
        c.tokens = account(c.tokens, cr, c.level >= level ? c.rate.cost(cost) : 0, c.rate.size);
        c.ctokens = account(c.ctokens, cr, c.ceil.cost(cost), c.ceil.size);
        c.t_c = now_;
        if (x != leaf) {
            ++c.packets;
            c.wire_bytes += cost;
        }
        const Mode old = c.mode;
        int64_t wait = 0;
        change_mode(x, 0, wait);
        if (c.mode != old) {
            if (old != Mode::can_send) disarm_timer(x);
            if (c.mode != Mode::can_send && c.prio_activity) arm_timer(x, wait);
        }
    }
}

// -------------------------------------------------------------- packets

void Scheduler::report_drop(uint32_t cls, const Packet& p, DropReason reason) {
    if (cls != kNone) {
        ++counters_[cls].drops[static_cast<size_t>(reason)];
        counters_[cls].drop_bytes[static_cast<size_t>(reason)] += p.length;
    } else {
        ++unclassified_drops_;
    }
    if (drop_handler_) drop_handler_(drop_context_, p, reason);
}

void Scheduler::drop_slot(uint32_t cls, uint32_t s, DropReason reason) {
    report_drop(cls, pool_[s].packet, reason);
    pool_.give_back(s);
}

void Scheduler::queue_slot(uint32_t cls, uint32_t s) {
    leaf_[cls].enqueue(pool_, s, tuning_[cls], [&](uint32_t v, DropReason r) { drop_slot(cls, v, r); });
    if (!cls_[cls].prio_activity && !leaf_[cls].empty()) activate(cls);
}

bool Scheduler::enqueue(uint32_t class_id, const Packet& packet, uint64_t now) {
    const uint32_t slot = ids_.find(class_id);
    if (slot == IdIndex::kMissing) {
        report_drop(kNone, packet, DropReason::unknown_class);
        return false;
    }
    return enqueue_slot(slot, packet, now);
}

bool Scheduler::enqueue_slot(uint32_t cls, const Packet& packet, uint64_t now) {
    if (!cls_[cls].leaf) {
        report_drop(cls, packet, DropReason::not_a_leaf);
        return false;
    }
    const uint32_t s = pool_.take();
    if (s == kNoSlot) {
        report_drop(cls, packet, DropReason::pool_exhausted);
        return false;
    }
    if (const DelayHistogram* h = cls_[cls].delays) __builtin_prefetch(h->bucket_address(cls_[cls].delay_hint));
    PacketSlot& slot = pool_[s];
    slot.packet = packet;
    slot.enqueued_at = now;
    slot.cost = config_.overhead.wire_cost(packet.length);
    bool arrival_dropped = false;
    leaf_[cls].enqueue(pool_, s, tuning_[cls], [&](uint32_t v, DropReason r) {
        arrival_dropped |= v == s;
        drop_slot(cls, v, r);
    });
    if (!cls_[cls].prio_activity && !leaf_[cls].empty()) activate(cls);
    return !arrival_dropped;
}

uint32_t Scheduler::enqueue_burst(const uint32_t* class_ids, const Packet* packets, uint32_t n, uint64_t now) {
    // Look the whole burst up first and prefetch each class's state, so
    // the cache misses of many classes overlap instead of queueing up.
    constexpr uint32_t kChunk = 32;
    uint32_t slots[kChunk];
    uint32_t queued = 0;
    for (uint32_t base = 0; base < n; base += kChunk) {
        const uint32_t m = std::min(kChunk, n - base);
        for (uint32_t i = 0; i < m; ++i) ids_.prefetch(class_ids[base + i]);
        for (uint32_t i = 0; i < m; ++i) {
            const uint32_t x = ids_.find(class_ids[base + i]);
            slots[i] = x;
            if (x != IdIndex::kMissing) {
                const char* c = reinterpret_cast<const char*>(&cls_[x]);
                __builtin_prefetch(c);
                __builtin_prefetch(c + 64);
                __builtin_prefetch(&leaf_[x]);
            }
        }
        // Second stage: the queue's tail slot, which enqueue links to.
        for (uint32_t i = 0; i < m; ++i) {
            if (slots[i] == IdIndex::kMissing) continue;
            if (const uint32_t tail = leaf_[slots[i]].list.tail; tail != kNoSlot) __builtin_prefetch(&pool_[tail]);
        }
        for (uint32_t i = 0; i < m; ++i) {
            if (slots[i] == IdIndex::kMissing) {
                report_drop(kNone, packets[base + i], DropReason::unknown_class);
                continue;
            }
            queued += enqueue_slot(slots[i], packets[base + i], now) ? 1 : 0;
        }
    }
    return queued;
}

void Scheduler::count_drop(uint32_t class_id, DropReason reason, uint32_t length) {
    const uint32_t slot = ids_.find(class_id);
    const uint32_t cls = slot == IdIndex::kMissing ? kNone : slot;
    if (cls != kNone) {
        ++counters_[cls].drops[static_cast<size_t>(reason)];
        counters_[cls].drop_bytes[static_cast<size_t>(reason)] += length;
    } else {
        ++unclassified_drops_;
    }
}

bool Scheduler::dequeue_tree(uint32_t level, uint32_t prio, Packet& out) {
    std::array<uint32_t, kLevels> path;
    for (;;) {
        uint32_t x = row_[level][prio].cur;
        if (x == kNone) return false;
        uint32_t n = 0;
        path[n++] = x;
        while (!cls_[x].leaf) {
            x = feed_[x][prio].cur;
            path[n++] = x;
        }
        const uint32_t leaf = x;
        const uint32_t s = leaf_[leaf].dequeue(pool_, now_, tuning_[leaf], [&](uint32_t v, DropReason r) { drop_slot(leaf, v, r); });
        if (s == kNoSlot) {
            deactivate(leaf);  // AQM emptied it; try the next one
            continue;
        }
        const PacketSlot& slot = pool_[s];
        const uint32_t cost = slot.cost;
        // Deficit round robin at every step of the path: a class that used
        // its quantum hands the turn to the next in its list.
        for (uint32_t i = 0; i < n; ++i) {
            ClassState& c = cls_[path[i]];
            int32_t& d = c.deficit[i == 0 ? 0 : 1];
            d -= static_cast<int32_t>(cost);
            if (d < 0) {
                d += static_cast<int32_t>(c.quantum);
                Ring& ring = i == 0 ? row_[level][prio] : feed_[path[i - 1]][prio];
                ring.cur = link_of(path[i], prio).next;
                ring.resume = kNone;
            }
        }
        if (leaf_[leaf].empty()) deactivate(leaf);
        charge(leaf, level, cost);
        prefetch_ring(n == 1 ? row_[level][prio] : feed_[path[n - 2]][prio], prio);

        ClassState& lc = cls_[leaf];
        ++lc.packets;
        lc.bytes += slot.packet.length;
        lc.wire_bytes += cost;
        if (!lc.delays) lc.delays = take_histogram();
        lc.delay_hint = static_cast<uint8_t>(lc.delays->record(now_ - slot.enqueued_at, delay_floor_shift_));
        out = slot.packet;
        pool_.give_back(s);
        return true;
    }
}

// Software pipelining along a round-robin ring, as rte_sched's grinders do:
// the class after next gets its state lines fetched, and the next one
// (whose state was fetched one packet ago) its head packet slot and
// histogram line. With many backlogged classes each packet would otherwise
// wait for several cache misses in a row.
void Scheduler::prefetch_ring(const Ring& ring, uint32_t prio) {
    const uint32_t a = ring.cur;
    if (a == kNone) return;
    const ClassState& ca = cls_[a];
    if (ca.leaf) {
        if (const uint32_t head = leaf_[a].list.head; head != kNoSlot) __builtin_prefetch(&pool_[head]);
        if (ca.delays) __builtin_prefetch(ca.delays->bucket_address(ca.delay_hint));
    }
    const uint32_t b = link_of(a, prio).next;
    if (b == kNone || b == a) return;
    const char* cb = reinterpret_cast<const char*>(&cls_[b]);
    __builtin_prefetch(cb);
    __builtin_prefetch(cb + 64);
    __builtin_prefetch(&leaf_[b]);
}

uint32_t Scheduler::dequeue_burst(Packet* out, uint32_t n, uint64_t now) {
    if (now > now_) now_ = now;
    wheel_.advance(now_, [this](uint32_t x) { on_timer(x); });
    uint32_t got = 0;
    while (got < n) {
        bool sent = false;
        // Lowest level first (own rate before borrowing), then lowest prio.
        for (uint64_t lm = level_mask_; lm && !sent; lm &= lm - 1) {
            const auto level = static_cast<uint32_t>(std::countr_zero(lm));
            for (uint8_t pm = row_mask_[level]; pm && !sent; pm &= static_cast<uint8_t>(pm - 1))
                sent = dequeue_tree(level, ctz8(pm), out[got]);
        }
        if (!sent) break;
        ++got;
    }
    return got;
}

// ------------------------------------------------------------------ stats

std::optional<ClassSnapshot> Scheduler::snapshot(uint32_t class_id) const {
    const uint32_t x = ids_.find(class_id);
    if (x == IdIndex::kMissing) return std::nullopt;
    ClassSnapshot s;
    s.id = class_id;
    s.counters = counters_[x];
    const ClassState& c = cls_[x];
    s.counters.packets = c.packets;
    s.counters.bytes = c.bytes;
    s.counters.wire_bytes = c.wire_bytes;
    s.counters.borrowed = c.borrowed;
    s.backlog_packets = leaf_[x].packets();
    s.backlog_bytes = leaf_[x].bytes();
    if (const DelayHistogram* h = c.delays) {
        const double ns_per_tick = 1e9 / static_cast<double>(config_.tick_hz);
        s.delay_samples = h->total();
        s.delay_p50_ns = static_cast<uint64_t>(static_cast<double>(h->quantile_ticks(0.50, delay_floor_shift_)) * ns_per_tick);
        s.delay_p99_ns = static_cast<uint64_t>(static_cast<double>(h->quantile_ticks(0.99, delay_floor_shift_)) * ns_per_tick);
    }
    return s;
}

}  // namespace sluice::shaper
