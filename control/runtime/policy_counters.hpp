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
    // Per direction: its schedulers, one per worker (none: not shaped),
    // the scheduler id of each class number, and each worker's delay windows.
    // A class's counters are summed over the workers; its delays are those
    // of the worker that owns it (dataplane::owner_of), the only one that
    // queues its packets.
    std::array<const std::vector<const shaper::Scheduler*>*, 2> schedulers{};
    std::array<const std::vector<uint32_t>*, 2> shaper_ids{};
    std::array<const std::vector<DelayWindows>*, 2> windows{};
};

// The plain per-class counters of counters_json(), for the renderers
// (Prometheus families sluice_class_<metric>, telemetry DIRECTION_CLASS_<key>).
struct ClassField {
    const char* key;     // in counters_json()'s class objects
    const char* metric;  // Prometheus family after "sluice_class_"
    const char* type;    // counter or gauge
    const char* help;
};
inline constexpr ClassField kClassFields[] = {
    {"classified_packets", "classified_packets_total", "counter", "packets the classifier put in a class"},
    {"classified_bytes", "classified_bytes_total", "counter", "frame bytes the classifier put in a class"},
    {"sent_packets", "sent_packets_total", "counter", "packets a class sent"},
    {"sent_bytes", "sent_bytes_total", "counter", "frame bytes a class sent"},
    {"backlog_packets", "backlog_packets", "gauge", "packets waiting in a class"},
    {"backlog_bytes", "backlog_bytes", "gauge", "frame bytes waiting in a class"},
};

// Read while the workers run: single-writer counters, a snapshot that may
// be a packet or two out of step, never torn apart.
control::json counters_json(const CounterSources& sources, std::chrono::steady_clock::time_point now);

}  // namespace sluice::runtime
