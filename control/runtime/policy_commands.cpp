#include "control/runtime/policy_commands.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <initializer_list>

namespace sluice::runtime {

using namespace dataplane;

using control::json;

namespace {

json report_json(const LoadReport& r) {
    return json{{"file", r.file}, {"reload_file", r.reload_file}, {"checksum", r.checksum}, {"warnings", r.warnings},
                {"messages", r.messages}, {"class_changes", r.tree_changes}, {"applied_in_ms", r.publish_ms},
                {"checked_in_ms", r.check_ms}, {"compiled_in_ms", r.compile_ms}, {"switched_in_ms", r.locked_ms}};
}

Result<bool> only_keys(const json& args, std::initializer_list<const char*> keys, const char* cmd) {
    for (const auto& [key, value] : args.items()) {
        bool known = false;
        for (const char* k : keys) known = known || key == k;
        if (!known) {
            std::string list;
            for (const char* k : keys) list += (list.empty() ? "" : ", ") + std::string(k);
            return Error{fmt::format("'{}' takes {}; not '{}'", cmd, list, key)};
        }
    }
    return true;
}

// The "file" argument: an absolute path (the daemon's working directory is
// not the caller's).
Result<std::string> file_arg(const json& args) {
    auto f = control::string_arg(args, "file");
    if (!f) return Error{f.error()};
    if (f->empty() || f->front() != '/') return Error{fmt::format("name the file by its absolute path, not '{}'", *f)};
    return f;
}

std::string members_may(const policy::PolicyDirectory& dir) {
    return fmt::format("members of the socket's group name files only in the policy directory {}; send the file's "
                       "contents instead (sluicectl does this for files elsewhere)",
                       dir.path());
}

// The policy a request names: text the client sent ({"text", "name"}), a
// file ({"file"}: any path for root, one in the policy directory for a
// member), or, where `running_by_default`, the running policy's own file.
Result<PolicySource> source_of(const json& args, const control::Peer& peer, const policy::PolicyDirectory& dir,
                               const PolicyRuntime& runtime, bool running_by_default) {
    const bool has_text = control::has_arg(args, "text"), has_file = control::has_arg(args, "file");
    if (has_text && has_file) return Error{"send either 'file' or 'text', not both"};
    if (has_text) {
        auto text = control::string_arg(args, "text");
        if (!text) return Error{text.error()};
        if (text->size() > policy::kMaxPolicyBytes) {
            return Error{fmt::format("the policy text is {} bytes; a policy may be at most {} bytes", text->size(),
                                     policy::kMaxPolicyBytes)};
        }
        std::string name = "policy text";
        if (control::has_arg(args, "name")) {
            auto n = control::string_arg(args, "name");
            if (!n) return Error{n.error()};
            if (n->empty() || n->size() > 4096 || n->find('\n') != std::string::npos) {
                return Error{"'name' must be one line of at most 4096 bytes"};
            }
            name = *n;
        }
        return PolicySource{std::move(*text), std::move(name), ""};
    }
    if (control::has_arg(args, "name")) return Error{"'name' goes with 'text'"};
    std::string file;
    if (has_file) {
        auto f = file_arg(args);
        if (!f) return Error{f.error()};
        file = *f;
    } else if (running_by_default) {
        file = runtime.path();
        if (file.empty()) return Error{"the running policy has no file; name one or send its text"};
    } else {
        return Error{"name a file ('file') or send the policy itself ('text')"};
    }
    // The running policy's own file, and any file root names, are read as
    // named; a member reaches only the policy directory.
    const bool as_named = peer.role == control::Role::root || file == runtime.path();
    auto text = as_named ? policy::read_policy_text(file) : dir.read(file);
    if (!text) {
        if (!as_named && !dir.below(file)) return Error{fmt::format("{}: {}", file, members_may(dir))};
        return Error{text.error()};
    }
    return PolicySource{std::move(*text), file, file};
}

// Where `policy save` may write for this peer: the running policy's file
// for anyone allowed to save; any path for root; a path in the policy
// directory for a member.
Result<policy::FileSpot> save_spot(const json& args, const control::Peer& peer, const policy::PolicyDirectory& dir,
                                   const PolicyRuntime& runtime, bool& running_file) {
    const std::string running = runtime.path();
    if (!control::has_arg(args, "file")) {
        if (running.empty()) {
            return Error{"the running policy has no file (sluiced was started without --policy); name one to save to"};
        }
        running_file = true;
        return policy::spot_of(running);
    }
    auto file = file_arg(args);
    if (!file) return Error{file.error()};
    running_file = *file == running;
    if (running_file || peer.role == control::Role::root) return policy::spot_of(*file);
    if (!dir.below(*file)) {
        return Error{fmt::format("{}: a member may save only to the running policy's file ({}) or in the policy "
                                 "directory {}",
                                 *file, running.empty() ? "none" : running, dir.path())};
    }
    return dir.spot(*file);
}

// A policy published without a shaper would classify and count but shape
// nothing: refused, rather than answered "applied".
constexpr const char* kNoShaper =
    "policy refused: sluiced was started without --policy, so it forwards without a shaper, and its shapers are "
    "built only at start, from the policy it starts with; restart sluiced with --policy FILE ('sluicectl policy "
    "check FILE' validates a file meanwhile)";

void log_report(const char* what, const LoadReport& r) {
    spdlog::info("policy {} {} (checksum {}, {} warnings; checked in {:.0f} ms, rules compiled in {:.0f} ms, "
                 "switched over in {:.1f} ms, workers switched in {:.2f} ms)",
                 what, r.file, r.checksum, r.warnings, r.check_ms, r.compile_ms, r.locked_ms, r.publish_ms);
    for (const auto& c : r.tree_changes) spdlog::info("{}", c);
    for (const auto& m : r.messages) spdlog::warn("{}", m);
}

}  // namespace

// Loads, edits, checks, diffs and saves run in the background (see
// CommandSpec::background): each parses and checks a whole policy, which
// takes seconds at 100,000 rules, and a save waits for the disk. They use
// the runtime, which is safe from any thread, and nothing else.
void register_policy_commands(control::CommandTable& table, PolicyRuntime& runtime,
                              const policy::PolicyDirectory& policy_dir) {
    table.add("policy load", {"apply a policy: a file ('file') or its text ('text', 'name')", true,
                              [&runtime, &policy_dir](const json& args, const control::Peer& peer) -> Result<json> {
        if (auto k = only_keys(args, {"file", "text", "name"}, "policy load"); !k) return Error{k.error()};
        if (!runtime.shapes()) return Error{kNoShaper};
        auto source = source_of(args, peer, policy_dir, runtime, false);
        if (!source) return Error{fmt::format("policy refused; the running policy stays: {}", source.error())};
        auto r = runtime.load(*source);
        if (!r) {
            spdlog::warn("{}", r.error());
            return Error{r.error()};
        }
        log_report("loaded", *r);
        return report_json(*r);
    }, control::Access::member, /*background=*/true});
    table.add("policy reload", {"load the running policy's file again", true,
                                [&runtime](const json& args, const control::Peer&) -> Result<json> {
        if (auto k = only_keys(args, {}, "policy reload"); !k) return Error{k.error()};
        auto r = runtime.reload();
        if (!r) {
            spdlog::warn("{}", r.error());
            return Error{r.error()};
        }
        log_report("reloaded", *r);
        return report_json(*r);
    }, control::Access::member, /*background=*/true});
    table.add("set class", {"change a class's rate, ceil, burst, cburst, priority or weight live", true,
                            [&runtime](const json& args, const control::Peer&) -> Result<json> {
        auto r = runtime.set_class(args);
        if (r) spdlog::info("class {} changed: {}", (*r)["class"].get<std::string>(), (*r)["applied"].dump());
        return r;
    }, control::Access::member, /*background=*/true});
    for (const char* op : {"rule add", "rule del", "rule move", "meter set"}) {
        table.add(op, {"edit the running rules or meters (checked as a policy file is)", true,
                       [&runtime, op](const json& args, const control::Peer&) -> Result<json> {
            auto r = runtime.edit(op, args);
            if (r) spdlog::info("{}: rules now {}", op, (*r)["rules"].dump());
            else spdlog::warn("{}", r.error());
            return r;
        }, control::Access::member, /*background=*/true});
    }
    table.add("policy save", {"write the running policy to its file (or another), atomically", true,
                              [&runtime, &policy_dir](const json& args, const control::Peer& peer) -> Result<json> {
        if (auto k = only_keys(args, {"file"}, "policy save"); !k) return Error{k.error()};
        bool running_file = false;
        auto spot = save_spot(args, peer, policy_dir, runtime, running_file);
        if (!spot) return Error{fmt::format("nothing was saved: {}", spot.error())};
        auto r = runtime.save(*spot, running_file);
        if (r) spdlog::info("policy saved to {}", (*r)["file"].get<std::string>());
        return r;
    }, control::Access::member, /*background=*/true});
    table.add("policy diff", {"what differs between the running policy and a file (default: its own) or a text", false,
                              [&runtime, &policy_dir](const json& args, const control::Peer& peer) -> Result<json> {
        if (auto k = only_keys(args, {"file", "text", "name"}, "policy diff"); !k) return Error{k.error()};
        auto source = source_of(args, peer, policy_dir, runtime, true);
        if (!source) return Error{source.error()};
        return runtime.diff(*source);
    }, control::Access::member, /*background=*/true});
    table.add("policy check", {"validate a policy (a file or its text) without applying it", false,
                               [&runtime, &policy_dir](const json& args, const control::Peer& peer) -> Result<json> {
        if (auto k = only_keys(args, {"file", "text", "name"}, "policy check"); !k) return Error{k.error()};
        auto source = source_of(args, peer, policy_dir, runtime, false);
        if (!source) return Error{source.error()};
        auto r = check_policy(*source);
        if (!r) return Error{r.error()};
        return json{{"file", source->name}, {"valid", true}, {"messages", *r}};
    }, control::Access::member, /*background=*/true});
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
    // "stats policy" is the daemon's (daemon_commands.cpp): it shares the
    // zero point that "stats reset" moves.
}

}  // namespace sluice::runtime
