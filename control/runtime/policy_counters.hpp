// The counters of the running policy by name, as `stats` returns them:
// per class what the classifier sent it and what its scheduler did with
// it (sent, dropped by reason, backlog, delay over its lifetime and over
// a recent window), per rule its hits, per meter its colours.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <vector>

#include "classifier/classifier_tables.hpp"
#include "control/policy/policy.hpp"
#include "control/runtime/carried_counters.hpp"
#include "control/runtime/delay_windows.hpp"
#include "control/server/protocol.hpp"
#include "shaper/scheduler.hpp"

namespace sluice::runtime {

struct CounterSources {
    const policy::Policy& policy;
    const classifier::ClassifierTables& tables;  // the running ones, compiled from `policy`
    const CarriedCounters& carried;
    // Per direction: its scheduler (null: not shaped), the scheduler id of
    // each class number, and its delay windows.
    std::array<const shaper::Scheduler*, 2> schedulers{};
    std::array<const std::vector<uint32_t>*, 2> shaper_ids{};
    std::array<const DelayWindows*, 2> windows{};
};

// Read while the workers run: single-writer counters, a snapshot that may
// be a packet or two out of step, never torn apart.
control::json counters_json(const CounterSources& sources, std::chrono::steady_clock::time_point now);

}  // namespace sluice::runtime
