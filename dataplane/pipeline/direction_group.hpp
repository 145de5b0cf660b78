// The workers of one direction seen as one (--workers N gives each
// direction N Directions, one per worker): what the control side reads for
// stats, Prometheus, telemetry and the log. Counters are summed over the
// workers on demand, from their single-writer fields, without locks.
#pragma once

#include <string>
#include <vector>

#include "dataplane/pipeline/direction.hpp"

namespace sluice::dataplane {

class DirectionGroup {
public:
    DirectionGroup(std::string name, std::vector<const Direction*> workers)
        : name_(std::move(name)), workers_(std::move(workers)) {}

    const std::string& name() const { return name_; }
    // Index = worker; each reads its own rx queue and writes its own tx queue.
    const std::vector<const Direction*>& workers() const { return workers_; }

    DirectionCounters counters() const {
        DirectionCounters sum;
        for (const Direction* d : workers_) {
            const DirectionCounters& c = d->counters();
            for (const auto& f : kDirectionFields) sum.*f.member += c.*f.member;
            sum.busy_cycles += c.busy_cycles;
            sum.stalled_cycles += c.stalled_cycles;
            for (unsigned r = 0; r < kDropReasonCount; ++r) sum.drops[r] += c.drops[r];
            for (unsigned e = 0; e < kParseErrorCount; ++e) sum.malformed_by_error[e] += c.malformed_by_error[e];
        }
        return sum;
    }
    uint32_t queued() const {
        uint32_t n = 0;
        for (const Direction* d : workers_) n += d->queued();
        return n;
    }

private:
    std::string name_;
    std::vector<const Direction*> workers_;
};

}  // namespace sluice::dataplane
