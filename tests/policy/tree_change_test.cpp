// A running scheduler turned into a new policy's class tree, live: which
// classes keep their ids, what is added, changed and removed, and what
// happens to the packets queued in classes that go.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "control/policy/loader.hpp"
#include "control/runtime/shaper_config.hpp"
#include "tests/shaper/virtual_traffic.hpp"

using namespace sluice;
using namespace sluice::shaper;
using namespace sluice::shaper::testing;
using namespace sluice::runtime;

namespace {

// An upload tree of 100 Mbit/s; `classes` is the TOML of its classes.
std::shared_ptr<const policy::Policy> tree(const std::string& classes, const std::string& default_class = "bulk") {
    const std::string text = "version = 1\n[upload]\nrate = \"100mbit\"\ndefault_class = \"" + default_class + "\"\n" +
                             classes + "[download]\nrate = \"100mbit\"\n";
    const auto r = policy::load_string(text, "test");
    std::string errors;
    for (const auto& d : r.diagnostics) errors += policy::format(d) + "\n";
    INFO(errors);
    REQUIRE(r.ok());
    return r.policy;
}

std::string cls(const std::string& name, const std::string& rate, const std::string& extra = "") {
    return "[[upload.class]]\nname = \"" + name + "\"\nrate = \"" + rate + "\"\n" + extra;
}

const policy::ClassTree& up(const std::shared_ptr<const policy::Policy>& p) { return p->directions[0]; }

uint32_t index_of(const policy::ClassTree& t, const std::string& name) {
    for (const auto& c : t.classes) {
        if (c.name == name) return c.id;
    }
    FAIL("no class " << name);
    return 0;
}

// A scheduler built from `p` as sluiced builds it, and a drop counter.
struct Running {
    explicit Running(const std::shared_ptr<const policy::Policy>& p) : ids(numbered_ids(up(p))) {
        auto built = build_scheduler(up(p), kHz, 4096, 0);
        REQUIRE(built);
        s = std::move(*built);
        s->set_drop_handler(
            [](void* self, const Packet&, DropReason why) {
                auto& r = *static_cast<Running*>(self);
                ++r.drops;
                if (why == DropReason::class_removed) ++r.removed_drops;
            },
            this);
        supply.next = static_cast<uint32_t>(ids.size());
    }

    void apply(const std::vector<ClassChange>& changes, uint64_t now) {
        for (const auto& ch : changes) {
            const Status st = s->apply(ch, now);
            INFO(st.error());
            REQUIRE(st.ok());
        }
    }

    // The plan applied as the daemon applies it: before, (publish), after.
    TreePlan change_to(const std::shared_ptr<const policy::Policy>& was, const std::shared_ptr<const policy::Policy>& now,
                       uint64_t t = 1) {
        TreePlan plan = plan_tree_change(up(was), ids, up(now), supply);
        apply(plan.before, t);
        apply(plan.after, t);
        ids = plan.ids;
        supply = plan.supply_after_removals();
        return plan;
    }

    // Everything queued, let out as the rates allow.
    uint32_t drain() {
        Packet out[64];
        uint32_t total = 0;
        for (uint64_t now = ms(1); now < sec(100) && s->backlog_packets() != 0; now += ms(1)) {
            for (uint32_t n; (n = s->dequeue_burst(out, 64, now)) != 0;) total += n;
        }
        return total;
    }

    std::unique_ptr<Scheduler> s;
    std::vector<uint32_t> ids;
    IdSupply supply;
    uint64_t drops = 0;
    uint64_t removed_drops = 0;
};

}  // namespace

TEST_CASE("the same tree plans no change and keeps every id", "[tree-change]") {
    const auto a = tree(cls("voice", "10mbit", "priority = 0\n") + cls("bulk", "90mbit"));
    const auto b = tree(cls("voice", "10mbit", "priority = 0\n") + cls("bulk", "90mbit"));
    const TreePlan plan = plan_tree_change(up(a), {7, 8, 9}, up(b), IdSupply{{}, 10});
    CHECK(plan.empty());
    CHECK(plan.ids == std::vector<uint32_t>{7, 8, 9});
    CHECK(plan.supply.next == 10);
    CHECK(plan.released.empty());
    CHECK(plan.kept == 3);
}

TEST_CASE("classes keep their ids when a class is added before them in the file", "[tree-change]") {
    const auto a = tree(cls("voice", "10mbit", "priority = 0\n") + cls("bulk", "90mbit"));
    const auto b = tree(cls("games", "5mbit", "priority = 1\n") + cls("voice", "10mbit", "priority = 0\n") +
                        cls("bulk", "85mbit"));
    Running r(a);
    // Packets waiting in bulk while the tree changes.
    for (uint64_t i = 0; i < 20; ++i) REQUIRE(r.s->enqueue(index_of(up(a), "bulk"), Packet{i, 1000, 0}, 0));

    const TreePlan plan = r.change_to(a, b);
    CHECK(plan.added == 1);
    CHECK(plan.modified == 1);  // bulk's rate
    CHECK(plan.removed == 0);
    CHECK(plan.after.empty());
    CHECK(r.ids[index_of(up(b), "voice")] == index_of(up(a), "voice"));
    CHECK(r.ids[index_of(up(b), "bulk")] == index_of(up(a), "bulk"));
    CHECK(r.ids[index_of(up(b), "games")] == 3);  // a fresh id, after all the old ones
    CHECK(r.s->snapshot(3).has_value());
    CHECK(r.s->class_count() == 4);

    CHECK(r.drain() == 20);
    CHECK(r.drops == 0);
}

