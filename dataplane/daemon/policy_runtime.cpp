#include "dataplane/daemon/policy_runtime.hpp"

#include <rte_cycles.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <sstream>
#include <iterator>
#include <optional>

#include "classifier/policy_spec.hpp"
#include "control/policy/class_tree.hpp"
#include "dataplane/tsc_rate.hpp"
#include "control/policy/dump.hpp"
#include "control/policy/toml_writer.hpp"
#include "control/policy/units.hpp"
#include "control/server/command_table.hpp"
#include "shaper/policy_classes.hpp"
#include "control/policy/loader.hpp"

namespace sluice::dataplane {
namespace {

std::string text_checksum(std::string_view text) {
    uint64_t h = 1469598103934665603ull;
    for (const char c : text) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return fmt::format("{:016x}", h);
}

std::string rate_text(uint64_t bytes_per_s) {
    const double bits = static_cast<double>(bytes_per_s) * 8;
    if (bits >= 1e9) return fmt::format("{:g}gbit", bits / 1e9);
    if (bits >= 1e6) return fmt::format("{:g}mbit", bits / 1e6);
    if (bits >= 1e3) return fmt::format("{:g}kbit", bits / 1e3);
    return fmt::format("{:g}bit", bits);
}

// What a meter does with a colour: pass, drop or remark:DSCP.
std::string verdict_text(const policy::ColourAction& a) {
    if (a.verdict == policy::Verdict::remark) return fmt::format("remark:{}", static_cast<int>(a.dscp));
    return a.verdict == policy::Verdict::drop ? "drop" : "pass";
}

const char* queue_name(policy::QueueKind k) {
    return k == policy::QueueKind::fifo ? "fifo" : k == policy::QueueKind::codel ? "codel" : "fq_codel";
}

// What the operator gave, as the command line shows it.
std::string shown_value(const control::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// A value of a live edit as TOML, the way sluicectl's rule add writes one:
// plain digits are a number, other text a string. The loader then reads it
// as it reads a file's.
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

// A policy an edit made, and the loader's warnings about it.
struct Edited {
    std::shared_ptr<const policy::Policy> policy;
    std::vector<std::string> warnings;
};

// `base` with the operator's text written in, loaded as a file is.
Result<Edited> load_edited(const policy::Policy& base, const std::string& command, const policy::OperatorText& edit) {
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
    return Edited{result.policy, std::move(warnings)};
}

}  // namespace

Result<std::vector<std::string>> check_policy(const PolicySource& source) {
    const auto result = policy::load_string(source.text, source.name);
    std::vector<std::string> lines;
    for (const auto& d : result.diagnostics) lines.push_back(policy::format(d));
    if (!result.ok()) {
        std::string all;
        for (const auto& l : lines) all += (all.empty() ? "" : "\n") + l;
        return Error{all.empty() ? fmt::format("{}: the policy does not load", source.name) : all};
    }
    return lines;
}

Result<std::vector<std::string>> check_policy_file(const std::string& path) {
    auto text = policy::read_policy_text(path);
    if (!text) return Error{text.error()};
    return check_policy({std::move(*text), path, path});
}

Result<PolicyRuntime::Compiled> PolicyRuntime::compile(const policy::Policy& p) {
    Compiled c{classifier::spec_from_policy(p), nullptr};
    auto rules = classifier::RuleSet::compile(c.spec.spec.rules);
    if (!rules) return Error{rules.error()};
    c.rules = std::move(*rules);
    return c;
}

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

PolicyRuntime::Prepared PolicyRuntime::prepare(const PolicySource& source) {
    Prepared p;
    auto t0 = std::chrono::steady_clock::now();
    p.result = policy::load_string(source.text, source.name);
    p.check_ms = ms_since(t0);
    t0 = std::chrono::steady_clock::now();
    if (p.result.ok()) p.compiled = compile(*p.result.policy);
    p.compile_ms = ms_since(t0);
    return p;
}

Result<LoadReport> PolicyRuntime::load(const PolicySource& source) {
    // Parsed, checked and compiled before the lock: see the header.
    Prepared prepared = prepare(source);
    std::lock_guard lock(mutex_);
    return load_locked(source, prepared);
}

Result<LoadReport> PolicyRuntime::load_file(const std::string& path) {
    // Read outside the lock: `status` and `show` need not wait for the disk.
    auto text = policy::read_policy_text(path);
    if (!text) return Error{fmt::format("policy {} refused; the running policy stays: {}", path, text.error())};
    const PolicySource source{std::move(*text), path, path};
    Prepared prepared = prepare(source);
    std::lock_guard lock(mutex_);
    return load_locked(source, prepared);
}

Result<LoadReport> PolicyRuntime::reload() {
    std::string file;
    {
        std::lock_guard lock(mutex_);
        file = path_;
    }
    if (file.empty()) return Error{"no policy file to reload: sluiced was started without --policy and no file was loaded"};
    return load_file(file);
}

std::shared_ptr<const policy::Policy> PolicyRuntime::current() const {
    std::lock_guard lock(mutex_);
    return policy_;
}

void PolicyRuntime::set_schedulers(const shaper::Scheduler* upload, const shaper::Scheduler* download) {
    std::lock_guard lock(mutex_);
    schedulers_[0] = upload;
    schedulers_[1] = download;
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        shaper_ids_[d] = policy_ ? shaper::numbered_ids(policy_->directions[d]) : std::vector<uint32_t>{};
        id_supply_[d] = shaper::IdSupply{{}, static_cast<uint32_t>(shaper_ids_[d].size())};
    }
}

void PolicyRuntime::set_channels(ChangeChannel* upload, ChangeChannel* download) {
    std::lock_guard lock(mutex_);
    channels_[0] = upload;
    channels_[1] = download;
}

Result<control::json> PolicyRuntime::set_class(const control::json& args) {
    using control::json;
    std::lock_guard lock(mutex_);
    if (!policy_) return Error{"no policy is loaded (start sluiced with --policy FILE)"};
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
        for (const auto& c : policy_->directions[d].classes) {
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
    auto next = load_edited(*policy_, command, edit);
    if (!next) return Error{next.error()};
    // Only class numbers changed: the running rules, meters and marks stay
    // as they are (and with them the classifier's tables); the trees come
    // from the load, the classes keeping the lines of the file they came from.
    auto merged = std::make_shared<policy::Policy>(*policy_);
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        auto& tree = merged->directions[d];
        const auto& was = policy_->directions[d].classes;
        tree = next->policy->directions[d];
        for (size_t i = 0; i < tree.classes.size() && i < was.size(); ++i) tree.classes[i].line = was[i].line;
    }
    auto ms = publish_locked(merged, nullptr, nullptr, true);
    if (!ms) return Error{fmt::format("{} refused; the running policy stays: {}", command, ms.error())};

    json applied = json::array();
    for (size_t d : targets) {
        for (const auto& c : policy_->directions[d].classes) {
            if (c.name != name) continue;
            applied.push_back({{"direction", policy::direction_name(static_cast<policy::Direction>(d))},
                               {"rate", rate_text(c.rate)}, {"ceil", rate_text(c.ceil)}, {"burst", c.burst},
                               {"cburst", c.cburst}, {"priority", c.priority}, {"prio", c.priority}, {"weight", c.weight}});
        }
    }
    return json{{"class", name}, {"applied", applied}, {"warnings", next->warnings},
                {"applied_in_us", static_cast<int64_t>(*ms * 1000.0)}};
}


Result<double> PolicyRuntime::publish_locked(std::shared_ptr<const policy::Policy> next,
                                             std::vector<std::string>* notes,
                                             std::vector<std::string>* tree_changes, bool classes_only,
                                             Compiled* compiled) {
    // What each running scheduler must change to become `next`'s tree (often
    // nothing), and the scheduler id of every class of `next`: class
    // numbers may shift between two policies even when the tree is the same.
    std::array<shaper::TreePlan, 2> plan_storage;
    std::array<shaper::TreePlan, 2>* plans = nullptr;
    if (policy_ && (schedulers_[0] != nullptr || schedulers_[1] != nullptr)) {
        plans = &plan_storage;
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
            if (schedulers_[d] == nullptr) continue;
            const auto& was = policy_->directions[d];
            const auto& now = next->directions[d];
            const char* dir = policy::direction_name(static_cast<policy::Direction>(d));
            if (!(shaper::scheduler_config(was, 1, 1).overhead == shaper::scheduler_config(now, 1, 1).overhead)) {
                return Error{fmt::format("the {} link's overhead (overhead, mpu, framing) changes only at a "
                                         "restart of sluiced", dir)};
            }
            auto& p = plan_storage[d] = shaper::plan_tree_change(was, shaper_ids_[d], now, id_supply_[d]);
            if (!p.empty() && channels_[d] == nullptr) {
                return Error{fmt::format("the {} class tree differs, and this shaper takes no changes", dir)};
            }
            if (!p.empty() && tree_changes != nullptr) {
                tree_changes->push_back(fmt::format("{} classes: {} kept ({} changed), {} added, {} removed", dir,
                                                    p.kept, p.modified, p.added, p.removed));
            }
        }
    }
    // The classifier's tables depend on the rules, meters and marks and on
    // which classes exist, not on the classes' numbers: when only those
    // change (a set class) and no class comes or goes, the running tables
    // stay and only the schedulers change.
    bool keep_tables = classes_only && policy_ && publisher_.current_owned();
    for (size_t d = 0; d < policy::kDirectionCount && keep_tables; ++d) {
        if (plans != nullptr && schedulers_[d] != nullptr && ((*plans)[d].added != 0 || (*plans)[d].removed != 0)) keep_tables = false;
        if (next->directions[d].classes.size() != policy_->directions[d].classes.size()) keep_tables = false;
    }
    std::optional<Result<std::shared_ptr<const classifier::ClassifierTables>>> tables;
    if (!keep_tables) {
        classifier::PolicySpec own_spec;
        if (compiled == nullptr) own_spec = classifier::spec_from_policy(*next);
        classifier::PolicySpec& spec = compiled != nullptr ? compiled->spec : own_spec;
        if (notes != nullptr) *notes = spec.notes;
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
            if (plans != nullptr && schedulers_[d] != nullptr) spec.spec.egress_class[d] = (*plans)[d].ids;
        }
        spec.spec.tick_hz = dataplane::tsc_hz();
        // Compiled before anything changes: a refusal here leaves all as it
        // was. The rules were compiled before the lock when the caller could.
        tables = classifier::ClassifierTables::compile(spec.spec, rte_rdtsc(),
                                                       compiled != nullptr ? compiled->rules : nullptr);
        if (!*tables) return Error{tables->error()};
    }
    const auto t0 = std::chrono::steady_clock::now();
    constexpr auto kTimeout = std::chrono::milliseconds(5000);

    // New and changed classes first, while the old tables still classify;
    // a refusal undoes what this load already applied, in reverse.
    size_t done[2] = {0, 0};
    auto undo = [&]() {
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
            const auto& plan = (*plans)[d];
            std::vector<shaper::ClassChange> back(plan.undo.rend() - static_cast<std::ptrdiff_t>(done[d]),
                                                  plan.undo.rend());
            if (back.empty()) continue;
            auto r = channels_[d]->apply_all(back, kTimeout);
            if (!r || !r->error.empty()) {
                spdlog::error("{}: undoing a refused class tree change failed: {}",
                              policy::direction_name(static_cast<policy::Direction>(d)), r ? r->error : r.error());
            }
        }
    };
    if (plans != nullptr) {
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
            const auto& plan = (*plans)[d];
            if (plan.before.empty()) continue;
            const char* dir = policy::direction_name(static_cast<policy::Direction>(d));
            auto r = channels_[d]->apply_all(plan.before, kTimeout);
            if (!r) {
                undo();
                return Error{fmt::format("{}: {} (class changes already made were undone)", dir, r.error())};
            }
            done[d] = r->applied;
            if (!r->error.empty()) {
                undo();
                return Error{fmt::format("{} class tree: {} (class changes already made were undone)", dir,
                                         r->error)};
            }
        }
    }
    // Once publish() returns no worker writes the old tables' counters.
    if (tables) {
        if (const auto old = publisher_.publish(**tables); old && policy_) carry_counters_locked(*old, *next);
    }
    // No worker can classify into a removed class any more.
    if (plans != nullptr) {
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
            auto& plan = (*plans)[d];
            if (schedulers_[d] == nullptr) continue;
            bool removed = true;
            if (!plan.after.empty()) {
                auto r = channels_[d]->apply_all(plan.after, kTimeout);
                if (!r || !r->error.empty()) {
                    // The classes stay in the scheduler, idle: nothing is
                    // classified into them. Said, not hidden. Their ids
                    // are not handed out again.
                    removed = false;
                    spdlog::error("{}: removing old classes failed: {}",
                                  policy::direction_name(static_cast<policy::Direction>(d)), r ? r->error : r.error());
                }
            }
            shaper_ids_[d] = std::move(plan.ids);
            id_supply_[d] = removed ? plan.supply_after_removals() : std::move(plan.supply);
        }
    }
    policy_ = std::move(next);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void PolicyRuntime::carry_counters_locked(const classifier::ClassifierTables& old, const policy::Policy& next) {
    // Runs under the lock, between a load's publish and its answer: its
    // cost grows with the names that counted something, not with the size
    // of either policy (a 100,000-rule load spent 0.7 s here when every
    // name of the next policy was copied into the maps).
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        const auto& rt = old.runtime(static_cast<classifier::Direction>(d));
        Carried& c = carried_[d];
        c.unmatched += rt.default_hits;
        const auto& tree = policy_->directions[d];
        for (size_t i = 0; i < tree.classes.size() && i < rt.class_packets.size(); ++i) {
            if (rt.class_packets[i] == 0 && rt.class_bytes[i] == 0) continue;
            auto& k = c.classes[tree.classes[i].name];
            k[0] += rt.class_packets[i];
            k[1] += rt.class_bytes[i];
        }
        for (size_t i = 0; i < policy_->rules.size() && i < rt.rule_hits.size(); ++i) {
            if (rt.rule_hits[i] != 0) c.rules[policy_->rules[i].name] += rt.rule_hits[i];
        }
        for (size_t m = 0; m < policy_->meters.size() && 3 * m + 2 < rt.meter_packets.size(); ++m) {
            const uint64_t* k = &rt.meter_packets[3 * m];
            if (k[0] == 0 && k[1] == 0 && k[2] == 0) continue;
            auto& kept = c.meters[policy_->meters[m].name];
            for (size_t j = 0; j < 3; ++j) kept[j] += k[j];
        }
        // Names the next policy no longer has are forgotten: one that comes
        // back later starts from zero.
        if (!c.classes.empty()) {
            std::unordered_set<std::string_view> names;
            for (const auto& cls : next.directions[d].classes) names.insert(cls.name);
            std::erase_if(c.classes, [&](const auto& e) { return !names.count(e.first); });
        }
        if (!c.rules.empty()) {
            std::unordered_set<std::string_view> names;
            for (const auto& r : next.rules) names.insert(r.name);
            std::erase_if(c.rules, [&](const auto& e) { return !names.count(e.first); });
        }
        if (!c.meters.empty()) {
            std::unordered_set<std::string_view> names;
            for (const auto& m : next.meters) names.insert(m.name);
            std::erase_if(c.meters, [&](const auto& e) { return !names.count(e.first); });
        }
    }
}

