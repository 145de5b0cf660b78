// The policy runtime's management hook: what sluiced's main gives it to
// reach the XDP programs and the exception paths. It sees every policy whose
// [management] section differs from the running one, before anything else
// of it is published; its refusal refuses the load and the running policy
// stays; its warnings join the load's report.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "classifier/table_publisher.hpp"
#include "control/runtime/policy_runtime.hpp"
#include "tests/support/test_eal.hpp"

using namespace sluice;

namespace {

// A one-class policy whose [management] names `address` (none: no section)
// and whose upload link runs at `mbit`.
std::string policy_text(const std::string& address, int mbit = 10) {
    std::string t = "version = 1\n[upload]\nrate = \"" + std::to_string(mbit) +
                    "mbit\"\ndefault_class = \"bulk\"\n[[upload.class]]\nname = \"bulk\"\nrate = \"1mbit\"\n"
                    "[download]\nrate = \"10mbit\"\ndefault_class = \"bulk\"\n[[download.class]]\n"
                    "name = \"bulk\"\nrate = \"1mbit\"\n";
    if (!address.empty()) t += "[management]\naddresses = [\"" + address + "\"]\n";
    return t;
}

std::string first_address(const policy::Management& m) {
    if (m.addresses.empty()) return "none";
    const auto& a = m.addresses[0].addr;
    return std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." + std::to_string(a[3]);
}

}  // namespace

TEST_CASE("the management hook sees each changed [management] section, and its refusal refuses the load") {
    test::ensure_eal();
    auto publisher = classifier::TablePublisher::create(1);
    REQUIRE(publisher.ok());
    runtime::PolicyRuntime runtime(**publisher);

    std::vector<std::string> seen;  // the sections the hook was given, in order
    bool refuse = false;
    runtime.set_management_hook([&](const policy::Management& m) -> Result<std::vector<std::string>> {
        seen.push_back(first_address(m));
        if (refuse && !m.addresses.empty() && first_address(m) == "192.0.2.9") return Error{"the maps are full"};
        return std::vector<std::string>{"lan port p0: cannot see its frames"};
    });

    auto first = runtime.load({policy_text("192.0.2.1"), "a.toml", ""});
    REQUIRE(first.ok());
    CHECK(seen == std::vector<std::string>{"192.0.2.1"});
    // Its warnings are the load's, counted and worded as warnings.
    CHECK(first->warnings == 1);
    REQUIRE(first->messages.size() == 1);
    CHECK(first->messages[0] == "a.toml: warning: [management]: lan port p0: cannot see its frames");

    SECTION("a policy with the same section does not call it again") {
        REQUIRE(runtime.load({policy_text("192.0.2.1", 20), "b.toml", ""}).ok());
        CHECK(seen.size() == 1);
        CHECK(runtime.current()->directions[0].link.rate == 20'000'000 / 8);
    }
    SECTION("a changed section, or none, is given to it") {
        REQUIRE(runtime.load({policy_text("192.0.2.2"), "b.toml", ""}).ok());
        REQUIRE(runtime.load({policy_text(""), "c.toml", ""}).ok());
        CHECK(seen == std::vector<std::string>{"192.0.2.1", "192.0.2.2", "none"});
    }
    SECTION("its refusal refuses the policy, and the running one stays") {
        refuse = true;
        auto r = runtime.load({policy_text("192.0.2.9", 30), "bad.toml", ""});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().find("[management]: the maps are full") != std::string::npos);
        CHECK(first_address(runtime.current()->management) == "192.0.2.1");
        CHECK(runtime.current()->directions[0].link.rate == 10'000'000 / 8);
    }
}
