// What live edits share: the operator's values as TOML, and the edited
// policy loaded as a file is, its messages worded for the command.
#pragma once

#include <string>

#include "common/result.hpp"
#include "control/policy/policy.hpp"
#include "control/policy/toml_writer.hpp"
#include "control/runtime/live_edits.hpp"
#include "control/server/protocol.hpp"

namespace sluice::runtime {

// What the operator gave, as the command line shows it.
std::string shown_value(const control::json& v);

// A value of a live edit as TOML, the way sluicectl's rule add writes one:
// plain digits are a number, other text a string. The loader then reads it
// as it reads a file's.
Result<std::string> toml_value(const control::json& v, const char* key);

// `base` with the operator's text written in, loaded as a file is; the
// result's policy and warnings are set, the rest is the caller's.
Result<EditedPolicy> load_edited(const policy::Policy& base, const std::string& command,
                                 const policy::OperatorText& edit);

}  // namespace sluice::runtime
