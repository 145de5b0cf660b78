// How a class tree is divided among the workers of a direction
// (control/runtime/worker_share): a subscriber's leaves are owned with
// their plan, so the plan lives on one worker; an inner class whose leaves
// are on several workers is shared, and until the rebalancer runs each
// worker's copy gets an equal share of its rate and ceil; leaves keep
// theirs; with one worker nothing changes. The rebalancer is built with
// every shared class and the leaves under it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <variant>

#include "control/policy/loader.hpp"
#include "control/runtime/shaper_config.hpp"
#include "control/runtime/worker_share.hpp"
#include "dataplane/pipeline/handoff.hpp"

using namespace sluice;

namespace {

// Two subscribers' plans of two leaves each, and a leaf under the root.
// Class numbers: plan_a 1, voice_a 2, data_a 3, plan_b 4, voice_b 5,
// data_b 6, bulk 7.
const char* kPolicy = R"(version = 1
[upload]
rate = "100mbit"
default_class = "bulk"
[[upload.class]]
name = "plan_a"
rate = "30mbit"
ceil = "90mbit"
[[upload.class]]
name = "voice_a"
parent = "plan_a"
rate = "10mbit"
ceil = "90mbit"
[[upload.class]]
name = "data_a"
parent = "plan_a"
rate = "10mbit"
ceil = "90mbit"
[[upload.class]]
name = "plan_b"
rate = "30mbit"
ceil = "90mbit"
[[upload.class]]
name = "voice_b"
parent = "plan_b"
rate = "10mbit"
ceil = "90mbit"
[[upload.class]]
name = "data_b"
parent = "plan_b"
rate = "10mbit"
ceil = "90mbit"
[[upload.class]]
name = "bulk"
rate = "10mbit"
ceil = "100mbit"
[download]
rate = "100mbit"
)";

uint32_t id_of(const policy::ClassTree& t, const std::string& name) {
    for (const auto& c : t.classes)
        if (c.name == name) return c.id;
    FAIL("no class " << name);
    return 0;
}

policy::ClassTree load_upload(const std::string& text) {
    const auto loaded = policy::load_string(text, "p.toml");
    REQUIRE(loaded.ok());
    return loaded.policy->directions[0];
}

}  // namespace

TEST_CASE("a subscriber's leaves are owned with their plan, which stays whole on that worker") {
    const auto tree = load_upload(kPolicy);
    const auto ids = runtime::numbered_ids(tree);
    const auto owner = runtime::class_owners(tree, ids, 2);
    const uint32_t plan_a = id_of(tree, "plan_a"), plan_b = id_of(tree, "plan_b"), bulk = id_of(tree, "bulk");
    // A leaf goes where its plan's id names; plan_a (class 1) and plan_b
    // (class 4) name different workers.
    REQUIRE(dataplane::owner_of(plan_a, 2) != dataplane::owner_of(plan_b, 2));
    CHECK(owner.at(id_of(tree, "voice_a")) == dataplane::owner_of(plan_a, 2));
    CHECK(owner.at(id_of(tree, "data_a")) == dataplane::owner_of(plan_a, 2));
    CHECK(owner.at(id_of(tree, "voice_b")) == dataplane::owner_of(plan_b, 2));
    CHECK(owner.at(id_of(tree, "data_b")) == dataplane::owner_of(plan_b, 2));
    CHECK(owner.at(bulk) == dataplane::owner_of(bulk, 2));  // under the root: its own id
    CHECK(owner.at(plan_a) == dataplane::owner_of(plan_a, 2));
    CHECK(owner.at(plan_b) == dataplane::owner_of(plan_b, 2));
    CHECK(owner.at(policy::kRootClass) == runtime::kSharedOwner);
    // Only the root spans both workers.
    const auto shared = runtime::shared_classes(tree, ids, 2);
    CHECK(shared.at(policy::kRootClass) == 1);
    for (const char* name : {"plan_a", "plan_b", "voice_a", "bulk"}) {
        const uint32_t id = id_of(tree, name);
        CHECK((id >= shared.size() || shared[id] == 0));
    }
    CHECK(runtime::shared_classes(tree, ids, 1).empty());
}

