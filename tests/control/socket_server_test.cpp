// The control socket under bad clients: malformed requests each get a clear
// error while the server goes on serving; huge, truncated and binary input,
// too many clients, idle clients, clients that do not read their answers
// and random garbage never stop it, and a
// state that only a valid command may change stays unchanged.
#include <catch2/catch.hpp>

#include <grp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <thread>

#include "control/client/control_client.hpp"
#include "control/server/socket_server.hpp"

using namespace sluice::control;
using namespace std::chrono_literals;

namespace {

std::string temp_socket(const char* tag) {
    return (std::filesystem::temp_directory_path() / (std::string("sluice-") + tag + "-" + std::to_string(getpid()) + ".sock")).string();
}

// A stand-in for the daemon's state: only "set value" with a valid integer changes it.
struct Fixture {
    int64_t value = 42;
    CommandTable table;
    std::unique_ptr<SocketServer> server;
    std::string path;

    explicit Fixture(const char* tag, ServerLimits limits = {}, const std::string& group = "sluice")
        : path(temp_socket(tag)) {
        table.add("get value", {"", false, [this](const json&, const Peer&) -> sluice::Result<json> { return json{{"value", value}}; }});
        // An answer of any size: {"blob": "xxx..."}.
        table.add("blob", {"", false, [](const json& a, const Peer&) -> sluice::Result<json> {
            auto n = int_arg(a, "bytes", 0, 64 << 20);
            if (!n) return sluice::Error{n.error()};
            return json{{"blob", std::string(static_cast<size_t>(*n), 'x')}};
        }});
        table.add("set value", {"", true, [this](const json& a, const Peer&) -> sluice::Result<json> {
            auto v = int_arg(a, "value", 0, 1000);
            if (!v) return sluice::Error{v.error()};
            value = *v;
            return json{{"value", value}};
        }});
        auto s = SocketServer::bind(path, table, limits, group);
        REQUIRE(s.ok());
        server = std::move(*s);
        server->start();
    }

    std::unique_ptr<ControlClient> client() {
        auto c = ControlClient::connect(path, 5s);
        REQUIRE(c.ok());
        return std::move(*c);
    }
};

// This process's peak resident memory since the last reset_peak_memory(), in bytes.
void reset_peak_memory() { std::ofstream("/proc/self/clear_refs") << "5"; }
size_t peak_memory() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stoul(line.substr(6)) * 1024;
    return 0;
}

// A plain socket connected to the server, for tests that write and read
// bytes the client library would not.
int raw_connect(const std::string& path) {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    return fd;
}

json send_line(ControlClient& c, const std::string& raw) {
    auto line = c.exchange_raw(raw);
    REQUIRE(line.ok());
    return json::parse(*line);
}

}  // namespace

TEST_CASE("malformed requests each get an error and the server keeps serving") {
    Fixture f("malformed");
    auto c = f.client();
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"not json\n", "not valid JSON"},
        {"{\"cmd\":1}\n", "'cmd' must be a string"},
        {"{\"cmd\":\"launch\"}\n", "unknown command 'launch'"},
        {"{\"cmd\":\"set value\",\"args\":{\"value\":\"high\"}}\n", "must be an integer"},
        {"{\"cmd\":\"set value\",\"args\":{\"value\":5000}}\n", "between 0 and 1000"},
        {"{\"cmd\":\"set value\"}\n", "missing argument 'value'"},
        {std::string("\x01\x02\x00\xfe\xff\n", 6), "not valid JSON"},
        {"\r\n", "not valid JSON"},
    };
    for (const auto& [raw, part] : cases) {
        INFO(raw);
        const json r = send_line(*c, raw);
        CHECK(r["ok"] == false);
        CHECK(r["error"].get<std::string>().find(part) != std::string::npos);
    }
    // The same connection still works, and nothing above changed the state.
    CHECK(send_line(*c, "{\"id\":1,\"cmd\":\"get value\"}\n")["result"]["value"] == 42);
}

TEST_CASE("a request longer than the limit is refused and the connection closed; others are unaffected") {
    Fixture f("huge");
    auto bystander = f.client();
    auto c = f.client();
    const std::string huge = "{\"cmd\":\"get value\",\"args\":{\"pad\":\"" + std::string(kMaxRequestBytes + 10, 'x') + "\"}}\n";
    const json r = send_line(*c, huge);
    CHECK(r["ok"] == false);
    CHECK(r["error"].get<std::string>().find("longer than") != std::string::npos);
    CHECK(send_line(*bystander, "{\"cmd\":\"get value\"}\n")["ok"] == true);
    // Without a newline at all the server gives up at the limit as well.
    auto d = f.client();
    const json r2 = send_line(*d, std::string(kMaxRequestBytes + 100, '{'));
    CHECK(r2["error"].get<std::string>().find("without a newline") != std::string::npos);
}

