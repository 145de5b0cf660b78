// Reading [upload] / [download] and their [[<direction>.class]] tables into
// drafts. Only local checks happen here (types, units, ranges, keys that
// belong together); everything that needs other classes waits for
// resolve_tree.
#include <array>

#include "control/policy/class_tree.hpp"
#include "control/policy/names.hpp"
#include "control/policy/toml_reader.hpp"
#include "control/policy/values.hpp"

namespace sluice::policy {

namespace {

constexpr std::array<std::string_view, 4> kDirectionKeys{"rate", "overhead", "default_class", "class"};
constexpr std::array<std::string_view, 3> kOverheadKeys{"bytes", "mpu", "framing"};
constexpr std::array<std::string_view, 16> kClassKeys{
    "name",  "parent", "rate",   "ceil",     "burst",  "cburst", "priority", "weight",
    "queue", "limit",  "limit_bytes", "target", "interval", "flows", "quantum", "set_dscp"};

std::optional<QueueKind> queue_kind(std::string_view s) {
    if (s == "fifo") return QueueKind::fifo;
    if (s == "codel") return QueueKind::codel;
    if (s == "fq_codel") return QueueKind::fq_codel;
    return std::nullopt;
}

std::optional<Framing> framing_kind(std::string_view s) {
    if (s == "none") return Framing::none;
    if (s == "atm") return Framing::atm;
    if (s == "ptm") return Framing::ptm;
    return std::nullopt;
}

Overhead read_overhead(const toml::node& node, DiagnosticSink& sink) {
    if (const auto* s = node.as_string()) {
        if (auto preset = overhead_preset(s->get())) return *preset;
        sink.error(position_of(node), "overhead: unknown preset " + quoted(s->get()) + "; use one of " +
                                          overhead_preset_names() + ", or a table {bytes, mpu, framing}");
        return {};
    }
    const auto* t = node.as_table();
    if (t == nullptr) {
        sink.error(position_of(node), "overhead must be a preset name such as \"ethernet\" or a table "
                                      "{ bytes = 18, mpu = 64, framing = \"none\" }, not " +
                                          std::string(type_phrase(node)));
        return {};
    }
    TableReader r(*t, "overhead", sink);
    r.check_keys(kOverheadKeys);
    Overhead o;
    if (auto b = r.integer("bytes", -64, 256)) o.bytes = static_cast<int32_t>(*b);
    if (auto m = r.integer("mpu", 0, 256)) o.mpu = static_cast<uint32_t>(*m);
    if (auto f = r.string("framing")) {
        if (auto k = framing_kind(*f)) {
            o.framing = *k;
        } else {
            r.error("framing", "framing: unknown framing " + quoted(*f) + "; use none, atm or ptm");
        }
    }
    return o;
}

// The queue keys of a class; each is checked against the queue kind it
// belongs to, so a stray "flows" on a codel class is an error, not ignored.
void read_queue(const TableReader& r, ClassDraft& c) {
    DiagnosticSink& sink = r.sink();
    if (auto q = r.string("queue")) {
        if (auto k = queue_kind(*q)) {
            c.queue.kind = *k;
        } else {
            r.error("queue", "queue: unknown queue " + quoted(*q) + "; use fifo, codel or fq_codel");
            c.readable = false;
        }
    }
    for (std::string_view key : {"queue", "limit", "limit_bytes", "target", "interval", "flows", "quantum"})
        if (r.has(key) && !c.queue_keys_at) c.queue_keys_at = r.at(key);

    if (auto v = r.integer("limit", 1, 1'000'000)) c.queue.limit_packets = static_cast<uint32_t>(*v);
    if (const toml::node* n = r.find("limit_bytes")) {
        if (auto v = read_size(*n, "limit_bytes", sink)) {
            if (*v == 0) {
                r.error("limit_bytes", "limit_bytes: must be above zero; leave it out for no byte limit");
            } else {
                c.queue.limit_bytes = *v;
            }
        }
    }
    const bool aqm = c.queue.kind != QueueKind::fifo;
    const bool fq = c.queue.kind == QueueKind::fq_codel;
    auto only_for = [&](std::string_view key, bool allowed, std::string_view kinds) {
        if (!r.has(key) || allowed) return false;
        r.error(key, std::string(key) + " applies only to queue = " + std::string(kinds) + "; this class's queue is " +
                         quoted(c.queue.kind == QueueKind::fifo ? "fifo" : "codel"));
        return true;
    };
    if (!only_for("target", aqm, "\"codel\" or \"fq_codel\""))
        if (const toml::node* n = r.find("target"))
            if (auto v = read_time_us(*n, "target", sink)) c.queue.target_us = *v;
    if (!only_for("interval", aqm, "\"codel\" or \"fq_codel\""))
        if (const toml::node* n = r.find("interval"))
            if (auto v = read_time_us(*n, "interval", sink)) c.queue.interval_us = *v;
    if (aqm && c.queue.target_us >= c.queue.interval_us)
        r.error(r.has("target") ? "target" : "interval",
                "target " + std::to_string(c.queue.target_us) + "us must be below interval " +
                    std::to_string(c.queue.interval_us) + "us (RFC 8289 suggests 5-10% of it)");
    if (!only_for("flows", fq, "\"fq_codel\""))
        if (auto v = r.integer("flows", 1, 65'536)) c.queue.flows = static_cast<uint32_t>(*v);
    if (!only_for("quantum", fq, "\"fq_codel\""))
        if (const toml::node* n = r.find("quantum")) {
            if (auto v = read_size(*n, "quantum", sink)) {
                if (*v < 64 || *v > 65'536) {
                    r.error("quantum", "quantum: " + std::to_string(*v) + " bytes is out of range; write 64b to 64kb");
                } else {
                    c.queue.quantum = static_cast<uint32_t>(*v);
                }
            }
        }
}

ClassDraft read_class(const toml::table& t, std::string_view where, DiagnosticSink& sink) {
    TableReader r(t, std::string(where), sink);
    r.check_keys(kClassKeys);
    ClassDraft c;
    c.at = r.at();
    if (r.require("name", "give every class a unique name, e.g. name = \"voice\"")) {
        if (auto n = r.string("name")) {
            c.name = std::string(*n);
            c.name_at = r.at("name");
            if (c.name.empty()) {
                r.error("name", "name: a class name cannot be empty");
                c.readable = false;
            } else if (c.name == kRootName) {
                r.error("name", "name: \"root\" is the link itself; choose another name for this class");
                c.readable = false;
            }
        } else {
            c.readable = false;
        }
    } else {
        c.readable = false;
    }
    if (auto p = r.string("parent")) {
        c.parent = std::string(*p);
        c.parent_at = r.at("parent");
    }
    if (r.require("rate", "the assured rate, e.g. rate = \"2mbit\" or rate = \"30%\" of the parent")) {
        c.rate = read_rate_or_share(*r.find("rate"), "rate", sink);
        c.rate_at = r.at("rate");
        if (!c.rate) c.readable = false;
    } else {
        c.readable = false;
    }
    if (const toml::node* n = r.find("ceil")) {
        c.ceil = read_rate_or_share(*n, "ceil", sink);
        c.ceil_at = r.at("ceil");
        if (!c.ceil) c.readable = false;
    }
    for (auto [key, out, at] : {std::tuple{"burst", &c.burst, &c.burst_at}, std::tuple{"cburst", &c.cburst, &c.cburst_at}}) {
        const toml::node* n = r.find(key);
        if (n == nullptr) continue;
        *at = r.at(key);
        auto v = read_size(*n, key, sink);
        if (!v) continue;
        if (*v < kFullFrame) {
            r.error(key, std::string(key) + ": " + std::to_string(*v) + " bytes is less than one full frame; write at least " +
                             std::to_string(kFullFrame) + "b, or leave it out for the default");
        } else if (*v > UINT32_MAX) {
            r.error(key, std::string(key) + ": " + format_size(*v) + " is too large; the most is 4gb");
        } else {
            *out = *v;
        }
    }
    if (const toml::node* n = r.find("priority")) {
        c.priority_at = r.at("priority");
        if (const auto* i = n->as_integer(); i != nullptr && (i->get() < 0 || i->get() >= kPriorityCount)) {
            r.error("priority", "priority " + std::to_string(i->get()) + " is out of range; write 0 (served first) to 7");
        } else if (auto v = r.integer("priority", 0, kPriorityCount - 1)) {
            c.priority = static_cast<uint8_t>(*v);
        }
    }
    if (auto v = r.integer("weight", 1, kMaxWeight)) {
        c.weight = static_cast<uint32_t>(*v);
        c.weight_given = true;
    }
    read_queue(r, c);
    if (const toml::node* n = r.find("set_dscp")) c.set_dscp = read_dscp(*n, "set_dscp", sink);
    return c;
}

}  // namespace

DirectionDraft read_direction(const toml::node* node, Direction d, DiagnosticSink& sink) {
    DirectionDraft draft;
    draft.direction = d;
    const std::string name = direction_name(d);
    if (node == nullptr) {
        sink.error(Position{1, 1}, "the policy has no [" + name + "] table; every policy shapes both directions, "
                                   "add [" + name + "] with at least rate = \"<link rate>\"");
        return draft;
    }
    const auto* table = node->as_table();
    if (table == nullptr) {
        sink.error(position_of(*node), name + " must be a table ([" + name + "]), not " + std::string(type_phrase(*node)));
        return draft;
    }
    TableReader r(*table, "[" + name + "]", sink);
    draft.at = r.at();
    r.check_keys(kDirectionKeys);
    if (r.require("rate", "the rate to shape the link to, a little below what it really carries, e.g. rate = "
                          "\"95mbit\"")) {
        draft.link_rate = read_rate(*r.find("rate"), "rate", sink);
        draft.link_rate_at = r.at("rate");
    }
    if (const toml::node* o = r.find("overhead")) draft.overhead = read_overhead(*o, sink);
    if (auto dc = r.string("default_class")) {
        draft.default_class = std::string(*dc);
        draft.default_at = r.at("default_class");
    }
    if (const toml::node* classes = r.find("class")) {
        const auto* array = classes->as_array();
        if (array == nullptr) {
            sink.error(position_of(*classes), "class must be an array of tables: write each class as [[" + name +
                                                  ".class]]");
            return draft;
        }
        const std::string where = "[[" + name + ".class]]";
        draft.classes.reserve(array->size());
        for (const toml::node& element : *array) {
            if (const auto* t = element.as_table()) {
                draft.classes.push_back(read_class(*t, where, sink));
            } else {
                sink.error(position_of(element), "each class must be a table, not " + std::string(type_phrase(element)));
            }
        }
    }
    return draft;
}

}  // namespace sluice::policy
