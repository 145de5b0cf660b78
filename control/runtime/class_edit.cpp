// set class: see live_edits.hpp.
#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "control/policy/class_tree.hpp"
#include "control/runtime/edited_text.hpp"
#include "control/runtime/live_edits.hpp"

namespace sluice::runtime {

Result<EditedPolicy> edit_class(const policy::Policy& running, const control::json& args) {
    // The keys are the policy file's; "prio" is kept as priority's short alias.
    static const char* kFileKeys[] = {"rate", "ceil", "burst", "cburst", "priority", "weight"};
    for (const auto& item : args.items()) {
        const std::string& key = item.key();
        const bool known = key == "class" || key == "direction" || key == "prio" ||
                           std::find_if(std::begin(kFileKeys), std::end(kFileKeys),
                                        [&](const char* k) { return key == k; }) != std::end(kFileKeys);
        if (!known) {
            return Error{fmt::format("unknown setting '{}'; set class takes rate, ceil, burst, cburst, priority (or prio), "
                                     "weight (and direction)", key)};
        }
    }
    if (args.contains("priority") && args.contains("prio")) {
        return Error{"priority and prio are the same setting; give one of them"};
    }
    if (!args.contains("class") || !args["class"].is_string()) return Error{"name the class: class=NAME"};
    const std::string name = args["class"].get<std::string>();

    // The operator's values go into the policy as written and are read by
    // the loader, as a file's are: one set of checks, one set of messages.
    std::string command = "set class " + name;
    std::vector<policy::GivenKey> keys;
    for (const char* key : {"rate", "ceil", "burst", "cburst", "priority", "prio", "weight"}) {
        if (!args.contains(key)) continue;
        const std::string shown = fmt::format("{}={}", key, shown_value(args[key]));
        command += " " + shown;
        auto value = toml_value(args[key], key);
        if (!value) return Error{fmt::format("{} refused: {}", command, value.error())};
        keys.push_back({std::string(key) == "prio" ? "priority" : key, std::move(*value), shown});
    }
    if (keys.empty()) return Error{"nothing to change: give rate, ceil, burst, cburst, priority or weight"};

    std::vector<size_t> dirs;
    if (args.contains("direction")) {
        const auto d = args["direction"].is_string() ? args["direction"].get<std::string>() : "";
        if (d == "upload") dirs = {0};
        else if (d == "download") dirs = {1};
        else return Error{"direction must be upload or download"};
        command += " direction=" + d;
    } else {
        dirs = {0, 1};
    }
    std::vector<size_t> targets;
    for (size_t d : dirs) {
        for (const auto& c : running.directions[d].classes) {
            if (c.name == name) targets.push_back(d);
        }
    }
    if (targets.empty()) return Error{fmt::format("no class '{}' in {}", name, dirs.size() == 2 ? "either direction" : policy::direction_name(static_cast<policy::Direction>(dirs[0])))};
    if (name == policy::kRootName) {
        // The root is the link: its rate is the direction's `rate`; its
        // bursts follow from it and it has no priority or weight.
        for (const auto& k : keys) {
            if (k.key != "rate") {
                return Error{fmt::format("{} refused: the root is the link itself; of its settings only the rate "
                                         "changes (the [{}] table's rate)", command,
                                         policy::direction_name(static_cast<policy::Direction>(targets[0])))};
            }
        }
    }

    policy::OperatorText edit;
    edit.trees_only = true;
    for (size_t d : targets) {
        auto& ck = edit.classes.emplace_back();
        ck.direction = static_cast<policy::Direction>(d);
        ck.name = name;
        ck.keys = keys;
        // Both directions take the same keys; a message says which one it is about.
        if (targets.size() > 1) {
            for (auto& k : ck.keys) k.shown += fmt::format(" ({})", policy::direction_name(ck.direction));
        }
    }
    auto next = load_edited(running, command, edit);
    if (!next) return Error{next.error()};
    // Only class numbers changed: the running rules, meters and marks stay
    // as they are (and with them the classifier's tables); the trees come
    // from the load, the classes keeping the lines of the file they came from.
    auto merged = std::make_shared<policy::Policy>(running);
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        auto& tree = merged->directions[d];
        const auto& was = running.directions[d].classes;
        tree = next->policy->directions[d];
        for (size_t i = 0; i < tree.classes.size() && i < was.size(); ++i) tree.classes[i].line = was[i].line;
    }
    next->policy = std::move(merged);
    next->classes_only = true;
    for (size_t d : targets) next->directions.push_back(static_cast<policy::Direction>(d));
    return next;
}

}  // namespace sluice::runtime
