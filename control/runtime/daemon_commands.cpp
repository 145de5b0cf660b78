#include "control/runtime/daemon_commands.hpp"

#include <rte_cycles.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <unordered_map>

namespace sluice::runtime {

using namespace dataplane;

using control::json;

json direction_json(const DirectionGroup& d) {
    const DirectionCounters c = d.counters();
    json drops = json::object();
    for (unsigned r = 0; r < kDropReasonCount; ++r) drops[drop_reason_name(static_cast<DropReason>(r))] = c.drops[r];
    json malformed = json::object();
    for (unsigned e = 1; e < kParseErrorCount; ++e) {
        malformed[parse_error_name(static_cast<ParseError>(e))] = c.malformed_by_error[e];
    }
    json out{{"name", d.name()}};
    for (const auto& f : kDirectionFields) out[f.name] = c.*f.member;
    out["dropped"] = c.dropped();
    out["drops"] = drops;
    out["malformed"] = malformed;
    out["queued"] = d.queued();
    // Keyed by index (an object, not a list) so `stats reset` moves their
    // zero points too.
    json workers = json::object();
    for (size_t w = 0; w < d.workers().size(); ++w) {
        const Direction& one = *d.workers()[w];
        const DirectionCounters& k = one.counters();
        workers[std::to_string(w)] = json{{"rx_packets", k.rx_packets},     {"tx_packets", k.tx_packets},
                                          {"handoffs_out", k.handoffs_out}, {"handoffs_in", k.handoffs_in},
                                          {"busy_cycles", k.busy_cycles},   {"stalls", k.stalls},
                                          {"stalled_cycles", k.stalled_cycles}, {"queued", one.queued()}};
    }
    out["workers"] = std::move(workers);
    out["tsc_hz"] = rte_get_tsc_hz();
    return out;
}

json port_json(const Port& p, const ExceptionPort* tap) {
    const PortStats s = p.stats();
    json out{{"role", p.role()}, {"name", p.name()}, {"driver", p.driver()}, {"link", p.link_status()}};
    for (const auto& f : kPortFields) out[f.name] = s.*f.member;
    if (const auto* program = p.management()) {
        const bpf::ManagementCounters c = program->counters();
        json xdp{{"program_id", program->program_id()}};
        for (const auto& f : bpf::kManagementProgramFields) xdp[f.name] = c.*f.member;
        out["xdp"] = std::move(xdp);
    }
    if (tap != nullptr) {
        const ExceptionStats st = tap->stats();
        json exception{{"interface", tap->interface()}};
        for (const auto& f : kExceptionFields) exception[f.name] = st.*f.member;
        out["exception"] = std::move(exception);
    }
    return out;
}

namespace {

// The ports as `status` and `show ports` describe them.
json port_list(const DaemonView& view) {
    json ports = json::array();
    for (const Port* p : view.ports) {
        json entry{{"role", p->role()}, {"name", p->name()}, {"driver", p->driver()}, {"link", p->link_status()}};
        if (!p->interface().empty()) entry["interface"] = p->interface();
        // Whether what arrives on the link reaches the port, and why not.
        if (view.watch != nullptr) {
            const PortHealth h = view.watch->health(p);
            entry["delivering"] = h.delivering();
            entry["condition"] = port_condition_name(h.condition);
            if (!h.delivering()) entry["reason"] = h.reason;
        }
        ports.push_back(std::move(entry));
    }
    return ports;
}

// Subtracts a baseline from every unsigned counter found in both objects:
// `stats reset` never writes the workers' counters, it moves the zero point.
json minus(const json& now, const json& base) {
    if (base.is_null()) return now;
    json out = now;
    for (auto& [key, value] : out.items()) {
        // Gauges (what is queued now) and the delay figures are not
        // counters: no baseline for them.
        if (!base.contains(key) || key == "queued" || key.rfind("backlog_", 0) == 0 || key.rfind("delay_", 0) == 0) {
            continue;
        }
        if (value.is_number_unsigned() && base[key].is_number_unsigned()) {
            const auto a = value.get<uint64_t>(), b = base[key].get<uint64_t>();
            value = a >= b ? a - b : 0;
        } else if (value.is_object()) {
            value = minus(value, base[key]);
        }
    }
    return out;
}

// The policy's counters (`stats policy`) less a baseline, matched by
// direction and by class, rule and meter name: a class added since the
// reset counts from its start.
json policy_minus(const json& now, const json& base) {
    if (base.is_null()) return now;
    json out = now;
    for (auto& [dir, d] : out.items()) {
        if (!base.contains(dir)) continue;
        const json& b = base[dir];
        for (const char* family : {"classes", "rules", "meters"}) {
            if (!d.contains(family) || !b.contains(family)) continue;
            std::unordered_map<std::string, const json*> before;
            for (const auto& e : b[family]) before[e.value("name", "")] = &e;
            for (auto& e : d[family]) {
                if (const auto it = before.find(e.value("name", "")); it != before.end()) e = minus(e, *it->second);
            }
        }
        if (d.contains("unmatched") && b.contains("unmatched")) {
            const auto a = d["unmatched"].get<uint64_t>(), z = b["unmatched"].get<uint64_t>();
            d["unmatched"] = a >= z ? a - z : 0;
        }
    }
    return out;
}

// What `stats reset` cannot start again, said in its answer and the docs.
constexpr const char* kNotReset =
    "queueing delay p50/p99 (lifetime figures) and the backlogs (gauges); Prometheus and telemetry counters keep "
    "counting from the start, as counters must";

}  // namespace

void register_daemon_commands(control::CommandTable& table, const DaemonView& view) {
    // The reset baseline belongs to the control thread, like the table itself.
    auto baseline = std::make_shared<json>(json{{"directions", json::array()}, {"ports", json::array()}});

    auto snapshot = [&view] {
        json s{{"directions", json::array()}, {"ports", json::array()}};
        for (const DirectionGroup* d : view.directions) s["directions"].push_back(direction_json(*d));
        for (size_t i = 0; i < view.ports.size(); ++i) {
            const ExceptionPort* tap = view.exception != nullptr ? view.exception->tap(i) : nullptr;
            s["ports"].push_back(port_json(*view.ports[i], tap));
        }
        return s;
    };

    table.add("status", {"version, uptime, ports, lcores", false, [&view](const json&, const control::Peer&) -> Result<json> {
        const json ports = port_list(view);
        const auto up = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - view.started);
        json policy = nullptr;
        if (view.policy != nullptr && view.policy->loaded()) {
            policy = json{{"file", view.policy->path()}, {"checksum", view.policy->checksum()}};
        }
        // Each direction's workers: their load since the start and hand-offs.
        json workers = json::object();
        for (const DirectionGroup* d : view.directions) {
            json list = json::array();
            for (const Direction* one : d->workers()) {
                const DirectionCounters& k = one->counters();
                list.push_back({{"rx_packets", k.rx_packets}, {"tx_packets", k.tx_packets},
                                {"handoffs_out", k.handoffs_out}, {"handoffs_in", k.handoffs_in},
                                {"handoff_ring_full", k.drops[static_cast<unsigned>(DropReason::handoff_ring_full)]},
                                {"busy_cycles", k.busy_cycles}, {"stalls", k.stalls},
                                {"stalled_cycles", k.stalled_cycles}});
            }
            workers[d->name()] = std::move(list);
        }
        // The shared classes' rebalancer of each direction (several workers).
        json rebalance = json::object();
        for (size_t i = 0; i < view.directions.size() && view.policy != nullptr; ++i) {
            const auto r = view.policy->rebalancing(i);
            if (!r.active) continue;
            uint64_t changes = 0;
            for (const Direction* one : view.directions[i]->workers()) changes += one->counters().rebalance_changes;
            rebalance[view.directions[i]->name()] =
                json{{"period_us", r.period_us}, {"interval_us", r.interval_us}, {"steps", r.steps}, {"step_cycles", r.step_cycles},
                     {"local_changes", changes}, {"refused", r.refused}};
        }
        return json{{"version", SLUICE_VERSION}, {"pid", getpid()}, {"uptime_s", up.count()},
                    {"control_lcore", view.control_lcore}, {"worker_lcores", view.worker_lcores},
                    {"workers", workers}, {"rebalance", rebalance}, {"tsc_hz", rte_get_tsc_hz()},
                    {"memory", view.memory}, {"socket", view.socket}, {"policy_dir", view.policy_dir},
                    {"ports", ports}, {"policy", policy}};
    }});

