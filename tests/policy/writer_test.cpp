// A policy written back as TOML loads again into the same policy: every
// shipped example round-trips to the same dump, with no warnings added.
#include <catch2/catch.hpp>

#include "control/policy/class_tree.hpp"
#include "control/policy/dump.hpp"
#include "control/policy/loader.hpp"
#include "control/policy/toml_writer.hpp"
#include "control/policy/units.hpp"

using namespace sluice::policy;

TEST_CASE("every example policy survives being written back and loaded again") {
    for (const char* name : {"minimal", "home", "office", "isp-edge"}) {
        INFO(name);
        const auto original = load_file(std::string(SLUICE_SOURCE_DIR) + "/configs/" + name + ".toml");
        REQUIRE(original.ok());
        const std::string text = to_toml(*original.policy);
        const auto again = load_string(text, "written.toml");
        for (const auto& d : again.diagnostics) UNSCOPED_INFO(format(d));
        REQUIRE(again.ok());
        CHECK(dump(*again.policy) == dump(*original.policy));
        // Writing is stable: the second generation is byte for byte the first.
        CHECK(to_toml(*again.policy) == text);
    }
}

namespace {

// Loads `text`, writes it back and loads that: both must load, and dump the same.
void check_round_trip(const std::string& text) {
    const auto original = load_string(text, "original.toml");
    for (const auto& d : original.diagnostics) UNSCOPED_INFO(format(d));
    REQUIRE(original.ok());
    const std::string written = to_toml(*original.policy);
    INFO(written);
    const auto again = load_string(written, "written.toml");
    for (const auto& d : again.diagnostics) UNSCOPED_INFO(format(d));
    REQUIRE(again.ok());
    CHECK(dump(*again.policy) == dump(*original.policy));
    CHECK(to_toml(*again.policy) == written);
}

constexpr std::string_view kLinks = "[upload]\nrate = \"100mbit\"\n[download]\nrate = \"100mbit\"\n";

}  // namespace

// Found by tests/fuzz/fuzz_policy: the loader merges adjacent management
// ports into a range, which the writer wrote as "22-23", a form the
// management reader does not accept.
TEST_CASE("management services with adjacent ports are written back as ports") {
    check_round_trip(std::string(kLinks) + R"(
[management]
addresses = ["192.168.1.1"]
[[management.service]]
protocol = "tcp"
ports = [443, 22, 23, 24]
)");
}

// Found by tests/fuzz/fuzz_policy: names may hold control characters through
// TOML escapes, and the writer put them back raw, which TOML forbids.
TEST_CASE("names with control characters, quotes and backslashes are escaped when written back") {
    check_round_trip(R"([upload]
rate = "10mbit"
default_class = "line\nbreak\u0001\u007f\t\"q\"\\"
[[upload.class]]
name = "line\nbreak\u0001\u007f\t\"q\"\\"
rate = "1mbit"
[download]
rate = "10mbit"
[[meter]]
name = "m\r\u001f"
cir = "1mbit"
cbs = "10kb"
[[rule]]
name = "r\u0000\b\f"
dscp = "ef"
meter = "m\r\u001f"
)");
}

namespace {

const Class& class_named(const Policy& p, Direction d, std::string_view name) {
    for (const Class& c : p.tree(d).classes) {
        if (c.name == name) return c;
    }
    FAIL("no class " << name);
    return p.tree(d).classes[0];
}

constexpr std::string_view kTree = R"(version = 1
[upload]
rate = "100mbit"
default_class = "eng"
[[upload.class]]
name = "staff"
rate = "40mbit"
[[upload.class]]
name = "eng"
parent = "staff"
rate = "50%"
[[upload.class]]
name = "ops"
parent = "staff"
rate = "10mbit"
ceil = "20mbit"
burst = "8kb"
weight = 7
priority = 2
[download]
rate = "100mbit"
[[meter]]
name = "m"
cir = "1mbit"
cbs = "10kb"
)";

// Loads `base`, writes it with `edit` in it and loads that.
LoadResult edited(std::string_view base, const OperatorText& edit, TextMap* map = nullptr) {
    const auto original = load_string(base, "base.toml");
    REQUIRE(original.ok());
    TextMap local;
    return load_string(to_toml(*original.policy, edit, map != nullptr ? map : &local), "edited");
}

}  // namespace

