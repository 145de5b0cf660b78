// Loading a policy file: TOML text in, one validated immutable Policy out,
// or every error found, each with file:line:column.
//
// The loader runs every pass even after errors, so an operator fixes a file
// in one round; warnings (rules that can never match, keys with no effect)
// come with a valid policy too. Nothing here throws: toml++'s parse errors
// are caught and returned as diagnostics like the rest.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "control/policy/diagnostic.hpp"
#include "control/policy/policy.hpp"

namespace sluice::policy {

inline constexpr int64_t kPolicyVersion = 1;

struct LoadResult {
    std::shared_ptr<const Policy> policy;  // null when there is any error
    std::vector<Diagnostic> diagnostics;   // errors and warnings, in file order

    bool ok() const { return policy != nullptr; }
};

LoadResult load_file(const std::string& path);
// `name` stands for the file in messages.
LoadResult load_string(std::string_view text, std::string_view name);

}  // namespace sluice::policy
