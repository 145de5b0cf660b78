#include "control/runtime/policy_runtime.hpp"

#include <rte_cycles.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "control/policy/loader.hpp"
#include "control/runtime/classifier_config.hpp"
#include "control/runtime/live_edits.hpp"
#include "control/runtime/policy_counters.hpp"
#include "control/runtime/policy_save.hpp"
#include "control/runtime/policy_views.hpp"
#include "control/runtime/shaper_config.hpp"
#include "dataplane/tsc_rate.hpp"

namespace sluice::runtime {

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
    Compiled c{spec_from_policy(p), nullptr};
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
    std::vector<const shaper::Scheduler*> up, down;
    if (upload != nullptr) up.push_back(upload);
    if (download != nullptr) down.push_back(download);
    set_schedulers(std::move(up), std::move(down));
}

void PolicyRuntime::set_schedulers(std::vector<const shaper::Scheduler*> upload,
                                   std::vector<const shaper::Scheduler*> download) {
    std::lock_guard lock(mutex_);
    schedulers_[0] = std::move(upload);
    schedulers_[1] = std::move(download);
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        windows_[d].assign(schedulers_[d].size(), DelayWindows{});
        shaper_ids_[d] = policy_ ? numbered_ids(policy_->directions[d]) : std::vector<uint32_t>{};
        id_supply_[d] = IdSupply{{}, static_cast<uint32_t>(shaper_ids_[d].size())};
    }
}

void PolicyRuntime::set_channels(dataplane::ChangeChannel* upload, dataplane::ChangeChannel* download) {
    std::vector<dataplane::ChangeChannel*> up, down;
    if (upload != nullptr) up.push_back(upload);
    if (download != nullptr) down.push_back(download);
    set_channels(std::move(up), std::move(down));
}

void PolicyRuntime::set_channels(std::vector<dataplane::ChangeChannel*> upload,
                                 std::vector<dataplane::ChangeChannel*> download) {
    std::lock_guard lock(mutex_);
    channels_[0] = std::move(upload);
    channels_[1] = std::move(download);
}

unsigned PolicyRuntime::workers() const {
    std::lock_guard lock(mutex_);
    return static_cast<unsigned>(std::max<size_t>({1, schedulers_[0].size(), schedulers_[1].size()}));
}

Result<bool> PolicyRuntime::apply_on_all(size_t d, const std::vector<shaper::ClassChange>& changes,
                                         const std::vector<uint8_t>& shared, std::vector<size_t>& done) {
    constexpr auto kTimeout = std::chrono::milliseconds(5000);
    const auto& channels = channels_[d];
    done.assign(channels.size(), 0);
    const unsigned n = static_cast<unsigned>(channels.size());
    // With one worker the changes go as they are; with more each worker's
    // copy of a shared class gets its share (the same for every worker
    // while the split is equal).
    const std::vector<shaper::ClassChange> local = n > 1 ? local_changes(changes, shared, n) : changes;
    for (unsigned w = 0; w < n; ++w) {
        auto r = channels[w]->apply_all(local, kTimeout);
        if (!r) return Error{n > 1 ? fmt::format("worker {}: {}", w, r.error()) : r.error()};
        done[w] = r->applied;
        if (!r->error.empty()) return Error{n > 1 ? fmt::format("worker {}: {}", w, r->error) : r->error};
    }
    return true;
}

Result<std::array<dataplane::ShareLink*, 2>> PolicyRuntime::start_rebalancing(uint32_t period_us) {
    std::lock_guard lock(mutex_);
    rebalance_us_ = period_us;
    std::array<dataplane::ShareLink*, 2> out{nullptr, nullptr};
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        if (!policy_ || schedulers_[d].size() <= 1) continue;
        auto link = build_share_link(policy_->directions[d], shaper_ids_[d],
                                     static_cast<unsigned>(schedulers_[d].size()), period_us, dataplane::tsc_hz());
        if (!link) return Error{fmt::format("{} rebalancer: {}", policy::direction_name(static_cast<policy::Direction>(d)),
                                            link.error())};
        links_[d] = std::move(*link);
        out[d] = links_[d].get();
    }
    return out;
}

