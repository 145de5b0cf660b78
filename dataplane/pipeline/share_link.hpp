// What the workers of one direction exchange so that the rebalancer
// (shaper/rate_share.hpp) can divide each shared class among them: every
// worker reads its own leaves and sums them per shared class and band (its
// ShareSampler), worker 0 steps the rebalancer on everyone's sums and posts
// each other worker the local rates it gave it, and each worker applies
// its own between bursts. No lock, and no writer shares a cache line with
// another.
//
//   worker w != 0, every period:  its leaves, summed -> slot w (seqlock)
//   worker 0, every period:       its own sums, the others' slots,
//                                 RateShare::step_summed; its own changes
//                                 applied at once, the others' merged into
//                                 pending[w] and posted in mailbox w when w
//                                 has taken the last post
//   worker w, every turn:         mailbox w -> its scheduler (ModifyClass)
//
// The period is stretched when the reading grows costly (many leaves, many
// shared classes): no worker spends more than a fortieth of its time on
// it.
//
// A post is a whole batch: worker 0 writes it only after worker w took the
// previous one, and until then keeps merging new rates into pending[w]
// (the newest rate of a copy wins), so nothing waits on a slow or sleeping
// worker and nothing is lost. A sample slot that is being written when
// worker 0 reads it twice running keeps its last copy for that step: the
// departed bytes it holds are cumulative, so a late sum delays demand by
// one period and loses none.
//
// Expects:  built on the control side, with the RateShare's classes and
//           members added, before any worker holds it; handed to each
//           worker through its ChangeChannel (adopt), and freed only after
//           every worker has let go of it. Worker w calls turn(w, ...) on
//           its own scheduler only; worker 0 is the only one that steps.
// Output:   ModifyClass changes of the shared classes' local copies.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "shaper/rate_share.hpp"
#include "shaper/scheduler.hpp"

namespace sluice::dataplane {

class ShareLink {
public:
    // `period`: TSC cycles between steps (and between samples).
    ShareLink(std::unique_ptr<shaper::RateShare> share, uint64_t period);
    ShareLink(const ShareLink&) = delete;
    ShareLink& operator=(const ShareLink&) = delete;

    unsigned workers() const { return workers_; }
    uint64_t period() const { return period_; }
    // The period in force: the one asked for, or longer when a worker's
    // part (its reading; worker 0's whole step) costs more than
    // 1/kStepShare of it (a large tree).
    static constexpr uint64_t kStepShare = 40;
    uint64_t interval() const { return interval_.load(std::memory_order_relaxed); }
    // Whether some worker wanted something of a shared class at the last
    // step. While one does, every worker's part falls due each period: an
    // idle worker that slept through it would leave the division stale
    // (its share unused, or the others' unchanged), so it sleeps no longer
    // than until due(w), the TSC time of its next turn's part.
    bool active() const { return active_.load(std::memory_order_relaxed); }
    uint64_t due(unsigned w) const { return w < workers_ ? slots_[w].next : UINT64_MAX; }

    // Worker w, when it starts using this link: worker 0's next step sends
    // every copy's rate, so copies another link set are brought in line.
    void adopted(unsigned w);

    // Worker w, once per turn (cheap when nothing is due): applies what was
    // posted for it, and when a period has passed publishes its samples
    // (worker 0: steps). Returns the local changes it applied.
    uint32_t turn(unsigned w, shaper::Scheduler& s, uint64_t now);

    // Read by the control side (single writer: worker 0). step_cycles are
    // worker 0's (its own reading included).
    uint64_t steps() const { return steps_.load(std::memory_order_relaxed); }
    uint64_t step_cycles() const { return step_cycles_.load(std::memory_order_relaxed); }
    // Local changes the schedulers refused (a class a tree change removed
    // between a step and its apply): counted, never fatal.
    uint64_t refused() const;

private:
    struct alignas(64) Slot {  // written by worker w, read by worker 0
        std::atomic<uint32_t> seq{0};
        // Its sampler's cells, kDemandCellWords words each (doubles as bits).
        std::unique_ptr<std::atomic<uint64_t>[]> words;
        size_t size = 0;                // words
        std::atomic<uint64_t> cost{0};  // smoothed cycles of one reading
        uint64_t next = 0;              // worker w's next reading (its own)
    };
    struct alignas(64) Mailbox {  // batch written by worker 0, taken by worker w
        std::atomic<uint64_t> posted{0};
        std::vector<shaper::ModifyClass> batch;
        uint32_t count = 0;
        alignas(64) std::atomic<uint64_t> taken{0};
        std::atomic<uint64_t> refused{0};
        // Worker 0's own: changes not posted yet, by shared-class index.
        alignas(64) std::vector<shaper::ModifyClass> pending;
        std::vector<uint8_t> dirty;
        std::vector<uint32_t> dirty_list;
    };

    uint32_t take(unsigned w, shaper::Scheduler& s, uint64_t now);
    void publish(unsigned w, const shaper::Scheduler& s, uint64_t now);
    // Worker 0: copies slot w into the rebalancer's cells unless it is being
    // written; false if it kept last period's.
    bool receive(unsigned w);
    uint32_t step(shaper::Scheduler& s, uint64_t now);
    void post(unsigned w);

    std::unique_ptr<shaper::RateShare> share_;  // worker 0's alone once adopted
    unsigned workers_;
    uint64_t period_;
    std::vector<uint32_t> class_ids_;   // shared classes, index = position
    std::vector<int32_t> index_of_;     // by scheduler id: index in class_ids_, or -1
    std::unique_ptr<Slot[]> slots_;
    std::unique_ptr<Mailbox[]> boxes_;
    std::vector<uint64_t> scratch_;     // worker 0's: a slot as read
    std::atomic<bool> resend_{false};
    std::atomic<uint64_t> interval_{0};  // written by worker 0, read by all
    std::atomic<bool> active_{false};    // the same
    uint64_t cost_ = 0;                  // worker 0's: smoothed step cost, cycles
    alignas(64) std::atomic<uint64_t> steps_{0};
    std::atomic<uint64_t> step_cycles_{0};
};

}  // namespace sluice::dataplane