TEST_CASE("a request cut short by the client closing gets an answer before the close") {
    Fixture f("truncated");
    const int fd = raw_connect(f.path);
    const std::string partial = "{\"cmd\":\"set val";
    REQUIRE(write(fd, partial.data(), partial.size()) == static_cast<ssize_t>(partial.size()));
    shutdown(fd, SHUT_WR);
    char buf[512] = {};
    std::string got;
    for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) got.append(buf, static_cast<size_t>(n));
    close(fd);
    CHECK(got.find("ended without a newline") != std::string::npos);
    CHECK(f.value == 42);
}

TEST_CASE("connections beyond the limit are refused with a message; idle ones are closed") {
    ServerLimits limits;
    limits.max_connections = 3;
    limits.idle_timeout_ms = 300;
    Fixture f("limits", limits);
    auto a = f.client(), b = f.client(), c = f.client();
    CHECK(send_line(*a, "{\"cmd\":\"get value\"}\n")["ok"] == true);
    auto extra = f.client();  // accepted by the kernel, refused by the server
    // The refusal arrives unasked; writing first could race the server's close.
    auto line = extra->exchange_raw("");
    REQUIRE(line.ok());
    CHECK(json::parse(*line)["error"].get<std::string>().find("too many control connections") != std::string::npos);
    // Idle clients are dropped after the timeout, which frees their slots.
    std::this_thread::sleep_for(1500ms);
    auto fresh = f.client();
    CHECK(send_line(*fresh, "{\"cmd\":\"get value\"}\n")["ok"] == true);
}

TEST_CASE("answers larger than the output limit reach a client that reads them, and later requests wait their turn") {
    ServerLimits limits;
    limits.max_output_bytes = 1 << 20;
    Fixture f("bigout", limits);
    auto c = f.client();
    // Three requests at once: two answers of 3 MiB each, three times the
    // limit, then a small one that must wait until the first two drained.
    const std::string blob = "{\"cmd\":\"blob\",\"args\":{\"bytes\":3145728}}\n";
    REQUIRE(c->send_raw(blob + blob + "{\"cmd\":\"get value\"}\n").ok());
    for (int i = 0; i < 2; ++i) {
        auto line = c->read_line();
        REQUIRE(line.ok());
        const json r = json::parse(*line);
        REQUIRE(r["ok"] == true);
        CHECK(r["result"]["blob"].get<std::string>().size() == 3145728);
    }
    auto last = c->read_line();
    REQUIRE(last.ok());
    CHECK(json::parse(*last)["result"]["value"] == 42);
    CHECK(send_line(*c, "{\"cmd\":\"get value\"}\n")["ok"] == true);
}

TEST_CASE("a client that takes none of its answers is disconnected once they stall, holding back its other requests") {
    ServerLimits limits;
    limits.max_output_bytes = 1 << 20;
    limits.output_stall_ms = 300;
    Fixture f("stall", limits);
    const int fd = raw_connect(f.path);
    // Forty requests for 4 MiB each, never read: were they all answered,
    // 160 MiB would wait in the daemon (here, in this process).
    reset_peak_memory();
    const size_t before = peak_memory();
    std::string many;
    for (int i = 0; i < 40; ++i) many += "{\"cmd\":\"blob\",\"args\":{\"bytes\":4194304}}\n";
    REQUIRE(send(fd, many.data(), many.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(many.size()));
    // Others are served meanwhile.
    auto other = f.client();
    CHECK(send_line(*other, "{\"cmd\":\"get value\"}\n")["ok"] == true);
    std::this_thread::sleep_for(2000ms);
    // What the kernel still held for it is readable, then the end: the
    // daemon closed it, having sent less than the first answer in all.
    size_t got = 0;
    bool ended = false;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!ended && std::chrono::steady_clock::now() < deadline) {
        char buf[65536];
        const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) got += static_cast<size_t>(n);
        else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) ended = true;
        else std::this_thread::sleep_for(10ms);
    }
    close(fd);
    CHECK(ended);
    CHECK(got < 4194304);
    CHECK(peak_memory() < before + (48u << 20));
    CHECK(send_line(*other, "{\"cmd\":\"get value\"}\n")["ok"] == true);
}

