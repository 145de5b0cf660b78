// Small helpers of the scheduler's packet path, shared by scheduler.cpp and
// class_changes.cpp and kept inline whatever the compiler's heuristics say:
// the round-robin rings, rows, modes and timers. Private to the shaper.
#pragma once

#include <bit>

#include "shaper/scheduler.hpp"

#define SLUICE_HOT_INLINE [[gnu::always_inline]] inline

namespace sluice::shaper {

inline uint32_t ctz8(uint8_t m) { return static_cast<uint32_t>(std::countr_zero(static_cast<unsigned>(m))); }

// ---------------------------------------------------------------- lists

SLUICE_HOT_INLINE void Scheduler::list_add(Ring& r, uint32_t x, uint32_t prio, bool leaves) {
    Link& l = link_of(x, prio, leaves);
    if (r.cur == kNone) {
        l.prev = l.next = x;
        r.cur = x;
    } else {
        // Behind everyone else in the round...
        const uint32_t last = link_of(r.cur, prio, leaves).prev;
        l.prev = last;
        l.next = r.cur;
        link_of(last, prio, leaves).next = x;
        link_of(r.cur, prio, leaves).prev = x;
    }
    // ...unless the turn was interrupted by its leaving: then it resumes.
    if (r.resume == x) {
        r.cur = x;
        r.resume = kNone;
    }
}

SLUICE_HOT_INLINE void Scheduler::list_remove(Ring& r, uint32_t x, uint32_t prio, bool leaves) {
    Link& l = link_of(x, prio, leaves);
    // The first class to leave in the middle of its turn keeps a claim on
    // it; those that get the turn only because it left do not.
    if (r.cur == x && r.resume == kNone) r.resume = x;
    if (l.next == x) {
        r.cur = kNone;
    } else {
        link_of(l.prev, prio, leaves).next = l.next;
        link_of(l.next, prio, leaves).prev = l.prev;
        if (r.cur == x) r.cur = l.next;
    }
    l.prev = l.next = kNone;
}

SLUICE_HOT_INLINE void Scheduler::add_to_row(uint32_t x, uint8_t mask) {
    const uint32_t level = cls_[x].level;
    for (uint8_t m = mask; m; m &= static_cast<uint8_t>(m - 1)) list_add(row_[level][ctz8(m)], x, ctz8(m));
    row_mask_[level] |= mask;
    level_mask_ |= uint64_t{1} << level;
}

// A leaf on its own rate: the row of leaves at its priority, where every
// member is a leaf (no look at the neighbours' kind). Apart from
// add_to_row and remove_from_row because the level and the single
// priority are known here: add_to_row, even told that a level-0 row holds
// leaves, reads the level from the record and loops over a priority mask,
// and on the packet path, where every activation comes through here, that
// general path was measurably slower.
SLUICE_HOT_INLINE void Scheduler::join_leaf_row(uint32_t leaf) {
    const uint32_t prio = cls_[leaf].prio;
    list_add(row_[0][prio], leaf, prio, true);
    row_mask_[0] |= static_cast<uint8_t>(1u << prio);
    level_mask_ |= 1;
}

SLUICE_HOT_INLINE void Scheduler::leave_leaf_row(uint32_t leaf) {
    const uint32_t prio = cls_[leaf].prio;
    list_remove(row_[0][prio], leaf, prio, true);
    if (row_[0][prio].cur != kNone) return;
    row_mask_[0] &= static_cast<uint8_t>(~(1u << prio));
    if (row_mask_[0] == 0) level_mask_ &= ~uint64_t{1};
}

SLUICE_HOT_INLINE void Scheduler::remove_from_row(uint32_t x, uint8_t mask) {
    const uint32_t level = cls_[x].level;
    for (uint8_t m = mask; m; m &= static_cast<uint8_t>(m - 1)) {
        const uint32_t prio = ctz8(m);
        list_remove(row_[level][prio], x, prio);
        if (row_[level][prio].cur == kNone) row_mask_[level] &= static_cast<uint8_t>(~(1u << prio));
    }
    if (row_mask_[level] == 0) level_mask_ &= ~(uint64_t{1} << level);
}

// ---------------------------------------------------------------- modes

SLUICE_HOT_INLINE Scheduler::Mode Scheduler::mode_for(const ClassState& c, int64_t credit_fp, int64_t& wait_fp) const {
    const ClassProfile& p = profile_of(c);
    const int64_t ct = std::min(c.ctokens + credit_fp, p.ceil.size);
    if (ct < 0) {
        wait_fp = -ct;
        return Mode::cant_send;
    }
    const int64_t t = std::min(c.tokens + credit_fp, p.rate.size);
    if (t >= 0) {
        wait_fp = 0;
        return Mode::can_send;
    }
    wait_fp = -t;
    return Mode::may_borrow;
}

SLUICE_HOT_INLINE void Scheduler::arm_timer(uint32_t x, int64_t wait_fp) {
    wheel_.schedule(x, now_ + (static_cast<uint64_t>(wait_fp) >> kTokenShift) + 1);
    cls_[x].timer_armed = true;
}

SLUICE_HOT_INLINE void Scheduler::disarm_timer(uint32_t x) {
    if (!cls_[x].timer_armed) return;
    wheel_.cancel(x);
    cls_[x].timer_armed = false;
}

// An idle class (no packets below it) is in no list and keeps no timer: its
// mode matters to nobody, so it is brought up to date only when the class
// becomes active again. Classes that go idle after every packet (the common
// case with many classes) then cost no timer work at all.
SLUICE_HOT_INLINE void Scheduler::refresh_mode(uint32_t x) {
    ClassState& c = cls_[x];
    int64_t wait = 0;
    c.mode = mode_for(c, credit(now_ - c.t_c), wait);
    disarm_timer(x);
    if (c.mode != Mode::can_send) arm_timer(x, wait);
}

SLUICE_HOT_INLINE void Scheduler::activate(uint32_t leaf) {
    if (cls_[leaf].prio_activity) return;
    refresh_mode(leaf);
    ClassState& c = cls_[leaf];
    c.prio_activity = static_cast<uint8_t>(1u << c.prio);
    // The common case, a leaf on its own rate, joins its row here; the
    // walk up the tree is for a borrower (and for an inner class, which
    // the control path may pass).
    if (c.mode == Mode::can_send && c.leaf)
        join_leaf_row(leaf);
    else
        activate_prios(leaf);
}

SLUICE_HOT_INLINE void Scheduler::deactivate(uint32_t leaf) {
    ClassState& c = cls_[leaf];
    if (!c.prio_activity) return;
    if (c.mode == Mode::can_send && c.leaf)
        leave_leaf_row(leaf);
    else
        deactivate_prios(leaf);
    c.prio_activity = 0;
    // Its timer would only find it idle, with a cache miss on its state.
    disarm_timer(leaf);
}

SLUICE_HOT_INLINE void Scheduler::change_mode(uint32_t x, int64_t credit_fp, int64_t& wait_fp) {
    ClassState& c = cls_[x];
    const Mode next = mode_for(c, credit_fp, wait_fp);
    if (next == c.mode) return;
    if (next == Mode::cant_send) ++counters_[x].overlimits;
    if (c.prio_activity) {
        if (c.mode != Mode::cant_send) deactivate_prios(x);
        c.mode = next;
        if (next != Mode::cant_send) activate_prios(x);
    } else {
        c.mode = next;
    }
}

}  // namespace sluice::shaper
