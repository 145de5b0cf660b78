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
// Interim rule, until the demand-driven rebalancer (shaper/rate_share) is
// wired: each worker's copy of a shared class gets rate/N and ceil/N
// (equal_split), so the aggregate never exceeds the configured rate, at the
// price of an idle worker's share not being lent to a busy one.
//
// Where the rebalancer plugs in: it replaces equal_split's arithmetic with
// its own division (LocalRates per worker) and sends the result with
// PolicyRuntime::set_local_rates; it reads each worker's demand for the
// shared classes with PolicyRuntime::demand (single-writer counters of
// each worker's scheduler, read without locks).
#pragma once

#include <cstdint>
#include <vector>

#include <memory>

#include "common/result.hpp"
#include "control/policy/policy.hpp"
#include "shaper/change.hpp"
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

// The interim division: rate/N and ceil/N (at least 1 byte/s each).
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

}  // namespace sluice::runtime