PolicyRuntime::Rebalancing PolicyRuntime::rebalancing(size_t d) const {
    std::lock_guard lock(mutex_);
    Rebalancing r;
    r.period_us = rebalance_us_;
    if (d < policy::kDirectionCount && links_[d]) {
        r.active = true;
        r.steps = links_[d]->steps();
        r.interval_us = static_cast<double>(links_[d]->interval()) * 1e6 / static_cast<double>(dataplane::tsc_hz());
        r.step_cycles = links_[d]->step_cycles();
        r.refused = links_[d]->refused();
    }
    return r;
}

bool PolicyRuntime::hand_link(size_t d, dataplane::ShareLink* link) {
    constexpr auto kTimeout = std::chrono::milliseconds(5000);
    bool all = true;
    // Worker 0 last: it steps the link, and its first step should find
    // every other worker holding it.
    for (size_t w = channels_[d].size(); w-- > 0;) {
        auto r = channels_[d][w]->adopt(link, kTimeout);
        if (!r) {
            all = false;
            spdlog::error("{} worker {}: {}", policy::direction_name(static_cast<policy::Direction>(d)), w, r.error());
        }
    }
    return all;
}

void PolicyRuntime::retire_link(size_t d, bool let_go) {
    // A link a worker did not answer for may still be in its hands: kept.
    if (links_[d] && !let_go) retired_links_.push_back(std::move(links_[d]));
    links_[d].reset();
}

void PolicyRuntime::set_management_hook(ManagementHook hook) {
    std::lock_guard lock(mutex_);
    management_hook_ = std::move(hook);
}

Result<control::json> PolicyRuntime::set_class(const control::json& args) {
    using control::json;
    std::lock_guard lock(mutex_);
    if (!policy_) return Error{"no policy is loaded (start sluiced with --policy FILE)"};
    auto next = edit_class(*policy_, args);
    if (!next) return Error{next.error()};
    auto ms = publish_locked(next->policy, nullptr, nullptr, next->classes_only);
    if (!ms) return Error{fmt::format("{} refused; the running policy stays: {}", next->command, ms.error())};

    const std::string name = args["class"].get<std::string>();
    json applied = json::array();
    for (const policy::Direction d : next->directions) {
        for (const auto& c : policy_->tree(d).classes) {
            if (c.name != name) continue;
            applied.push_back({{"direction", policy::direction_name(d)}, {"rate", rate_text(c.rate)},
                               {"ceil", rate_text(c.ceil)}, {"burst", c.burst}, {"cburst", c.cburst},
                               {"priority", c.priority}, {"prio", c.priority}, {"weight", c.weight}});
        }
    }
    return json{{"class", name}, {"applied", applied}, {"warnings", next->warnings},
                {"applied_in_us", static_cast<int64_t>(*ms * 1000.0)}};
}

Result<control::json> PolicyRuntime::edit(const std::string& op, const control::json& args) {
    using control::json;
    std::unique_lock lock(mutex_);
    if (!policy_) return Error{"no policy is loaded (start sluiced with --policy FILE)"};
    // Checked and compiled without the lock, as a load is (see the header);
    // published only onto the policy it was made from.
    const std::shared_ptr<const policy::Policy> base = policy_;
    lock.unlock();
    auto next = edit_rules(*base, op, args);
    if (!next) return Error{next.error()};
    auto compiled = compile(*next->policy);
    if (!compiled) return Error{fmt::format("{} refused; the running policy stays: {}", next->command, compiled.error())};
    lock.lock();
    if (policy_ != base) {
        return Error{fmt::format("{} refused: the running policy changed while this edit was checked (another load "
                                 "or edit came first); nothing changed, send it again", next->command)};
    }
    auto ms = publish_locked(next->policy, nullptr, nullptr, false, &*compiled);
    if (!ms) return Error{fmt::format("{} refused; the running policy stays: {}", next->command, ms.error())};
    json rules = json::array();
    for (const auto& r : next->policy->rules) rules.push_back(r.name);
    return json{{"rules", rules}, {"warnings", next->warnings}, {"applied_in_ms", *ms}};
}

