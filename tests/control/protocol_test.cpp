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
        {R"({"id":10,"cmd":"status","progress":"yes"})", "'progress' must be true or false", 10},
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

TEST_CASE("a request may ask for progress; interim lines are told apart from responses") {
    json id;
    auto asked = parse_request(R"({"id":1,"cmd":"policy load","progress":true})", id);
    REQUIRE(asked.ok());
    CHECK(asked->progress);
    auto plain = parse_request(R"({"id":1,"cmd":"policy load"})", id);
    REQUIRE(plain.ok());
    CHECK_FALSE(plain->progress);
    const std::string line = working_line(1, "policy load", "running", 2000);
    CHECK(line.back() == '\n');
    const json j = json::parse(line);
    CHECK(j["id"] == 1);
    CHECK(j["working"] == "policy load");
    CHECK(j["elapsed_ms"] == 2000);
    CHECK(j["deadline_ms"] == kProgressDeadlineMs);
    CHECK(is_working_line(j));
    CHECK_FALSE(is_working_line(json::parse(ok_response(1, json::object()))));
    CHECK_FALSE(is_working_line(json::parse(error_response(1, "no"))));
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

TEST_CASE("a request nested beyond the depth limit is refused before any document is built") {
    json id;
    const std::string deep = "{\"id\":" + std::string(60'000, '[') + std::string(60'000, ']') + ",\"cmd\":\"status\"}";
    auto r = parse_request(deep, id);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("deeper than 16 levels") != std::string::npos);
    CHECK(id.is_null());
    // Within the limit, nesting in the arguments is fine.
    auto ok = parse_request(R"({"cmd":"x","args":{"a":[[[1]]]}})", id);
    CHECK(ok.ok());
}

TEST_CASE("an id is a string, a number or null, and short") {
    json id;
    CHECK(parse_request(R"({"id":"a","cmd":"x"})", id).ok());
    CHECK(parse_request(R"({"id":7.5,"cmd":"x"})", id).ok());
    CHECK(parse_request(R"({"id":null,"cmd":"x"})", id).ok());
    auto arr = parse_request(R"({"id":[1],"cmd":"x"})", id);
    REQUIRE_FALSE(arr.ok());
    CHECK(arr.error() == "'id' must be a string, a number or null, not array");
    CHECK(id.is_null());
    auto long_id = parse_request("{\"id\":\"" + std::string(300, 'x') + "\",\"cmd\":\"x\"}", id);
    REQUIRE_FALSE(long_id.ok());
    CHECK(long_id.error().find("longer than 256 bytes") != std::string::npos);
}

TEST_CASE("the command table grants each role what the privilege model gives it") {
    CommandTable t;
    int changed = 0;
    t.add("look", {"", false, [](const json&, const Peer&) -> sluice::Result<json> { return json{{"seen", true}}; }});
    t.add("shape", {"", true, [&](const json&, const Peer&) -> sluice::Result<json> { return json{{"n", ++changed}}; }});
    t.add("admin", {"", true, [&](const json&, const Peer&) -> sluice::Result<json> { return json{{"n", ++changed}}; },
                    Access::root});
    Request r;
    r.id = 1;
    const Peer root{1, 0, 0, Role::root}, member{2, 1000, 1000, Role::member}, outsider{3, 1001, 1001, Role::none};
    struct Case {
        const char* cmd;
        Peer peer;
        bool allowed;
        const char* refusal;
    };
    const std::vector<Case> cases = {
        {"look", root, true, ""},
        {"shape", root, true, ""},
        {"admin", root, true, ""},
        {"look", member, true, ""},
        {"shape", member, true, ""},
        {"admin", member, false, "'admin' is for root only"},
        {"look", outsider, false, "uid 1001 is neither root nor in group 'sluice'"},
        {"shape", outsider, false, "uid 1001 is neither root nor in group 'sluice'"},
        {"nope", outsider, false, "uid 1001 is neither root nor in group 'sluice'"},
    };
    for (const auto& c : cases) {
        INFO(c.cmd << " as uid " << c.peer.uid);
        r.cmd = c.cmd;
        const int before = changed;
        const json resp = json::parse(t.dispatch(r, c.peer));
        CHECK(resp["ok"] == c.allowed);
        if (!c.allowed) {
            CHECK(resp["error"].get<std::string>().find(c.refusal) != std::string::npos);
            CHECK(changed == before);
        }
    }
}