Result<control::json> PolicyRuntime::edit(const std::string& op, const control::json& args) {
    using control::json;
    std::unique_lock lock(mutex_);
    if (!policy_) return Error{"no policy is loaded (start sluiced with --policy FILE)"};
    policy::Policy copy = *policy_;
    // Checked and compiled without the lock, as a load is (see the header);
    // published only onto the policy it was made from.
    const std::shared_ptr<const policy::Policy> base = policy_;
    lock.unlock();
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
        for (const auto& [key, value] : args.items()) {
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
    for (const auto& r : base->rules) rule_lines.emplace(r.name, r.line);
    for (auto& r : edited->rules) {
        const auto it = rule_lines.find(r.name);
        r.line = it == rule_lines.end() ? 0 : it->second;
    }
    for (size_t m = 0; m < edited->meters.size() && m < base->meters.size(); ++m) edited->meters[m].line = base->meters[m].line;
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        auto& classes = edited->directions[d].classes;
        const auto& was = base->directions[d].classes;
        for (size_t i = 0; i < classes.size() && i < was.size(); ++i) classes[i].line = was[i].line;
    }
    next->policy = edited;
    auto compiled = compile(*next->policy);
    if (!compiled) return Error{fmt::format("{} refused; the running policy stays: {}", command, compiled.error())};
    lock.lock();
    if (policy_ != base) {
        return Error{fmt::format("{} refused: the running policy changed while this edit was checked (another load "
                                 "or edit came first); nothing changed, send it again", command)};
    }
    auto ms = publish_locked(next->policy, nullptr, nullptr, false, &*compiled);
    if (!ms) return Error{fmt::format("{} refused; the running policy stays: {}", command, ms.error())};
    json rules = json::array();
    for (const auto& r : next->policy->rules) rules.push_back(r.name);
    return json{{"rules", rules}, {"warnings", next->warnings}, {"applied_in_ms", *ms}};
}

