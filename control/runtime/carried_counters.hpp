// Classifier counters of tables that were replaced, by name: each
// generation of tables counts from zero, so a class's, rule's or meter's
// counts run on across reloads and edits only if the runtime keeps what
// the old tables counted. Names the running policy no longer has are
// forgotten: one that comes back later starts from zero.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "classifier/classifier_tables.hpp"
#include "control/policy/policy.hpp"

namespace sluice::runtime {

class CarriedCounters {
public:
    // Adds what `old` (compiled from `was`) counted, then forgets the names
    // `next` does not have. Its cost grows with the names that counted
    // something, not with the size of either policy: it runs while a load
    // holds the runtime's lock.
    void carry(const classifier::ClassifierTables& old, const policy::Policy& was, const policy::Policy& next);

    std::array<uint64_t, 2> class_counts(size_t direction, const std::string& name) const;  // packets, bytes
    uint64_t rule_hits(size_t direction, const std::string& name) const;
    std::array<uint64_t, 3> meter_counts(size_t direction, const std::string& name) const;  // green, yellow, red
    uint64_t unmatched(size_t direction) const { return by_direction_[direction].unmatched; }

private:
    struct Kept {
        std::unordered_map<std::string, std::array<uint64_t, 2>> classes;
        std::unordered_map<std::string, uint64_t> rules;
        std::unordered_map<std::string, std::array<uint64_t, 3>> meters;
        uint64_t unmatched = 0;
    };
    std::array<Kept, policy::kDirectionCount> by_direction_;
};

}  // namespace sluice::runtime