Result<control::json> PolicyRuntime::save(const policy::FileSpot& spot, bool running_file) {
    // Written without the lock (a big policy's text and its fsync take a
    // while); the checksum is the policy's that was written.
    const auto running = current();
    if (!running) return Error{"no policy is loaded (start sluiced with --policy FILE)"};
    auto saved = save_policy(*running, spot);
    if (!saved) return Error{saved.error()};
    std::lock_guard lock(mutex_);
    if (running_file && policy_ == running) checksum_ = saved->checksum;
    return control::json{{"file", spot.display}, {"checksum", saved->checksum},
                         {"previous", saved->backup.empty() ? control::json() : control::json(saved->backup)},
                         {"reload_file", path_}};
}

Result<control::json> PolicyRuntime::diff(const PolicySource& source) const {
    const auto running = current();
    if (!running) return Error{"no policy is loaded (start sluiced with --policy FILE)"};
    return policy_diff(*running, source.text, source.name);
}

void PolicyRuntime::sample_delays() {
    std::lock_guard lock(mutex_);
    if (!policy_) return;
    const auto now = DelayWindows::Clock::now();
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        for (size_t w = 0; w < schedulers_[d].size(); ++w)
            windows_[d][w].sample(*schedulers_[d][w], policy_->directions[d], shaper_ids_[d], now);
    }
}