Result<control::json> PolicyRuntime::save(const policy::FileSpot& spot, bool running_file) {
    // Written without the lock (a big policy's text and its fsync take a
    // while); the checksum is the policy's that was written.
    const auto running = current();
    if (!running) return Error{"no policy is loaded (start sluiced with --policy FILE)"};
    const std::string text = policy::to_toml(*running);
    // Never write a file that would not load back.
    const auto check = policy::load_string(text, spot.display);
    if (!check.ok()) {
        std::string why;
        for (const auto& d : check.diagnostics) {
            if (d.severity == policy::Diagnostic::Severity::error) why += "\n" + policy::format(d);
        }
        return Error{"the running policy does not write back cleanly; nothing was saved:" + why};
    }
    auto written = policy::write_atomically(spot, text);
    if (!written) return Error{written.error()};
    const std::string checksum = text_checksum(text);
    std::lock_guard lock(mutex_);
    if (running_file && policy_ == running) checksum_ = checksum;
    return control::json{{"file", spot.display}, {"checksum", checksum},
                         {"previous", written->backup.empty() ? control::json() : control::json(written->backup)},
                         {"reload_file", path_}};
}

Result<control::json> PolicyRuntime::diff(const PolicySource& source) const {
    const auto other = policy::load_string(source.text, source.name);
    const std::string& target = source.name;
    const auto current_policy = current();
    if (!current_policy) return Error{"no policy is loaded (start sluiced with --policy FILE)"};
    if (!other.ok()) {
        std::string all;
        for (const auto& d : other.diagnostics) all += (all.empty() ? "" : "\n") + policy::format(d);
        return Error{fmt::format("{} does not load:\n{}", target, all)};
    }
    auto lines = [](const std::string& text) {
        std::vector<std::string> out;
        std::istringstream in(text);
        for (std::string l; std::getline(in, l);) out.push_back(l);
        return out;
    };
    const auto running = lines(policy::dump(*current_policy));
    const auto in_file = lines(policy::dump(*other.policy));
    const std::set<std::string> r_set(running.begin(), running.end()), f_set(in_file.begin(), in_file.end());
    control::json running_only = control::json::array(), file_only = control::json::array();
    for (const auto& l : running) {
        if (!f_set.count(l)) running_only.push_back(l);
    }
    for (const auto& l : in_file) {
        if (!r_set.count(l)) file_only.push_back(l);
    }
    return control::json{{"file", target}, {"same", running_only.empty() && file_only.empty()},
                         {"running_only", running_only}, {"file_only", file_only}};
}