    table.add("show ports", {"ports, drivers and links", false, [&view](const json&, const control::Peer&) -> Result<json> {
        const json ports = port_list(view);
        return json{{"ports", ports}};
    }});

    table.add("stats", {"counters per direction and port", false,
                        [snapshot, baseline](const json&, const control::Peer&) -> Result<json> {
        const json now = snapshot();
        json out = now;
        for (size_t i = 0; i < now["directions"].size() && i < (*baseline)["directions"].size(); ++i) {
            out["directions"][i] = minus(now["directions"][i], (*baseline)["directions"][i]);
        }
        for (size_t i = 0; i < now["ports"].size() && i < (*baseline)["ports"].size(); ++i) {
            out["ports"][i] = minus(now["ports"][i], (*baseline)["ports"][i]);
        }
        return out;
    }});

    // Per class, rule and meter, with a policy; the same zero point.
    auto policy_baseline = std::make_shared<json>();
    table.add("stats policy", {"counters per class, rule and meter", false,
                               [&view, policy_baseline](const json&, const control::Peer&) -> Result<json> {
        if (view.policy == nullptr || !view.policy->loaded()) {
            return Error{"no policy is loaded (start sluiced with --policy FILE)"};
        }
        return policy_minus(view.policy->counters(), *policy_baseline);
    }});

    // Every counter family moves its zero point together: directions,
    // ports, and (with a policy) classes, rules, meters and unmatched.
    table.add("stats reset", {"start the counters from zero", true,
                              [snapshot, baseline, policy_baseline, &view](const json&, const control::Peer&) -> Result<json> {
        *baseline = snapshot();
        json out = *baseline;
        for (auto& d : out["directions"]) d = minus(d, d);
        for (auto& p : out["ports"]) p = minus(p, p);
        if (view.policy != nullptr && view.policy->loaded()) {
            *policy_baseline = view.policy->counters();
            out["policy"] = policy_minus(*policy_baseline, *policy_baseline);
        }
        out["not_reset"] = kNotReset;
        return out;
    }});

    // Root only: a member who could silence the log could hide what follows
    // from the operator (the audit log keeps its own level in any case).
    table.add("log level", {"set the log level (root only)", true, [](const json& args, const control::Peer&) -> Result<json> {
        auto level = control::string_arg(args, "level");
        if (!level) return Error{level.error()};
        static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
        for (const char* l : kLevels) {
            if (*level == l) {
                spdlog::default_logger()->set_level(spdlog::level::from_str(*level));
                return json{{"level", *level}};
            }
        }
        return Error{fmt::format("unknown log level '{}'; use trace, debug, info, warn, error, critical or off", *level)};
    }, control::Access::root});
}

}  // namespace sluice::runtime
