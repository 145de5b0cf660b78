// The running policy, owned by the control thread: loads a policy file,
// turns it into classifier tables, publishes them to the workers, and keeps
// the compiled policy for `show` and statistics. A file that does not load
// changes nothing: the running policy and tables stay as they were.
//
// Used from the control socket's thread, its background thread (loads and
// edits, see CommandSpec::background) and the main thread (SIGHUP); one
// mutex orders them. A load parses, checks and compiles its rules before it
// takes the mutex (seconds for 100,000 rules), so `status`, `show` and
// `stats` are answered meanwhile; only the switch-over holds it. None of it
// is on the packet path.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "control/runtime/carried_counters.hpp"
#include "control/runtime/classifier_config.hpp"
#include "control/runtime/delay_windows.hpp"
#include "classifier/table_publisher.hpp"
#include "dataplane/pipeline/change_channel.hpp"
#include "control/runtime/shaper_config.hpp"
#include "control/runtime/worker_share.hpp"
#include "shaper/scheduler.hpp"
#include "control/policy/loader.hpp"
#include "control/policy/policy.hpp"
#include "control/policy/policy_file.hpp"
#include "control/server/protocol.hpp"
#include "common/result.hpp"

namespace sluice::runtime {

// A policy's text and where it came from.
struct PolicySource {
    std::string text;
    std::string name;  // stands for the file in messages (file:line:column)
    // The file `reload` (and SIGHUP) reads from now on; empty for text a
    // client sent, which leaves the reload file as it was.
    std::string file;
};

struct LoadReport {
    std::string file;            // the source's name
    std::string reload_file;     // what `reload` reads after this load
    std::string checksum;        // of the file's bytes (FNV-1a 64, hex)
    size_t warnings = 0;
    std::vector<std::string> messages;  // warnings and notes, formatted
    double publish_ms = 0;       // until every worker had moved to the new tables
    // Where a load's time went: reading and checking the policy, compiling
    // its rules (rte_acl), both without the lock; then the switch-over
    // under it (publish_ms is part of that).
    double check_ms = 0;
    double compile_ms = 0;
    double locked_ms = 0;
    std::vector<std::string> tree_changes;  // per direction whose class tree changed
};

class PolicyRuntime {
public:
    // `workers`: how many workers classify each direction with the tables
    // this runtime publishes (each gets its own meters and counters).
    explicit PolicyRuntime(classifier::TablePublisher& publisher, unsigned workers = 1)
        : publisher_(publisher), classifier_workers_(workers) {}

    // Validates and compiles `source`, then publishes it. On any error the
    // message lists every problem as file:line:column and nothing changes.
    Result<LoadReport> load(const PolicySource& source);
    // Reads `path` as a policy file (see policy_file.hpp) and loads it; it
    // becomes the file that `reload` reads.
    Result<LoadReport> load_file(const std::string& path);
    Result<LoadReport> reload();

    bool loaded() const;
    std::shared_ptr<const policy::Policy> current() const;
    // The running schedulers (null: none), built from the running policy
    // with each class's number as its id; from then on the runtime keeps
    // the ids stable across reloads (see plan_tree_change).
    void set_schedulers(const shaper::Scheduler* upload, const shaper::Scheduler* download);
    void set_channels(dataplane::ChangeChannel* upload, dataplane::ChangeChannel* download);
    // With N workers per direction (--workers): one scheduler and one
    // channel per worker, index = worker; every change is published to all
    // of them (each worker's copy of a shared class gets its local share,
    // see worker_share.hpp) and answered once all have applied it; a
    // refusal on any undoes it on all.
    void set_schedulers(std::vector<const shaper::Scheduler*> upload, std::vector<const shaper::Scheduler*> download);
    void set_channels(std::vector<dataplane::ChangeChannel*> upload, std::vector<dataplane::ChangeChannel*> download);
    unsigned workers() const;

    // With several workers per direction: builds each shaped direction's
    // rebalancer for the running policy (worker_share.hpp), stepped every
    // `period_us`, and returns what each direction's workers start with
    // (DirectionConfig::share; null: none). Call after set_schedulers and
    // before the workers start. From then on every tree change hands the
    // workers a new one through their channels.
    Result<std::array<dataplane::ShareLink*, 2>> start_rebalancing(uint32_t period_us);
    struct Rebalancing {
        bool active = false;
        uint32_t period_us = 0;
        uint64_t steps = 0;
        uint64_t step_cycles = 0;  // TSC cycles the steps took, in all
        uint64_t refused = 0;      // local changes a scheduler refused
    };
    Rebalancing rebalancing(size_t d) const;
    // Where a policy's [management] section goes: sluiced's main hands it to
    // the XDP programs of af_xdp ports and to the exception paths. Called,
    // under the lock, with each policy whose section differs from the
    // running one's (the first one included), before anything else of it is
    // published; an error refuses the policy (and the section the running
    // policy had is given back). What it returns are warnings for the load's
    // report: ports that cannot honour the section, and why.
    using ManagementHook = std::function<Result<std::vector<std::string>>(const policy::Management&)>;
    void set_management_hook(ManagementHook hook);
    // Whether a scheduler runs: sluiced builds its shapers at start, from
    // the policy it starts with; without one it forwards unshaped.
    bool shapes() const;