void PolicyRuntime::sample_delays() {
    std::lock_guard lock(mutex_);
    if (!policy_) return;
    const auto now = std::chrono::steady_clock::now();
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        if (schedulers_[d] == nullptr) continue;
        // Rebuilt each time from the running leaves: removed classes are
        // forgotten, and a reused id whose histogram went back starts over.
        std::unordered_map<uint32_t, DelaySamples> next;
        for (const auto& c : policy_->directions[d].classes) {
            if (!c.is_leaf() || c.id >= shaper_ids_[d].size()) continue;
            if (next.size() >= kMaxDelayWindows) break;
            const uint32_t id = shaper_ids_[d][c.id];
            const auto snap = schedulers_[d]->snapshot(id);
            if (!snap || snap->delay_samples == 0) continue;
            DelaySamples kept;
            if (auto it = delay_samples_[d].find(id); it != delay_samples_[d].end()) {
                kept = std::move(it->second);
                shaper::DelayHistogram check = snap->delays;
                if (kept.count > 0 && !check.subtract(kept.at[kept.count - 1])) kept.count = 0;
            }
            if (kept.count == kept.at.size()) {
                // Oldest out: the window reaches back two sample periods.
                for (size_t i = 1; i < kept.at.size(); ++i) {
                    kept.at[i - 1] = kept.at[i];
                    kept.when[i - 1] = kept.when[i];
                }
                --kept.count;
            }
            kept.at[kept.count] = snap->delays;
            kept.when[kept.count] = now;
            ++kept.count;
            next.emplace(id, std::move(kept));
        }
        delay_samples_[d] = std::move(next);
    }
}

