#include "control/policy/loader.hpp"

#include <array>
#include <unordered_map>

#include <toml++/toml.h>

#include "control/policy/class_tree.hpp"
#include "control/policy/management.hpp"
#include "control/policy/meters.hpp"
#include "control/policy/policy_file.hpp"
#include "control/policy/rules.hpp"
#include "control/policy/shadowing.hpp"
#include "control/policy/toml_errors.hpp"
#include "control/policy/toml_reader.hpp"

namespace sluice::policy {

namespace {

constexpr std::array<std::string_view, 6> kTopKeys{"version", "upload", "download", "rule", "meter", "management"};

LoadResult finish(std::shared_ptr<Policy> policy, DiagnosticSink& sink) {
    LoadResult result;
    if (!sink.has_errors()) result.policy = std::move(policy);
    result.diagnostics = sink.take();
    return result;
}

}  // namespace

LoadResult load_string(std::string_view text, std::string_view name) {
    DiagnosticSink sink{std::string(name)};
    toml::table document;
    try {
        document = toml::parse(text, name);
    } catch (const toml::parse_error& e) {
        // The TOML itself is broken: nothing after this point can be trusted.
        const auto& b = e.source().begin;
        const Position at{b.line ? static_cast<uint32_t>(b.line) : 1, b.column ? static_cast<uint32_t>(b.column) : 1};
        TomlErrorText explained = explain_toml_error(text, at, e.description());
        sink.error(explained.at, std::move(explained.message));
        return finish(nullptr, sink);
    }

    TableReader top(document, "the policy", sink);
    top.check_keys(kTopKeys);
    if (const toml::node* v = top.find("version")) {
        if (const auto* i = v->as_integer(); i == nullptr || i->get() != kPolicyVersion)
            sink.error(position_of(*v), "version: this sluiced reads policy version " + std::to_string(kPolicyVersion) +
                                            "; write version = " + std::to_string(kPolicyVersion));
    }

    // Built in place: the class indexes keep views into class names.
    auto policy = std::make_shared<Policy>();
    std::array<ClassIndex, kDirectionCount> indexes;
    for (Direction d : {Direction::upload, Direction::download}) {
        DirectionDraft draft = read_direction(top.find(direction_name(d)), d, sink);
        resolve_tree(std::move(draft), policy->directions[index(d)], indexes[index(d)], sink);
    }

    std::unordered_map<std::string_view, uint32_t> meters_by_name;
    read_meters(top.find("meter"), policy->meters, meters_by_name, sink);

    RuleContext context;
    context.classes = {&indexes[0], &indexes[1]};
    context.meters = &meters_by_name;
    std::vector<Position> rule_positions;
    const size_t errors_before_rules = sink.error_count();
    read_rules(top.find("rule"), context, policy->rules, rule_positions, sink);
    // Shadowing is judged on rules as written; after an error in a rule its
    // match may be half-read, and a warning about it would mislead.
    if (sink.error_count() == errors_before_rules) warn_shadowed_rules(policy->rules, rule_positions, sink);

    read_management(top.find("management"), policy->management, sink);
    return finish(std::move(policy), sink);
}

LoadResult load_file(const std::string& path) {
    auto text = read_policy_text(path);
    if (!text) {
        DiagnosticSink sink{path};
        sink.error(Position{1, 1}, text.error());
        return finish(nullptr, sink);
    }
    return load_string(*text, path);
}

}  // namespace sluice::policy
