// The Prometheus endpoint under bad clients: idle, half-open, slow and
// oversized clients never delay a scrape, each is closed by its deadline or
// its size limit, and a bare port is reachable from loopback only.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "control/server/metrics_server.hpp"

using namespace sluice::control;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kBody = "# TYPE sluice_up gauge\nsluice_up 1\n";

// One client socket, closed when it goes out of scope.
struct Client {
    int fd = -1;
    Client() = default;
    Client(Client&& o) noexcept : fd(o.fd) { o.fd = -1; }
    Client& operator=(Client&&) = delete;
    ~Client() {
        if (fd >= 0) close(fd);
    }
};

// Connects to `ip`:`port`; returns an invalid client (fd -1) when refused.
Client connect_to(const char* ip, uint16_t port) {
    Client c;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(c.fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    REQUIRE(inet_pton(AF_INET, ip, &a.sin_addr) == 1);
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        close(c.fd);
        c.fd = -1;
    }
    return c;
}

void send_text(const Client& c, const std::string& s) {
    REQUIRE(send(c.fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()));
}

// Everything the server sends until it closes, or until `limit` passes.
// `closed` tells whether the server closed (EOF or reset) within the limit.
std::string read_until_closed(const Client& c, std::chrono::milliseconds limit, bool* closed = nullptr) {
    std::string got;
    const auto until = Clock::now() + limit;
    if (closed) *closed = false;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
        if (left <= 0) return got;
        pollfd p{c.fd, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
        char buf[4096];
        const ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
        if (n > 0) {
            got.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (closed) *closed = true;
        return got;
    }
}

// Whether the server has closed `c` by now (without waiting).
bool is_closed(const Client& c) {
    pollfd p{c.fd, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    char b;
    return recv(c.fd, &b, 1, MSG_PEEK) <= 0;
}

struct Scrape {
    std::string response;
    std::chrono::milliseconds took;
};

Scrape scrape(uint16_t port, const std::string& request = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n") {
    const auto t0 = Clock::now();
    Client c = connect_to("127.0.0.1", port);
    REQUIRE(c.fd >= 0);
    send_text(c, request);
    std::string r = read_until_closed(c, 5s);
    return {std::move(r), std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0)};
}

std::unique_ptr<MetricsServer> serve(const std::string& address = "127.0.0.1:0") {
    auto s = MetricsServer::bind(address, [] { return std::string(kBody); });
    REQUIRE(s.ok());
    (*s)->start();
    return std::move(*s);
}

}  // namespace

