// One direction of the policy: its link and its class tree.
//
// Reading and resolving are separate steps. `read_direction` turns the
// [upload] / [download] table into drafts that still hold names and
// percentages, with where each came from. `resolve_tree` then assigns ids in
// file order, links parents, finds cycles, computes percentages top-down and
// checks rates against parents and the link, all in time linear in the
// number of classes.
#pragma once

#include <toml++/toml.h>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "control/policy/diagnostic.hpp"
#include "control/policy/policy.hpp"
#include "control/policy/units.hpp"

namespace sluice::policy {

inline constexpr std::string_view kRootName = "root";
// Burst default: a millisecond at the rate plus one full Ethernet frame, as
// HTB sizes it (rate / HZ + MTU), so a class can always send a whole frame.
inline constexpr uint64_t kDefaultBurstUs = 1'000;
inline constexpr uint64_t kFullFrame = 1'514;

struct ClassDraft {
    std::string name;
    Position at;  // the table
    Position name_at;
    std::string parent;  // empty: the root
    Position parent_at;
    std::optional<RateOrShare> rate;
    Position rate_at;
    std::optional<RateOrShare> ceil;
    Position ceil_at;
    std::optional<uint64_t> burst, cburst;
    Position burst_at, cburst_at;
    std::optional<uint8_t> priority;
    Position priority_at;
    uint32_t weight = 1;
    bool weight_given = false;
    Queue queue{};
    std::optional<Position> queue_keys_at;  // set when any queue key was written
    std::optional<uint8_t> set_dscp;
    bool readable = true;  // false: an error in the class itself; skip later checks
};

struct DirectionDraft {
    Direction direction = Direction::upload;
    Position at;
    std::optional<uint64_t> link_rate;
    Position link_rate_at;
    Overhead overhead{};
    std::optional<std::string> default_class;
    Position default_at;
    std::vector<ClassDraft> classes;
};

// Name -> id for one direction, for rules and the default class. Views point
// into the tree's class names, so the tree must not move its vector after.
struct ClassIndex {
    std::unordered_map<std::string_view, uint32_t> by_name;
    const ClassTree* tree = nullptr;

    std::optional<uint32_t> find(std::string_view name) const;
    // A near name for "did you mean", when the tree is small enough to search.
    std::optional<std::string> suggest(std::string_view name) const;
};

// `node` is the direction's table, or null when the file has none.
DirectionDraft read_direction(const toml::node* node, Direction d, DiagnosticSink& sink);

// Fills `tree` (which must stay where it is) and `index` from the draft.
void resolve_tree(DirectionDraft&& draft, ClassTree& tree, ClassIndex& index, DiagnosticSink& sink);

}  // namespace sluice::policy
