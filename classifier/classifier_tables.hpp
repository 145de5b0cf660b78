// Everything the classify stage needs, compiled into one immutable object:
// the rule set, each rule's actions, the meters, the default classes.
//
// Built by the control thread, published to the workers by pointer
// (TablePublisher), read by them without locks, freed after a grace period.
// The only mutable part is each direction's run-time state (meter buckets,
// counters), written by the one lcore that owns that direction and read by
// the control thread for statistics.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "classifier/meter.hpp"
#include "classifier/rule_set.hpp"
#include "classifier/rule_spec.hpp"
#include "common/result.hpp"

namespace sluice::classifier {

// Egress directions: upload leaves by the WAN (entered by the LAN side).
enum class Direction : uint8_t { upload = 0, download = 1 };
constexpr Direction direction_of(Side ingress) {
    return ingress == Side::lan ? Direction::upload : Direction::download;
}

inline constexpr uint32_t kNoClass = UINT32_MAX;
inline constexpr uint32_t kNoMeter = UINT32_MAX;
inline constexpr int16_t kKeepDscp = -1;

struct RuleAction {
    uint32_t class_id[2] = {kNoClass, kNoClass};  // per direction; kNoClass: the default class
    int16_t set_dscp = kKeepDscp;
    uint32_t meter = kNoMeter;
};

struct ColorAction {
    enum class Kind : uint8_t { pass, remark, drop } kind = Kind::pass;
    uint8_t dscp = 0;  // for remark
};

struct MeterDef {
    MeterParams params;
    ColorAction yellow;
    ColorAction red{ColorAction::Kind::drop, 0};
};

struct ClassifierSpec {
    std::vector<RuleSpec> rules;
    std::vector<RuleAction> actions;  // one per rule
    std::vector<MeterDef> meters;
    uint32_t default_class[2] = {0, 0};
    uint32_t class_count[2] = {1, 1};
    // Per direction and class: the DSCP a class re-marks its packets to, or
    // kKeepDscp. A rule's own set_dscp wins over its class's. Empty: none.
    std::vector<int16_t> class_dscp[2];
    // Per direction and class: the id the egress scheduler knows the class
    // by, which survives policy reloads while class numbers shift. Empty:
    // the class number itself.
    std::vector<uint32_t> egress_class[2];
    // Per direction, by scheduler id: the worker that owns the class (with
    // several workers per direction; see owner()). Published with the
    // tables, so a packet's class and its owner always come from the same
    // publication.
    std::vector<uint8_t> egress_owner[2];
    // The TSC rate the caller keeps time by (0: DPDK's); see MeterProfile::make.
    uint64_t tick_hz = 0;
    // Workers per direction that classify with these tables: each gets its
    // own run-time state (meters and counters), so none is written by two
    // lcores.
    unsigned workers = 1;
};

// Per direction and worker: written by that worker's lcore only.
struct alignas(64) DirectionRuntime {
    std::vector<Meter> meters;
    std::vector<uint64_t> rule_hits;
    std::vector<uint64_t> class_packets;
    std::vector<uint64_t> class_bytes;
    std::vector<uint64_t> meter_packets;  // meters * 3: green, yellow, red
    uint64_t default_hits = 0;
};

class ClassifierTables {
public:
    // Checks that every action refers to a class and meter that exist;
    // `now` (TSC) starts the meters' clocks. Needs the EAL.
    static Result<std::shared_ptr<const ClassifierTables>> compile(const ClassifierSpec& spec, uint64_t now);
    // The same with `rules` compiled beforehand from spec.rules (RuleSet::
    // compile, the costly part for big rule lists), so that it can be built
    // on another thread while the running tables stay in use.
    static Result<std::shared_ptr<const ClassifierTables>> compile(const ClassifierSpec& spec, uint64_t now,
                                                                  std::shared_ptr<const RuleSet> rules);

    const RuleSet& rules() const { return *rules_; }
    const RuleAction& action(uint32_t rule) const { return actions_[rule]; }
    const MeterProfile& meter_profile(uint32_t m) const { return profiles_[m]; }
    const MeterDef& meter(uint32_t m) const { return meters_[m]; }
    uint32_t default_class(Direction d) const { return default_class_[static_cast<unsigned>(d)]; }
    uint32_t class_count(Direction d) const { return class_count_[static_cast<unsigned>(d)]; }
    int16_t class_dscp(Direction d, uint32_t cls) const { return class_dscp_[static_cast<unsigned>(d)][cls]; }
    uint32_t egress_class(Direction d, uint32_t cls) const { return egress_class_[static_cast<unsigned>(d)][cls]; }
    // The worker that owns scheduler class `id` (the spec's egress_owner),
    // or kNoOwner for an id it does not name.
    static constexpr unsigned kNoOwner = 0xff;
    unsigned owner(Direction d, uint32_t id) const {
        const auto& o = egress_owner_[static_cast<unsigned>(d)];
        return id < o.size() ? o[id] : kNoOwner;
    }
    // Worker `worker`'s state for direction d, written by its lcore only. A
    // meter is one per worker: with addresses hashed to queues, one
    // subscriber's packets of a direction reach one worker.
    DirectionRuntime& runtime(Direction d, unsigned worker = 0) const {
        return runtime_[static_cast<unsigned>(d)][worker];
    }
    unsigned workers() const { return static_cast<unsigned>(runtime_[0].size()); }
    // The counters of direction d summed over its workers (meters left empty):
    // what the control side reports.
    DirectionRuntime counts(Direction d) const;
    // Which publication these tables are (1, 2, ...; 0: never published):
    // set by the TablePublisher. A worker tells new tables from old by it,
    // not by address, which a later generation may reuse.
    uint64_t generation() const { return generation_; }

private:
    friend class TablePublisher;
    mutable uint64_t generation_ = 0;
    std::shared_ptr<const RuleSet> rules_;
    std::vector<RuleAction> actions_;
    std::vector<MeterDef> meters_;
    std::vector<MeterProfile> profiles_;
    uint32_t default_class_[2] = {0, 0};
    uint32_t class_count_[2] = {1, 1};
    std::vector<int16_t> class_dscp_[2];  // class_count entries each
    std::vector<uint32_t> egress_class_[2];  // likewise
    std::vector<uint8_t> egress_owner_[2];   // by scheduler id
    mutable std::vector<DirectionRuntime> runtime_[2];  // one per worker
};

}  // namespace sluice::classifier
