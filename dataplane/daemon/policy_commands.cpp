#include "dataplane/daemon/policy_commands.hpp"

#include <spdlog/spdlog.h>

namespace sluice::dataplane {

using control::json;

namespace {

json report_json(const LoadReport& r) {
    return json{{"file", r.file}, {"checksum", r.checksum}, {"warnings", r.warnings},
                {"messages", r.messages}, {"class_changes", r.tree_changes}, {"applied_in_ms", r.publish_ms}};
}

// The optional "file" argument: empty when absent (the running policy's file).
Result<std::string> optional_file(const json& args) {
    if (!control::has_arg(args, "file")) return std::string();
    return control::string_arg(args, "file");
}

void log_report(const char* what, const LoadReport& r) {
    spdlog::info("policy {} {} (checksum {}, {} warnings, workers switched in {:.2f} ms)", what, r.file, r.checksum,
                 r.warnings, r.publish_ms);
    for (const auto& c : r.tree_changes) spdlog::info("{}", c);
    for (const auto& m : r.messages) spdlog::warn("{}", m);
}

}  // namespace

void register_policy_commands(control::CommandTable& table, PolicyRuntime& runtime) {
    table.add("policy load", {"load and apply a policy file", true,
                              [&runtime](const json& args, const control::Peer&) -> Result<json> {
        auto file = control::string_arg(args, "file");
        if (!file) return Error{file.error()};
        auto r = runtime.load(*file);
        if (!r) {
            spdlog::warn("{}", r.error());
            return Error{r.error()};
        }
        log_report("loaded", *r);
        return report_json(*r);
    }});
    table.add("policy reload", {"load the running policy's file again", true,
                                [&runtime](const json&, const control::Peer&) -> Result<json> {
        auto r = runtime.reload();
        if (!r) {
            spdlog::warn("{}", r.error());
            return Error{r.error()};
        }
        log_report("reloaded", *r);
        return report_json(*r);
    }});
    table.add("set class", {"change a class's rate, ceil, burst, cburst, prio or weight live", true,
                            [&runtime](const json& args, const control::Peer&) -> Result<json> {
        auto r = runtime.set_class(args);
        if (r) spdlog::info("class {} changed: {}", (*r)["class"].get<std::string>(), (*r)["applied"].dump());
        return r;
    }});
    for (const char* op : {"rule add", "rule del", "rule move", "meter set"}) {
        table.add(op, {"edit the running rules or meters (checked as a policy file is)", true,
                       [&runtime, op](const json& args, const control::Peer&) -> Result<json> {
            auto r = runtime.edit(op, args);
            if (r) spdlog::info("{}: rules now {}", op, (*r)["rules"].dump());
            else spdlog::warn("{}", r.error());
            return r;
        }});
    }
    table.add("policy save", {"write the running policy to its file (or another), atomically", true,
                              [&runtime](const json& args, const control::Peer&) -> Result<json> {
        auto file = optional_file(args);
        if (!file) return Error{file.error()};
        auto r = runtime.save(*file);
        if (r) spdlog::info("policy saved to {}", (*r)["file"].get<std::string>());
        return r;
    }});
    table.add("policy diff", {"what differs between the running policy and a file", false,
                              [&runtime](const json& args, const control::Peer&) -> Result<json> {
        auto file = optional_file(args);
        if (!file) return Error{file.error()};
        return runtime.diff(*file);
    }});
    table.add("policy check", {"validate a policy file without applying it", false,
                               [](const json& args, const control::Peer&) -> Result<json> {
        auto file = control::string_arg(args, "file");
        if (!file) return Error{file.error()};
        auto r = check_policy_file(*file);
        if (!r) return Error{r.error()};
        return json{{"file", *file}, {"valid", true}, {"messages", *r}};
    }});
    table.add("show classes", {"the class tree of each direction", false,
                               [&runtime](const json&, const control::Peer&) -> Result<json> {
        if (!runtime.loaded()) return Error{"no policy is loaded (start sluiced with --policy FILE)"};
        return runtime.classes();
    }});
    table.add("show rules", {"the rules in order", false, [&runtime](const json&, const control::Peer&) -> Result<json> {
        if (!runtime.loaded()) return Error{"no policy is loaded (start sluiced with --policy FILE)"};
        return json{{"rules", runtime.rules()}};
    }});
    table.add("show meters", {"the meters", false, [&runtime](const json&, const control::Peer&) -> Result<json> {
        if (!runtime.loaded()) return Error{"no policy is loaded (start sluiced with --policy FILE)"};
        return json{{"meters", runtime.meters()}};
    }});
    table.add("stats policy", {"counters per class, rule and meter", false,
                               [&runtime](const json&, const control::Peer&) -> Result<json> {
        if (!runtime.loaded()) return Error{"no policy is loaded (start sluiced with --policy FILE)"};
        return runtime.counters();
    }});
}

}  // namespace sluice::dataplane