bool PolicyRuntime::shapes() const {
    std::lock_guard lock(mutex_);
    return schedulers_[0] != nullptr || schedulers_[1] != nullptr;
}

bool PolicyRuntime::loaded() const {
    std::lock_guard lock(mutex_);
    return policy_ != nullptr;
}

std::string PolicyRuntime::path() const {
    std::lock_guard lock(mutex_);
    return path_;
}

std::string PolicyRuntime::checksum() const {
    std::lock_guard lock(mutex_);
    return checksum_;
}

Result<LoadReport> PolicyRuntime::load_locked(const PolicySource& source, Prepared& prepared) {
    const auto locked_at = std::chrono::steady_clock::now();
    const std::string& path = source.name;
    const auto& result = prepared.result;
    LoadReport report;
    report.file = path;
    for (const auto& d : result.diagnostics) {
        report.messages.push_back(policy::format(d));
        if (d.severity == policy::Diagnostic::Severity::warning) ++report.warnings;
    }
    if (!result.ok()) {
        std::string all;
        for (const auto& m : report.messages) all += (all.empty() ? "" : "\n") + m;
        return Error{fmt::format("policy {} refused; the running policy stays:\n{}", path, all)};
    }
    if (!prepared.compiled) {
        return Error{fmt::format("policy {} refused; the running policy stays: {}", path, prepared.compiled.error())};
    }
    std::vector<std::string> notes;
    auto ms = publish_locked(result.policy, &notes, &report.tree_changes, false, &*prepared.compiled);
    if (!ms) return Error{fmt::format("policy {} refused; the running policy stays: {}", path, ms.error())};
    for (const auto& n : notes) report.messages.push_back(fmt::format("{}: note: {}", path, n));
    report.publish_ms = *ms;
    report.check_ms = prepared.check_ms;
    report.compile_ms = prepared.compile_ms;
    if (!source.file.empty()) path_ = source.file;
    checksum_ = text_checksum(source.text);
    report.checksum = checksum_;
    report.reload_file = path_;
    report.locked_ms = ms_since(locked_at);
    return report;
}