TEST_CASE("twenty idle connections do not delay a scrape") {
    auto server = serve();
    std::vector<Client> idle;
    for (int i = 0; i < 20; ++i) {
        idle.push_back(connect_to("127.0.0.1", server->port()));
        REQUIRE(idle.back().fd >= 0);
        // Half of them send half a request head and stop there.
        if (i % 2 == 1) send_text(idle.back(), "GET /metrics HTTP/1.1\r\nHost: loc");
    }
    std::this_thread::sleep_for(100ms);  // let the server accept them all first

    const Scrape s = scrape(server->port());
    INFO("scrape took " << s.took.count() << " ms");
    REQUIRE(s.took < 1s);
    REQUIRE(s.response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(s.response.find("Content-Length: " + std::to_string(std::strlen(kBody)) + "\r\n") != std::string::npos);
    CHECK(s.response.substr(s.response.size() - std::strlen(kBody)) == kBody);
}

TEST_CASE("a client sending one byte every 100 ms is closed by its deadline") {
    auto server = serve();
    Client slow = connect_to("127.0.0.1", server->port());
    REQUIRE(slow.fd >= 0);
    const auto t0 = Clock::now();
    const std::string head = "GET /metrics HTTP/1.1\r\nX-Slow: ";
    bool closed = false;
    for (size_t i = 0; !closed && Clock::now() - t0 < 6s; ++i) {
        const char b = i < head.size() ? head[i] : 'a';
        if (send(slow.fd, &b, 1, MSG_NOSIGNAL) != 1) break;  // reset by the server
        std::this_thread::sleep_for(100ms);
        closed = is_closed(slow);
        // The slow client costs a scrape nothing meanwhile.
        if (i == 5) CHECK(scrape(server->port()).took < 1s);
    }
    const auto took = Clock::now() - t0;
    INFO("closed after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    CHECK(took >= 1500ms);  // the deadline is 2 s from accept
    CHECK(took < 3500ms);
}

TEST_CASE("a request head longer than 8 KiB is refused and the connection closed") {
    auto server = serve();
    Client c = connect_to("127.0.0.1", server->port());
    REQUIRE(c.fd >= 0);
    const std::string head = "GET /metrics HTTP/1.1\r\nX-Long: " + std::string(9000, 'a');
    // The server may close before it has read everything: a short send is fine.
    (void)send(c.fd, head.data(), head.size(), MSG_NOSIGNAL);
    bool closed = false;
    const auto t0 = Clock::now();
    const std::string r = read_until_closed(c, 3s, &closed);
    CHECK(closed);
    CHECK(Clock::now() - t0 < 1s);
    // When the answer arrives before the reset, it says why.
    if (!r.empty()) CHECK(r.rfind("HTTP/1.1 431", 0) == 0);
    CHECK(scrape(server->port()).response.rfind("HTTP/1.1 200 OK", 0) == 0);
}

TEST_CASE("a scrape while fifty connections are open still answers, and the idle ones are bounded") {
    auto server = serve();
    std::vector<Client> idle;
    for (int i = 0; i < 50; ++i) {
        idle.push_back(connect_to("127.0.0.1", server->port()));
        REQUIRE(idle.back().fd >= 0);
    }
    std::this_thread::sleep_for(100ms);
    const Scrape s = scrape(server->port());
    INFO("scrape took " << s.took.count() << " ms");
    REQUIRE(s.took < 1s);
    CHECK(s.response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    // The server holds at most MetricsLimits::max_connections: it closed the oldest idle ones.
    size_t closed = 0;
    for (const auto& c : idle) closed += is_closed(c) ? 1 : 0;
    CHECK(closed >= 50 - MetricsLimits{}.max_connections);
}

TEST_CASE("other paths get 404 and other methods 405") {
    auto server = serve();
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK"},
        {"GET /metrics?name[]=sluice_up HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK"},
        {"GET /other HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"},
        {"GET / HTTP/1.0\r\n\r\n", "HTTP/1.1 404 Not Found"},
        {"GET /metricsx HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"},
        {"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"},
        {"DELETE /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"},
        {"\x01\x02garbage\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"},
    };
    for (const auto& [request, status] : cases) {
        INFO(request);
        const Scrape s = scrape(server->port(), request);
        CHECK(s.response.rfind(status + "\r\n", 0) == 0);
    }
}

TEST_CASE("a bare port binds loopback only") {
    auto server = serve("0");
    CHECK(server->host() == "127.0.0.1");
    CHECK(connect_to("127.0.0.1", server->port()).fd >= 0);
    // All of 127/8 is loopback, but only 127.0.0.1 is bound.
    CHECK(connect_to("127.0.0.2", server->port()).fd < 0);
    // Nor is it reachable at any other address of this machine.
    ifaddrs* list = nullptr;
    REQUIRE(getifaddrs(&list) == 0);
    for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
        if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, ip, sizeof(ip));
        if (std::string(ip) == "127.0.0.1") continue;
        INFO("local address " << ip);
        CHECK(connect_to(ip, server->port()).fd < 0);
    }
    freeifaddrs(list);
}

TEST_CASE("HOST:PORT binds the host given") {
    auto any = serve("0.0.0.0:0");
    CHECK(any->host() == "0.0.0.0");
    CHECK(connect_to("127.0.0.2", any->port()).fd >= 0);
    auto v6 = MetricsServer::bind("[::1]:0", [] { return std::string(kBody); });
    if (v6.ok()) CHECK((*v6)->host() == "[::1]");  // hosts without IPv6 cannot bind it
}

TEST_CASE("bad metrics addresses are refused with a message naming the option") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"localhost", "--metrics wants PORT or HOST:PORT"},
        {"", "--metrics wants PORT or HOST:PORT"},
        {"70000", "--metrics port must be 0-65535"},
        {"127.0.0.1:", "--metrics port must be 0-65535"},
        {"127.0.0.1:http", "--metrics port must be 0-65535"},
        {"127.0.0.1:-1", "--metrics port must be 0-65535"},
        {"localhost:9464", "--metrics host must be a numeric address"},
    };
    for (const auto& [address, part] : cases) {
        INFO(address);
        auto s = MetricsServer::bind(address, [] { return std::string(); });
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().find(part) != std::string::npos);
    }
}

TEST_CASE("stop returns promptly while clients are still connected") {
    auto server = serve();
    std::vector<Client> idle;
    for (int i = 0; i < 5; ++i) idle.push_back(connect_to("127.0.0.1", server->port()));
    std::this_thread::sleep_for(50ms);
    const auto t0 = Clock::now();
    server->stop();
    CHECK(Clock::now() - t0 < 500ms);
    for (const auto& c : idle) {
        bool closed = false;
        CHECK(read_until_closed(c, 1s, &closed).empty());
        CHECK(closed);
    }
}
