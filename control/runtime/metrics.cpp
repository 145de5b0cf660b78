#include "control/runtime/metrics.hpp"

#include <rte_cycles.h>

#include <rte_telemetry.h>

#include <fmt/format.h>

#include <cctype>

#include "control/runtime/policy_counters.hpp"

namespace sluice::runtime {

using namespace dataplane;
namespace {

struct Family {
    const char* name;
    const char* type;  // counter or gauge
    const char* help;
};

void header(std::string& out, const Family& f) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, f.help, f.name, f.type);
}

// Label values escaped as the exposition format asks.
std::string label(const std::string& v) {
    std::string s;
    for (char c : v) {
        if (c == '\\' || c == '"') s += '\\';
        if (c == '\n') {
            s += "\\n";
            continue;
        }
        s += c;
    }
    return s;
}

const DaemonView* g_view = nullptr;

int telemetry_stats(const char*, const char*, rte_tel_data* d) {
    rte_tel_data_start_dict(d);
    if (g_view == nullptr) return 0;
    for (const DirectionGroup* dir : g_view->directions) {
        const DirectionCounters c = dir->counters();
        const std::string p = dir->name() + "_";
        for (const auto& f : kDirectionFields) rte_tel_data_add_dict_u64(d, (p + f.name).c_str(), c.*f.member);
        rte_tel_data_add_dict_u64(d, (p + "dropped").c_str(), c.dropped());
        for (unsigned r = 0; r < kDropReasonCount; ++r) {
            rte_tel_data_add_dict_u64(d, (p + "drop_" + drop_reason_name(static_cast<DropReason>(r))).c_str(), c.drops[r]);
        }
    }
    return 0;
}

int telemetry_ports(const char*, const char*, rte_tel_data* d) {
    rte_tel_data_start_dict(d);
    if (g_view == nullptr) return 0;
    for (const Port* port : g_view->ports) {
        const PortStats s = port->stats();
        const std::string p = port->role() + "_";
        rte_tel_data_add_dict_u64(d, (p + "port_id").c_str(), port->id());
        for (const auto& f : kPortFields) rte_tel_data_add_dict_u64(d, (p + f.name).c_str(), s.*f.member);
        if (const auto* program = port->management()) {
            const bpf::ManagementCounters c = program->counters();
            for (const auto& f : bpf::kManagementProgramFields)
                rte_tel_data_add_dict_u64(d, (p + "xdp_" + f.name).c_str(), c.*f.member);
        }
    }
    return 0;
}

// Per-class counters, flattened to DIRECTION_CLASS_FIELD names (telemetry
// names allow letters, digits, '_' and '/'; other characters become '_').
int telemetry_classes(const char*, const char*, rte_tel_data* d) {
    rte_tel_data_start_dict(d);
    if (g_view == nullptr || g_view->policy == nullptr || !g_view->policy->loaded()) return 0;
    const control::json c = g_view->policy->counters();
    auto clean = [](std::string s) {
        for (char& ch : s) {
            if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') ch = '_';
        }
        return s;
    };
    for (const auto& [dir, v] : c.items()) {
        for (const auto& k : v["classes"]) {
            const std::string p = dir + "_" + clean(k.value("name", "")) + "_";
            for (const auto& f : kClassFields) {
                if (k.contains(f.key)) rte_tel_data_add_dict_u64(d, (p + f.key).c_str(), k.value(f.key, 0ull));
            }
            // Delays in whole microseconds: over the lifetime and the last 10-15 s.
            rte_tel_data_add_dict_u64(d, (p + "delay_p99_us").c_str(),
                                      static_cast<uint64_t>(k.value("delay_p99_us", 0.0)));
            rte_tel_data_add_dict_u64(d, (p + "delay_recent_p99_us").c_str(),
                                      static_cast<uint64_t>(k.value("delay_recent_p99_us", 0.0)));
        }
    }
    return 0;
}

}  // namespace

