#include "classifier/classify_stage.hpp"

#include "classifier/dscp_marker.hpp"

namespace sluice::classifier {

ClassifyStage::ClassifyStage(Side ingress, unsigned worker)
    : side_(ingress), dir_(direction_of(ingress)), worker_(worker), scratch_(std::make_unique<ClassifyScratch>()) {}

StageResult ClassifyStage::process(const ClassifierTables& t, rte_mbuf** pkts, dataplane::PacketMeta* meta,
                                   uint32_t* class_out, uint32_t n, uint64_t now, rte_mbuf** dropped) {
    StageResult res;
    t.rules().classify(side_, meta, n, rule_, *scratch_);
    DirectionRuntime& rt = t.runtime(dir_, worker_);
    const uint32_t fallback = t.default_class(dir_);
    const auto d = static_cast<unsigned>(dir_);

    for (uint32_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        dataplane::PacketMeta& pm = meta[i];
        uint32_t cls = fallback;
        const uint32_t rule = rule_[i];
        if (rule == kNoRule) {
            ++rt.default_hits;
            const int16_t mark = t.class_dscp(dir_, cls);
            if (mark != kKeepDscp && pm.is_ip()) {
                set_dscp(rte_pktmbuf_mtod(m, uint8_t*) + pm.l3_offset, pm, static_cast<uint8_t>(mark));
            }
        } else {
            ++rt.rule_hits[rule];
            const RuleAction& a = t.action(rule);
            if (a.class_id[d] != kNoClass) cls = a.class_id[d];
            Color color = Color::green;
            if (a.meter != kNoMeter) {
                const MeterProfile& prof = t.meter_profile(a.meter);
                // A colour-aware meter reads the mark the packet arrived with.
                const Color pre = prof.params().color_aware ? color_from_dscp(pm.dscp()) : Color::green;
                color = rt.meters[a.meter].check(prof, now, pm.frame_len, pre);
                ++rt.meter_packets[a.meter * 3 + static_cast<unsigned>(color)];
            }
            uint8_t* l3 = rte_pktmbuf_mtod(m, uint8_t*) + pm.l3_offset;
            // The rule's own mark wins over its class's.
            const int16_t mark = a.set_dscp != kKeepDscp ? a.set_dscp : t.class_dscp(dir_, cls);
            if (mark != kKeepDscp) set_dscp(l3, pm, static_cast<uint8_t>(mark));
            if (color != Color::green) {
                const MeterDef& def = t.meter(a.meter);
                const ColorAction& act = color == Color::yellow ? def.yellow : def.red;
                if (act.kind == ColorAction::Kind::drop) {
                    dropped_class_[res.dropped] = t.egress_class(dir_, cls);
                    dropped[res.dropped++] = m;
                    if (color == Color::yellow) ++res.dropped_yellow;
                    continue;
                }
                if (act.kind == ColorAction::Kind::remark) set_dscp(l3, pm, act.dscp);
            }
        }
        ++rt.class_packets[cls];
        rt.class_bytes[cls] += pm.frame_len;
        // Compacted over the packets a meter dropped; until the first, in place.
        if (res.kept != i) {
            pkts[res.kept] = m;
            meta[res.kept] = pm;
        }
        class_out[res.kept] = t.egress_class(dir_, cls);
        ++res.kept;
    }
    return res;
}

void ClassifyStage::classes_of(const ClassifierTables& t, const dataplane::PacketMeta* meta, uint32_t n,
                               uint32_t* class_out) {
    t.rules().classify(side_, meta, n, rule_, *scratch_);
    const uint32_t fallback = t.default_class(dir_);
    const auto d = static_cast<unsigned>(dir_);
    for (uint32_t i = 0; i < n; ++i) {
        uint32_t cls = fallback;
        if (rule_[i] != kNoRule && t.action(rule_[i]).class_id[d] != kNoClass) cls = t.action(rule_[i]).class_id[d];
        class_out[i] = t.egress_class(dir_, cls);
    }
}

}  // namespace sluice::classifier
