// Reading typed values out of a toml++ table with every mistake reported
// against the place it was made.
//
// A TableReader wraps one table of the file. `check_keys` reports keys the
// schema does not know, with the nearest valid key; the typed getters report
// wrong types and ranges and return nothing, so callers carry on and later
// passes can still find their own errors.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "control/policy/diagnostic.hpp"

namespace sluice::policy {

Position position_of(const toml::node& node);
Position position_of(const toml::key& key);

// "a string", "an integer", ... for messages.
std::string_view type_phrase(const toml::node& node);

// "\"text\"" quoted for a message.
std::string quoted(std::string_view text);

class TableReader {
public:
    // `where` names the table for messages: "[upload]", "[[upload.class]]".
    TableReader(const toml::table& table, std::string where, DiagnosticSink& sink)
        : table_(table), where_(std::move(where)), sink_(sink) {}

    const toml::table& table() const { return table_; }
    const std::string& where() const { return where_; }
    DiagnosticSink& sink() const { return sink_; }
    // The table's own position: its header, or its first key for inline tables.
    Position at() const { return position_of(table_); }
    // Where the value of `key` is; the table's position when it is missing.
    Position at(std::string_view key) const;

    void check_keys(std::span<const std::string_view> allowed) const;

    const toml::node* find(std::string_view key) const { return table_.get(key); }
    bool has(std::string_view key) const { return find(key) != nullptr; }

    std::optional<std::string_view> string(std::string_view key) const;
    std::optional<int64_t> integer(std::string_view key, int64_t lo, int64_t hi) const;
    std::optional<bool> boolean(std::string_view key) const;

    // Reports "<where> needs <key>: <hint>" at the table when `key` is absent.
    bool require(std::string_view key, std::string_view hint) const;

    void error(std::string_view key, std::string message) const { sink_.error(at(key), std::move(message)); }

private:
    const toml::table& table_;
    std::string where_;
    DiagnosticSink& sink_;
};

// The string a node holds, or an error that says what was expected.
std::optional<std::string_view> string_value(const toml::node& node, std::string_view key_name,
                                             std::string_view example, DiagnosticSink& sink);

}  // namespace sluice::policy
