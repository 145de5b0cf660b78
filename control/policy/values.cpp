#include "control/policy/values.hpp"

#include <charconv>

#include "control/policy/names.hpp"
#include "control/policy/toml_reader.hpp"

namespace sluice::policy {

namespace {

std::optional<uint8_t> dscp_from_string(std::string_view text) {
    uint32_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec == std::errc{} && end == text.data() + text.size() && !text.empty())
        return number <= 63 ? std::optional<uint8_t>(static_cast<uint8_t>(number)) : std::nullopt;
    return dscp_by_name(text);
}

constexpr std::string_view kDscpHint = "a DSCP is 0 to 63 or a name such as EF, AF41, CS1, LE";

// Adds one element of a DSCP set (number, name or "lo-hi") to `mask`.
bool add_dscp_element(const toml::node& node, std::string_view key, uint64_t& mask, DiagnosticSink& sink) {
    if (const auto* i = node.as_integer()) {
        if (i->get() < 0 || i->get() > 63) {
            sink.error(position_of(node), key_text(key) + std::to_string(i->get()) + " is out of range; " +
                                              std::string(kDscpHint));
            return false;
        }
        mask |= 1ull << i->get();
        return true;
    }
    const auto* s = node.as_string();
    if (s == nullptr) {
        sink.error(position_of(node), std::string(key) + " must be a DSCP number, name or \"lo-hi\" range, not " +
                                          std::string(type_phrase(node)));
        return false;
    }
    const std::string_view text = s->get();
    if (const auto d = dscp_from_string(text)) {
        mask |= 1ull << *d;
        return true;
    }
    const size_t dash = text.find('-');
    if (dash != std::string_view::npos && dash > 0) {
        const auto lo = dscp_from_string(text.substr(0, dash));
        const auto hi = dscp_from_string(text.substr(dash + 1));
        if (!lo || !hi) {
            sink.error(position_of(node), key_text(key) + quoted(text) + " is not a DSCP range; write e.g. \"8-15\"");
            return false;
        }
        if (*lo > *hi) {
            sink.error(position_of(node), key_text(key) + "range " + quoted(text) + " is reversed; write " +
                                              quoted(std::to_string(*hi) + "-" + std::to_string(*lo)));
            return false;
        }
        for (uint32_t d = *lo; d <= *hi; ++d) mask |= 1ull << d;
        return true;
    }
    sink.error(position_of(node), key_text(key) + quoted(text) + " is not a DSCP; " + std::string(kDscpHint));
    return false;
}

}  // namespace

std::string key_text(std::string_view key) { return std::string(key) + ": "; }

std::optional<uint64_t> read_rate(const toml::node& node, std::string_view key, DiagnosticSink& sink) {
    if (node.is_integer() || node.is_floating_point()) {
        sink.error(position_of(node), key_text(key) + "a rate needs a unit; write e.g. \"20mbit\" (bits/s) or "
                                                      "\"2500kBps\" (bytes/s)");
        return std::nullopt;
    }
    const auto text = string_value(node, key, "20mbit", sink);
    if (!text) return std::nullopt;
    Parsed<uint64_t> r = parse_rate(*text);
    if (!r.ok()) {
        sink.error(position_of(node), key_text(key) + r.error);
        return std::nullopt;
    }
    if (!r.note.empty()) sink.warning(position_of(node), key_text(key) + r.note);
    return r.value;
}

std::optional<RateOrShare> read_rate_or_share(const toml::node& node, std::string_view key, DiagnosticSink& sink) {
    if (node.is_integer() || node.is_floating_point()) {
        sink.error(position_of(node), key_text(key) + "a rate needs a unit; write e.g. \"20mbit\" (bits/s), "
                                                      "\"2500kBps\" (bytes/s) or \"30%\" of the parent");
        return std::nullopt;
    }
    const auto text = string_value(node, key, "20mbit", sink);
    if (!text) return std::nullopt;
    Parsed<RateOrShare> r = parse_rate_or_share(*text);
    if (!r.ok()) {
        sink.error(position_of(node), key_text(key) + r.error);
        return std::nullopt;
    }
    if (!r.note.empty()) sink.warning(position_of(node), key_text(key) + r.note);
    return r.value;
}

std::optional<uint64_t> read_size(const toml::node& node, std::string_view key, DiagnosticSink& sink) {
    if (const auto* i = node.as_integer()) {
        if (i->get() < 0) {
            sink.error(position_of(node), key_text(key) + "a size cannot be negative");
            return std::nullopt;
        }
        return static_cast<uint64_t>(i->get());
    }
    const auto text = string_value(node, key, "64kb", sink);
    if (!text) return std::nullopt;
    Parsed<uint64_t> r = parse_size(*text);
    if (!r.ok()) {
        sink.error(position_of(node), key_text(key) + r.error);
        return std::nullopt;
    }
    return r.value;
}

std::optional<uint32_t> read_time_us(const toml::node& node, std::string_view key, DiagnosticSink& sink) {
    if (node.is_integer() || node.is_floating_point()) {
        sink.error(position_of(node), key_text(key) + "a time needs a unit; write e.g. \"5ms\" or \"500us\"");
        return std::nullopt;
    }
    const auto text = string_value(node, key, "5ms", sink);
    if (!text) return std::nullopt;
    Parsed<uint32_t> r = parse_time_us(*text);
    if (!r.ok()) {
        sink.error(position_of(node), key_text(key) + r.error);
        return std::nullopt;
    }
    if (r.value == 0) {
        sink.error(position_of(node), key_text(key) + "a time must be above zero");
        return std::nullopt;
    }
    return r.value;
}

std::optional<uint8_t> read_dscp(const toml::node& node, std::string_view key, DiagnosticSink& sink) {
    if (const auto* i = node.as_integer()) {
        if (i->get() >= 0 && i->get() <= 63) return static_cast<uint8_t>(i->get());
        sink.error(position_of(node), key_text(key) + std::to_string(i->get()) + " is out of range; " +
                                          std::string(kDscpHint));
        return std::nullopt;
    }
    const auto text = string_value(node, key, "EF", sink);
    if (!text) return std::nullopt;
    const auto d = dscp_from_string(*text);
    if (!d) sink.error(position_of(node), key_text(key) + quoted(*text) + " is not a DSCP; " + std::string(kDscpHint));
    return d;
}

std::optional<uint64_t> read_dscp_set(const toml::node& node, std::string_view key, DiagnosticSink& sink) {
    uint64_t mask = 0;
    bool good = true;
    if (const auto* array = node.as_array()) {
        if (array->empty()) {
            sink.error(position_of(node), key_text(key) + "an empty list matches nothing; leave the key out to "
                                                          "match any DSCP");
            return std::nullopt;
        }
        for (const toml::node& element : *array) good = add_dscp_element(element, key, mask, sink) && good;
    } else {
        good = add_dscp_element(node, key, mask, sink);
    }
    if (!good) return std::nullopt;
    return mask;
}

}  // namespace sluice::policy
