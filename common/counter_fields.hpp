// One table per counters struct: each plain 64-bit counter once, with the
// name it has in the log line, the JSON of `stats`, DPDK telemetry and the
// Prometheus family it feeds. Every renderer walks the table, so a counter
// added to the struct and the table shows up in all four at once.
#pragma once

#include <cstdint>

namespace sluice {

template <typename Counters>
struct CounterField {
    const char* name;          // key in the log line, JSON and telemetry
    uint64_t Counters::*member;
    const char* metric;        // Prometheus family after the struct's prefix
    const char* help;          // Prometheus HELP text
};

}  // namespace sluice