TEST_CASE("a stale socket is replaced; a live one is not stolen") {
    const std::string path = temp_socket("stale");
    {
        // A socket file with nobody behind it, as a crashed daemon leaves.
        const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strcpy(a.sun_path, path.c_str());
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
        close(fd);
    }
    CommandTable t;
    auto first = SocketServer::bind(path, t, {}, "sluice-no-such-group");
    REQUIRE(first.ok());
    struct stat st{};
    REQUIRE(stat(path.c_str(), &st) == 0);
    // Without the group, the socket is root's alone.
    CHECK((st.st_mode & 0777) == 0600);
    auto second = SocketServer::bind(path, t);
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().find("another daemon is serving") != std::string::npos);
}

TEST_CASE("100,000 random requests leave the server running and its state unchanged") {
    Fixture f("fuzz");
    auto c = f.client();
    std::mt19937 rng(6);
    const std::vector<std::string> pieces = {"{", "}", "\"cmd\"", ":", "\"set value\"", "\"get value\"", ",", "\"args\"",
                                             "{\"value\":", "-1", "1e9", "null", "[", "]", "\"id\"", "\\u0000", "\xff", " "};
    unsigned answered = 0;
    // Pipelined, 50 requests to a write: the answers still come one per line.
    constexpr int kBatch = 50;
    for (int i = 0; i < 100000; i += kBatch) {
        std::string batch;
        for (int j = 0; j < kBatch; ++j) {
            std::string req;
            const unsigned parts = 1 + rng() % 8;
            for (unsigned k = 0; k < parts; ++k) {
                if (rng() % 4 == 0) {
                    req += static_cast<char>(rng() % 256);
                } else {
                    req += pieces[rng() % pieces.size()];
                }
            }
            std::erase(req, '\n');
            batch += req + "\n";
        }
        REQUIRE(c->send_raw(batch).ok());
        for (int j = 0; j < kBatch; ++j) {
            auto line = c->read_line();
            REQUIRE(line.ok());
            const json r = json::parse(*line, nullptr, false);
            REQUIRE_FALSE(r.is_discarded());
            REQUIRE(r.contains("ok"));
            ++answered;
        }
    }
    CHECK(answered == 100000);
    // Random bytes never formed a valid "set value" with an integer 0-1000.
    CHECK(send_line(*c, "{\"cmd\":\"get value\"}\n")["result"]["value"] == 42);
}

TEST_CASE("a request nesting 60,000 arrays gets an error and the server keeps serving") {
    Fixture f("deep");
    auto c = f.client();
    const std::string deep = "{\"id\":" + std::string(60'000, '[') + std::string(60'000, ']') + ",\"cmd\":\"get value\"}\n";
    const json r = send_line(*c, deep);
    CHECK(r["ok"] == false);
    CHECK(r["error"].get<std::string>().find("deeper than") != std::string::npos);
    CHECK(send_line(*c, "{\"cmd\":\"get value\"}\n")["result"]["value"] == 42);
}

TEST_CASE("a client that drips bytes without finishing a request is closed at the idle limit") {
    ServerLimits limits;
    limits.idle_timeout_ms = 400;
    Fixture f("drip", limits);
    const int fd = raw_connect(f.path);
    const auto start = std::chrono::steady_clock::now();
    bool closed = false;
    for (int i = 0; i < 40 && !closed; ++i) {
        // One byte of a request that never ends, every 100 ms.
        if (send(fd, "{", 1, MSG_NOSIGNAL) != 1) closed = true;
        std::this_thread::sleep_for(100ms);
        char buf[512];
        const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) CHECK(std::string(buf, static_cast<size_t>(n)).find("no complete request") != std::string::npos);
        if (n >= 0) closed = true;
    }
    close(fd);
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(closed);
    CHECK(took < 2500ms);  // the idle limit (400 ms) plus the loop's 1 s tick at most, with room
}

namespace {

// Runs `body` in a child process as uid:gid 65534 (nobody:nogroup) and
// returns what it wrote to its pipe.
std::string as_nobody(const std::function<std::string()>& body) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
        const std::string out = body();
        if (write(fds[1], out.data(), out.size()) < 0) _exit(4);
        _exit(0);
    }
    close(fds[1]);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) out.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    return out;
}

