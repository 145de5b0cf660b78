// Dividing a shared class's rate among the workers that each hold a copy.
//
// Expects:   the shared classes (the link root at least: a class whose
//            subtree spans several workers, each worker's scheduler holding
//            a local copy of it), the leaves below them with the worker that
//            owns each, and every step a sample per leaf (wire bytes departed
//            so far, wire bytes queued now), read on the owning worker and
//            summed there per class and band (share_sampler.hpp).
// Modifies:  nothing it is not given; it owns no scheduler and no thread.
// Output:    ModifyClass changes (rate and ceil of a class's local copy on
//            one worker) for the caller to apply on that worker.
// Params:    RateShareConfig (floor, how fast backlog counts as demand).
// Live:      classes and members may be added between steps (every
//            worker's reading then starts over: the next step sees backlog
//            but no arrivals); a class's rate and ceil may change
//            (set_class). Nothing is removed yet: a member whose leaf is
//            gone reads as idle.
//
// The step. Each worker's demand on a class, per priority band, is what
// arrived at its leaves below the class during the last period (departed
// bytes plus the change in backlog) as a rate, plus its backlog drained
// over `drain_us`. The class's rate is then handed out in the order HTB
// serves its children: first each band's demand up to the assured rates of
// the worker's leaves in it; then what is left by priority, band 0 first,
// max-min fair by the leaves' weights among the workers within a band;
// then anything no one asked for in proportion to demand. Every worker
// keeps a floor (`floor_fraction` of the rate split equally), taken off the
// top before anything else is handed out, so the local rates always sum to
// exactly the class's rate, and the same for its ceil (split the same way
// with the ceil as capacity, never below the local rate).
//
// Each copy's balance is kept as its bucket keeps it: what it was given
// minus what its worker sent below the class, at most one bucket's worth.
// A leaf sending on its own assured rate does not wait for its ancestors'
// tokens (HTB), and a light worker's demand read over a period shorter
// than a packet is spiky, so a worker can send more than its share of the
// class; while it has nothing queued that debt counts as its demand at the
// next steps (up to its band's fair share), which is what keeps the
// long-run sum of all workers' departures at the class's rate. A credit
// (tokens a worker was given and did not spend) stays in its bucket, is
// kept across rate changes (Scheduler::apply rescales saved bytes) and is
// taken off its demand while it has nothing queued (a worker with a queue
// spends what its bucket holds at once): tokens are never moved between
// workers, and a worker that just went idle is given next to nothing at the
// next step but still sends the first packets that come from what it saved.
//
// Cost per step: O(members) to read and sum demand, paid by each worker for
// its own leaves (its ShareSampler) when the workers sum their own; then
// O(classes x workers x bands) to combine their cells, and O(classes x
// workers x (bands + workers log workers)) to divide the classes anyone wants
// something of (an idle class keeps the division it has, which is the one
// it would get again); no allocation after the first step following a
// change in classes or members.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "shaper/change.hpp"
#include "shaper/config.hpp"
#include "shaper/scheduler.hpp"
#include "shaper/share_sampler.hpp"

namespace sluice::shaper {

struct RateShareConfig {
    uint64_t tick_hz = 1'000'000'000;  // of the `now` passed to step()
    // A backlog counts as the demand to send it within this time: shorter
    // reacts harder to a queue, longer lets a paced worker keep a packet
    // waiting without being handed much of the link for it.
    uint32_t drain_us = 500;
    // The share of each class's rate (and ceil) kept back as floors, split
    // equally among the workers: a worker that starts receiving is never
    // at zero before the next step. It is what an idle worker holds
    // unused, so it bounds the error an idle worker costs.
    double floor_fraction = 1.0 / 2048;
    // What a local copy's bucket holds at most (the scheduler's default
    // burst: this long at its rate, plus one frame), mirrored so that a
    // worker's saved tokens are known without reading its scheduler.
    uint32_t burst_us = 1'000;
    uint32_t mtu = 1'514;
};

// A class that has a local copy on every worker. ceil 0: = rate.
struct SharedClass {
    uint32_t id = 0;
    uint64_t rate = 0;
    uint64_t ceil = 0;
};

// A leaf below a shared class, owned by one worker. Its rate, ceil and
// weight are its configured ones (ceil 0: none below the class's; pass the
// lowest ceil between the leaf and the shared class); prio picks the band
// its demand counts in. A queue never makes a leaf want more than its ceil,
// which it could not send: that share would be lost to everyone.
struct ShareMember {
    uint32_t shared_id = 0;
    uint32_t worker = 0;
    uint32_t leaf_id = 0;
    uint8_t prio = 0;
    uint64_t rate = 0;
    uint32_t weight = 1;
    uint64_t ceil = 0;
};

// A change of one class's copy on one worker.
struct LocalChange {
    uint32_t worker = 0;
    ModifyClass change;
};

class RateShare {
public:
    RateShare(const RateShareConfig& config, uint32_t workers);

    // ---- setting up (control path; may allocate) ----

    // Refuses a rate too small to give every worker kMinRate.
    Status add_class(const SharedClass& c);
    // A class's new rate and ceil; the next step divides them.
    Status set_class(const SharedClass& c);
    Status add_member(const ShareMember& m);
    uint32_t workers() const { return workers_; }
    // The shared classes' ids, in the order they were added.
    std::vector<uint32_t> class_ids() const {
        std::vector<uint32_t> ids;
        for (const ClassEntry& c : classes_) ids.push_back(c.cls.id);
        return ids;
    }

