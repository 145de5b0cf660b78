#include "control/sluicectl/render.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace sluice::control {
namespace {

std::string human_count(uint64_t v) {
    if (v >= 10'000'000'000ull) return fmt::format("{:.1f}G", static_cast<double>(v) / 1e9);
    if (v >= 10'000'000ull) return fmt::format("{:.1f}M", static_cast<double>(v) / 1e6);
    if (v >= 100'000ull) return fmt::format("{:.1f}k", static_cast<double>(v) / 1e3);
    return std::to_string(v);
}

std::string duration(uint64_t s) {
    return fmt::format("{}d {:02}:{:02}:{:02}", s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
}

std::string ports_table(const json& ports) {
    std::string out = fmt::format("{:<5} {:<20} {:<16} {}\n", "role", "port", "driver", "link");
    for (const auto& p : ports) {
        std::string link = p.value("link", "");
        // A port that stops delivering while its link is up says why (a
        // link that is down already says so).
        if (!p.value("delivering", true) && p.value("condition", "") != "link_down") {
            link += fmt::format("; NOT DELIVERING: {}", p.value("reason", "?"));
        }
        out += fmt::format("{:<5} {:<20} {:<16} {}\n", p.value("role", ""), p.value("name", ""),
                           p.value("driver", ""), link);
    }
    return out;
}

}  // namespace

// Per direction and worker: packets, hand-offs and the share of the time
// since the start spent on turns that moved packets (`status`).
static std::string worker_table(const json& r) {
    if (!r.contains("workers") || !r["workers"].is_object()) return {};
    std::string out;
    const double tsc_hz = r.value("tsc_hz", 0.0);
    const double up_s = static_cast<double>(r.value("uptime_s", 0ull));
    size_t per_direction = 0;
    for (const auto& [dir, list] : r["workers"].items()) per_direction = std::max(per_direction, list.size());
    out += fmt::format("workers: {} per direction\n", per_direction);
    out += fmt::format("  {:<9} {:>6} {:>10} {:>10} {:>12} {:>12} {:>9} {:>6} {:>7} {:>10}\n", "direction", "worker",
                       "rx pkts", "tx pkts", "handed out", "handed in", "ring full", "busy", "stalls", "stalled");
    for (const auto& [dir, list] : r["workers"].items()) {
        for (size_t w = 0; w < list.size(); ++w) {
            const json& k = list[w];
            const double busy = tsc_hz > 0 && up_s > 0
                                    ? 100.0 * static_cast<double>(k.value("busy_cycles", 0ull)) / (tsc_hz * up_s)
                                    : 0.0;
            // Time the worker was kept from packets that waited (gaps
            // between turns beyond a millisecond).
            const double stalled_ms =
                tsc_hz > 0 ? 1e3 * static_cast<double>(k.value("stalled_cycles", 0ull)) / tsc_hz : 0.0;
            out += fmt::format("  {:<9} {:>6} {:>10} {:>10} {:>12} {:>12} {:>9} {:>5.1f}% {:>7} {:>7.1f} ms\n", dir, w,
                               human_count(k.value("rx_packets", 0ull)), human_count(k.value("tx_packets", 0ull)),
                               human_count(k.value("handoffs_out", 0ull)), human_count(k.value("handoffs_in", 0ull)),
                               human_count(k.value("handoff_ring_full", 0ull)), busy,
                               human_count(k.value("stalls", 0ull)), stalled_ms);
        }
    }
    if (r.contains("rebalance") && r["rebalance"].is_object()) {
        for (const auto& [dir, b] : r["rebalance"].items()) {
            const double steps = static_cast<double>(b.value("steps", 0ull));
            const double step_us = tsc_hz > 0 && steps > 0
                                       ? static_cast<double>(b.value("step_cycles", 0ull)) / steps / tsc_hz * 1e6
                                       : 0.0;
            const double every = b.value("interval_us", 0.0);
            const unsigned asked = b.value("period_us", 0u);
            out += fmt::format("  {} shared classes: divided every {} us{} by worker 0, {} steps of {:.2f} us, "
                               "{} local rate changes{}\n",
                               dir, every > asked * 1.01 ? fmt::format("{:.0f}", every) : std::to_string(asked),
                               every > asked * 1.01 ? fmt::format(" (--rebalance-us {}: the rebalancer would take more than a fortieth of a worker)", asked) : "",
                               human_count(b.value("steps", 0ull)), step_us,
                               human_count(b.value("local_changes", 0ull)),
                               b.value("refused", 0ull) ? fmt::format(", {} refused", b.value("refused", 0ull)) : "");
        }
    }
    return out;
}

std::string render(const std::string& request, const json& r) {
    if (request == "rule add" || request == "rule del" || request == "rule move" || request == "meter set") {
        std::string out = fmt::format("applied; every worker switched in {:.2f} ms. rules now:", r.value("applied_in_ms", 0.0));
        for (const auto& n : r["rules"]) out += " " + n.get<std::string>();
        out += "\n";
        for (const auto& w : r["warnings"]) out += "warning: " + w.get<std::string>() + "\n";
        return out;
    }
    if (request == "policy save") {
        std::string out = fmt::format("running policy written to {} (checksum {})\n", r.value("file", "?"), r.value("checksum", "?"));
        if (r.contains("previous") && r["previous"].is_string()) out += fmt::format("previous file kept as {}\n", r["previous"].get<std::string>());
        return out;
    }
    if (request == "policy diff") {
        if (r.value("same", false)) return fmt::format("the running policy and {} are the same\n", r.value("file", "?"));
        std::string out = fmt::format("--- running\n+++ {}\n", r.value("file", "?"));
        for (const auto& l : r["running_only"]) out += "-" + l.get<std::string>() + "\n";
        for (const auto& l : r["file_only"]) out += "+" + l.get<std::string>() + "\n";
        return out;
    }
    if (request == "set class") {
        std::string out;
        for (const auto& a : r["applied"]) {
            out += fmt::format("{} {}: rate {} ceil {} burst {} cburst {} priority {} weight {}\n", r.value("class", "?"),
                               a.value("direction", ""), a.value("rate", ""), a.value("ceil", ""), a.value("burst", 0u),
                               a.value("cburst", 0u), a.value("priority", a.value("prio", 0)), a.value("weight", 1u));
        }
        out += fmt::format("applied by the workers in {} us\n", r.value("applied_in_us", 0));
        if (r.contains("warnings")) {
            for (const auto& w : r["warnings"]) out += "warning: " + w.get<std::string>() + "\n";
        }
        return out;
    }
    if (request == "policy load" || request == "policy reload") {
        std::string out = fmt::format("policy {} applied (checksum {}); every worker switched in {:.2f} ms\n",
                                      r.value("file", "?"), r.value("checksum", "?"), r.value("applied_in_ms", 0.0));
        if (r.contains("class_changes")) {
            for (const auto& c : r["class_changes"]) out += c.get<std::string>() + "\n";
        }
        for (const auto& m : r["messages"]) out += m.get<std::string>() + "\n";
        return out;
    }
    if (request == "status") {
        std::string out = fmt::format("sluiced {}, up {}, pid {}\n", r.value("version", "?"),
                                      duration(r.value("uptime_s", 0ull)), r.value("pid", 0));
        if (r.contains("policy") && r["policy"].is_object()) {
            out += fmt::format("policy: {} (checksum {})\n", r["policy"].value("file", "?"), r["policy"].value("checksum", "?"));
        } else {
            out += "policy: none (bridging only)\n";
        }
        out += fmt::format("lcores: control {}, workers {}\n", r.value("control_lcore", 0), r["worker_lcores"].dump());
        out += worker_table(r);
        out += fmt::format("memory: {}\n", r.value("memory", "?"));
        out += ports_table(r["ports"]);
        return out;
    }
    if (request == "show ports") return ports_table(r["ports"]);
    if (request == "stats" || request == "stats reset") {
        std::string out = fmt::format("{:<9} {:>10} {:>10} {:>10} {:>10} {:>9}  drops\n", "direction", "rx pkts",
                                      "rx bytes", "tx pkts", "tx bytes", "dropped");
        for (const auto& d : r["directions"]) {
            std::string drops;
            for (const auto& [reason, n] : d["drops"].items()) {
                if (n.get<uint64_t>() != 0) drops += fmt::format("{}={} ", reason, n.get<uint64_t>());
            }
            out += fmt::format("{:<9} {:>10} {:>10} {:>10} {:>10} {:>9}  {}\n", d.value("name", ""),
                               human_count(d.value("rx_packets", 0ull)), human_count(d.value("rx_bytes", 0ull)),
                               human_count(d.value("tx_packets", 0ull)), human_count(d.value("tx_bytes", 0ull)),
                               human_count(d.value("dropped", 0ull)), drops.empty() ? "-" : drops);
        }
        out += fmt::format("\n{:<5} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}\n", "port", "rx pkts", "tx pkts",
                           "rx missed", "rx errors", "tx errors", "no mbuf");
        for (const auto& p : r["ports"]) {
            out += fmt::format("{:<5} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}\n", p.value("role", ""),
                               human_count(p.value("rx_packets", 0ull)), human_count(p.value("tx_packets", 0ull)),
                               human_count(p.value("rx_missed", 0ull)), human_count(p.value("rx_errors", 0ull)),
                               human_count(p.value("tx_errors", 0ull)), human_count(p.value("rx_no_mbuf", 0ull)));
        }
        // The gateway's own traffic: what the XDP program or the exception
        // tap handed to the kernel instead of bridging it.
        std::string own;
        for (const auto& p : r["ports"]) {
            if (p.contains("xdp")) {
                const json& x = p["xdp"];
                own += fmt::format("{:<5} xdp program {}: to kernel {}, to socket {}, no socket {}, malformed {}\n",
                                   p.value("role", ""), x.value("program_id", 0u), human_count(x.value("to_kernel", 0ull)),
                                   human_count(x.value("to_socket", 0ull)), human_count(x.value("no_socket", 0ull)),
                                   human_count(x.value("malformed", 0ull)));
            }
            if (p.contains("exception")) {
                const json& x = p["exception"];
                own += fmt::format("{:<5} tap {}: to kernel {} ({} dropped), from kernel {} ({} dropped)\n",
                                   p.value("role", ""), x.value("interface", ""),
                                   human_count(x.value("to_kernel_packets", 0ull)),
                                   human_count(x.value("to_kernel_dropped", 0ull)),
                                   human_count(x.value("from_kernel_packets", 0ull)),
                                   human_count(x.value("from_kernel_dropped", 0ull)));
            }
        }
        if (!own.empty()) out += "\ngateway's own traffic\n" + own;
        if (r.contains("policy")) {
            for (const char* dir : {"upload", "download"}) {
                if (!r["policy"].contains(dir)) continue;
                const json& d = r["policy"][dir];
                out += fmt::format("\n{:<20} {:>14} {:>10} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10}  drops by reason ({})\n",
                                   "class", "rate now", "sent pkts", "sent bytes", "queue", "delay p50", "delay p99",
                                   "p50 10s", "p99 10s", dir);
                for (const auto& c : d["classes"]) {
                    std::string drops;
                    if (c.contains("drops")) {
                        for (const auto& [k, v] : c["drops"].items()) {
                            if (v.get<uint64_t>() != 0) drops += fmt::format("{}={} ", k, v.get<uint64_t>());
                        }
                    }
                    const double bps = c.value("rate_bps", 0.0);
                    out += fmt::format("{:<20} {:>14} {:>10} {:>10} {:>8} {:>8.2f}ms {:>8.2f}ms {:>8.2f}ms {:>8.2f}ms  {}\n",
                                       c.value("name", ""),
                                       bps >= 1e6 ? fmt::format("{:.2f} Mbit/s", bps / 1e6) : fmt::format("{:.1f} kbit/s", bps / 1e3),
                                       human_count(c.value("sent_packets", 0ull)), human_count(c.value("sent_bytes", 0ull)),
                                       c.value("backlog_packets", 0u), c.value("delay_p50_us", 0.0) / 1000,
                                       c.value("delay_p99_us", 0.0) / 1000, c.value("delay_recent_p50_us", 0.0) / 1000,
                                       c.value("delay_recent_p99_us", 0.0) / 1000, drops.empty() ? "-" : drops);
                }
                if (d.contains("rules") && !d["rules"].empty()) {
                    out += fmt::format("{:<20} {:>10}   meters:", "rule", "hits");
                    for (const auto& m : d["meters"]) {
                        out += fmt::format(" {} green {} yellow {} red {};", m.value("name", ""), m.value("green", 0ull),
                                           m.value("yellow", 0ull), m.value("red", 0ull));
                    }
                    out += "\n";
                    for (const auto& x : d["rules"]) {
                        out += fmt::format("{:<20} {:>10}\n", x.value("name", ""), human_count(x.value("hits", 0ull)));
                    }
                    out += fmt::format("{:<20} {:>10}\n", "(no rule)", human_count(d.value("unmatched", 0ull)));
                }
            }
        }
        if (request == "stats reset") {
            out += fmt::format("\n(counters now start again from zero; not reset: {})\n",
                               r.value("not_reset", std::string("-")));
        }
        return out;
    }
    if (request == "log level") return fmt::format("log level is now {}\n", r.value("level", "?"));
    if (request == "show classes") {
        std::string out;
        for (const char* dir : {"upload", "download"}) {
            if (!r.contains(dir)) continue;
            const json& d = r[dir];
            out += fmt::format("{} (link {})\n", dir, d.value("link", "?"));
            for (const auto& c : d["classes"]) {
                const std::string indent(2 * (c.value("depth", 0u) + 1), ' ');
                std::string line = fmt::format("{}{} rate {} ceil {}", indent, c.value("name", ""), c.value("rate", ""),
                                               c.value("ceil", ""));
                if (c.contains("queue")) line += fmt::format(" prio {} weight {} {}", c.value("priority", 0), c.value("weight", 1), c.value("queue", ""));
                if (c.contains("set_dscp")) line += fmt::format(" dscp {}", c["set_dscp"].get<int>());
                if (c.value("default", false)) line += " (default)";
                out += line + "\n";
            }
        }
        return out;
    }
    if (request == "show rules") {
        std::string out = fmt::format("{:>4} {:<22} {:<14} {:<14} {:>5} {}\n", "#", "rule", "upload", "download", "dscp", "meter");
        for (const auto& x : r["rules"]) {
            out += fmt::format("{:>4} {:<22} {:<14} {:<14} {:>5} {}\n", x.value("index", 0), x.value("name", ""),
                               x.value("class_upload", "-"), x.value("class_download", "-"),
                               x.contains("set_dscp") ? std::to_string(x["set_dscp"].get<int>()) : "-", x.value("meter", "-"));
        }
        return out;
    }
    if (request == "show meters") {
        // A srTCM has an excess burst, a trTCM a peak rate and burst; "-" where a kind has none.
        std::string out = fmt::format("{:<20} {:<6} {:<6} {:>10} {:>9} {:>9} {:>10} {:>9} {:<10} {}\n", "meter", "kind",
                                      "mode", "cir", "cbs", "ebs", "pir", "pbs", "yellow", "red");
        for (const auto& m : r["meters"]) {
            const bool tr = m.value("kind", "") == "trtcm";
            out += fmt::format("{:<20} {:<6} {:<6} {:>10} {:>9} {:>9} {:>10} {:>9} {:<10} {}\n", m.value("name", ""),
                               m.value("kind", ""), m.value("mode", ""), m.value("cir", ""),
                               m.value("cbs", 0ull), tr ? "-" : std::to_string(m.value("ebs", 0ull)),
                               tr ? m.value("pir", "") : "-", tr ? std::to_string(m.value("pbs", 0ull)) : "-",
                               m.value("yellow", "-"), m.value("red", "-"));
        }
        if (r["meters"].empty()) out += "(no meters)\n";
        return out;
    }
    return r.dump(2) + "\n";
}

}  // namespace sluice::control