Result<double> PolicyRuntime::publish_locked(std::shared_ptr<const policy::Policy> next,
                                             std::vector<std::string>* notes,
                                             std::vector<std::string>* tree_changes, bool classes_only,
                                             Compiled* compiled) {
    // What each running scheduler must change to become `next`'s tree (often
    // nothing), and the scheduler id of every class of `next`: class
    // numbers may shift between two policies even when the tree is the same.
    std::array<TreePlan, 2> plan_storage;
    std::array<TreePlan, 2>* plans = nullptr;
    if (policy_ && (!schedulers_[0].empty() || !schedulers_[1].empty())) {
        plans = &plan_storage;
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
            if (schedulers_[d].empty()) continue;
            const auto& was = policy_->directions[d];
            const auto& now = next->directions[d];
            const char* dir = policy::direction_name(static_cast<policy::Direction>(d));
            if (!(scheduler_config(was, 1, 1).overhead == scheduler_config(now, 1, 1).overhead)) {
                return Error{fmt::format("the {} link's overhead (overhead, mpu, framing) changes only at a "
                                         "restart of sluiced", dir)};
            }
            auto& p = plan_storage[d] = plan_tree_change(was, shaper_ids_[d], now, id_supply_[d]);
            if (!p.empty() && channels_[d].size() != schedulers_[d].size()) {
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
        if (plans != nullptr && !schedulers_[d].empty() && ((*plans)[d].added != 0 || (*plans)[d].removed != 0)) keep_tables = false;
        if (next->directions[d].classes.size() != policy_->directions[d].classes.size()) keep_tables = false;
    }
    std::optional<Result<std::shared_ptr<const classifier::ClassifierTables>>> tables;
    if (!keep_tables) {
        PolicySpec own_spec;
        if (compiled == nullptr) own_spec = spec_from_policy(*next);
        PolicySpec& spec = compiled != nullptr ? compiled->spec : own_spec;
        if (notes != nullptr) *notes = spec.notes;
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
            if (plans != nullptr && !schedulers_[d].empty()) spec.spec.egress_class[d] = (*plans)[d].ids;
            // Which worker owns each class: what the workers hand packets by.
            if (classifier_workers_ > 1) {
                spec.spec.egress_owner[d] = class_owners(
                    next->directions[d],
                    spec.spec.egress_class[d].empty() ? numbered_ids(next->directions[d]) : spec.spec.egress_class[d],
                    classifier_workers_);
            }
        }
        spec.spec.tick_hz = dataplane::tsc_hz();
        spec.spec.workers = classifier_workers_;
        // Compiled before anything changes: a refusal here leaves all as it
        // was. The rules were compiled before the lock when the caller could.
        tables = classifier::ClassifierTables::compile(spec.spec, rte_rdtsc(),
                                                       compiled != nullptr ? compiled->rules : nullptr);
        if (!*tables) return Error{tables->error()};
    }
    // The gateway's own traffic first: a section the enforcers refuse
    // refuses the policy before anything else of it changes.
    management_warnings_.clear();
    const bool management_changes = management_hook_ && (!policy_ || !(policy_->management == next->management));
    if (management_changes) {
        auto r = management_hook_(next->management);
        if (!r) return Error{fmt::format("[management]: {}", r.error())};
        management_warnings_ = std::move(*r);
    }
    // Puts the running policy's section back when a later step refuses.
    auto undo_management = [&]() {
        if (!management_changes) return;
        auto r = management_hook_(policy_ ? policy_->management : policy::Management{});
        if (!r) spdlog::error("[management]: giving back the running policy's section failed: {}", r.error());
    };
    const auto t0 = std::chrono::steady_clock::now();
    constexpr auto kTimeout = std::chrono::milliseconds(5000);

    // With several workers, a direction whose tree changes gets a new
    // rebalancer (built now: a tree it refuses refuses the policy before
    // anything changes). The old one stops before the first change: the
    // changes set equal splits of the classes they touch, which no old
    // division may overwrite; the new one starts after the last change.
    std::unique_ptr<dataplane::ShareLink> next_links[2];
    bool detached[2] = {false, false};
    if (plans != nullptr) {
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
            // Rebalancing on, whether or not a link survived an earlier
            // change that a worker did not answer in time.
            if (rebalance_us_ == 0 || schedulers_[d].size() <= 1 || (*plans)[d].empty()) continue;
            auto link = build_share_link(next->directions[d], (*plans)[d].ids,
                                         static_cast<unsigned>(schedulers_[d].size()), rebalance_us_,
                                         dataplane::tsc_hz());
            if (!link) {
                undo_management();
                return Error{fmt::format("{} rebalancer: {}",
                                         policy::direction_name(static_cast<policy::Direction>(d)), link.error())};
            }
            next_links[d] = std::move(*link);
        }
    }
    // Gives the running rebalancers back to the workers after a refusal.
    auto reattach = [&]() {
        for (size_t d = 0; d < policy::kDirectionCount; ++d)
            if (detached[d] && links_[d]) hand_link(d, links_[d].get());
    };
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        if (!next_links[d]) continue;
        detached[d] = true;
        if (!hand_link(d, nullptr)) {
            reattach();
            undo_management();
            return Error{fmt::format("{} rebalancer: a worker did not answer",
                                     policy::direction_name(static_cast<policy::Direction>(d)))};
        }
    }

    // New and changed classes first, while the old tables still classify;
    // a refusal undoes what this load already applied, in reverse, on
    // every worker that applied part of it. Each worker's copy of a shared
    // class takes its share of the rates (worker_share.hpp): the changes
    // for the new tree by the new tree's shared classes, the undo by the
    // running tree's.
    std::vector<size_t> done[2];
    std::vector<uint8_t> shared_now[2], shared_was[2];
    if (plans != nullptr) {
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
            if (schedulers_[d].empty()) continue;
            const unsigned n = static_cast<unsigned>(schedulers_[d].size());
            shared_now[d] = shared_classes(next->directions[d], (*plans)[d].ids, n);
            shared_was[d] = shared_classes(policy_->directions[d], shaper_ids_[d], n);
        }
    }
    auto undo = [&]() {
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
            const auto& plan = (*plans)[d];
            const unsigned n = static_cast<unsigned>(channels_[d].size());
            for (unsigned w = 0; w < n && w < done[d].size(); ++w) {
                std::vector<shaper::ClassChange> back(plan.undo.rend() - static_cast<std::ptrdiff_t>(done[d][w]),
                                                      plan.undo.rend());
                if (back.empty()) continue;
                auto r = channels_[d][w]->apply_all(local_changes(back, shared_was[d], n), kTimeout);
                if (!r || !r->error.empty()) {
                    spdlog::error("{}: undoing a refused class tree change on worker {} failed: {}",
                                  policy::direction_name(static_cast<policy::Direction>(d)), w,
                                  r ? r->error : r.error());
                }
            }
        }
    };
    if (plans != nullptr) {
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
            const auto& plan = (*plans)[d];
            if (plan.before.empty()) continue;
            const char* dir = policy::direction_name(static_cast<policy::Direction>(d));
            auto r = apply_on_all(d, plan.before, shared_now[d], done[d]);
            if (!r) {
                undo();
                reattach();
                undo_management();
                return Error{fmt::format("{} class tree: {} (class changes already made were undone)", dir,
                                         r.error())};
            }
        }
    }
    // Once publish() returns no worker writes the old tables' counters.
    if (tables) {
        if (const auto old = publisher_.publish(**tables); old && policy_) carried_.carry(*old, *policy_, *next);
    }
    // No worker can classify into a removed class any more.
    if (plans != nullptr) {
        for (size_t d = 0; d < policy::kDirectionCount; ++d) {
            auto& plan = (*plans)[d];
            if (schedulers_[d].empty()) continue;
            bool removed = true;
            if (!plan.after.empty()) {
                std::vector<size_t> applied;
                auto r = apply_on_all(d, plan.after, shared_now[d], applied);
                if (!r) {
                    // The classes stay in the scheduler, idle: nothing is
                    // classified into them. Said, not hidden. Their ids
                    // are not handed out again.
                    removed = false;
                    spdlog::error("{}: removing old classes failed: {}",
                                  policy::direction_name(static_cast<policy::Direction>(d)), r.error());
                }
            }
            shaper_ids_[d] = std::move(plan.ids);
            id_supply_[d] = removed ? plan.supply_after_removals() : std::move(plan.supply);
        }
    }
    for (size_t d = 0; d < policy::kDirectionCount; ++d) {
        if (!next_links[d]) continue;
        // A class no longer shared (its leaves now all on one worker) gets
        // its configured rate and ceil back on every worker: the new
        // rebalancer does not divide it, and its copies hold old shares.
        std::vector<shaper::ClassChange> whole;
        for (const auto& c : next->directions[d].classes) {
            const uint32_t id = c.id < shaper_ids_[d].size() ? shaper_ids_[d][c.id] : c.id;
            const bool was = id < shared_was[d].size() && shared_was[d][id];
            const bool now = id < shared_now[d].size() && shared_now[d][id];
            if (c.is_leaf() || !was || now) continue;
            shaper::ModifyClass m;
            m.id = id;
            m.rate = c.rate;
            m.ceil = c.ceil;
            whole.push_back(m);
        }
        if (!whole.empty()) {
            std::vector<size_t> applied;
            if (auto r = apply_on_all(d, whole, shared_now[d], applied); !r)
                spdlog::error("{}: giving classes no longer shared their whole rate failed: {}",
                              policy::direction_name(static_cast<policy::Direction>(d)), r.error());
        }
        retire_link(d, true);
        links_[d] = std::move(next_links[d]);
        if (!hand_link(d, links_[d].get())) retire_link(d, false);
    }
    policy_ = std::move(next);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

bool PolicyRuntime::shapes() const {
    std::lock_guard lock(mutex_);
    return !schedulers_[0].empty() || !schedulers_[1].empty();
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
    for (const auto& w : management_warnings_) {
        report.messages.push_back(fmt::format("{}: warning: [management]: {}", path, w));
        ++report.warnings;
    }
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
    std::lock_guard lock(mutex_);
    return policy_ ? classes_json(*policy_) : control::json::object();
}

control::json PolicyRuntime::rules() const {
    std::lock_guard lock(mutex_);
    return policy_ ? rules_json(*policy_) : control::json::array();
}

control::json PolicyRuntime::meters() const {
    std::lock_guard lock(mutex_);
    return policy_ ? meters_json(*policy_) : control::json::array();
}

control::json PolicyRuntime::counters() const {
    std::lock_guard lock(mutex_);
    const auto tables = publisher_.current_owned();
    if (!policy_ || !tables) return control::json::object();
    CounterSources sources{*policy_, *tables, carried_, {&schedulers_[0], &schedulers_[1]},
                           {&shaper_ids_[0], &shaper_ids_[1]}, {&windows_[0], &windows_[1]}};
    return counters_json(sources, std::chrono::steady_clock::now());
}

}  // namespace sluice::runtime