// Opens `n` connections as the caller and asks each for the value; one
// letter per connection: o answered, r refused (with the reason after '|').
std::string open_and_ask(const std::string& path, int n, std::vector<std::unique_ptr<ControlClient>>& keep) {
    std::string out, reasons;
    for (int i = 0; i < n; ++i) {
        auto c = ControlClient::connect(path, 2s);
        if (!c) return "connect failed: " + c.error();
        auto r = (*c)->call("get value");
        if (r && (*r)["ok"] == true) {
            out += 'o';
            keep.push_back(std::move(*c));
        } else {
            out += 'r';
            reasons += r ? (*r).dump() : r.error();
        }
    }
    return out + "|" + reasons;
}

}  // namespace

TEST_CASE("the socket's group may connect; connections per uid are limited and root keeps its slots") {
    REQUIRE(getgrnam("nogroup") != nullptr);
    ServerLimits limits;
    limits.max_connections = 8;
    limits.root_reserved = 2;
    limits.max_per_uid = 4;
    Fixture f("peruid", limits, "nogroup");
    SECTION("a member gets at most max_per_uid connections") {
        const std::string got = as_nobody([&] {
            std::vector<std::unique_ptr<ControlClient>> keep;
            return open_and_ask(f.path, 6, keep);
        });
        CHECK(got.substr(0, 6) == "oooorr");
        CHECK(got.find("too many control connections from uid 65534") != std::string::npos);
    }
    SECTION("members together never take the connections kept for root") {
        limits.max_per_uid = 100;
        Fixture g("reserved", limits, "nogroup");
        int ready[2], done[2];
        REQUIRE(pipe(ready) == 0);
        REQUIRE(pipe(done) == 0);
        const pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            close(ready[0]);
            close(done[1]);
            if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
            std::vector<std::unique_ptr<ControlClient>> keep;
            const std::string got = open_and_ask(g.path, 8, keep);
            if (write(ready[1], got.data(), got.size()) < 0) _exit(4);
            close(ready[1]);
            char b;
            if (read(done[0], &b, 1) < 0) _exit(5);  // hold the connections until root has tried
            _exit(0);
        }
        close(ready[1]);
        close(done[0]);
        char buf[4096];
        const ssize_t n = read(ready[0], buf, sizeof(buf));
        REQUIRE(n > 0);
        const std::string got(buf, static_cast<size_t>(n));
        CHECK(got.substr(0, 8) == "oooooorr");
        CHECK(got.find("kept for root") != std::string::npos);
        // Every slot a member may take is taken: root still gets in.
        auto r1 = g.client(), r2 = g.client();
        CHECK(send_line(*r1, "{\"cmd\":\"get value\"}\n")["ok"] == true);
        CHECK(send_line(*r2, "{\"cmd\":\"get value\"}\n")["ok"] == true);
        close(done[1]);
        int status = 0;
        waitpid(pid, &status, 0);
        close(ready[0]);
        CHECK(WIFEXITED(status));
    }
}

TEST_CASE("a peer outside the socket's group is refused even if the socket's mode lets it connect") {
    Fixture f("outsider", {}, "sluice-no-such-group");
    // A careless chmod: the kernel now lets anyone connect.
    REQUIRE(chmod(f.path.c_str(), 0666) == 0);
    const std::string got = as_nobody([&] {
        auto c = ControlClient::connect(f.path, 2s);
        if (!c) return "connect failed: " + c.error();
        auto r = (*c)->call("set value", json{{"value", 7}});
        return r ? (*r).dump() : r.error();
    });
    CHECK(got.find("permission denied") != std::string::npos);
    CHECK(f.value == 42);
}