TEST_CASE("plans in a regular stride of ids still spread over every worker") {
    // Each plan and its three leaves take four ids: a plain modulo of the
    // plan's id would put every plan on one worker of two or four.
    std::string text = "version = 1\n[upload]\nrate = \"10gbit\"\ndefault_class = \"s0l0\"\n";
    for (int p = 0; p < 200; ++p) {
        const std::string plan = "s" + std::to_string(p);
        text += "[[upload.class]]\nname = \"" + plan + "\"\nrate = \"10mbit\"\n";
        for (int l = 0; l < 3; ++l)
            text += "[[upload.class]]\nname = \"" + plan + "l" + std::to_string(l) + "\"\nparent = \"" + plan +
                    "\"\nrate = \"1mbit\"\n";
    }
    text += "[download]\nrate = \"1gbit\"\n";
    const auto tree = load_upload(text);
    for (const unsigned workers : {2u, 4u}) {
        const auto owner = runtime::class_owners(tree, {}, workers);
        std::vector<int> plans(workers, 0);
        for (int p = 0; p < 200; ++p) ++plans.at(owner.at(id_of(tree, "s" + std::to_string(p))));
        for (unsigned w = 0; w < workers; ++w) {
            INFO(workers << " workers: worker " << w << " owns " << plans[w] << " of 200 plans");
            CHECK(plans[w] > 200 / static_cast<int>(workers) * 2 / 3);
            CHECK(plans[w] < 200 / static_cast<int>(workers) * 4 / 3);
        }
    }
}

TEST_CASE("a parent with many children spreads its leaves by their own ids") {
    std::string text = "version = 1\n[upload]\nrate = \"1gbit\"\ndefault_class = \"c0\"\n"
                       "[[upload.class]]\nname = \"all\"\nrate = \"500mbit\"\nceil = \"1gbit\"\n";
    for (size_t k = 0; k <= runtime::kGroupChildren; ++k)
        text += "[[upload.class]]\nname = \"c" + std::to_string(k) + "\"\nparent = \"all\"\nrate = \"1mbit\"\n";
    text += "[download]\nrate = \"1gbit\"\n";
    const auto tree = load_upload(text);
    const auto owner = runtime::class_owners(tree, {}, 2);
    for (size_t k = 0; k <= runtime::kGroupChildren; ++k) {
        const uint32_t id = id_of(tree, "c" + std::to_string(k));
        CHECK(owner.at(id) == dataplane::owner_of(id, 2));
    }
    const auto shared = runtime::shared_classes(tree, {}, 2);
    CHECK(shared.at(id_of(tree, "all")) == 1);
}

