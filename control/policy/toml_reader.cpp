#include "control/policy/toml_reader.hpp"

#include <array>
#include <utility>

#include "control/policy/suggest.hpp"

namespace sluice::policy {

namespace {

// Names people reach for from tc, CAKE or other tools, with the key Sluice
// uses for the same thing. Tried before the spelling-distance guess.
constexpr std::array<std::pair<std::string_view, std::string_view>, 18> kSynonyms{{
    {"prio", "priority"},
    {"default", "default_class"},
    {"qdisc", "queue"},
    {"dscp_mark", "set_dscp"},
    {"mark", "set_dscp"},
    {"bandwidth", "rate"},
    {"max", "ceil"},
    {"ceiling", "ceil"},
    {"policer", "meter"},
    {"police", "meter"},
    {"proto", "protocol"},
    {"sport", "src_port"},
    {"dport", "dst_port"},
    {"classes", "class"},
    {"dscp", "set_dscp"},  // in a class: classes only re-mark
    {"rate", "cir"},       // in a meter
    {"burst", "cbs"},      // in a meter
    {"queue_limit", "limit"},
}};

uint32_t to_u32(toml::source_index v) { return static_cast<uint32_t>(v); }

}  // namespace

Position position_of(const toml::node& node) {
    const auto& b = node.source().begin;
    return Position{b.line == 0 ? 1 : to_u32(b.line), b.column == 0 ? 1 : to_u32(b.column)};
}

Position position_of(const toml::key& key) {
    const auto& b = key.source().begin;
    return Position{b.line == 0 ? 1 : to_u32(b.line), b.column == 0 ? 1 : to_u32(b.column)};
}

std::string_view type_phrase(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a number with a fraction";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::array: return "an array";
        case toml::node_type::table: return "a table";
        case toml::node_type::date:
        case toml::node_type::time:
        case toml::node_type::date_time: return "a date or time";
        case toml::node_type::none: break;
    }
    return "nothing";
}

std::string quoted(std::string_view text) {
    std::string out = "\"";
    out += text;
    out += '"';
    return out;
}

Position TableReader::at(std::string_view key) const {
    const toml::node* n = find(key);
    return n ? position_of(*n) : at();
}

void TableReader::check_keys(std::span<const std::string_view> allowed) const {
    for (auto&& [key, value] : table_) {
        const std::string_view name = key.str();
        bool known = false;
        for (std::string_view a : allowed) known = known || a == name;
        if (known) continue;
        std::string message = "unknown key " + quoted(name) + " in " + where_;
        std::optional<std::string> hint;
        for (const auto& [from, to] : kSynonyms) {
            if (from != name) continue;
            for (std::string_view a : allowed)
                if (a == to) hint = std::string(to);
        }
        if (!hint) hint = nearest(name, allowed);
        if (hint) {
            message += "; did you mean " + quoted(*hint) + "?";
        } else {
            message += "; valid keys are ";
            for (size_t i = 0; i < allowed.size(); ++i) message += (i ? ", " : "") + std::string(allowed[i]);
        }
        sink_.error(position_of(key), std::move(message));
    }
}

std::optional<std::string_view> TableReader::string(std::string_view key) const {
    const toml::node* n = find(key);
    if (n == nullptr) return std::nullopt;
    if (const auto* s = n->as_string()) return std::string_view(s->get());
    sink_.error(position_of(*n), std::string(key) + " must be a string, not " + std::string(type_phrase(*n)));
    return std::nullopt;
}

std::optional<int64_t> TableReader::integer(std::string_view key, int64_t lo, int64_t hi) const {
    const toml::node* n = find(key);
    if (n == nullptr) return std::nullopt;
    const auto* i = n->as_integer();
    if (i == nullptr) {
        sink_.error(position_of(*n), std::string(key) + " must be an integer, not " + std::string(type_phrase(*n)));
        return std::nullopt;
    }
    const int64_t v = i->get();
    if (v < lo || v > hi) {
        sink_.error(position_of(*n), std::string(key) + " " + std::to_string(v) + " is out of range; write " +
                                         std::to_string(lo) + " to " + std::to_string(hi));
        return std::nullopt;
    }
    return v;
}

std::optional<bool> TableReader::boolean(std::string_view key) const {
    const toml::node* n = find(key);
    if (n == nullptr) return std::nullopt;
    if (const auto* b = n->as_boolean()) return b->get();
    sink_.error(position_of(*n), std::string(key) + " must be true or false, not " + std::string(type_phrase(*n)));
    return std::nullopt;
}

bool TableReader::require(std::string_view key, std::string_view hint) const {
    if (has(key)) return true;
    sink_.error(at(), where_ + " needs " + std::string(key) + ": " + std::string(hint));
    return false;
}

std::optional<std::string_view> string_value(const toml::node& node, std::string_view key_name,
                                             std::string_view example, DiagnosticSink& sink) {
    if (const auto* s = node.as_string()) return std::string_view(s->get());
    sink.error(position_of(node), std::string(key_name) + " must be a string such as " + quoted(example) +
                                      ", not " + std::string(type_phrase(node)));
    return std::nullopt;
}

}  // namespace sluice::policy
