// The classify stage of one direction: rules, actions and policers applied to
// a burst, between parsing and the egress queues.
//
// Expects:  parsed metadata for each packet of the burst (malformed frames
//           already removed), the current tables, `now` read once per burst.
// Modifies: the DSCP of packets whose rule or meter colour says so (IPv4
//           checksum kept valid); the direction's counters in the tables.
// Outputs:  each kept packet's class as the egress scheduler knows it
//           (ClassifierTables::egress_class), compacted in place; packets that a
//           meter drops, in `dropped`, for the caller to free and count.
// Changes:  the tables may be replaced between bursts; the stage holds no
//           state of its own beyond scratch space.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <memory>

#include "classifier/classifier_tables.hpp"
#include "dataplane/packet_meta.hpp"

namespace sluice::classifier {

struct StageResult {
    uint32_t kept = 0;
    uint32_t dropped = 0;         // entries written to `dropped`
    uint32_t dropped_yellow = 0;  // of which coloured yellow, the rest red
};

class ClassifyStage {
public:
    // `worker`: which of the direction's workers runs this stage; it
    // writes that worker's run-time state of the tables only.
    explicit ClassifyStage(Side ingress, unsigned worker = 0);

    StageResult process(const ClassifierTables& tables, rte_mbuf** pkts, dataplane::PacketMeta* meta,
                        uint32_t* class_out, uint32_t n, uint64_t now, rte_mbuf** dropped);

    // The egress class `tables` give each of n packets, as process() would,
    // and nothing else: no counter, meter or mark is touched. For packets
    // that were classified once already (queued when the tables changed).
    void classes_of(const ClassifierTables& tables, const dataplane::PacketMeta* meta, uint32_t n,
                    uint32_t* class_out);

    // After process(): the egress class of each packet in `dropped`, so the
    // caller can count the meter's drops against the class they were for.
    const uint32_t* dropped_classes() const { return dropped_class_; }

    Side ingress() const { return side_; }
    Direction direction() const { return dir_; }

private:
    Side side_;
    Direction dir_;
    unsigned worker_ = 0;
    std::unique_ptr<ClassifyScratch> scratch_;
    uint32_t rule_[kMaxClassifyBurst];
    uint32_t dropped_class_[kMaxClassifyBurst];
};

}  // namespace sluice::classifier