    // The changes that set every local copy to an equal split: what the
    // workers' schedulers should be built with before the first step.
    std::span<const LocalChange> initial_split();
    // Numbers the members and builds the samplers (done by the first call
    // below that needs them): call it before handing samplers to workers.
    void prepare() {
        if (!indexed_) index_members();
    }

    // ---- every period, single-threaded ----

    // Reads the samples of worker `w`'s members from its scheduler (call it
    // where reading that scheduler is safe: on its worker, between bursts).
    void read(uint32_t w, const Scheduler& s);
    // Or the caller writes them: one per member of worker w, in the order
    // members_of(w) lists them (empty for a worker out of range).
    std::span<LeafSample> samples_of(uint32_t w);
    std::span<const uint32_t> members_of(uint32_t w);  // member leaf ids

    // Sums every worker's samples, then divides every class again; returns
    // the changes to apply (only the copies whose rate or ceil moved). The
    // span is valid until the next call.
    std::span<const LocalChange> step(uint64_t now);

    // ---- every period, each worker summing its own ----

    // Worker w's sampler (touched by worker w alone; w < workers()). Call
    // prepare() before sharing the RateShare among threads.
    ShareSampler& sampler(uint32_t w) {
        prepare();
        return samplers_[w];
    }
    // Where the stepping thread puts what worker w's sampler last summed
    // (its cells(), same order) before step_summed().
    std::span<DemandCell> cells_of(uint32_t w);
    // Copies worker w's sampler's last sums into cells_of(w): for the
    // stepping thread's own worker, or with every thread stopped.
    void take_sums(uint32_t w);
    // step() without the summing: divides from cells_of(w) as they are.
    std::span<const LocalChange> step_summed(uint64_t now);
    // Makes the next step emit every copy's rate and ceil, moved or not:
    // for a caller whose copies someone else may have set meanwhile (a
    // rebalancer taking over the copies an older one divided).
    void resend_all() { resend_ = true; }
    // Whether no worker wanted anything of any class at the last step: the
    // division in force is the one an idle tree keeps, and stepping again
    // changes nothing until some worker sends. False before the first step.
    bool idle() const {
        for (const ClassEntry& c : classes_)
            if (!c.idle_split) return false;
        return true;
    }

    // What the last step (or initial_split) gave worker w of class `id`.
    uint64_t local_rate(uint32_t id, uint32_t w) const;
    uint64_t local_ceil(uint32_t id, uint32_t w) const;

private:
    struct ClassEntry {
        SharedClass cls;
        std::vector<uint64_t> rate;  // per worker, as last handed out
        std::vector<uint64_t> ceil;
        // The last division was of a class no worker wanted anything of:
        // the same division again while that lasts (skipped, see step()).
        bool idle_split = false;
    };
    struct MemberEntry {
        ShareMember m;
        uint32_t cls = 0;  // index in classes_
    };

    void index_members();
    int class_index(uint32_t id) const;
    // Fills demand_/assured_/weight_ and the per-copy sums from the cells.
    void gather();
    // Divides `capacity` of class k among workers from demand_ into out.
    void settle(uint32_t k, double elapsed_s);
    void divide(uint32_t k, uint64_t capacity, std::vector<uint64_t>& out);
    void emit(uint32_t k, const std::vector<uint64_t>& rate, const std::vector<uint64_t>& ceil);
    // Whether new_rate_/new_ceil_ move some copy of class k by more than
    // 1/4096 of the class (or the least rate a class may have).
    bool moved(uint32_t k) const;

    RateShareConfig config_;
    uint32_t workers_;
    std::vector<ClassEntry> classes_;
    std::vector<MemberEntry> members_;
    std::vector<ShareSampler> samplers_;  // one per worker
    // Every worker's cells, worker after worker: cell_first_[w] is where
    // worker w's begin (workers_ + 1 offsets); per cell its class index,
    // band, what was received of it, and its departed bytes at the last step.
    std::vector<uint32_t> cell_first_;
    std::vector<uint32_t> cell_class_;
    std::vector<uint8_t> cell_band_;
    std::vector<DemandCell> received_;
    std::vector<uint64_t> last_departed_;
    bool indexed_ = false;

    // Scratch, per class x worker x band (flat), reused every step.
    std::vector<double> demand_;
    std::vector<double> assured_;
    std::vector<double> weight_;
    std::vector<double> used_;     // per class x worker: bytes sent last period
    std::vector<double> balance_;  // per class x worker: given - sent, bytes
    std::vector<double> queued_;   // per class x worker: backlog now, bytes
    std::vector<uint8_t> sent_now_;  // per class x worker: sent last period
    std::vector<uint8_t> band_;    // per class x worker: band it last sent in
    std::vector<double> alloc_;       // per worker
    std::vector<double> excess_;      // per worker
    std::vector<double> band_w_;      // per worker
    std::vector<uint32_t> sorted_;    // per worker
    std::vector<uint64_t> new_rate_;  // per worker
    std::vector<uint64_t> new_ceil_;
    std::vector<LocalChange> changes_;
    uint64_t last_step_ = 0;
    bool stepped_ = false;
    bool resend_ = false;
};

}  // namespace sluice::shaper
