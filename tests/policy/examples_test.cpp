// Every policy shipped in configs/ loads without errors or warnings. The
// compiled form is pinned by a golden dump in
// tests/policy/golden/.
//
// When a change to the policy format or the dump is intended, regenerate
// the golden files with SLUICE_UPDATE_GOLDEN=1 and review the diff.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "control/policy/dump.hpp"
#include "control/policy/loader.hpp"

using namespace sluice::policy;

namespace {

const std::string kSource = SLUICE_SOURCE_DIR;

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("each example policy loads cleanly and dumps as pinned") {
    const char* name = GENERATE("minimal", "home", "office", "isp-edge");
    SECTION(name) {
        const LoadResult r = load_file(kSource + "/configs/" + name + ".toml");
        std::string messages;
        for (const Diagnostic& d : r.diagnostics) messages += format(d) + "\n";
        INFO(messages);
        REQUIRE(r.ok());
        REQUIRE(r.diagnostics.empty());

        const std::string golden_path = kSource + "/tests/policy/golden/" + name + ".dump";
        const std::string text = dump(*r.policy);
        if (std::getenv("SLUICE_UPDATE_GOLDEN") != nullptr) {
            std::ofstream(golden_path, std::ios::binary) << text;
        }
        CHECK(text == read_text(golden_path));
    }
}

TEST_CASE("the minimal policy shapes each direction with one fair queue at the root") {
    const LoadResult r = load_file(kSource + "/configs/minimal.toml");
    REQUIRE(r.ok());
    const ClassTree& up = r.policy->tree(Direction::upload);
    REQUIRE(up.classes.size() == 1);
    CHECK(up.default_class == kRootClass);
    CHECK(up.link.rate == 19'000'000 / 8);
    CHECK(up.link.overhead.bytes == 24);
    CHECK(up.link.overhead.mpu == 84);
    CHECK(up.classes[0].queue.kind == QueueKind::fq_codel);
}

TEST_CASE("home: EF is trusted into the voice class in both directions") {
    const LoadResult r = load_file(kSource + "/configs/home.toml");
    REQUIRE(r.ok());
    const Policy& p = *r.policy;
    REQUIRE_FALSE(p.rules.empty());
    const Rule& ef = p.rules[0];
    CHECK(ef.name == "voice-ef");
    CHECK(ef.match.dscp == (1ull << 46));
    CHECK(p.tree(Direction::upload).classes[ef.action.class_id[0]].name == "voice");
    CHECK(p.tree(Direction::download).classes[ef.action.class_id[1]].name == "voice");
}

TEST_CASE("isp-edge: subscribers nest under the link and their classes under them") {
    const LoadResult r = load_file(kSource + "/configs/isp-edge.toml");
    REQUIRE(r.ok());
    const ClassTree& down = r.policy->tree(Direction::download);
    uint32_t leaves = 0, depth2 = 0;
    for (const Class& c : down.classes) {
        leaves += c.is_leaf();
        depth2 += c.depth == 2;
    }
    CHECK(depth2 == 9);
    CHECK(leaves == 10);
}