TEST_CASE("the writer writes what the file gave, and a reload derives the rest again") {
    const auto original = load_string(kTree, "tree.toml");
    REQUIRE(original.ok());
    const std::string text = to_toml(*original.policy);
    INFO(text);
    // A share stays a share, a ceil left out stays out, bursts are not frozen.
    CHECK(text.find("rate = \"50%\"") != std::string::npos);
    CHECK(text.find("ceil = ") == text.rfind("ceil = \"20mbit\""));
    CHECK(text.find("burst = 8192\n") != std::string::npos);
    CHECK(text.find("cburst") == std::string::npos);
    CHECK(text.find("ebs") == std::string::npos);
    CHECK(text.find("weight = 7") != std::string::npos);
    CHECK(text.find("weight = 1\n") == std::string::npos);
    const Class& ops = class_named(*original.policy, Direction::upload, "ops");
    CHECK(ops.burst_given);
    CHECK_FALSE(ops.cburst_given);
    CHECK(ops.priority_given);
    CHECK(ops.weight_given);
    CHECK(class_named(*original.policy, Direction::upload, "eng").rate_given.share_ppm == 500'000);
}

TEST_CASE("an edited rate re-derives the bursts, shares and ceils that follow from it") {
    OperatorText edit;
    edit.classes.push_back({Direction::upload, "staff", {{"rate", "\"60mbit\"", "rate=60mbit"}, {"ceil", "\"80mbit\"", "ceil=80mbit"}}});
    const auto r = edited(kTree, edit);
    for (const auto& d : r.diagnostics) UNSCOPED_INFO(format(d));
    REQUIRE(r.ok());
    const Class& staff = class_named(*r.policy, Direction::upload, "staff");
    const Class& eng = class_named(*r.policy, Direction::upload, "eng");
    const Class& ops = class_named(*r.policy, Direction::upload, "ops");
    CHECK(staff.rate == 60'000'000 / 8);
    CHECK(staff.burst == 60'000'000 / 8 / 1000 + kFullFrame);   // derived again from the new rate
    CHECK(staff.cburst == 80'000'000 / 8 / 1000 + kFullFrame);
    CHECK(eng.rate == 30'000'000 / 8);                           // 50% of the new rate
    CHECK(eng.ceil == 80'000'000 / 8);                           // the parent's new ceil
    CHECK(eng.burst == 30'000'000 / 8 / 1000 + kFullFrame);
    CHECK(ops.burst == 8192);                                    // given: kept
    CHECK(ops.ceil == 20'000'000 / 8);
}

TEST_CASE("the meter's ebs follows its cbs unless it was given") {
    OperatorText edit;
    edit.meter = "m";
    edit.meter_keys = {{"cbs", "\"20kb\"", "cbs=20kb"}};
    const auto r = edited(kTree, edit);
    REQUIRE(r.ok());
    CHECK(r.policy->meters[0].cbs == 20 * 1024);
    CHECK(r.policy->meters[0].ebs == 20 * 1024);
    CHECK_FALSE(r.policy->meters[0].ebs_given);
}

TEST_CASE("the text map places a message on the operator's key or on the table it is about") {
    OperatorText edit;
    edit.classes.push_back({Direction::upload, "staff", {{"rate", "\"6mbit\"", "rate=6mbit"}}});
    TextMap map;
    const auto r = edited(kTree, edit, &map);
    REQUIRE_FALSE(r.ok());
    REQUIRE(map.given.size() == 1);
    bool on_key = false;
    for (const auto& d : r.diagnostics) {
        INFO(format(d));
        const auto place = map.place(d.line);
        if (place.given) {
            on_key = true;
            CHECK(place.text == "rate=6mbit");
            CHECK(d.message == "the children of \"staff\" are assured 13mbit, more than its rate 6mbit; lower their "
                               "rates or raise the parent's");
        } else {
            CHECK(place.text.rfind("class ", 0) == 0);
        }
    }
    CHECK(on_key);
    CHECK(shown_key("dst_port = \"abc\"") == "dst_port=abc");
    CHECK(shown_key("dst_port = [1, 2]") == "dst_port=[1, 2]");
    CHECK(shown_key("name = \"two words\"") == "name=\"two words\"");
}

TEST_CASE("shares are written back exactly") {
    CHECK(format_share(300'000) == "30%");
    CHECK(format_share(125'000) == "12.5%");
    CHECK(format_share(1) == "0.0001%");
    CHECK(format_share(1'000'000) == "100%");
    for (uint32_t ppm : {1u, 99u, 123'456u, 999'999u}) {
        const auto back = parse_rate_or_share(format_share(ppm));
        REQUIRE(back.ok());
        CHECK(back.value.share_ppm == ppm);
    }
}