std::string prometheus_text(const DaemonView& view) {
    std::string out;
    header(out, {"sluice_up", "gauge", "1 while sluiced runs"});
    out += "sluice_up 1\n";

    for (const auto& f : kDirectionFields) {
        const std::string name = std::string("sluice_direction_") + f.metric;
        header(out, {name.c_str(), "counter", f.help});
        for (const DirectionGroup* d : view.directions) {
            out += fmt::format("{}{{direction=\"{}\"}} {}\n", name, label(d->name()), d->counters().*f.member);
        }
    }
    header(out, {"sluice_direction_dropped_packets_total", "counter", "packets freed instead of sent, by reason"});
    for (const DirectionGroup* d : view.directions) {
        for (unsigned r = 0; r < kDropReasonCount; ++r) {
            out += fmt::format("sluice_direction_dropped_packets_total{{direction=\"{}\",reason=\"{}\"}} {}\n",
                               label(d->name()), drop_reason_name(static_cast<DropReason>(r)), d->counters().drops[r]);
        }
    }
    header(out, {"sluice_direction_malformed_packets_total", "counter", "malformed frames, by what was wrong"});
    for (const DirectionGroup* d : view.directions) {
        for (unsigned e = 1; e < kParseErrorCount; ++e) {
            out += fmt::format("sluice_direction_malformed_packets_total{{direction=\"{}\",cause=\"{}\"}} {}\n",
                               label(d->name()), parse_error_name(static_cast<ParseError>(e)),
                               d->counters().malformed_by_error[e]);
        }
    }
    header(out, {"sluice_direction_queued_packets", "gauge", "packets waiting in a direction's egress queue"});
    for (const DirectionGroup* d : view.directions) {
        out += fmt::format("sluice_direction_queued_packets{{direction=\"{}\"}} {}\n", label(d->name()), d->queued());
    }

    // Each worker's share of a direction (--workers): its load and hand-offs.
    header(out, {"sluice_worker_rx_packets_total", "counter", "packets a worker of a direction received"});
    for (const DirectionGroup* d : view.directions) {
        for (size_t w = 0; w < d->workers().size(); ++w)
            out += fmt::format("sluice_worker_rx_packets_total{{direction=\"{}\",worker=\"{}\"}} {}\n", label(d->name()), w,
                               d->workers()[w]->counters().rx_packets);
    }
    header(out, {"sluice_worker_handoffs_out_total", "counter",
                 "packets a worker handed to the worker that owns their class"});
    for (const DirectionGroup* d : view.directions) {
        for (size_t w = 0; w < d->workers().size(); ++w)
            out += fmt::format("sluice_worker_handoffs_out_total{{direction=\"{}\",worker=\"{}\"}} {}\n", label(d->name()),
                               w, d->workers()[w]->counters().handoffs_out);
    }
    header(out, {"sluice_worker_busy_seconds_total", "counter", "time a worker spent in turns that moved packets"});
    for (const DirectionGroup* d : view.directions) {
        for (size_t w = 0; w < d->workers().size(); ++w)
            out += fmt::format("sluice_worker_busy_seconds_total{{direction=\"{}\",worker=\"{}\"}} {:.6f}\n", label(d->name()),
                               w, static_cast<double>(d->workers()[w]->counters().busy_cycles) /
                                      static_cast<double>(rte_get_tsc_hz()));
    }

    header(out, {"sluice_worker_stalled_seconds_total", "counter",
                 "time between a worker's turns beyond a millisecond while packets waited (its thread lost the CPU)"});
    for (const DirectionGroup* d : view.directions) {
        for (size_t w = 0; w < d->workers().size(); ++w)
            out += fmt::format("sluice_worker_stalled_seconds_total{{direction=\"{}\",worker=\"{}\"}} {:.6f}\n",
                               label(d->name()), w,
                               static_cast<double>(d->workers()[w]->counters().stalled_cycles) /
                                   static_cast<double>(rte_get_tsc_hz()));
    }

    std::vector<PortStats> stats;
    for (const Port* p : view.ports) stats.push_back(p->stats());
    for (const auto& f : kPortFields) {
        const std::string name = std::string("sluice_port_") + f.metric;
        header(out, {name.c_str(), "counter", f.help});
        for (size_t i = 0; i < view.ports.size(); ++i) {
            out += fmt::format("{}{{port=\"{}\",device=\"{}\"}} {}\n", name, label(view.ports[i]->role()),
                               label(view.ports[i]->name()), stats[i].*f.member);
        }
    }
    // The gateway's own traffic: the XDP program's verdicts on af_xdp ports,
    // the exception taps' counters on ports with one.
    for (const auto& f : bpf::kManagementProgramFields) {
        const std::string name = std::string("sluice_xdp_") + f.metric;
        header(out, {name.c_str(), "counter", f.help});
        for (const Port* p : view.ports) {
            if (const auto* program = p->management()) {
                out += fmt::format("{}{{port=\"{}\",device=\"{}\"}} {}\n", name, label(p->role()), label(p->name()),
                                   program->counters().*f.member);
            }
        }
    }
    for (const auto& f : kExceptionFields) {
        const std::string name = std::string("sluice_exception_") + f.metric;
        header(out, {name.c_str(), "counter", f.help});
        for (size_t i = 0; i < view.ports.size() && view.exception != nullptr; ++i) {
            if (const ExceptionPort* tap = view.exception->tap(i)) {
                out += fmt::format("{}{{port=\"{}\",interface=\"{}\"}} {}\n", name, label(view.ports[i]->role()),
                                   label(tap->interface()), tap->stats().*f.member);
            }
        }
    }
    if (view.policy != nullptr && view.policy->loaded()) {
        const control::json c = view.policy->counters();
        for (const auto& f : kClassFields) {
            const std::string name = std::string("sluice_class_") + f.metric;
            header(out, {name.c_str(), f.type, f.help});
            for (const auto& [dir, d] : c.items()) {
                for (const auto& k : d["classes"]) {
                    if (!k.contains(f.key)) continue;  // not shaped: no scheduler counters
                    out += fmt::format("{}{{direction=\"{}\",class=\"{}\"}} {}\n", name, label(dir),
                                       label(k.value("name", "")), k.value(f.key, 0ull));
                }
            }
        }
        header(out, {"sluice_class_dropped_packets_total", "counter", "packets a class dropped, by reason"});
        for (const auto& [dir, d] : c.items()) {
            for (const auto& k : d["classes"]) {
                if (!k.contains("drops")) continue;
                for (const auto& [reason, n] : k["drops"].items()) {
                    out += fmt::format("sluice_class_dropped_packets_total{{direction=\"{}\",class=\"{}\",reason=\"{}\"}} {}\n",
                                       label(dir), label(k.value("name", "")), label(reason), n.get<uint64_t>());
                }
            }
        }
        header(out, {"sluice_class_delay_seconds", "gauge", "queueing delay of departed packets, by quantile"});
        for (const auto& [dir, d] : c.items()) {
            for (const auto& k : d["classes"]) {
                for (const auto& [q, key] : {std::pair{"0.5", "delay_p50_us"}, std::pair{"0.99", "delay_p99_us"}}) {
                    out += fmt::format("sluice_class_delay_seconds{{direction=\"{}\",class=\"{}\",quantile=\"{}\"}} {}\n",
                                       label(dir), label(k.value("name", "")), q, k.value(key, 0.0) / 1e6);
                }
            }
        }
        header(out, {"sluice_class_recent_delay_seconds", "gauge",
                     "queueing delay of packets that departed in the last 10-15 s, by quantile (0 when none did)"});
        for (const auto& [dir, d] : c.items()) {
            for (const auto& k : d["classes"]) {
                if (!k.contains("delay_recent_p50_us")) continue;
                for (const auto& [q, key] :
                     {std::pair{"0.5", "delay_recent_p50_us"}, std::pair{"0.99", "delay_recent_p99_us"}}) {
                    out += fmt::format(
                        "sluice_class_recent_delay_seconds{{direction=\"{}\",class=\"{}\",quantile=\"{}\"}} {}\n",
                        label(dir), label(k.value("name", "")), q, k.value(key, 0.0) / 1e6);
                }
            }
        }
        header(out, {"sluice_rule_hits_total", "counter", "packets each rule matched first"});
        for (const auto& [dir, d] : c.items()) {
            for (const auto& r : d["rules"]) {
                out += fmt::format("sluice_rule_hits_total{{direction=\"{}\",rule=\"{}\"}} {}\n", label(dir),
                                   label(r.value("name", "")), r.value("hits", 0ull));
            }
        }
        header(out, {"sluice_meter_packets_total", "counter", "packets each meter coloured, by colour"});
        for (const auto& [dir, d] : c.items()) {
            for (const auto& m : d["meters"]) {
                for (const char* colour : {"green", "yellow", "red"}) {
                    out += fmt::format("sluice_meter_packets_total{{direction=\"{}\",meter=\"{}\",colour=\"{}\"}} {}\n",
                                       label(dir), label(m.value("name", "")), colour, m.value(colour, 0ull));
                }
            }
        }
    }
    header(out, {"sluice_port_link_up", "gauge", "1 when the port's link is up"});
    for (const Port* p : view.ports) {
        out += fmt::format("sluice_port_link_up{{port=\"{}\",device=\"{}\"}} {}\n", label(p->role()), label(p->name()),
                           p->link_up() ? 1 : 0);
    }
    return out;
}

void register_telemetry(const DaemonView& view) {
    g_view = &view;
    rte_telemetry_register_cmd("/sluice/stats", telemetry_stats,
                               "Sluice per-direction counters. Takes no parameters");
    rte_telemetry_register_cmd("/sluice/ports", telemetry_ports, "Sluice port counters. Takes no parameters");
    rte_telemetry_register_cmd("/sluice/classes", telemetry_classes,
                               "Sluice per-class counters (with a policy). Takes no parameters");
}

}  // namespace sluice::runtime