TEST_CASE("each worker's copy of a shared class gets rate/N and ceil/N; a whole plan keeps its own") {
    const auto tree = load_upload(kPolicy);
    const auto ids = runtime::numbered_ids(tree);
    const auto shared = runtime::shared_classes(tree, ids, 4);
    const uint32_t plan_a = id_of(tree, "plan_a"), voice_a = id_of(tree, "voice_a");

    shaper::ModifyClass to_root;
    to_root.id = policy::kRootClass;
    to_root.rate = 40'000'000;
    shaper::ModifyClass to_plan;
    to_plan.id = plan_a;
    to_plan.rate = 4'000'000;
    to_plan.ceil = 8'000'000;
    shaper::ModifyClass to_voice;
    to_voice.id = voice_a;
    to_voice.ceil = 8'000'000;
    const std::vector<shaper::ClassChange> changes{to_root, to_plan, to_voice};

    const auto one = runtime::local_changes(changes, runtime::shared_classes(tree, ids, 1), 1);
    CHECK(*std::get<shaper::ModifyClass>(one[0]).rate == 40'000'000);

    const auto four = runtime::local_changes(changes, shared, 4);
    CHECK(*std::get<shaper::ModifyClass>(four[0]).rate == 10'000'000);  // the root, shared
    CHECK(*std::get<shaper::ModifyClass>(four[1]).rate == 4'000'000);   // plan_a, on one worker
    CHECK(*std::get<shaper::ModifyClass>(four[1]).ceil == 8'000'000);
    CHECK(*std::get<shaper::ModifyClass>(four[2]).ceil == 8'000'000);  // a leaf keeps its own

    // A freshly built scheduler per worker: the split of every shared class.
    const auto split = runtime::initial_split(tree, ids, 2);
    REQUIRE(split.size() == 1);  // the root
    const auto& m = std::get<shaper::ModifyClass>(split[0]);
    CHECK(m.id == policy::kRootClass);
    CHECK(*m.rate == tree.classes[0].rate / 2);
    CHECK(runtime::initial_split(tree, ids, 1).empty());
    auto built = runtime::build_worker_schedulers(tree, 1'000'000'000, 1024, 0, 3);
    REQUIRE(built.ok());
    CHECK(built->size() == 3);
}

TEST_CASE("the rebalancer gets the shared classes, and each leaf under them with the worker that owns it") {
    const auto tree = load_upload(kPolicy);
    shaper::RateShareConfig config;
    auto built = runtime::build_rate_share(tree, {}, 2, config);
    INFO((built ? std::string() : built.error()));
    REQUIRE(built.ok());
    shaper::RateShare& share = **built;
    CHECK(share.class_ids() == std::vector<uint32_t>{policy::kRootClass});
    // Every leaf is a member of the root once, on its owner.
    const auto owner = runtime::class_owners(tree, {}, 2);
    size_t members = 0;
    for (uint32_t w = 0; w < 2; ++w) {
        for (const uint32_t leaf : share.members_of(w)) {
            CHECK(owner.at(leaf) == w);
            ++members;
        }
    }
    CHECK(members == 5);
    // Before the first step every copy holds an equal split, which sums to the class.
    const uint64_t root_rate = tree.classes[0].rate;
    CHECK(share.local_rate(policy::kRootClass, 0) + share.local_rate(policy::kRootClass, 1) == root_rate);
    // One worker: nothing to divide, no link.
    auto one = runtime::build_share_link(tree, {}, 1, 100, 1'000'000'000);
    REQUIRE(one.ok());
    CHECK(*one == nullptr);
}

TEST_CASE("a shared class too slow to give every worker the least rate refuses the rebalancer") {
    const auto tree = load_upload(R"(version = 1
[upload]
rate = "2kbit"
default_class = "a"
[[upload.class]]
name = "a"
rate = "1kbit"
[[upload.class]]
name = "b"
rate = "1kbit"
[download]
rate = "1gbit"
)");
    auto built = runtime::build_rate_share(tree, {}, 4, shaper::RateShareConfig{});
    REQUIRE_FALSE(built.ok());
    CHECK_THAT(built.error(), Catch::Contains("with 4 workers"));
}

TEST_CASE("the rebalancer's period stretches for a reading that costs more than its budget, not for one slow first reading") {
    // 2,000 leaves under the root, a thousand on each worker: reading them
    // costs far more than a fortieth of a 10 us period.
    std::string text = "version = 1\n[upload]\nrate = \"10gbit\"\ndefault_class = \"l0\"\n";
    for (int l = 0; l < 2'000; ++l)
        text += "[[upload.class]]\nname = \"l" + std::to_string(l) + "\"\nrate = \"1mbit\"\nceil = \"1gbit\"\n";
    text += "[download]\nrate = \"10gbit\"\n";
    const auto tree = load_upload(text);
    const uint64_t tick_hz = 1'000'000'000;  // the period in ticks; the costs are the TSC's own
    auto link = runtime::build_share_link(tree, {}, 2, 10, tick_hz);
    auto schedulers = runtime::build_worker_schedulers(tree, tick_hz, 16384, 0, 2);
    REQUIRE(link.ok());
    REQUIRE(schedulers.ok());
    dataplane::ShareLink& l = **link;
    REQUIRE(l.period() == 10'000);

    // The first step's cost counts as at most the budget: whatever the
    // kernel did to it, the period asked for holds.
    uint64_t now = 0;
    (void)l.turn(1, *(*schedulers)[1], now);
    (void)l.turn(0, *(*schedulers)[0], now);
    CHECK(l.steps() == 1);
    CHECK(l.interval() == l.period());

    // The readings' true cost takes over within a few dozen steps.
    for (int i = 0; i < 200; ++i) {
        now += tick_hz;  // a second: every turn is due
        (void)l.turn(1, *(*schedulers)[1], now);
        (void)l.turn(0, *(*schedulers)[0], now);
    }
    CHECK(l.steps() == 201);
    CHECK(l.interval() > 2 * l.period());
}

TEST_CASE("while a worker sends below a shared class every worker's part falls due each period, once none does not") {
    const auto tree = load_upload(kPolicy);
    const uint64_t tick_hz = 1'000'000'000;
    auto link = runtime::build_share_link(tree, {}, 2, 100, tick_hz);
    auto schedulers = runtime::build_worker_schedulers(tree, tick_hz, 16384, 0, 2);
    REQUIRE(link.ok());
    REQUIRE(schedulers.ok());
    dataplane::ShareLink& l = **link;
    shaper::Scheduler& s0 = *(*schedulers)[0];
    shaper::Scheduler& s1 = *(*schedulers)[1];
    const auto owner = runtime::class_owners(tree, {}, 2);
    const uint32_t bulk = id_of(tree, "bulk");
    shaper::Scheduler& sender = owner.at(bulk) == 0 ? s0 : s1;
    const auto turns = [&](uint64_t now) {
        (void)l.turn(1, s1, now);
        (void)l.turn(0, s0, now);
    };

    uint64_t now = 1'000;
    for (uint64_t p = 0; p < 10; ++p) REQUIRE(sender.enqueue(bulk, {p, 1'000, 0}, now));
    turns(now);
    // Packets wait on one worker: both take part every period.
    CHECK(l.active());
    CHECK(l.due(0) == now + l.period());
    CHECK(l.due(1) == now + l.period());

    // They leave; a few periods on, no worker wants anything any more.
    shaper::Packet out[16];
    now += 1'000'000;
    REQUIRE(sender.dequeue_burst(out, 16, now) == 10);
    bool idle = false;
    for (int i = 0; i < 50 && !idle; ++i) {
        now += 1'000'000;
        turns(now);
        idle = !l.active();
    }
    CHECK(idle);
    CHECK(l.due(0) > now);  // the schedule goes on; only the sleeps it bounds lengthen
}
