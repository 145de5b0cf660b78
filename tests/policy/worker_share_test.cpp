// How a class tree is divided among the workers of a direction
// (control/runtime/worker_share): inner classes are shared; until the
// rebalancer runs each worker's copy gets an equal share of their rate and
// ceil; leaves keep theirs; with one worker nothing changes. The rebalancer
// is built with every shared class and the leaves under it.
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

const char* kPolicy = R"(version = 1
[upload]
rate = "100mbit"
default_class = "bulk"
[[upload.class]]
name = "plan"
rate = "60mbit"
ceil = "90mbit"
[[upload.class]]
name = "voice"
parent = "plan"
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

}  // namespace

TEST_CASE("inner classes are shared, leaves are not") {
    const auto loaded = policy::load_string(kPolicy, "p.toml");
    REQUIRE(loaded.ok());
    const auto& tree = loaded.policy->directions[0];
    const auto ids = runtime::numbered_ids(tree);
    const auto shared = runtime::shared_classes(tree, ids);
    CHECK(shared.at(id_of(tree, "plan")) == 1);
    CHECK(shared.at(policy::kRootClass) == 1);
    const uint32_t voice = id_of(tree, "voice");
    CHECK((voice >= shared.size() || shared[voice] == 0));
}

TEST_CASE("each worker's copy of a shared class gets rate/N and ceil/N") {
    const auto loaded = policy::load_string(kPolicy, "p.toml");
    REQUIRE(loaded.ok());
    const auto& tree = loaded.policy->directions[0];
    const auto ids = runtime::numbered_ids(tree);
    const auto shared = runtime::shared_classes(tree, ids);
    const uint32_t plan = id_of(tree, "plan"), voice = id_of(tree, "voice");

    shaper::ModifyClass to_plan;
    to_plan.id = plan;
    to_plan.rate = 40'000'000;
    to_plan.ceil = 80'000'000;
    shaper::ModifyClass to_voice;
    to_voice.id = voice;
    to_voice.ceil = 80'000'000;
    const std::vector<shaper::ClassChange> changes{to_plan, to_voice};

    const auto one = runtime::local_changes(changes, shared, 1);
    CHECK(*std::get<shaper::ModifyClass>(one[0]).rate == 40'000'000);

    const auto four = runtime::local_changes(changes, shared, 4);
    CHECK(*std::get<shaper::ModifyClass>(four[0]).rate == 10'000'000);
    CHECK(*std::get<shaper::ModifyClass>(four[0]).ceil == 20'000'000);
    CHECK(*std::get<shaper::ModifyClass>(four[1]).ceil == 80'000'000);  // a leaf keeps its own

    // A freshly built scheduler per worker: the split of every inner class.
    const auto split = runtime::initial_split(tree, ids, 2);
    CHECK(split.size() == 2);  // the root and the plan
    for (const auto& c : split) {
        const auto& m = std::get<shaper::ModifyClass>(c);
        const auto& cls = tree.classes[m.id];
        CHECK(*m.rate == cls.rate / 2);
        CHECK(*m.ceil == cls.ceil / 2);
    }
    CHECK(runtime::initial_split(tree, ids, 1).empty());
    auto built = runtime::build_worker_schedulers(tree, 1'000'000'000, 1024, 0, 3);
    REQUIRE(built.ok());
    CHECK(built->size() == 3);
}

TEST_CASE("the rebalancer gets every inner class, and each leaf under each with the worker that owns it") {
    const auto loaded = policy::load_string(kPolicy, "p.toml");
    REQUIRE(loaded.ok());
    const auto& tree = loaded.policy->directions[0];
    const uint32_t plan = id_of(tree, "plan"), voice = id_of(tree, "voice"), bulk = id_of(tree, "bulk");
    shaper::RateShareConfig config;
    auto built = runtime::build_rate_share(tree, {}, 2, config);
    INFO((built ? std::string() : built.error()));
    REQUIRE(built.ok());
    shaper::RateShare& share = **built;
    const std::vector<uint32_t> classes = share.class_ids();
    CHECK(classes == std::vector<uint32_t>{policy::kRootClass, plan});
    // voice counts in the plan and in the root; bulk in the root only.
    std::vector<uint32_t> members[2];
    for (uint32_t w = 0; w < 2; ++w) {
        const auto m = share.members_of(w);
        members[w].assign(m.begin(), m.end());
    }
    const unsigned voice_owner = dataplane::owner_of(voice, 2), bulk_owner = dataplane::owner_of(bulk, 2);
    CHECK(std::count(members[voice_owner].begin(), members[voice_owner].end(), voice) == 2);
    CHECK(std::count(members[1 - voice_owner].begin(), members[1 - voice_owner].end(), voice) == 0);
    CHECK(std::count(members[bulk_owner].begin(), members[bulk_owner].end(), bulk) == 1);
    // Before the first step every copy holds an equal split, which sums to the class.
    const uint64_t plan_rate = tree.classes[plan].rate;
    CHECK(share.local_rate(plan, 0) + share.local_rate(plan, 1) == plan_rate);
    CHECK(share.local_rate(plan, 1) == plan_rate / 2);
    // One worker: nothing to divide, no link.
    auto one = runtime::build_share_link(tree, {}, 1, 100, 1'000'000'000);
    REQUIRE(one.ok());
    CHECK(*one == nullptr);
}

TEST_CASE("a shared class too slow to give every worker the least rate refuses the rebalancer") {
    std::string text = kPolicy;
    text.replace(text.find("rate = \"60mbit\""), std::string("rate = \"60mbit\"").size(), "rate = \"1kbit\"");
    text.replace(text.find("rate = \"10mbit\"\nceil = \"90mbit\""),
                 std::string("rate = \"10mbit\"\nceil = \"90mbit\"").size(), "rate = \"1kbit\"\nceil = \"90mbit\"");
    const auto loaded = policy::load_string(text, "p.toml");
    INFO(loaded.diagnostics.size());
    REQUIRE(loaded.ok());
    auto built = runtime::build_rate_share(loaded.policy->directions[0], {}, 4, shaper::RateShareConfig{});
    REQUIRE_FALSE(built.ok());
    CHECK_THAT(built.error(), Catch::Contains("class 'plan' with 4 workers"));
}
