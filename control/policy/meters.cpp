#include "control/policy/meters.hpp"

#include <array>

#include "control/policy/toml_reader.hpp"
#include "control/policy/values.hpp"

namespace sluice::policy {

namespace {

constexpr std::array<std::string_view, 13> kMeterKeys{"name", "kind", "mode", "unit", "cir", "cbs", "ebs",
                                                       "pir", "pbs", "yellow", "red", "yellow_dscp", "red_dscp"};

// A packet rate ("100pps", "2kpps", "1mpps", or an integer of packets per
// second) or a packet count ("32", "32pkts", or an integer), for meters with
// unit = "packets".
std::optional<uint64_t> read_packets(const toml::node& node, std::string_view key, bool rate, DiagnosticSink& sink) {
    if (const auto* i = node.as_integer()) {
        if (i->get() < 0) {
            sink.error(position_of(node), key_text(key) + "must not be negative");
            return std::nullopt;
        }
        return static_cast<uint64_t>(i->get());
    }
    const auto* str = node.as_string();
    const char* example = rate ? "\"100pps\", \"2kpps\" or 100" : "\"32pkts\" or 32";
    if (str == nullptr) {
        sink.error(position_of(node), key_text(key) + "write a packet " + (rate ? "rate" : "count") + " such as " + example);
        return std::nullopt;
    }
    const std::string& text = str->get();
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    const std::string unit = text.substr(digits);
    uint64_t scale = 0;
    if (rate) {
        scale = unit == "pps" ? 1 : unit == "kpps" ? 1'000 : unit == "mpps" ? 1'000'000 : 0;
    } else {
        scale = unit.empty() || unit == "pkts" || unit == "packets" ? 1 : 0;
    }
    if (digits == 0 || digits > 12 || scale == 0) {
        sink.error(position_of(node), key_text(key) + quoted(text) + " is not a packet " + (rate ? "rate" : "count") +
                                          " (this meter has unit = \"packets\"); write e.g. " + example);
        return std::nullopt;
    }
    return std::stoull(text.substr(0, digits)) * scale;
}

// "pass" | "drop" | "remark" with its <colour>_dscp.
ColourAction read_colour(const TableReader& r, std::string_view colour, ColourAction fallback) {
    const std::string dscp_key = std::string(colour) + "_dscp";
    ColourAction a = fallback;
    if (auto v = r.string(colour)) {
        if (*v == "pass") {
            a.verdict = Verdict::pass;
        } else if (*v == "drop") {
            a.verdict = Verdict::drop;
        } else if (*v == "remark") {
            a.verdict = Verdict::remark;
        } else {
            r.error(colour, std::string(colour) + ": unknown action " + quoted(*v) + "; use pass, remark or drop");
        }
    }
    const toml::node* dscp = r.find(dscp_key);
    if (a.verdict == Verdict::remark) {
        if (dscp == nullptr) {
            r.error(colour, std::string(colour) + " = \"remark\" needs " + dscp_key + ", the DSCP to write, e.g. " +
                                dscp_key + " = \"AF12\"");
        } else if (auto d = read_dscp(*dscp, dscp_key, r.sink())) {
            a.dscp = *d;
        }
    } else if (dscp != nullptr) {
        r.error(dscp_key, dscp_key + " is used only with " + std::string(colour) + " = \"remark\"");
    }
    return a;
}

}  // namespace

void read_meters(const toml::node* node, std::vector<Meter>& meters,
                 std::unordered_map<std::string_view, uint32_t>& by_name, DiagnosticSink& sink) {
    if (node == nullptr) return;
    const auto* array = node->as_array();
    if (array == nullptr) {
        sink.error(position_of(*node), "meter must be an array of tables: write each meter as [[meter]]");
        return;
    }
    meters.reserve(array->size());  // by_name keeps views into the names
    std::vector<Position> name_at;
    for (const toml::node& element : *array) {
        const auto* t = element.as_table();
        if (t == nullptr) {
            sink.error(position_of(element), "each meter must be a table, not " + std::string(type_phrase(element)));
            continue;
        }
        TableReader r(*t, "[[meter]]", sink);
        r.check_keys(kMeterKeys);
        Meter m;
        m.line = r.at().line;
        if (r.require("name", "rules refer to a meter by name, e.g. name = \"guest\""))
            if (auto n = r.string("name")) m.name = std::string(*n);
        if (auto k = r.string("kind")) {
            if (*k == "srtcm") {
                m.kind = MeterKind::srtcm;
            } else if (*k == "trtcm") {
                m.kind = MeterKind::trtcm;
            } else {
                r.error("kind", "kind: unknown meter kind " + quoted(*k) +
                                    "; use \"srtcm\" (RFC 2697, one rate) or \"trtcm\" (RFC 2698, two rates)");
            }
        }
        if (auto mode = r.string("mode")) {
            if (*mode == "color-blind" || *mode == "colour-blind") {
                m.mode = ColourMode::blind;
            } else if (*mode == "color-aware" || *mode == "colour-aware") {
                m.mode = ColourMode::aware;
            } else {
                r.error("mode", "mode: unknown mode " + quoted(*mode) + "; use \"color-blind\" or \"color-aware\"");
            }
        }
        if (auto unit = r.string("unit")) {
            if (*unit == "bytes") {
                m.unit = MeterUnit::bytes;
            } else if (*unit == "packets") {
                m.unit = MeterUnit::packets;
            } else {
                r.error("unit", "unit: unknown unit " + quoted(*unit) + "; use \"bytes\" or \"packets\"");
            }
        }
        const bool pkts = m.unit == MeterUnit::packets;
        auto rate_of = [&](std::string_view key) -> std::optional<uint64_t> {
            return pkts ? read_packets(*r.find(key), key, true, sink) : read_rate(*r.find(key), key, sink);
        };
        auto size_of = [&](const toml::node& n, std::string_view key) -> std::optional<uint64_t> {
            return pkts ? read_packets(n, key, false, sink) : read_size(n, key, sink);
        };
        if (r.require("cir", pkts ? "the committed rate, e.g. cir = \"100pps\"" : "the committed rate, e.g. cir = \"10mbit\""))
            if (auto v = rate_of("cir")) m.cir = *v;
        if (r.require("cbs", pkts ? "the committed burst, e.g. cbs = \"32pkts\"" : "the committed burst, e.g. cbs = \"64kb\""))
            if (auto v = size_of(*r.find("cbs"), "cbs")) m.cbs = *v;
        const bool sr = m.kind == MeterKind::srtcm;
        auto size_for = [&](std::string_view key, bool allowed, uint64_t& out) {
            const toml::node* n = r.find(key);
            if (n == nullptr) return;
            if (!allowed) {
                r.error(key, std::string(key) + " belongs to kind = " + (sr ? "\"trtcm\"" : "\"srtcm\"") +
                                 "; this meter is " + (sr ? "srtcm" : "trtcm"));
                return;
            }
            if (auto v = size_of(*n, key)) out = *v;
        };
        size_for("ebs", sr, m.ebs);
        m.ebs_given = sr && r.has("ebs");
        size_for("pbs", !sr, m.pbs);
        if (r.has("pir")) {
            if (sr) {
                r.error("pir", "pir belongs to kind = \"trtcm\"; this meter is srtcm");
            } else if (auto v = rate_of("pir")) {
                m.pir = *v;
            }
        }
        if (m.cbs == 0 && r.has("cbs")) r.error("cbs", "cbs must be above zero");
        if (sr) {
            if (!r.has("ebs")) m.ebs = m.cbs;  // RFC 2697: EBS may equal CBS
        } else {
            if (!r.has("pir")) r.error("kind", "a trtcm meter needs pir, its peak rate, e.g. pir = \"20mbit\"");
            if (!r.has("pbs")) r.error("kind", "a trtcm meter needs pbs, its peak burst, e.g. pbs = \"128kb\"");
            if (m.pir != 0 && m.cir != 0 && m.pir < m.cir)
                r.error("pir", "pir " + format_rate(m.pir) + " is below cir " + format_rate(m.cir) +
                                   "; RFC 2698 needs the peak rate at least the committed one");
            if (r.has("pbs") && m.pbs == 0) r.error("pbs", "pbs must be above zero");
        }
        m.yellow = read_colour(r, "yellow", ColourAction{Verdict::pass, 0});
        m.red = read_colour(r, "red", ColourAction{Verdict::drop, 0});
        name_at.push_back(r.at("name"));
        meters.push_back(std::move(m));
    }
    for (uint32_t i = 0; i < meters.size(); ++i) {
        if (meters[i].name.empty()) continue;
        const auto [it, fresh] = by_name.emplace(meters[i].name, i);
        if (!fresh) {
            sink.error(name_at[i],
                       "meter " + quoted(meters[i].name) + " is already defined at line " +
                           std::to_string(meters[it->second].line) + "; meter names must be unique");
        }
    }
}

}  // namespace sluice::policy
