// How a direction's class tree is divided among its workers (--workers N).
//
// Every worker's scheduler holds the whole tree. A leaf is owned by one
// worker (dataplane::owner_of: its scheduler id modulo N) and only that
// worker's copy of it ever queues packets, so a leaf keeps its configured
// rate and ceil on every worker. An inner class (the link root, a plan, a
// department) has a copy on every worker, each a bucket of its own: left
// at the configured rate, N copies would let N times the rate through. These
// classes are "shared".
//
// The rebalancer (shaper/rate_share.hpp) divides each shared class among
// the workers by their demand: build_share_link() gives it the tree's
// shared classes and, for each, every leaf below it with the worker that
// owns it; worker 0 of the direction steps it (dataplane/pipeline/
// share_link.hpp). Until a worker has a link (the schedulers as built, and
// a tree change between the old link's retirement and the new one's
// adoption) each copy of a shared class holds an equal split, rate/N and
// ceil/N (equal_split), so the copies never sum to more than the class.
#pragma once

#include <cstdint>
#include <vector>

#include <memory>

#include "common/result.hpp"
#include "control/policy/policy.hpp"
#include "dataplane/pipeline/share_link.hpp"
#include "shaper/change.hpp"
#include "shaper/rate_share.hpp"
#include "shaper/scheduler.hpp"

namespace sluice::runtime {

// By scheduler id: 1 for the inner classes of `tree` (ids[class number]).
std::vector<uint8_t> shared_classes(const policy::ClassTree& tree, const std::vector<uint32_t>& ids);

// The rate and ceil one worker's copy of a shared class gets, in bytes/s.
struct LocalRate {
    uint32_t id = 0;
    uint64_t rate = 0;
    uint64_t ceil = 0;
};

// The split without a rebalancer: rate/N and ceil/N (at least 1 byte/s each).
LocalRate equal_split(uint32_t id, uint64_t rate, uint64_t ceil, unsigned workers);

// `changes` as worker `worker` of `workers` applies them: the rate and ceil
// of every shared class (shared[id] != 0) divided by equal_split. With one
// worker, `changes` unchanged.
std::vector<shaper::ClassChange> local_changes(const std::vector<shaper::ClassChange>& changes,
                                               const std::vector<uint8_t>& shared, unsigned workers);

// A ModifyClass per shared class of `tree` setting its equal split: applied
// to a freshly built scheduler before its worker starts.
std::vector<shaper::ClassChange> initial_split(const policy::ClassTree& tree, const std::vector<uint32_t>& ids,
                                               unsigned workers);

// One scheduler per worker, each with the whole tree (class numbers as
// ids) and its equal split of the shared classes applied.
Result<std::vector<std::unique_ptr<shaper::Scheduler>>> build_worker_schedulers(const policy::ClassTree& tree,
                                                                                 uint64_t tick_hz,
                                                                                 uint32_t packet_capacity,
                                                                                 uint64_t now, unsigned workers);

// The rebalancer of `tree` (scheduler ids `ids`, as numbered_ids() when
// empty) for `workers` workers: every inner class is shared, and each leaf
// is a member of every inner class above it, owned by worker
// dataplane::owner_of(its id). Refused when a shared class's rate cannot
// give every worker the least rate a class may have.
Result<std::unique_ptr<shaper::RateShare>> build_rate_share(const policy::ClassTree& tree,
                                                            const std::vector<uint32_t>& ids, unsigned workers,
                                                            const shaper::RateShareConfig& config);

// The same, wrapped in the link its workers exchange samples and rates
// through; `period_us` between steps, the TSC at `tsc_hz`. Null with one
// worker (nothing is shared).
Result<std::unique_ptr<dataplane::ShareLink>> build_share_link(const policy::ClassTree& tree,
                                                               const std::vector<uint32_t>& ids, unsigned workers,
                                                               uint32_t period_us, uint64_t tsc_hz);

}  // namespace sluice::runtime
