// How a class tree is divided among the workers of a direction
// (control/runtime/worker_share): inner classes are shared and each
// worker's copy gets an equal share of their rate and ceil; leaves keep
// theirs; with one worker nothing changes.
#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include "control/policy/loader.hpp"
#include "control/runtime/shaper_config.hpp"
#include "control/runtime/worker_share.hpp"

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