TEST_CASE("a socket is bound in a private directory, so a planted symlink cannot redirect its chmod") {
    const auto dir = std::filesystem::temp_directory_path() / ("sluice-bind-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const auto victim = dir / "victim";
    { std::ofstream(victim) << "keep"; }
    std::filesystem::permissions(victim, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    CommandTable t;
    auto s = SocketServer::bind((dir / "ctl.sock").string(), t, {}, "nogroup");
    REQUIRE(s.ok());
    struct stat st{};
    REQUIRE(lstat((dir / "ctl.sock").c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0660);
    CHECK(st.st_gid == getgrnam("nogroup")->gr_gid);
    // Nothing was left behind beside it, and the file beside it kept its mode.
    size_t entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) entries += e.path().filename().string()[0] == '.' ? 1 : 0;
    CHECK(entries == 0);
    REQUIRE(stat(victim.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    s->reset();
    std::filesystem::remove_all(dir);
}

// A command marked `background` (a big policy's load takes seconds) runs
// beside the control thread: other clients are answered meanwhile, the
// asking connection's later requests are answered after it, in order, and
// a client that asked for progress gets interim lines whose deadline lets
// it wait past its own timeout.
TEST_CASE("a background command does not hold up other clients, and its client may wait past its timeout") {
    Fixture f("background");
    std::atomic<int> slow_runs{0};
    f.table.add("slow", {"", true, [&slow_runs](const json& a, const Peer&) -> sluice::Result<json> {
        std::this_thread::sleep_for(std::chrono::milliseconds(a.value("ms", 2500)));
        return json{{"slept", ++slow_runs}};
    }, Access::member, /*background=*/true});

    SECTION("other connections are answered while it runs") {
        std::optional<sluice::Result<json>> answer;
        std::vector<json> interim;
        std::thread asker([&] {
            // A timeout shorter than the command: only the interim lines keep it waiting.
            auto c = ControlClient::connect(f.path, 1s);
            REQUIRE(c.ok());
            (*c)->on_progress([&](const json& j) { interim.push_back(j); });
            answer = (*c)->call("slow");
        });
        std::this_thread::sleep_for(100ms);
        auto other = f.client();
        int64_t slowest_ms = 0;
        for (int i = 0; i < 10; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            CHECK(send_line(*other, "{\"id\":1,\"cmd\":\"get value\"}\n")["result"]["value"] == 42);
            slowest_ms = std::max<int64_t>(
                slowest_ms,
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
            std::this_thread::sleep_for(100ms);
        }
        CHECK(slow_runs == 0);  // every answer above came while it ran
        CHECK(slowest_ms < 500);
        asker.join();
        REQUIRE(answer.has_value());
        REQUIRE(answer->ok());
        CHECK((**answer)["ok"] == true);
        CHECK((**answer)["result"]["slept"] == 1);
        REQUIRE(interim.size() >= 2);  // one at once, then one a second
        CHECK(interim[0]["working"] == "slow");
        CHECK(interim[0]["state"] == "running");
        CHECK(interim[0]["deadline_ms"].get<int64_t>() >= kProgressIntervalMs);
        CHECK(interim.back()["elapsed_ms"].get<int64_t>() >= 1000);
    }
    SECTION("without progress a client gets the response alone; pipelined requests keep their order") {
        auto c = f.client();
        REQUIRE(c->send_raw("{\"id\":1,\"cmd\":\"slow\",\"args\":{\"ms\":300}}\n{\"id\":2,\"cmd\":\"get value\"}\n"
                            "{\"id\":3,\"cmd\":\"slow\",\"args\":{\"ms\":10}}\n{\"id\":4,\"cmd\":\"get value\"}\n")
                    .ok());
        for (int id = 1; id <= 4; ++id) {
            auto line = c->read_line();
            REQUIRE(line.ok());
            const json r = json::parse(*line);
            CHECK(r["id"] == id);
            CHECK(r["ok"] == true);
        }
    }
    SECTION("a client that closes its side after asking still gets the answer") {
        auto c = f.client();
        REQUIRE(c->send_raw("{\"id\":7,\"cmd\":\"slow\",\"args\":{\"ms\":300},\"progress\":true}\n").ok());
        // ControlClient has no half-close; the raw fd is not reachable, so a
        // second, plain socket does it.
        const int fd = raw_connect(f.path);
        const std::string req = "{\"id\":8,\"cmd\":\"slow\",\"args\":{\"ms\":300}}\n";
        REQUIRE(write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size()));
        shutdown(fd, SHUT_WR);
        std::string got;
        char buf[4096];
        for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) got.append(buf, static_cast<size_t>(n));
        close(fd);
        const json r = json::parse(got.substr(0, got.find('\n')));
        CHECK(r["id"] == 8);
        CHECK(r["ok"] == true);
        // The first connection's interim line, then its answer.
        auto first = c->read_line();
        REQUIRE(first.ok());
        CHECK(is_working_line(json::parse(*first)));
        for (;;) {
            auto line = c->read_line();
            REQUIRE(line.ok());
            const json j = json::parse(*line);
            if (is_working_line(j)) continue;
            CHECK(j["id"] == 7);
            CHECK(j["ok"] == true);
            break;
        }
    }
    // Stopping while a command runs waits for it rather than cut it short.
    f.server->stop();
}
