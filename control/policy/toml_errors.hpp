// toml++'s parse errors in the project's words.
//
// toml++ describes what its grammar saw ("Error while parsing date: expected
// month between 1 and 12"), not what the operator meant (an unquoted port
// range). `explain_toml_error` looks at the value the error stopped in and at
// toml++'s description, and picks the first row of two small tables that fits;
// anything else is passed on as "invalid TOML: <toml++'s words>".
#pragma once

#include <string>
#include <string_view>

#include "control/policy/diagnostic.hpp"

namespace sluice::policy {

struct TomlErrorText {
    Position at;  // where to point: the value when the row is about a value
    std::string message;
};

// `text` is the whole file, `at` and `description` what toml++ reported.
TomlErrorText explain_toml_error(std::string_view text, Position at, std::string_view description);

}  // namespace sluice::policy
