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
// Nothing is scanned: cost is O(depth) per packet, whatever the class count.

#include "shaper/scheduler.hpp"

#include <algorithm>
#include <bit>

#include "shaper/scheduler_inline.hpp"

namespace sluice::shaper {

namespace {

int floor_log2(uint64_t v) { return v ? 63 - std::countl_zero(v) : 0; }

// Takes a packet's cost from a deficit; true when the turn is used up, the
// deficit then refilled by one quantum. A packet that costs more than the
// quantum leaves a debt the refill cannot repay; it is forgiven rather than
// kept, or the deficit would fall until it wraps.
[[gnu::always_inline]] inline bool spend_deficit(int32_t& d, uint32_t cost, uint32_t quantum) {
    d -= static_cast<int32_t>(cost);
    if (d >= 0) return false;
    d = std::max(d + static_cast<int32_t>(quantum), 0);
    return true;
}

}  // namespace

Scheduler::Scheduler(const SchedulerConfig& config)
    : config_(config),
      mtu_cost_(config.overhead.wire_cost(config.mtu)),
      pool_(config.packet_capacity),
      // Level-0 wheel slots of about a microsecond.
      wheel_(std::max(0, floor_log2(config.tick_hz / 1'000'000))),
      delay_floor_shift_(std::max(0, floor_log2(config.tick_hz / 1'000'000) - 2)) {
    if (config_.tick_hz == 0) config_.tick_hz = 1;
    catch_up_ = CatchUp(ticks_from_us(config_.catch_up_us), ticks_from_us(kStallUs));
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
SLUICE_HOT_INLINE void Scheduler::charge(uint32_t leaf, uint32_t level, uint32_t cost) {
    if (level > 0) ++cls_[leaf].borrowed;
    for (uint32_t x = leaf; x != kNone; x = cls_[x].parent) {
        ClassState& c = cls_[x];
        const ClassProfile& p = profile_of(c);
        const int64_t cr = credit(now_ - c.t_c);
        c.tokens = account(c.tokens, cr, c.level >= level ? p.rate.cost(cost) : 0,
                           catch_up_.limit(p.rate.size, c.tokens, cr));
        c.ctokens = account(c.ctokens, cr, p.ceil.cost(cost), catch_up_.limit(p.ceil.size, c.ctokens, cr));
        c.t_c = now_;
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
    ClassState& c = cls_[cls];
    const ClassProfile& p = profile_of(c);
    c.queue.enqueue(c.kind, leaf_env(), cls, s, p.limits, p.fq, now_,
                    [&](uint32_t v, DropReason r) { drop_slot(cls, v, r); });
    if (!c.prio_activity && !c.queue.empty(c.kind)) activate(cls);
}

bool Scheduler::enqueue(uint32_t class_id, const Packet& packet, uint64_t now) {
    const uint32_t slot = ids_.find(class_id);
    if (slot == IdIndex::kMissing) {
        report_drop(kNone, packet, DropReason::unknown_class);
        return false;
    }
    return enqueue_slot(slot, packet, now);
}

bool Scheduler::enqueue_slot(uint32_t cls, const Packet& packet, uint64_t now) { return enqueue_one(cls, packet, now); }

SLUICE_HOT_INLINE bool Scheduler::enqueue_one(uint32_t cls, const Packet& packet, uint64_t now) {
    ClassState& c = cls_[cls];
    if (!c.leaf) {
        report_drop(cls, packet, DropReason::not_a_leaf);
        return false;
    }
    const uint32_t s = pool_.take();
    if (s == kNoSlot) {
        report_drop(cls, packet, DropReason::pool_exhausted);
        return false;
    }
    PacketSlot& slot = pool_[s];
    slot.packet = packet;
    slot.enqueued_at = now;
    slot.cost = config_.overhead.wire_cost(packet.length);
    bool arrival_dropped = false;
    const ClassProfile& p = profile_of(c);
    c.queue.enqueue(c.kind, leaf_env(), cls, s, p.limits, p.fq, now, [&](uint32_t v, DropReason r) {
        arrival_dropped |= v == s;
        drop_slot(cls, v, r);
    });
    if (!c.prio_activity && !c.queue.empty(c.kind)) activate(cls);
    return !arrival_dropped;
}

uint32_t Scheduler::enqueue_burst(const uint32_t* class_ids, const Packet* packets, uint32_t n, uint64_t now) {
    return admit_burst(class_ids, packets, n, now, nullptr);
}

uint32_t Scheduler::enqueue_or_pass_burst(const uint32_t* class_ids, const Packet* packets, uint32_t n, uint64_t now,
                                          Packet* leave) {
    // The pass is judged at the scheduler's time: timers due by `now` fire first.
    advance_to(now);
    const uint32_t passed = admit_burst(class_ids, packets, n, now, leave);
    delays_.flush();
    return passed;
}

// Could dequeue_burst send this packet at once? Only if nothing else may
// be sent (the caller checked that every row is empty), its class is an
// empty fifo leaf (CoDel and fq_codel judge packets at dequeue, which a
// pass would skip), and the leaf is on its own rate or borrows from an
// ancestor that is: the path dequeue_tree would take, found without
// joining any list. An active ancestor keeps the mode its timers gave it;
// an idle one is judged now, as activation would judge it.
SLUICE_HOT_INLINE bool Scheduler::pass_one(uint32_t cls, const Packet& packet) {
    ClassState& c = cls_[cls];
    if (!c.leaf || c.kind != LeafKind::fifo || c.prio_activity) return false;
    int64_t wait = 0;
    const Mode own = mode_for(c, credit(now_ - c.t_c), wait);
    if (own == Mode::cant_send) return false;
    uint32_t lender = cls;
    if (own == Mode::may_borrow) {
        for (uint32_t x = c.parent;; x = cls_[x].parent) {
            if (x == kNone) return false;
            const ClassState& a = cls_[x];
            const Mode m = a.prio_activity ? a.mode : mode_for(a, credit(now_ - a.t_c), wait);
            if (m == Mode::cant_send) return false;
            if (m == Mode::can_send) {
                lender = x;
                break;
            }
        }
    }
    const uint32_t cost = config_.overhead.wire_cost(packet.length);
    // The deficits of the path, as dequeue_tree counts them: the lender's
    // in its row, the others' in their parents' feeds. (Each list would
    // hold only the class itself: the turn stays with it.)
    for (uint32_t x = cls;; x = cls_[x].parent) {
        ClassState& p = cls_[x];
        spend_deficit(p.deficit[x == lender ? 0 : 1], cost, profile_of(p).quantum);
        if (x == lender) break;
    }
    uint64_t* direct_counter = nullptr;
    if (delays_.direct()) direct_counter = delays_.direct_counter(cls, 0);
    charge(cls, cls_[lender].level, cost);
    count_departure(cls, packet, cost, 0, direct_counter);
    return true;
}

void Scheduler::advance_to(uint64_t now) {
    advance_clock(now);
    wheel_.advance(now_, [this](std::span<const uint32_t> due) { prefetch_timers(due); },
                   [this](uint32_t x) { on_timer(x); });
}

// A departure in the leaf's counters and delay histogram (`bucket` of the
// delay; `direct_counter` that bucket's histogram counter when delays go
// straight to the histogram).
SLUICE_HOT_INLINE void Scheduler::count_departure(uint32_t leaf, const Packet& packet, uint32_t cost,
                                                  uint32_t bucket, uint64_t* direct_counter) {
    ClassState& lc = cls_[leaf];
    ++lc.packets;
    lc.bytes += packet.length;
    lc.wire_bytes += cost;
    if (direct_counter)
        ++*direct_counter;
    else if (!lc.delays.add(bucket))
        delays_.spill(leaf, lc.delays, bucket);
}

uint32_t Scheduler::admit_burst(const uint32_t* class_ids, const Packet* packets, uint32_t n, uint64_t now,
                                Packet* leave) {
    // Look the whole burst up first and prefetch each class's state, so
    // the cache misses of many classes overlap instead of queueing up.
    constexpr uint32_t kChunk = 32;
    uint32_t slots[kChunk];
    uint32_t buckets[kChunk];
    uint32_t queued = 0, passed = 0;
    for (uint32_t base = 0; base < n; base += kChunk) {
        const uint32_t m = std::min(kChunk, n - base);
        for (uint32_t i = 0; i < m; ++i) ids_.prefetch(class_ids[base + i]);
        // A fq_codel packet's flow is found by (slot, bucket) alone: its
        // index line comes in the same wave as the class state, and the
        // record is fetched a few packets before it is queued (below).
        // (CoDel classes read their tuning at dequeue only.) A small tree
        // stays in cache: there the flow look-ups would only cost.
        const bool fetch_flows = fetch_aqm_ahead();
        bool any_fq = false;
        for (uint32_t i = 0; i < m; ++i) {
            const uint32_t x = ids_.find(class_ids[base + i]);
            slots[i] = x;
            buckets[i] = FlowTable::kNone;
            if (x != IdIndex::kMissing) {
                prefetch_state(x);
                wheel_.prefetch(x);  // a borrowing class sets a timer
                if (fetch_flows)
                    if (const uint32_t flows = fq_flows_[x]) {
                        buckets[i] = fq_bucket(packets[base + i].flow_hash, flows);
                        flows_.prefetch_index(x, buckets[i]);
                        any_fq = true;
                    }
            }
        }
        // The flow records eight packets ahead of the one being queued:
        // their index lines have had the time to come, and the core is not
        // asked for a whole burst's records at once (all at once, the
        // requests are more misses than the core keeps in flight, and with
        // a large backlogged tree the case was markedly slower).
        constexpr uint32_t kRecordsAhead = 8;
        if (any_fq)
            for (uint32_t i = 0; i < std::min(kRecordsAhead, m); ++i)
                if (buckets[i] != FlowTable::kNone) flows_.prefetch_record(slots[i], buckets[i]);
        for (uint32_t i = 0; i < m; ++i) {
            if (any_fq && i + kRecordsAhead < m && buckets[i + kRecordsAhead] != FlowTable::kNone)
                flows_.prefetch_record(slots[i + kRecordsAhead], buckets[i + kRecordsAhead]);
            if (slots[i] == IdIndex::kMissing) {
                report_drop(kNone, packets[base + i], DropReason::unknown_class);
                continue;
            }
            if (leave && level_mask_ == 0 && pass_one(slots[i], packets[base + i])) {
                leave[passed++] = packets[base + i];
                continue;
            }
            queued += enqueue_one(slots[i], packets[base + i], now) ? 1 : 0;
        }
    }
    return leave ? passed : queued;
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

SLUICE_HOT_INLINE bool Scheduler::dequeue_tree(uint32_t level, uint32_t prio, Packet& out) {
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
        // charge() walks up from the leaf: in a deep tree its parent (one
        // of thousands of inner classes) is often out of the nearest caches.
        if (const uint32_t up = cls_[leaf].parent; up != kNone) prefetch_state(up);
        LeafQueue& q = cls_[leaf].queue;
        const LeafKind kind = cls_[leaf].kind;
        const uint32_t s = q.dequeue(kind, leaf_env(), profile_of(cls_[leaf]).fq, now_, tuning_[leaf],
                                     [&](uint32_t v, DropReason r) { drop_slot(leaf, v, r); });
        if (s == kNoSlot) {
            deactivate(leaf);  // AQM emptied it; try the next one
            continue;
        }
        const PacketSlot& slot = pool_[s];
        const uint32_t cost = slot.cost;
        // The delay's counter is known now: start fetching it (when it is
        // not in the class's tally) before the rest of the work on the path.
        const uint32_t bucket = DelayHistogram::bucket_of_ticks(now_ - slot.enqueued_at, delay_floor_shift_);
        uint64_t* direct_counter = nullptr;
        if (delays_.direct()) {
            direct_counter = delays_.direct_counter(leaf, bucket);
            __builtin_prefetch(direct_counter, 1);
        }
        // Deficit round robin at every step of the path: a class that used
        // its quantum hands the turn to the next in its list.
        for (uint32_t i = 0; i < n; ++i) {
            ClassState& c = cls_[path[i]];
            if (spend_deficit(c.deficit[i == 0 ? 0 : 1], cost, profile_of(c).quantum)) {
                Ring& ring = i == 0 ? row_[level][prio] : feed_[path[i - 1]][prio];
                ring.cur = link_of(path[i], prio).next;
                ring.resume = kNone;
            }
        }
        if (q.empty(kind)) deactivate(leaf);
        charge(leaf, level, cost);
        prefetch_ring(n == 1 ? row_[level][prio] : feed_[path[n - 2]][prio], prio);

        count_departure(leaf, slot.packet, cost, bucket, direct_counter);
        out = slot.packet;
        pool_.give_back(s);
        return true;
    }
}

// Software pipelining along a round-robin ring, as rte_sched's grinders do.
// With many backlogged classes each packet would otherwise wait for
// several cache misses in a row: the class's state, then its head packet
// (and for fq_codel, before that, the flow record to serve, named in its
// state). The class after next gets its state lines fetched, and the next
// one (whose state was fetched one packet ago) its head packet. With AQM
// classes and more than a few thousand classes (whose states no longer stay
// in cache) the pipeline is longer: states five ahead, flow records (or
// CoDel's tuning) three, packets one. (A longer pipeline for fifo, packets
// two ahead and states four, measured no better: rings change between
// packets, and walking further ahead reads states that are not in yet.)
void Scheduler::prefetch_ring(const Ring& ring, uint32_t prio) {
    const uint32_t a = ring.cur;
    if (a == kNone) return;
    // A small tree (the same bound as for direct delays) stays in cache:
    // there the deeper pipeline, and a look into a fq_codel flow, would
    // only cost; fifo needs no flow stage.
    if (!fetch_aqm_ahead()) {
        if (const ClassState& sa = cls_[a]; sa.leaf && sa.kind != LeafKind::fq_codel)
            sa.queue.prefetch_dequeue(sa.kind, leaf_env());
        const uint32_t b = link_of(a, prio).next;
        if (b == kNone || b == a) return;
        prefetch_state(b);
        return;
    }
    constexpr uint32_t kPacketAt = 1, kRecordAt = 3, kStateAt = 5;
    uint32_t ahead[kStateAt + 1];
    ahead[0] = a;
    uint32_t n = 1;
    for (; n <= kStateAt; ++n) {
        const uint32_t next = link_of(ahead[n - 1], prio).next;
        if (next == kNone || next == a) break;
        ahead[n] = next;
    }
    // A fq_codel class served next may have served a flow already, with
    // more to come (its turn goes on): the packet of its next flow, fetched
    // as the one after its first.
    if (const ClassState& sa = cls_[a]; sa.leaf) sa.queue.prefetch_dequeue_packet(sa.kind, leaf_env());
    if (n > kPacketAt)
        if (const ClassState& sp = cls_[ahead[kPacketAt]]; sp.leaf)
            sp.queue.prefetch_dequeue_packet(sp.kind, leaf_env());
    if (n > kRecordAt)
        if (const uint32_t r = ahead[kRecordAt]; cls_[r].leaf) {
            const ClassState& sr = cls_[r];
            if (sr.kind == LeafKind::codel) __builtin_prefetch(&tuning_[r]);
            if (sr.kind == LeafKind::fq_codel) sr.queue.prefetch_dequeue(sr.kind, leaf_env());
        }
    if (n > kStateAt) prefetch_state(ahead[kStateAt]);
}

// A class whose timer fires changes mode, and so moves between a feed and a
// row: its state is touched, in classes that have not been seen for a
// while. Fetch them for all the due timers at once.
void Scheduler::prefetch_timers(std::span<const uint32_t> due) {
    for (const uint32_t x : due) prefetch_state(x);
    if (!fetch_aqm_ahead()) return;
    // It may be served soon (a class that can send again joins the row of
    // leaves, served first): its fq_codel flow too, in a tree too big for
    // the cache, and then the packet it would send.
    for (const uint32_t x : due)
        if (const ClassState& c = cls_[x]; c.leaf && c.prio_activity && c.kind == LeafKind::fq_codel)
            c.queue.prefetch_dequeue(c.kind, leaf_env());
    for (const uint32_t x : due)
        if (const ClassState& c = cls_[x]; c.leaf && c.prio_activity)
            c.queue.prefetch_dequeue_packet(c.kind, leaf_env());
}

uint32_t Scheduler::dequeue_burst(Packet* out, uint32_t n, uint64_t now) {
    advance_to(now);
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
    delays_.flush();
    return got;
}

// ------------------------------------------------------------------ stats

void Scheduler::discard_all(DropReason reason) {
    for (uint32_t x = 0; x < cls_.size(); ++x) {
        ClassState& c = cls_[x];
        if (c.profile == kNone || !c.leaf) continue;  // a free slot, or inner
        deactivate(x);
        c.queue.drain(c.kind, leaf_env(), x, tuning_[x], [&](uint32_t s) { drop_slot(x, s, reason); });
    }
}

void Scheduler::fold_into_parent(uint32_t x) {
    const uint32_t p = cls_[x].parent;
    if (p == kNone) return;
    cls_[p].packets += cls_[x].packets;
    cls_[p].bytes += cls_[x].bytes;
    cls_[p].wire_bytes += cls_[x].wire_bytes;
    for (size_t r = 0; r < kDropReasonCount; ++r) {
        counters_[p].drops[r] += counters_[x].drops[r];
        counters_[p].drop_bytes[r] += counters_[x].drop_bytes[r];
    }
}

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
    s.backlog_packets = c.leaf ? c.queue.packets(c.kind) : 0;
    s.backlog_bytes = c.leaf ? c.queue.bytes(c.kind) : 0;
    // The packet path counts departures in leaves only: an inner class's
    // are its subtree's, summed here (preorder, by the tree links).
    for (uint32_t y = tree_[x].first_child; y != kNone;) {
        const ClassState& d = cls_[y];
        s.counters.packets += d.packets;
        s.counters.bytes += d.bytes;
        s.counters.wire_bytes += d.wire_bytes;
        for (size_t r = 0; r < kDropReasonCount; ++r) {
            s.counters.drops[r] += counters_[y].drops[r];
            s.counters.drop_bytes[r] += counters_[y].drop_bytes[r];
        }
        if (d.leaf) {
            s.backlog_packets += d.queue.packets(d.kind);
            s.backlog_bytes += d.queue.bytes(d.kind);
        }
        if (tree_[y].first_child != kNone) {
            y = tree_[y].first_child;
            continue;
        }
        while (y != x && tree_[y].next_sibling == kNone) y = cls_[y].parent;
        y = y == x ? kNone : tree_[y].next_sibling;
    }
    const DelayHistogram h = delays_.total(x, c.delays);
    s.delay_samples = h.total();
    s.delays = h;
    s.delay_floor_shift = delay_floor_shift_;
    s.ns_per_tick = 1e9 / static_cast<double>(config_.tick_hz);
    if (s.delay_samples) {
        const double ns_per_tick = s.ns_per_tick;
        s.delay_p50_ns = static_cast<uint64_t>(static_cast<double>(h.quantile_ticks(0.50, delay_floor_shift_)) * ns_per_tick);
        s.delay_p99_ns = static_cast<uint64_t>(static_cast<double>(h.quantile_ticks(0.99, delay_floor_shift_)) * ns_per_tick);
    }
    return s;
}

}  // namespace sluice::shaper
