// The compiled policy written back as a policy file: what `policy save`
// stores, so that live changes survive a restart. Loading the text gives a
// policy with the same dump: values are written exactly (rates in bits per
// second, sizes in bytes), lists in their normalised form, every class,
// rule, meter and management entry. Values the file left to be derived (a
// class's ceil from its parent, bursts from rates, a meter's ebs from its
// cbs) are left out again, so the reload derives them from the values that
// hold then.
//
// A live edit is a write with the operator's own text in it (OperatorText),
// loaded again by the same loader as a file: one set of checks. The
// TextMap then says which part of the written text each line is, so a
// message about it can quote what the operator gave instead of a line of
// text nobody wrote.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control/policy/policy.hpp"

namespace sluice::policy {

// One key the operator gave: written as `key = toml`, quoted back as `shown`.
struct GivenKey {
    std::string key;
    std::string toml;   // a TOML value: "\"6mbit\"", "3"
    std::string shown;  // what the operator typed: "rate=6mbit"
};

struct OperatorText {
    // Keys of one class (of one direction), written in place of what the
    // policy has for them. The class "root" stands for the direction's
    // link: its `rate` is the direction table's.
    struct ClassKeys {
        Direction direction = Direction::upload;
        std::string name;
        std::vector<GivenKey> keys;
    };
    std::vector<ClassKeys> classes;
    // Keys of one meter, in place of the meter's. A new verdict drops the
    // running <colour>_dscp unless that is given too.
    std::string meter;
    std::vector<GivenKey> meter_keys;
    // One rule's body (its keys, as an operator writes them) placed before
    // rule `rule_at` (0-based; past the end appends). Empty: none.
    std::string rule;
    size_t rule_at = 0;
    // Only the links and class trees: what a change of class numbers can
    // affect. The rules, meters and management part name classes only by
    // names and leaves, which such a change keeps, so loading the trees
    // alone checks all that the whole file's load would, without reading
    // every rule again.
    bool trees_only = false;
};

// Where each line of written text came from.
struct TextMap {
    struct Table {
        uint32_t line = 0;  // its header's line
        std::string what;   // "class \"voice\" in upload", "rule \"ssh\"", "the new rule"
    };
    std::vector<Table> tables;  // in line order
    // The line of each key the operator gave, with the key as given.
    std::vector<std::pair<uint32_t, std::string>> given;

    // What `line` is: the operator's key (its `shown` text), or the table it
    // lies in ("" before the first table).
    struct Place {
        std::string text;
        bool given = false;
    };
    Place place(uint32_t line) const;
};

std::string to_toml(const Policy& p);
// A TOML basic string holding `text`, escaped where TOML needs it.
std::string toml_string(std::string_view text);
std::string to_toml(const Policy& p, const OperatorText& edit, TextMap* map);

// "key=value" for a line of TOML ("dst_port = \"5060\"" -> "dst_port=5060"):
// how an operator types it on sluicectl's command line.
std::string shown_key(std::string_view toml_line);

}  // namespace sluice::policy
