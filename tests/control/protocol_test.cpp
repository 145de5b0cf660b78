// The control protocol's request parsing: what is accepted, and the message
// for each kind of malformed request.
#include <catch2/catch.hpp>

#include "control/server/command_table.hpp"
#include "control/server/protocol.hpp"

using namespace sluice::control;

TEST_CASE("a well-formed request yields its id, command and arguments") {
    json id;
    auto r = parse_request(R"({"id":"a1","cmd":"set class","args":{"name":"voice","rate":"2mbit"}})", id);
    REQUIRE(r.ok());
    CHECK(r->id == "a1");
    CHECK(r->cmd == "set class");
    CHECK(r->args["name"] == "voice");
    auto bare = parse_request(R"({"cmd":"status"})", id);
    REQUIRE(bare.ok());
    CHECK(bare->id.is_null());
    CHECK(bare->args.is_object());
}

TEST_CASE("each malformed request gets a message that says what to send instead") {
    struct Case {
        std::string line;
        const char* message_part;
        json id;
    };
    const std::vector<Case> cases = {
        {"", "not valid JSON", nullptr},
        {"status", "not valid JSON", nullptr},
        {"{\"cmd\":\"status\"", "not valid JSON", nullptr},
        {std::string("\x00\x01\xff{", 4), "not valid JSON", nullptr},
        {"[1,2]", "must be a JSON object, not array", nullptr},
        {"42", "must be a JSON object, not number", nullptr},
        {"{}", "has no 'cmd'", nullptr},
        {R"({"id":5})", "has no 'cmd'", 5},
        {R"({"id":6,"cmd":7})", "'cmd' must be a string, not number", 6},
        {R"({"id":8,"cmd":"status","args":[]})", "'args' must be an object, not array", 8},
        {R"({"id":9,"cmd":"status","arg":{}})", "unknown request field 'arg'", 9},
    };
    for (const auto& c : cases) {
        INFO(c.line);
        json id;
        auto r = parse_request(c.line, id);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().find(c.message_part) != std::string::npos);
        CHECK(id == c.id);
    }
}

TEST_CASE("responses are one line of JSON echoing the id") {
    const std::string ok = ok_response(3, json{{"x", 1}});
    CHECK(ok == "{\"id\":3,\"ok\":true,\"result\":{\"x\":1}}\n");
    const std::string err = error_response("q", "no such class 'voip'");
    CHECK(json::parse(err)["error"] == "no such class 'voip'");
    // Bytes that are not UTF-8 are replaced, never allowed to abort the reply.
    const std::string odd = error_response(nullptr, std::string("bad \xff byte"));
    CHECK(odd.back() == '\n');
    CHECK(json::parse(odd)["ok"] == false);
}

TEST_CASE("the command table runs handlers and turns failures into errors") {
    CommandTable t;
    t.add("echo", {"", false, [](const json& a, const Peer&) -> sluice::Result<json> { return a; }});
    t.add("fails", {"", true, [](const json&, const Peer&) -> sluice::Result<json> { return sluice::Error{"refused: because"}; }});
    t.add("throws", {"", false, [](const json&, const Peer&) -> sluice::Result<json> { throw std::runtime_error("boom"); }});
    Request r;
    r.id = 1;
    r.cmd = "echo";
    r.args = {{"a", 1}};
    CHECK(json::parse(t.dispatch(r, {}))["result"]["a"] == 1);
    r.cmd = "fails";
    CHECK(json::parse(t.dispatch(r, {}))["error"] == "refused: because");
    r.cmd = "throws";
    CHECK(json::parse(t.dispatch(r, {}))["error"].get<std::string>().find("boom") != std::string::npos);
    r.cmd = "nope";
    const auto unknown = json::parse(t.dispatch(r, {}))["error"].get<std::string>();
    CHECK(unknown.find("unknown command 'nope'") != std::string::npos);
    CHECK(unknown.find("echo, fails, throws") != std::string::npos);

    json args{{"n", "x"}, {"k", 70000}};
    CHECK(int_arg(args, "n", 0, 10).error() == "argument 'n' must be an integer, not string");
    CHECK(int_arg(args, "k", 0, 65535).error() == "argument 'k' must be between 0 and 65535, not 70000");
    CHECK(string_arg(args, "missing").error() == "missing argument 'missing'");
}
