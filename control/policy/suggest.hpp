// "Did you mean ...?": the nearest of a set of valid names to a misspelt one.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sluice::policy {

// Optimal-string-alignment distance: insertions, deletions, substitutions
// and swaps of neighbours each cost one (so "pirority" is one from
// "priority"). Case-insensitive.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, when it is close enough to be a likely
// typo: at most 1 edit for short words, about a third of the length for
// longer ones.
std::optional<std::string> nearest(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace sluice::policy
