#include "control/runtime/policy_views.hpp"

#include <fmt/format.h>

#include <set>
#include <sstream>
#include <vector>

#include "control/policy/dump.hpp"
#include "control/policy/loader.hpp"

namespace sluice::runtime {
namespace {

// What a meter does with a colour: pass, drop or remark:DSCP.
std::string verdict_text(const policy::ColourAction& a) {
    if (a.verdict == policy::Verdict::remark) return fmt::format("remark:{}", static_cast<int>(a.dscp));
    return a.verdict == policy::Verdict::drop ? "drop" : "pass";
}

const char* queue_name(policy::QueueKind k) {
    return k == policy::QueueKind::fifo ? "fifo" : k == policy::QueueKind::codel ? "codel" : "fq_codel";
}

}  // namespace

std::string rate_text(uint64_t bytes_per_s) {
    const double bits = static_cast<double>(bytes_per_s) * 8;
    if (bits >= 1e9) return fmt::format("{:g}gbit", bits / 1e9);
    if (bits >= 1e6) return fmt::format("{:g}mbit", bits / 1e6);
    if (bits >= 1e3) return fmt::format("{:g}kbit", bits / 1e3);
    return fmt::format("{:g}bit", bits);
}

control::json classes_json(const policy::Policy& p) {
    using control::json;
    json out = json::object();
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        const auto& tree = p.directions[d];
        json list = json::array();
        for (const auto& c : tree.classes) {
            json j{{"id", c.id},          {"name", c.name},          {"parent", c.parent == policy::kNoClass ? json() : json(c.parent)},
                   {"depth", c.depth},    {"rate", rate_text(c.rate)}, {"ceil", rate_text(c.ceil)},
                   {"rate_bytes_per_s", c.rate}, {"ceil_bytes_per_s", c.ceil}, {"burst", c.burst},
                   {"cburst", c.cburst},  {"priority", c.priority},  {"weight", c.weight},
                   {"default", c.id == tree.default_class}};
            if (c.is_leaf()) j["queue"] = queue_name(c.queue.kind);
            if (c.set_dscp) j["set_dscp"] = *c.set_dscp;
            list.push_back(j);
        }
        out[policy::direction_name(static_cast<policy::Direction>(d))] =
            json{{"link", rate_text(tree.link.rate)}, {"classes", list}};
    }
    return out;
}

control::json rules_json(const policy::Policy& p) {
    using control::json;
    json list = json::array();
        for (size_t i = 0; i < p.rules.size(); ++i) {
        const auto& r = p.rules[i];
        json j{{"index", i + 1}, {"name", r.name}, {"line", r.line}};
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
            const uint32_t c = r.action.class_id[d];
            if (c != policy::kNoClass) j[std::string("class_") + policy::direction_name(static_cast<policy::Direction>(d))] = p.directions[d].classes[c].name;
        }
        if (r.action.set_dscp) j["set_dscp"] = *r.action.set_dscp;
        if (r.action.meter != policy::kNoMeter) j["meter"] = p.meters[r.action.meter].name;
        list.push_back(j);
    }
    return list;
}

control::json meters_json(const policy::Policy& p) {
    using control::json;
    json list = json::array();
        for (const auto& m : p.meters) {
        list.push_back({{"name", m.name},
                        {"kind", m.kind == policy::MeterKind::srtcm ? "srtcm" : "trtcm"},
                        {"mode", m.mode == policy::ColourMode::blind ? "blind" : "aware"},
                        {"cir", rate_text(m.cir)}, {"cbs", m.cbs}, {"ebs", m.ebs},
                        {"pir", rate_text(m.pir)}, {"pbs", m.pbs},
                        {"yellow", verdict_text(m.yellow)}, {"red", verdict_text(m.red)}});
    }
    return list;
}

Result<control::json> policy_diff(const policy::Policy& running, const std::string& text, const std::string& name) {
    const auto other = policy::load_string(text, name);
    const std::string& target = name;
    if (!other.ok()) {
        std::string all;
        for (const auto& d : other.diagnostics) all += (all.empty() ? "" : "\n") + policy::format(d);
        return Error{fmt::format("{} does not load:\n{}", target, all)};
    }
    auto lines = [](const std::string& text) {
        std::vector<std::string> out;
        std::istringstream in(text);
        for (std::string l; std::getline(in, l);) out.push_back(l);
        return out;
    };
    const auto in_running = lines(policy::dump(running));
    const auto in_file = lines(policy::dump(*other.policy));
    const std::set<std::string> r_set(in_running.begin(), in_running.end()), f_set(in_file.begin(), in_file.end());
    control::json running_only = control::json::array(), file_only = control::json::array();
    for (const auto& l : in_running) {
        if (!f_set.count(l)) running_only.push_back(l);
    }
    for (const auto& l : in_file) {
        if (!r_set.count(l)) file_only.push_back(l);
    }
    return control::json{{"file", target}, {"same", running_only.empty() && file_only.empty()},
                         {"running_only", running_only}, {"file_only", file_only}};
}

}  // namespace sluice::runtime