control::json PolicyRuntime::classes() const {
    using control::json;
    std::lock_guard lock(mutex_);
    json out = json::object();
    if (!policy_) return out;
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        const auto& tree = policy_->directions[d];
        json list = json::array();
        for (const auto& c : tree.classes) {
            json j{{"id", c.id},          {"name", c.name},          {"parent", c.parent == policy::kNoClass ? json() : json(c.parent)},
                   {"depth", c.depth},    {"rate", rate_text(c.rate)}, {"ceil", rate_text(c.ceil)},
                   {"rate_bytes_per_s", c.rate}, {"ceil_bytes_per_s", c.ceil}, {"burst", c.burst},
                   {"cburst", c.cburst},  {"priority", c.priority},  {"weight", c.weight},
                   {"default", c.id == tree.default_class}};
            if (c.is_leaf()) j["queue"] = queue_name(c.queue.kind);
            if (c.set_dscp) j["set_dscp"] = *c.set_dscp;
            list.push_back(j);
        }
        out[policy::direction_name(static_cast<policy::Direction>(d))] =
            json{{"link", rate_text(tree.link.rate)}, {"classes", list}};
    }
    return out;
}

control::json PolicyRuntime::rules() const {
    using control::json;
    std::lock_guard lock(mutex_);
    json list = json::array();
    if (!policy_) return list;
    for (size_t i = 0; i < policy_->rules.size(); ++i) {
        const auto& r = policy_->rules[i];
        json j{{"index", i + 1}, {"name", r.name}, {"line", r.line}};
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
            const uint32_t c = r.action.class_id[d];
            if (c != policy::kNoClass) j[std::string("class_") + policy::direction_name(static_cast<policy::Direction>(d))] = policy_->directions[d].classes[c].name;
        }
        if (r.action.set_dscp) j["set_dscp"] = *r.action.set_dscp;
        if (r.action.meter != policy::kNoMeter) j["meter"] = policy_->meters[r.action.meter].name;
        list.push_back(j);
    }
    return list;
}

