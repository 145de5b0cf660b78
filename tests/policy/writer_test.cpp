// A policy written back as TOML loads again into the same policy: every
// shipped example round-trips to the same dump, with no warnings added.
#include <catch2/catch.hpp>

#include "control/policy/dump.hpp"
#include "control/policy/loader.hpp"
#include "control/policy/toml_writer.hpp"

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
