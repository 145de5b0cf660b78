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