control::json PolicyRuntime::meters() const {
    using control::json;
    std::lock_guard lock(mutex_);
    json list = json::array();
    if (!policy_) return list;
    for (const auto& m : policy_->meters) {
        list.push_back({{"name", m.name},
                        {"kind", m.kind == policy::MeterKind::srtcm ? "srtcm" : "trtcm"},
                        {"mode", m.mode == policy::ColourMode::blind ? "blind" : "aware"},
                        {"cir", rate_text(m.cir)}, {"cbs", m.cbs}, {"ebs", m.ebs},
                        {"pir", rate_text(m.pir)}, {"pbs", m.pbs},
                        {"yellow", verdict_text(m.yellow)}, {"red", verdict_text(m.red)}});
    }
    return list;
}

control::json PolicyRuntime::counters() const {
    using control::json;
    std::lock_guard lock(mutex_);
    json out = json::object();
    const auto tables = publisher_.current_owned();
    if (!policy_ || !tables) return out;
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        const auto dir = static_cast<classifier::Direction>(d);
        const auto& rt = tables->runtime(dir);
        const auto& tree = policy_->directions[d];
        json classes = json::array();
        for (const auto& c : tree.classes) {
            if (c.id >= rt.class_packets.size()) break;
            const auto carried = carried_[d].classes.find(c.name);
            const std::array<uint64_t, 2> before =
                carried == carried_[d].classes.end() ? std::array<uint64_t, 2>{0, 0} : carried->second;
            json j{{"name", c.name}, {"classified_packets", before[0] + rt.class_packets[c.id]},
                   {"classified_bytes", before[1] + rt.class_bytes[c.id]}};
            // Read while the worker runs: single-writer counters, a snapshot
            // that may be a packet or two out of step, never torn apart.
            if (schedulers_[d] != nullptr) {
                if (const auto snap = schedulers_[d]->snapshot(shaper_ids_[d][c.id])) {
                    const auto& k = snap->counters;
                    json drops = json::object();
                    for (size_t r = 0; r < shaper::kDropReasonCount; ++r) {
                        drops[std::string(shaper::drop_reason_name(static_cast<shaper::DropReason>(r)))] = k.drops[r];
                    }
                    j["sent_packets"] = k.packets;
                    j["sent_bytes"] = k.bytes;
                    j["drops"] = drops;
                    j["backlog_packets"] = snap->backlog_packets;
                    j["backlog_bytes"] = snap->backlog_bytes;
                    j["delay_p50_us"] = static_cast<double>(snap->delay_p50_ns) / 1000.0;
                    j["delay_p99_us"] = static_cast<double>(snap->delay_p99_ns) / 1000.0;
                    j["delay_samples"] = snap->delay_samples;
                    // The recent window: what departed since the oldest sample kept.
                    double window_s = 0, p50 = 0, p99 = 0;
                    uint64_t recent = 0;
                    const auto w = delay_samples_[d].find(shaper_ids_[d][c.id]);
                    if (w != delay_samples_[d].end() && w->second.count > 0) {
                        shaper::DelayHistogram h = snap->delays;
                        if (h.subtract(w->second.at[0])) {
                            window_s = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                                     w->second.when[0]).count();
                            recent = h.total();
                            if (recent != 0) {
                                p50 = static_cast<double>(h.quantile_ticks(0.50, snap->delay_floor_shift)) *
                                      snap->ns_per_tick / 1000.0;
                                p99 = static_cast<double>(h.quantile_ticks(0.99, snap->delay_floor_shift)) *
                                      snap->ns_per_tick / 1000.0;
                            }
                        }
                    }
                    j["delay_recent_window_s"] = window_s;
                    j["delay_recent_samples"] = recent;
                    j["delay_recent_p50_us"] = p50;
                    j["delay_recent_p99_us"] = p99;
                }
            }
            classes.push_back(j);
        }
        json rules = json::array();
        const Carried& carried = carried_[d];
        for (size_t i = 0; i < policy_->rules.size() && i < rt.rule_hits.size(); ++i) {
            const auto it = carried.rules.find(policy_->rules[i].name);
            const uint64_t before = it == carried.rules.end() ? 0 : it->second;
            rules.push_back({{"name", policy_->rules[i].name}, {"hits", before + rt.rule_hits[i]}});
        }
        json meters = json::array();
        for (size_t m = 0; m < policy_->meters.size() && 3 * m + 2 < rt.meter_packets.size(); ++m) {
            const auto it = carried.meters.find(policy_->meters[m].name);
            const std::array<uint64_t, 3> before = it == carried.meters.end() ? std::array<uint64_t, 3>{} : it->second;
            meters.push_back({{"name", policy_->meters[m].name},
                              {"green", before[0] + rt.meter_packets[3 * m]},
                              {"yellow", before[1] + rt.meter_packets[3 * m + 1]},
                              {"red", before[2] + rt.meter_packets[3 * m + 2]}});
        }
        out[policy::direction_name(static_cast<policy::Direction>(d))] =
            json{{"classes", classes}, {"rules", rules}, {"meters", meters},
                 {"unmatched", carried.unmatched + rt.default_hits}};
    }
    return out;
}

}  // namespace sluice::dataplane
