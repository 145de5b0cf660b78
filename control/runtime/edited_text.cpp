#include "control/runtime/edited_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "control/policy/loader.hpp"

namespace sluice::runtime {

std::string shown_value(const control::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

Result<std::string> toml_value(const control::json& v, const char* key) {
    if (v.is_number_integer()) return v.dump();
    if (v.is_boolean()) return v.dump();
    if (v.is_string()) {
        const std::string s = v.get<std::string>();
        const bool number = !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos &&
                            (s.size() == 1 || s[0] != '0');
        return number ? s : policy::toml_string(s);
    }
    return Error{fmt::format("{}: give text such as \"10mbit\" or a whole number, not {}", key, v.dump())};
}

Result<EditedPolicy> load_edited(const policy::Policy& base, const std::string& command, const policy::OperatorText& edit) {
    policy::TextMap map;
    const std::string text = policy::to_toml(base, edit, &map);
    const auto result = policy::load_string(text, command);
    // Messages name what the operator gave, or the class, rule or meter they
    // are about: never a line of the text written here, which nobody wrote.
    // With one key given (in one or both directions) the command quoted at
    // the front says which; with more, each message says its key.
    std::set<std::string> given_keys;
    for (const auto& [line, shown] : map.given) given_keys.insert(shown.substr(0, shown.find('=')));
    const bool several = given_keys.size() > 1;
    auto say = [&](const policy::Diagnostic& d) {
        const auto place = map.place(d.line);
        if (place.text.empty()) return d.message;
        if (!place.given) return fmt::format("{}: {}", place.text, d.message);
        const std::string key = place.text.substr(0, place.text.find('='));
        if (d.message.rfind(key + ": ", 0) == 0) return fmt::format("{}: {}", place.text, d.message.substr(key.size() + 2));
        if (!several || d.message.rfind(key + " ", 0) == 0) return d.message;
        return fmt::format("{}: {}", place.text, d.message);
    };
    std::vector<std::string> errors, warnings;
    for (const auto& d : result.diagnostics) {
        auto& list = d.severity == policy::Diagnostic::Severity::error ? errors : warnings;
        std::string m = say(d);
        if (std::find(list.begin(), list.end(), m) == list.end()) list.push_back(std::move(m));
    }
    if (!result.ok()) {
        if (errors.empty()) errors.push_back("the edited policy does not load");
        if (errors.size() == 1) return Error{fmt::format("{} refused: {}", command, errors[0])};
        std::string all;
        for (const auto& e : errors) all += "\n  " + e;
        return Error{fmt::format("{} refused:{}", command, all)};
    }
    EditedPolicy e;
    e.policy = result.policy;
    e.command = command;
    e.warnings = std::move(warnings);
    return e;
}

}  // namespace sluice::runtime