    // Live edits (see live_edits.hpp for the arguments and how they are
    // checked), published as a policy load is (publish_locked): a class
    // whose tree place stays is changed in place, its queued packets kept.
    // Refused whole on any problem.
    Result<control::json> set_class(const control::json& args);
    Result<control::json> edit(const std::string& op, const control::json& args);

    // Writes the running policy, live changes included, to `spot`
    // atomically (policy::write_atomically); the previous file is kept as
    // FILE.bak. Which spots a caller may name is the command layer's
    // business. Saving to the running file makes the running policy match
    // it again; saving elsewhere does not change which file `reload` reads.
    Result<control::json> save(const policy::FileSpot& spot, bool running_file);
    // What differs between the running policy and `source` (another file's
    // text), as lines of the policy dump present on one side only.
    Result<control::json> diff(const PolicySource& source) const;
    std::string path() const;
    std::string checksum() const;

    // Per-class, per-rule and per-meter counters of the running tables, by
    // name (see policy_counters.hpp).
    control::json counters() const;
    // Keeps a copy of each leaf's delay histogram (see DelayWindows);
    // sluiced's main thread calls it every DelayWindows::kSampleSeconds.
    void sample_delays();
    control::json classes() const;
    control::json rules() const;
    control::json meters() const;

private:
    // What a load does before it takes the lock: parse and check the
    // source, then build the classifier's spec and compile its rules.
    struct Compiled {
        PolicySpec spec;
        std::shared_ptr<const classifier::RuleSet> rules;
    };
    struct Prepared {
        policy::LoadResult result;
        Result<Compiled> compiled = Error{"not compiled"};
        double check_ms = 0, compile_ms = 0;
    };
    static Result<Compiled> compile(const policy::Policy& p);
    static Prepared prepare(const PolicySource& source);
    Result<LoadReport> load_locked(const PolicySource& source, Prepared& prepared);
    // Compiles and publishes `next`'s classifier tables and makes it the
    // running policy; returns how long the workers took to switch. Where
    // `next`'s class tree differs from a running scheduler's, the scheduler
    // changes too (see plan_tree_change): changes and additions go
    // to the workers first (undone if any part is refused), then the tables
    // are published, then the removals. `tree_changes` gets one line per
    // direction that changed. `classes_only`: `next` differs from the
    // running policy in class numbers only (same classes, rules, meters and
    // marks), so the classifier's tables stay unless the plan adds or
    // removes a class. `compiled`, when given, is `next`'s (see compile()).
    Result<double> publish_locked(std::shared_ptr<const policy::Policy> next,
                                  std::vector<std::string>* notes = nullptr,
                                  std::vector<std::string>* tree_changes = nullptr,
                                  bool classes_only = false, Compiled* compiled = nullptr);

    mutable std::mutex mutex_;
    classifier::TablePublisher& publisher_;
    unsigned classifier_workers_ = 1;
    std::shared_ptr<const policy::Policy> policy_;
    // Per direction, per worker (empty: not shaped).
    std::vector<const shaper::Scheduler*> schedulers_[2];
    std::vector<dataplane::ChangeChannel*> channels_[2];
    // Applies `changes` (as they stand for tree `shared`) on every worker
    // of direction `d`; `done[w]` gets how many each applied. An error
    // (refusal or time-out) names the first worker that failed.
    Result<bool> apply_on_all(size_t d, const std::vector<shaper::ClassChange>& changes,
                              const std::vector<uint8_t>& shared, std::vector<size_t>& done);
    CarriedCounters carried_;
    // Per direction, the rebalancer its workers use (null: none, or one
    // worker); the period they step at; links a worker did not let go of
    // in time, never freed.
    std::unique_ptr<dataplane::ShareLink> links_[2];
    uint32_t rebalance_us_ = 0;
    std::vector<std::unique_ptr<dataplane::ShareLink>> retired_links_;
    // Has every worker of direction d use `link` (null: none); false, and
    // logged, when one did not answer in time.
    bool hand_link(size_t d, dataplane::ShareLink* link);
    // Frees direction d's link (or keeps it for ever unless `let_go`).
    void retire_link(size_t d, bool let_go);
    ManagementHook management_hook_;
    // The last publish's warnings from the management hook (see load_locked).
    std::vector<std::string> management_warnings_;

    // Per direction: the scheduler id of each class of policy_, and the ids
    // new classes may take (those of removed classes first, so that ids
    // stay dense across reloads).
    std::vector<uint32_t> shaper_ids_[2];
    IdSupply id_supply_[2];
    std::string path_;
    std::string checksum_;

    std::vector<DelayWindows> windows_[2];  // per worker
};

// Validates a policy without touching anything: "file:line:col: ..." lines
// for every problem; ok when there is no error.
Result<std::vector<std::string>> check_policy(const PolicySource& source);
Result<std::vector<std::string>> check_policy_file(const std::string& path);

}  // namespace sluice::runtime
