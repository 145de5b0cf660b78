// rule add, del and move, and meter set: see live_edits.hpp.
#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>

#include "control/runtime/edited_text.hpp"
#include "control/runtime/live_edits.hpp"
#include "control/server/command_table.hpp"

namespace sluice::runtime {

Result<EditedPolicy> edit_rules(const policy::Policy& running, const std::string& op, const control::json& args) {
    policy::Policy copy = running;
    auto rule_index = [&](const std::string& name) -> std::optional<size_t> {
        for (size_t i = 0; i < copy.rules.size(); ++i) {
            if (copy.rules[i].name == name) return i;
        }
        return std::nullopt;
    };
    policy::OperatorText edit;
    std::string command = op;
    if (op == "rule add") {
        auto body = control::string_arg(args, "rule");
        if (!body) return Error{body.error() + " (the rule's keys as TOML, e.g. 'protocol = \"udp\"\\ndst_port = 5060\\nclass = \"voice\"')"};
        size_t at = copy.rules.size();
        if (args.contains("at")) {
            auto a = control::int_arg(args, "at", 1, static_cast<int64_t>(copy.rules.size()) + 1);
            if (!a) return Error{a.error()};
            at = static_cast<size_t>(*a - 1);
            command += fmt::format(" at={}", *a);
        }
        bool named = false;
        for (size_t from = 0; from < body->size();) {
            size_t to = body->find('\n', from);
            if (to == std::string::npos) to = body->size();
            const std::string_view line = std::string_view(*body).substr(from, to - from);
            // A table header would end the rule and start something else.
            if (const size_t first = line.find_first_not_of(" \t"); first != std::string_view::npos && line[first] == '[') {
                return Error{"give the rule's keys only, without a [[rule]] or any other table header"};
            }
            const std::string shown = policy::shown_key(line);
            if (!shown.empty()) command += " " + shown;
            if (shown.rfind("name=", 0) == 0) named = true;
            from = to + 1;
        }
        edit.rule = *body;
        if (!named) {
            // A file numbers an unnamed rule by its place; here the running
            // rules keep the names they have, so take the first such name
            // that is free from that place on.
            std::set<std::string> taken;
            for (const auto& r : copy.rules) taken.insert(r.name);
            size_t n = at + 1;
            while (taken.count(fmt::format("rule-{}", n))) ++n;
            if (!edit.rule.empty() && edit.rule.back() != '\n') edit.rule += '\n';
            edit.rule += fmt::format("name = \"rule-{}\"\n", n);
        }
        edit.rule_at = at;
    } else if (op == "rule del" || op == "rule move") {
        auto name = control::string_arg(args, "name");
        if (!name) return Error{name.error()};
        command += " " + *name;
        const auto i = rule_index(*name);
        if (!i) return Error{fmt::format("{} refused: no rule named '{}'; 'sluicectl show rules' lists them", command, *name)};
        policy::Rule r = copy.rules[*i];
        copy.rules.erase(copy.rules.begin() + static_cast<std::ptrdiff_t>(*i));
        if (op == "rule move") {
            auto to = control::int_arg(args, "to", 1, static_cast<int64_t>(copy.rules.size()) + 1);
            if (!to) return Error{to.error()};
            command += fmt::format(" {}", *to);
            copy.rules.insert(copy.rules.begin() + (*to - 1), r);
        }
    } else if (op == "meter set") {
        auto name = control::string_arg(args, "name");
        if (!name) return Error{name.error()};
        command += " " + *name;
        bool found = false;
        for (const auto& m : copy.meters) found = found || m.name == *name;
        if (!found) return Error{fmt::format("{} refused: no meter named '{}'; 'sluicectl show meters' lists them", command, *name)};
        static const char* kMeterKeys[] = {"cir", "cbs", "ebs", "pir", "pbs", "yellow", "red", "yellow_dscp", "red_dscp"};
        for (const auto& item : args.items()) {
            const std::string& key = item.key();
            if (key == "name") continue;
            if (std::find_if(std::begin(kMeterKeys), std::end(kMeterKeys), [&](const char* k) { return key == k; }) ==
                std::end(kMeterKeys)) {
                return Error{fmt::format("unknown meter setting '{}'; use cir, cbs, ebs, pir, pbs, yellow, red, "
                                         "yellow_dscp, red_dscp", key)};
            }
        }
        for (const char* key : kMeterKeys) {
            if (!args.contains(key)) continue;
            const std::string shown = fmt::format("{}={}", key, shown_value(args[key]));
            command += " " + shown;
            auto value = toml_value(args[key], key);
            if (!value) return Error{fmt::format("{} refused: {}", command, value.error())};
            edit.meter_keys.push_back({key, std::move(*value), shown});
        }
        if (edit.meter_keys.empty()) return Error{"nothing to change: give cir, cbs, ebs, pir, pbs, yellow or red"};
        edit.meter = *name;
    } else {
        return Error{fmt::format("unknown edit '{}'", op)};
    }

    // The edited policy is loaded as a file is, from the text policy save
    // would write: what an edit leaves running always saves and loads back.
    auto next = load_edited(copy, command, edit);
    if (!next) return Error{next.error()};
    // What was loaded keeps the lines of the file it came from (`show
    // rules` gives them); a rule added live has none.
    auto edited = std::make_shared<policy::Policy>(*next->policy);
    std::unordered_map<std::string_view, uint32_t> rule_lines;
    for (const auto& r : running.rules) rule_lines.emplace(r.name, r.line);
    for (auto& r : edited->rules) {
        const auto it = rule_lines.find(r.name);
        r.line = it == rule_lines.end() ? 0 : it->second;
    }
    for (size_t m = 0; m < edited->meters.size() && m < running.meters.size(); ++m) edited->meters[m].line = running.meters[m].line;
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        auto& classes = edited->directions[d].classes;
        const auto& was = running.directions[d].classes;
        for (size_t i = 0; i < classes.size() && i < was.size(); ++i) classes[i].line = was[i].line;
    }
    next->policy = edited;
    return next;
}

}  // namespace sluice::runtime
