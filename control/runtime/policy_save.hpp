// `policy save`: the running policy written as a file, checked to load back
// before anything is written, and written atomically (the previous file
// kept as FILE.bak; see policy::write_atomically).
#pragma once

#include <string>
#include <string_view>

#include "common/result.hpp"
#include "control/policy/policy.hpp"
#include "control/policy/policy_file.hpp"

namespace sluice::runtime {

// A policy file's checksum as status and reload report it (FNV-1a 64, hex).
std::string text_checksum(std::string_view text);

struct SavedPolicy {
    std::string checksum;  // of the text written
    std::string backup;    // the previous file's new name; empty when there was none
};

Result<SavedPolicy> save_policy(const policy::Policy& p, const policy::FileSpot& spot);

}  // namespace sluice::runtime