TEST_CASE("a removed class's queued packets move to the default class", "[tree-change]") {
    const auto a = tree(cls("voice", "10mbit") + cls("video", "30mbit") + cls("bulk", "60mbit"));
    const auto b = tree(cls("voice", "10mbit") + cls("bulk", "90mbit"));
    Running r(a);
    const uint32_t video = index_of(up(a), "video");
    for (uint64_t i = 0; i < 50; ++i) REQUIRE(r.s->enqueue(video, Packet{i, 1000, 0}, 0));

    const TreePlan plan = r.change_to(a, b);
    CHECK(plan.removed == 1);
    REQUIRE(plan.after.size() == 1);
    CHECK_FALSE(r.s->snapshot(video).has_value());
    CHECK(r.s->backlog_packets() == 50);

    CHECK(r.drain() == 50);
    CHECK(r.drops == 0);
    const auto bulk = r.s->snapshot(r.ids[index_of(up(b), "bulk")]);
    REQUIRE(bulk);
    CHECK(bulk->counters.packets == 50);
}

TEST_CASE("a class under another parent or with other queue settings is a new class", "[tree-change]") {
    const auto a = tree(cls("group", "50mbit") + cls("gaming", "10mbit", "parent = \"group\"\n") +
                        cls("bulk", "50mbit", "queue = \"fifo\"\n"));
    const auto b = tree(cls("group", "25mbit") + cls("other", "25mbit") +
                        cls("gaming", "10mbit", "parent = \"other\"\n") + cls("bulk", "50mbit", "queue = \"codel\"\n"),
                        "bulk");
    Running r(a);
    const TreePlan plan = r.change_to(a, b);
    // group is kept; other, gaming (moved) and bulk (new queue) are new.
    CHECK(r.ids[index_of(up(b), "group")] == index_of(up(a), "group"));
    CHECK(r.ids[index_of(up(b), "gaming")] != index_of(up(a), "gaming"));
    CHECK(r.ids[index_of(up(b), "bulk")] != index_of(up(a), "bulk"));
    CHECK(plan.added == 3);
    CHECK(plan.removed == 2);
    CHECK_FALSE(r.s->snapshot(index_of(up(a), "gaming")).has_value());
    CHECK(r.s->class_count() == up(b).classes.size());
    // No id is handed out twice.
    std::vector<uint32_t> ids = r.ids;
    std::sort(ids.begin(), ids.end());
    CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
    CHECK(*std::max_element(ids.begin(), ids.end()) < r.supply.next);
    // The removed classes' ids are not taken by the classes added in the
    // same change: the running classifier still names them.
    CHECK(r.ids[index_of(up(b), "gaming")] != index_of(up(a), "bulk"));
    CHECK(r.ids[index_of(up(b), "bulk")] != index_of(up(a), "gaming"));
}

TEST_CASE("ids of removed classes go to classes added by later changes", "[tree-change]") {
    const auto a = tree(cls("voice", "10mbit") + cls("bulk", "90mbit"));
    const auto b = tree(cls("bulk", "90mbit"));
    const auto c = tree(cls("video", "30mbit") + cls("bulk", "70mbit"));
    Running r(a);
    const uint32_t voice = index_of(up(a), "voice");
    const TreePlan gone = r.change_to(a, b);
    CHECK(gone.released == std::vector<uint32_t>{voice});
    const TreePlan back = r.change_to(b, c);
    CHECK(back.added == 1);
    CHECK(r.ids[index_of(up(c), "video")] == voice);
    CHECK(r.supply.next == 3);  // root, voice and bulk: no id beyond them yet
    REQUIRE(r.s->snapshot(voice).has_value());
    CHECK(r.s->snapshot(voice)->counters.packets == 0);  // a new class: nothing of voice's
}

TEST_CASE("ids stay in a dense run however often the tree changes", "[tree-change]") {
    // 200 reloads, each replacing 50 classes with 50 of other names: ids
    // that only grew would reach 10,000; reused, they stay under the most
    // classes that ever ran at once (one change's old and new together).
    auto generation = [](int g) {
        std::string classes;
        for (int i = 0; i < 50; ++i) classes += cls("c" + std::to_string(g) + "_" + std::to_string(i), "1mbit");
        return tree(classes + cls("bulk", "10mbit"));
    };
    auto was = generation(0);
    Running r(was);
    for (int g = 1; g <= 200; ++g) {
        const auto now = generation(g);
        const TreePlan plan = r.change_to(was, now);
        REQUIRE(plan.added == 50);
        REQUIRE(plan.removed == 50);
        was = now;
    }
    CHECK(r.s->class_count() == 52);
    CHECK(*std::max_element(r.ids.begin(), r.ids.end()) < 102);
    CHECK(r.supply.next <= 102);
}

TEST_CASE("a subtree goes as a whole, its packets to the default", "[tree-change]") {
    const auto a = tree(cls("tenant", "40mbit") + cls("web", "20mbit", "parent = \"tenant\"\n") +
                        cls("mail", "20mbit", "parent = \"tenant\"\n") + cls("bulk", "60mbit"));
    const auto b = tree(cls("bulk", "100mbit"));
    Running r(a);
    for (uint64_t i = 0; i < 10; ++i) REQUIRE(r.s->enqueue(index_of(up(a), "web"), Packet{i, 500, 0}, 0));
    for (uint64_t i = 0; i < 10; ++i) REQUIRE(r.s->enqueue(index_of(up(a), "mail"), Packet{i, 500, 0}, 0));
    const TreePlan plan = r.change_to(a, b);
    CHECK(plan.removed == 3);
    CHECK(plan.after.size() == 1);  // tenant, with web and mail below it
    CHECK(r.s->class_count() == 2);
    CHECK(r.drain() == 20);
    CHECK(r.drops == 0);
}

TEST_CASE("children removed under a class that becomes the default leaf are dropped by name, all counted",
          "[tree-change]") {
    const auto a = tree(cls("bulk", "60mbit") + cls("a", "30mbit", "parent = \"bulk\"\n") +
                            cls("b", "30mbit", "parent = \"bulk\"\n"),
                        "a");
    const auto b = tree(cls("bulk", "60mbit"), "bulk");
    Running r(a);
    for (uint64_t i = 0; i < 7; ++i) REQUIRE(r.s->enqueue(index_of(up(a), "a"), Packet{i, 500, 0}, 0));
    r.change_to(a, b);
    CHECK(r.removed_drops == 7);
    CHECK(r.s->backlog_packets() == 0);
    CHECK(r.s->class_count() == 2);
    // bulk is a leaf again and takes packets.
    CHECK(r.s->enqueue(r.ids[index_of(up(b), "bulk")], Packet{99, 500, 0}, 2));
}

TEST_CASE("the undo list takes a half-applied plan back", "[tree-change]") {
    const auto a = tree(cls("voice", "10mbit") + cls("bulk", "90mbit"));
    const auto b = tree(cls("voice", "20mbit") + cls("x", "10mbit") + cls("y", "10mbit") + cls("bulk", "60mbit"));
    Running r(a);
    const TreePlan plan = plan_tree_change(up(a), r.ids, up(b), r.supply);
    REQUIRE(plan.before.size() == plan.undo.size());
    REQUIRE(plan.before.size() == 4);  // 2 modifies, 2 adds
    // Three applied, then the fourth refused: undo the three, last first.
    r.apply({plan.before.begin(), plan.before.begin() + 3}, 1);
    r.apply({plan.undo.rend() - 3, plan.undo.rend()}, 1);
    CHECK(r.s->class_count() == 3);
    CHECK_FALSE(r.s->snapshot(plan.ids[index_of(up(b), "x")]).has_value());
}

TEST_CASE("after a live tree change the new classes shape to their rates", "[tree-change]") {
    // 100 Mbit/s link; bulk keeps running saturated across the change; a
    // new class capped at 20 Mbit/s appears and gets exactly that.
    const auto a = tree(cls("bulk", "90mbit", "ceil = \"100mbit\"\nqueue = \"fifo\"\n"));
    const auto b = tree(cls("video", "20mbit", "ceil = \"20mbit\"\npriority = 1\nqueue = \"fifo\"\n") +
                        cls("bulk", "80mbit", "ceil = \"100mbit\"\nqueue = \"fifo\"\npriority = 5\n"));
    Running r(a);
    VirtualTraffic t(*r.s);
    Source bulk;
    bulk.class_id = r.ids[index_of(up(a), "bulk")];
    const size_t ib = t.add(bulk);
    t.run(sec(2), 0, 0);  // nothing counted before the change
    const TreePlan plan = r.change_to(a, b, t.now());
    REQUIRE(plan.added == 1);
    Source video;
    video.class_id = r.ids[index_of(up(b), "video")];
    video.start = t.now();
    const size_t iv = t.add(video);
    t.run(sec(12), sec(2), sec(12));
    CHECK(t.source(iv).window_rate(sec(10)) == Approx(mbit(20)).epsilon(0.01));
    CHECK(t.source(ib).window_rate(sec(10)) == Approx(mbit(80)).epsilon(0.01));
    CHECK(t.drops() == 0);
}
