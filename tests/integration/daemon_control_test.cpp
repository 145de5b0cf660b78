// A running sluiced answers its operators: sluicectl over the control socket,
// Prometheus over HTTP, DPDK telemetry over its socket, all while packets flow
// (net_null ports generate traffic without end), and it still exits cleanly.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <atomic>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "control/client/control_client.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/frame_builder.hpp"
#include "tests/support/veth_pair.hpp"
#include "tests/support/pcap_file.hpp"

using namespace sluice;
using namespace sluice::test;
using control::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string http_get(uint16_t port, const std::string& path) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
    REQUIRE(write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size()));
    std::string resp;
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) resp.append(buf, static_cast<size_t>(n));
    close(fd);
    return resp;
}

long long metric(const std::string& text, const std::string& series) {
    const auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::atoll(text.c_str() + at + series.size() + 2);
}

json telemetry(const std::string& socket_path, const std::string& command) {
    const int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, socket_path.c_str(), sizeof(a.sun_path) - 1);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    char buf[65536];
    REQUIRE(read(fd, buf, sizeof(buf)) > 0);  // the greeting
    REQUIRE(write(fd, command.data(), command.size()) == static_cast<ssize_t>(command.size()));
    const ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    REQUIRE(n > 0);
    return json::parse(std::string(buf, static_cast<size_t>(n)));
}

int run_sluicectl(const std::vector<std::string>& args, std::string* out = nullptr) {
    const fs::path log = fs::temp_directory_path() / ("sluicectl-" + std::to_string(getpid()) + ".out");
    std::string cmd = "'" + std::string(std::getenv("SLUICECTL")) + "'";
    for (const auto& a : args) cmd += " '" + a + "'";
    const int status = std::system((cmd + " >" + log.string() + " 2>&1").c_str());
    if (out) {
        std::ifstream in(log);
        *out = std::string(std::istreambuf_iterator<char>(in), {});
    }
    fs::remove(log);
    return WEXITSTATUS(status);
}

}  // namespace

TEST_CASE("sluicectl, Prometheus and DPDK telemetry see a live daemon's counters") {
    const std::string tag = "sluice-ctl-" + std::to_string(getpid());
    const fs::path dir = fs::temp_directory_path() / tag;
    fs::create_directories(dir);
    const std::string sock = (dir / "sluiced.sock").string();
    DaemonProcess sluiced(sluiced_path(),
                          {"--lan", "net_null0", "--wan", "net_null1", "--hugepages", "off", "--memory", "256",
                           "--socket", sock, "--metrics", "0", "--", "--file-prefix", tag},
                          (dir / "sluiced.log").string());
    REQUIRE(sluiced.wait_for_log("bridging", 20s));
    std::smatch m;
    const std::string log = sluiced.log();
    REQUIRE(std::regex_search(log, m, std::regex("metrics at http://127.0.0.1:([0-9]+)/metrics")));
    const auto port = static_cast<uint16_t>(std::stoi(m[1]));
    std::this_thread::sleep_for(200ms);

    SECTION("the control socket") {
        auto c = control::ControlClient::connect(sock, 5s);
        REQUIRE(c.ok());
        auto status = (*c)->call("status");
        REQUIRE(status.ok());
        CHECK((*status)["ok"] == true);
        CHECK((*status)["result"]["ports"].size() == 2);
        CHECK((*status)["result"]["ports"][0]["driver"] == "net_null");
        auto stats = (*c)->call("stats");
        REQUIRE(stats.ok());
        const auto before = (*stats)["result"]["directions"][0]["tx_packets"].get<uint64_t>();
        CHECK(before > 0);
        auto reset = (*c)->call("stats reset");
        REQUIRE(reset.ok());
        CHECK((*reset)["result"]["directions"][0]["tx_packets"] == 0);
        std::this_thread::sleep_for(100ms);  // let the worker forward some more
        auto after = (*c)->call("stats");
        REQUIRE(after.ok());
        // Counting restarted from the reset, and packets keep flowing.
        const auto since = (*after)["result"]["directions"][0]["tx_packets"].get<uint64_t>();
        CHECK(since > 0);
        auto bad = (*c)->call("log level", {{"level", "loud"}});
        REQUIRE(bad.ok());
        CHECK((*bad)["ok"] == false);
        CHECK((*bad)["error"].get<std::string>().find("unknown log level 'loud'") != std::string::npos);
    }
    SECTION("sluicectl's exit codes") {
        std::string out;
        CHECK(run_sluicectl({"--socket", sock, "status"}, &out) == 0);
        CHECK(out.find("net_null0") != std::string::npos);
        CHECK(run_sluicectl({"--socket", sock, "--json", "stats"}, &out) == 0);
        CHECK(json::parse(out)["directions"][1]["name"] == "download");
        CHECK(run_sluicectl({"--socket", sock, "log", "level", "loud"}, &out) == 1);
        CHECK(run_sluicectl({"--socket", sock, "frobnicate"}, &out) == 1);
        CHECK(run_sluicectl({"--socket", sock, "top", "--interval", "0.2", "--iterations", "2"}, &out) == 0);
        CHECK(out.find("DIRECTION") != std::string::npos);
        CHECK(std::regex_search(out, std::regex("upload +[0-9.]+ [kM]p/s")));  // net_null is never idle
        CHECK(run_sluicectl({"--socket", (dir / "absent.sock").string(), "status"}, &out) == 2);
        CHECK(out.find("is sluiced running?") != std::string::npos);
    }
    SECTION("Prometheus") {
        const std::string resp = http_get(port, "/metrics");
        CHECK(resp.rfind("HTTP/1.1 200 OK", 0) == 0);
        CHECK(resp.find("# TYPE sluice_direction_tx_packets_total counter") != std::string::npos);
        CHECK(metric(resp, "sluice_direction_tx_packets_total{direction=\"upload\"}") > 0);
        CHECK(metric(resp, "sluice_port_link_up{port=\"wan\",device=\"net_null1\"}") == 1);
        CHECK(metric(resp, "sluice_direction_dropped_packets_total{direction=\"download\",reason=\"malformed\"}") == 0);
        CHECK(http_get(port, "/other").rfind("HTTP/1.1 404", 0) == 0);
    }
    SECTION("a policy load is refused, saying why, since no shaper was built at start") {
        // Answering "applied" would list classes that shape nothing.
        auto c = control::ControlClient::connect(sock, 5s);
        REQUIRE(c.ok());
        std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/configs/home.toml");
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto r = (*c)->call("policy load", {{"text", text}, {"name", "home.toml"}});
        REQUIRE(r.ok());
        CHECK((*r)["ok"] == false);
        const std::string error = (*r).value("error", "");
        CHECK(error.find("started without --policy") != std::string::npos);
        CHECK(error.find("restart sluiced with --policy FILE") != std::string::npos);
        auto classes = (*c)->call("show classes");
        REQUIRE(classes.ok());
        CHECK((*classes)["ok"] == false);  // still no policy
        auto status = (*c)->call("status");
        REQUIRE(status.ok());
        CHECK((*status)["result"]["policy"].is_null());
        std::string out;
        CHECK(run_sluicectl({"--socket", sock, "policy", "load", std::string(SLUICE_SOURCE_DIR) + "/configs/home.toml"},
                            &out) == 1);
        CHECK(out.find("started without --policy") != std::string::npos);
    }
    SECTION("DPDK telemetry") {
        const json t = telemetry("/var/run/dpdk/" + tag + "/dpdk_telemetry.v2", "/sluice/stats");
        CHECK(t["/sluice/stats"]["upload_tx_packets"].get<uint64_t>() > 0);
        const json p = telemetry("/var/run/dpdk/" + tag + "/dpdk_telemetry.v2", "/sluice/ports");
        CHECK(p["/sluice/ports"].contains("lan_rx_packets"));
    }
    CHECK(sluiced.stop(SIGTERM) == 0);
    fs::remove_all(dir);
    fs::remove_all("/var/run/dpdk/" + tag);
}

TEST_CASE("an inner class's sent packets and bytes in `stats policy` are the sums over its children") {
    // A finite stream (a pcap file on the lan side, nothing from the wan's
    // net_null) so that the counters stop moving and can be compared exactly.
    const std::string tag = "sluice-sums-" + std::to_string(getpid());
    const fs::path dir = fs::temp_directory_path() / tag;
    fs::create_directories(dir);
    const std::string sock = (dir / "sluiced.sock").string();
    std::vector<Bytes> frames;
    for (uint16_t i = 0; i < 3'000; ++i) frames.push_back(udp4_frame(static_cast<uint16_t>(10'000 + i % 300), 443));
    write_pcap((dir / "lan_in.pcap").string(), frames);
    // office.toml's upload tree has an inner class (staff) under the root.
    const std::string policy = std::string(SLUICE_SOURCE_DIR) + "/configs/office.toml";
    DaemonProcess sluiced(sluiced_path(),
                          {"--lan", "net_pcap0,rx_pcap=" + (dir / "lan_in.pcap").string() + ",tx_pcap=" + (dir / "lan_out.pcap").string(),
                           "--wan", "net_null1,no-rx=1", "--hugepages", "off", "--memory", "256", "--socket", sock,
                           "--policy", policy, "--metrics", "0", "--", "--file-prefix", tag},
                          (dir / "sluiced.log").string());
    REQUIRE(sluiced.wait_for_log("bridging", 20s));
    std::smatch m;
    const std::string log = sluiced.log();
    REQUIRE(std::regex_search(log, m, std::regex("metrics at http://127.0.0.1:([0-9]+)/metrics")));
    const auto port = static_cast<uint16_t>(std::stoi(m[1]));
    auto c = control::ControlClient::connect(sock, 5s);
    REQUIRE(c.ok());
    auto shape = (*c)->call("show classes");
    REQUIRE(shape.ok());
    const json classes = (*shape)["result"]["upload"]["classes"];

    // Until the stream has gone through and two reads agree.
    json stats;
    for (int i = 0; i < 100; ++i) {
        std::this_thread::sleep_for(100ms);
        auto r = (*c)->call("stats policy");
        REQUIRE(r.ok());
        const json now = (*r)["result"]["upload"]["classes"];
        if (now == stats && now[0].value("sent_packets", uint64_t{0}) > 0) break;
        stats = now;
    }
    REQUIRE(stats.size() == classes.size());
    REQUIRE(classes[0]["parent"].is_null());  // the root
    CHECK(stats[0]["sent_bytes"].get<uint64_t>() > 0);
    // Every frame is in the root's sums: sent, or dropped by the shaper or a meter.
    uint64_t dropped = 0;
    for (const auto& [reason, n] : stats[0]["drops"].items()) dropped += n.get<uint64_t>();
    CHECK(stats[0]["sent_packets"].get<uint64_t>() + dropped == frames.size());
    CHECK(stats[0]["backlog_packets"] == 0);
    size_t inner = 0;
    for (size_t p = 0; p < classes.size(); ++p) {
        uint64_t packets = 0, bytes = 0, children = 0;
        for (size_t k = 0; k < classes.size(); ++k) {
            if (classes[k]["parent"].is_null() || classes[k]["parent"].get<size_t>() != classes[p]["id"].get<size_t>()) continue;
            ++children;
            packets += stats[k]["sent_packets"].get<uint64_t>();
            bytes += stats[k]["sent_bytes"].get<uint64_t>();
        }
        if (children == 0) continue;
        ++inner;
        INFO("class " << stats[p]["name"]);
        CHECK(stats[p]["sent_packets"].get<uint64_t>() == packets);
        CHECK(stats[p]["sent_bytes"].get<uint64_t>() == bytes);
    }
    CHECK(inner >= 2);  // the root and staff
    // Prometheus reads the same numbers.
    const std::string root = stats[0]["name"].get<std::string>();
    const std::string text = http_get(port, "/metrics");
    CHECK(metric(text, "sluice_class_sent_bytes_total{direction=\"upload\",class=\"" + root + "\"}") ==
          stats[0]["sent_bytes"].get<long long>());

    // The root's sums agree with the direction's and the ports' counters:
    // what the root sent is what the upload direction and the wan port sent.
    auto totals = (*c)->call("stats");
    REQUIRE(totals.ok());
    const json& upload = (*totals)["result"]["directions"][0];
    CHECK(upload["rx_packets"].get<uint64_t>() == frames.size());
    CHECK(upload["tx_packets"] == stats[0]["sent_packets"]);
    CHECK((*totals)["result"]["ports"][1]["tx_packets"] == stats[0]["sent_packets"]);
    CHECK((*totals)["result"]["ports"][0]["rx_packets"].get<uint64_t>() == frames.size());

    // Delays come over the lifetime and over the last 10-15 s: once the
    // stream is that long gone, the recent figures are empty while the
    // lifetime ones keep what happened.
    bool recent_empty = false;
    json leaves;
    for (int i = 0; i < 60 && !recent_empty; ++i) {
        auto r = (*c)->call("stats policy");
        REQUIRE(r.ok());
        leaves = (*r)["result"]["upload"]["classes"];
        recent_empty = true;
        for (const auto& k : leaves) {
            if (k.value("delay_samples", uint64_t{0}) == 0) continue;
            recent_empty = recent_empty && k["delay_recent_window_s"].get<double>() >= 10.0 &&
                           k["delay_recent_samples"] == 0 && k["delay_recent_p99_us"] == 0.0;
        }
        if (!recent_empty) std::this_thread::sleep_for(500ms);
    }
    INFO(leaves.dump());
    CHECK(recent_empty);
    uint64_t lifetime_samples = 0;
    for (const auto& k : leaves) lifetime_samples += k.value("delay_samples", uint64_t{0});
    CHECK(lifetime_samples > 0);
    CHECK(http_get(port, "/metrics").find("sluice_class_recent_delay_seconds{direction=\"upload\"") != std::string::npos);

    // `stats reset` starts every family from zero: classes, rules, meters
    // and the unmatched count as well as directions and ports; it says what
    // it cannot reset. Prometheus keeps counting from the start.
    auto before_reset = (*c)->call("stats policy");
    REQUIRE(before_reset.ok());
    uint64_t hits = 0;
    for (const auto& r : (*before_reset)["result"]["upload"]["rules"]) hits += r["hits"].get<uint64_t>();
    hits += (*before_reset)["result"]["upload"]["unmatched"].get<uint64_t>();
    CHECK(hits == frames.size());  // every frame matched a rule or none
    auto reset = (*c)->call("stats reset");
    REQUIRE(reset.ok());
    CHECK((*reset)["result"]["not_reset"].get<std::string>().find("delay") != std::string::npos);
    auto after = (*c)->call("stats policy");
    REQUIRE(after.ok());
    for (const char* d : {"upload", "download"}) {
        const json& p = (*after)["result"][d];
        for (const auto& k : p["classes"]) {
            INFO(d << " class " << k["name"]);
            CHECK(k["classified_packets"] == 0);
            CHECK(k["classified_bytes"] == 0);
            CHECK(k.value("sent_packets", uint64_t{0}) == 0);
            CHECK(k.value("sent_bytes", uint64_t{0}) == 0);
            if (k.contains("drops")) {
                for (const auto& [reason, n] : k["drops"].items()) CHECK(n == 0);
            }
        }
        for (const auto& r : p["rules"]) CHECK(r["hits"] == 0);
        for (const auto& m : p["meters"]) CHECK(m["green"].get<uint64_t>() + m["yellow"].get<uint64_t>() + m["red"].get<uint64_t>() == 0);
        CHECK(p["unmatched"] == 0);
    }
    CHECK(metric(http_get(port, "/metrics"), "sluice_class_sent_bytes_total{direction=\"upload\",class=\"" + root + "\"}") ==
          stats[0]["sent_bytes"].get<long long>());
    CHECK(sluiced.stop(SIGTERM) == 0);
    fs::remove_all(dir);
    fs::remove_all("/var/run/dpdk/" + tag);
}

// Counters that add up while the operator changes things: frames sent into
// an af_packet port for over a second, with class, rule and meter edits
// made while they flow. Every frame received is then in the root's sums
// exactly once (sent or dropped), the root's sent packets are what the
// direction and the wan port sent, each inner class's are its children's,
// and every frame was counted by one rule or as unmatched, across the
// table switches, the rule added live included.
TEST_CASE("class, direction, port and rule counters add up after mixed traffic and live edits") {
    if (geteuid() != 0) {
        WARN("needs root for a veth pair; not run");
        return;
    }
    const std::string tag = "sluice-edits-sums-" + std::to_string(getpid());
    const fs::path dir = fs::temp_directory_path() / tag;
    fs::create_directories(dir);
    const std::string sock = (dir / "sluiced.sock").string();
    test::VethPair veth("sles");
    const std::string policy = std::string(SLUICE_SOURCE_DIR) + "/configs/office.toml";
    DaemonProcess sluiced(sluiced_path(),
                          {"--lan", "net_af_packet0,iface=" + veth.a, "--wan", "net_null1,no-rx=1", "--hugepages",
                           "off", "--memory", "256", "--socket", sock, "--policy", policy, "--", "--file-prefix", tag},
                          (dir / "sluiced.log").string());
    REQUIRE(sluiced.wait_for_log("bridging", 20s));
    auto c = control::ControlClient::connect(sock, 10s);
    REQUIRE(c.ok());

    // 60,000 frames over about 1.5 s: DNS, HTTPS and SSH, more than the
    // 95 Mbit/s upload link's classes take at once, so that some are dropped.
    constexpr uint32_t kFrames = 60'000;
    std::atomic<uint32_t> sent{0};
    std::thread sender([&] {
        test::FrameSender out(veth.b);
        if (!out.ok()) return;
        const auto start = std::chrono::steady_clock::now();
        for (uint32_t i = 0; i < kFrames; ++i) {
            const auto sport = static_cast<uint16_t>(10'000 + i % 500);
            const Bytes f = i % 3 == 0 ? udp4_frame(sport, 53) : i % 3 == 1 ? udp4_frame(sport, 443) : tcp4_frame(sport, 22);
            if (out.send(f)) ++sent;
            if (i % 400 == 399) std::this_thread::sleep_until(start + std::chrono::microseconds(i * 25));
        }
    });
    std::this_thread::sleep_for(300ms);
    const std::vector<std::pair<std::string, json>> edits = {
        {"set class", {{"class", "sales"}, {"rate", "15mbit"}, {"direction", "upload"}}},
        {"rule add", {{"rule", "name = \"live-dns\"\nprotocol = \"udp\"\ndst_port = 53\nupload_class = \"guest\""}, {"at", 1}}},
        {"set class", {{"class", "engineering"}, {"ceil", "40mbit"}, {"direction", "upload"}}},
        {"meter set", {{"name", "guest-upload"}, {"cir", "3mbit"}}},
        {"set class", {{"class", "sales"}, {"rate", "20mbit"}, {"direction", "upload"}}},
    };
    for (const auto& [cmd, args] : edits) {
        auto r = (*c)->call(cmd, args);
        REQUIRE(r.ok());
        INFO(cmd << " " << args.dump() << ": " << r->dump());
        CHECK((*r)["ok"] == true);
    }
    const bool edited_in_flight = sent.load() < kFrames;
    sender.join();
    CHECK(edited_in_flight);
    REQUIRE(sent.load() == kFrames);
    auto shape = (*c)->call("show classes");
    REQUIRE(shape.ok());
    const json classes = (*shape)["result"]["upload"]["classes"];

    // Until everything has gone through and two reads agree.
    json stats, totals;
    for (int i = 0; i < 200; ++i) {
        std::this_thread::sleep_for(100ms);
        auto r = (*c)->call("stats policy");
        auto t = (*c)->call("stats");
        REQUIRE(r.ok());
        REQUIRE(t.ok());
        const json now = (*r)["result"]["upload"];
        if (now == stats && now["classes"][0]["backlog_packets"] == 0) {
            totals = (*t)["result"];
            break;
        }
        stats = now;
    }
    REQUIRE_FALSE(totals.is_null());
    const json& cls = stats["classes"];
    REQUIRE(cls.size() == classes.size());
    const json& upload = totals["directions"][0];
    const uint64_t received = upload["rx_packets"].get<uint64_t>();
    CHECK(received > kFrames * 9 / 10);  // the port's ring kept up
    CHECK(received == upload["tx_packets"].get<uint64_t>() + upload["dropped"].get<uint64_t>());
    // The root: every frame sent or dropped once; sent is what left the port.
    uint64_t dropped = 0;
    for (const auto& [reason, n] : cls[0]["drops"].items()) dropped += n.get<uint64_t>();
    CHECK(cls[0]["sent_packets"].get<uint64_t>() + dropped == received);
    CHECK(upload["tx_packets"] == cls[0]["sent_packets"]);
    CHECK(totals["ports"][1]["tx_packets"] == cls[0]["sent_packets"]);
    for (size_t p = 0; p < classes.size(); ++p) {
        uint64_t packets = 0, bytes = 0, children = 0;
        for (size_t k = 0; k < classes.size(); ++k) {
            if (classes[k]["parent"].is_null() || classes[k]["parent"].get<size_t>() != classes[p]["id"].get<size_t>()) continue;
            ++children;
            packets += cls[k]["sent_packets"].get<uint64_t>();
            bytes += cls[k]["sent_bytes"].get<uint64_t>();
        }
        if (children == 0) continue;
        INFO("class " << cls[p]["name"]);
        CHECK(cls[p]["sent_packets"].get<uint64_t>() == packets);
        CHECK(cls[p]["sent_bytes"].get<uint64_t>() == bytes);
    }
    // Every frame was counted by one rule or as unmatched, across the edits;
    // the rule added live counted the DNS frames that came after it.
    uint64_t hits = stats["unmatched"].get<uint64_t>(), live_dns = 0;
    for (const auto& r : stats["rules"]) {
        hits += r["hits"].get<uint64_t>();
        if (r["name"] == "live-dns") live_dns = r["hits"].get<uint64_t>();
    }
    CHECK(hits == received);
    CHECK(live_dns > 0);
    CHECK(sluiced.stop(SIGTERM) == 0);
    fs::remove_all(dir);
    fs::remove_all("/var/run/dpdk/" + tag);
}

TEST_CASE("100,000 random requests leave a running daemon serving and its policy unchanged") {
    const std::string tag = "sluice-fuzz-" + std::to_string(getpid());
    const fs::path dir = fs::temp_directory_path() / tag;
    fs::create_directories(dir);
    const std::string sock = (dir / "sluiced.sock").string();
    const std::string policy = std::string(SLUICE_SOURCE_DIR) + "/configs/home.toml";
    DaemonProcess sluiced(sluiced_path(),
                          {"--lan", "net_null0,no-rx=1", "--wan", "net_null1,no-rx=1", "--hugepages", "off", "--memory", "256",
                           "--socket", sock, "--policy", policy},
                          (dir / "sluiced.log").string());
    REQUIRE(sluiced.wait_for_log("bridging", 20s));
    auto c = control::ControlClient::connect(sock, 5s);
    REQUIRE(c.ok());
    auto before = (*c)->call("status");
    REQUIRE(before.ok());
    const auto checksum = (*before)["result"]["policy"]["checksum"];

    // Real command names with arguments built from pieces and random bytes.
    const std::vector<std::string> cmds = {"set class", "rule add", "rule del", "rule move", "meter set", "policy load",
                                           "policy check", "show classes", "log level", "stats", "nope", ""};
    const std::vector<std::string> pieces = {"\"class\"", "\"rate\"", "\"10\"", "-1", "1e99", "null", "[]", "{}",
                                             "\"name\"", "\"at\"", "\"rule\"", "\"file\"", "\"/dev/null\"", "\"\\u0000\"", "true"};
    std::mt19937 rng(100000);
    unsigned ok = 0, refused = 0;
    // Pipelined, 50 requests to a write, as a hostile client may send them:
    // the answers still come one per line, in order.
    constexpr int kBatch = 50;
    for (int i = 0; i < 100000; i += kBatch) {
        std::string batch;
        for (int j = i; j < i + kBatch; ++j) {
            std::string args = "{";
            for (unsigned k = rng() % 3; k > 0; --k) {
                if (args.size() > 1) args += ",";
                args += pieces[rng() % pieces.size()] + ":" + pieces[rng() % pieces.size()];
            }
            args += "}";
            std::string line =
                "{\"id\":" + std::to_string(j) + ",\"cmd\":\"" + cmds[rng() % cmds.size()] + "\",\"args\":" + args + "}";
            if (rng() % 5 == 0) line[rng() % line.size()] = static_cast<char>(rng() % 256);
            std::erase(line, '\n');
            batch += line + "\n";
        }
        REQUIRE((*c)->send_raw(batch).ok());
        for (int j = 0; j < kBatch; ++j) {
            auto resp = (*c)->read_line();
            REQUIRE(resp.ok());
            const json r = json::parse(*resp, nullptr, false);
            REQUIRE_FALSE(r.is_discarded());
            (r.value("ok", false) ? ok : refused) += 1;
        }
    }
    CHECK(refused > 90000);
    auto after = (*c)->call("status");
    REQUIRE(after.ok());
    CHECK((*after)["result"]["policy"]["checksum"] == checksum);
    auto diff = (*c)->call("policy diff");
    REQUIRE(diff.ok());
    CHECK((*diff)["result"]["same"] == true);
    CHECK(sluiced.stop(SIGTERM) == 0);
    fs::remove_all(dir);
}

// The command line speaks as the policy file does and its views agree: a
// class's `priority` by that name, rules numbered from 1 everywhere, every
// `show` a table, and `top --json` a line of JSON per refresh.
TEST_CASE("sluicectl's commands agree with the policy file and with each other") {
    const std::string tag = "sluice-cli-" + std::to_string(getpid());
    const fs::path dir = fs::temp_directory_path() / tag;
    fs::create_directories(dir);
    const std::string sock = (dir / "sluiced.sock").string();
    const std::string policy = std::string(SLUICE_SOURCE_DIR) + "/configs/office.toml";
    DaemonProcess sluiced(sluiced_path(),
                          {"--lan", "net_null0,no-rx=1", "--wan", "net_null1,no-rx=1", "--hugepages", "off", "--memory", "256",
                           "--socket", sock, "--policy", policy},
                          (dir / "sluiced.log").string());
    REQUIRE(sluiced.wait_for_log("bridging", 20s));
    auto priority_of = [&](const std::string& dir_name, const std::string& name) {
        std::string out;
        REQUIRE(run_sluicectl({"--socket", sock, "--json", "show", "classes"}, &out) == 0);
        const json classes = json::parse(out);
        for (const auto& c : classes[dir_name]["classes"]) {
            if (c["name"] == name) return c["priority"].get<int>();
        }
        FAIL("no class " << name);
        return -1;
    };
    std::string out;

    SECTION("set class takes priority, and prio as its alias, not both") {
        CHECK(run_sluicectl({"--socket", sock, "set", "class", "sales", "priority=5"}, &out) == 0);
        CHECK(out.find("priority 5") != std::string::npos);
        CHECK(priority_of("upload", "sales") == 5);
        CHECK(priority_of("download", "sales") == 5);
        CHECK(run_sluicectl({"--socket", sock, "set", "class", "sales", "prio=2", "direction=upload"}, &out) == 0);
        CHECK(priority_of("upload", "sales") == 2);
        CHECK(priority_of("download", "sales") == 5);
        CHECK(run_sluicectl({"--socket", sock, "set", "class", "sales", "priority=1", "prio=1"}, &out) == 1);
        CHECK(out.find("give one of them") != std::string::npos);
        CHECK(priority_of("upload", "sales") == 2);
        CHECK(run_sluicectl({"--socket", sock, "set", "class", "sales", "priority=high"}, &out) == 1);
        // The daemon itself, as scripts call it.
        CHECK(run_sluicectl({"--socket", sock, "call", "set class", R"({"class":"sales","priority":6})"}, &out) == 0);
        CHECK(priority_of("upload", "sales") == 6);
        CHECK(run_sluicectl({"--socket", sock, "call", "set class", R"({"class":"sales","priority":1,"prio":1})"}, &out) == 1);
        CHECK(run_sluicectl({"--socket", sock, "set", "--help"}, &out) == 0);
        CHECK(out.find("priority=P") != std::string::npos);
    }
    SECTION("policy diff numbers rules as show rules does, from 1") {
        CHECK(run_sluicectl({"--socket", sock, "--json", "show", "rules"}, &out) == 0);
        const json rules = json::parse(out)["rules"];
        REQUIRE(rules.size() > 2);
        CHECK(rules[0]["index"] == 1);
        const std::string first = rules[0]["name"], last = rules.back()["name"];
        const int last_index = rules.back()["index"];
        CHECK(run_sluicectl({"--socket", sock, "rule", "del", first}, &out) == 0);
        CHECK(run_sluicectl({"--socket", sock, "--json", "policy", "diff"}, &out) == 1);
        const json diff = json::parse(out);
        auto has = [](const json& lines, const std::string& prefix) {
            for (const auto& l : lines) {
                if (l.get<std::string>().rfind(prefix, 0) == 0) return true;
            }
            return false;
        };
        // The file still has the deleted rule first and the last rule at its
        // show-rules index; the running policy has the last rule one up.
        CHECK(has(diff["file_only"], "rule 1 " + first + " "));
        CHECK(has(diff["file_only"], "rule " + std::to_string(last_index) + " " + last + " "));
        CHECK(has(diff["running_only"], "rule " + std::to_string(last_index - 1) + " " + last + " "));
        CHECK_FALSE(has(diff["file_only"], "rule 0 "));
        CHECK_FALSE(has(diff["running_only"], "rule 0 "));
    }
    SECTION("show meters is a table") {
        CHECK(run_sluicectl({"--socket", sock, "show", "meters"}, &out) == 0);
        CHECK(out.find('{') == std::string::npos);
        CHECK(std::regex_search(out, std::regex("^meter +kind +mode +cir +cbs")));
        CHECK(std::regex_search(out, std::regex("\nguest-upload +trtcm +blind +8mbit +65536 +- +10mbit +131072 +remark:8 +drop\n")));
        CHECK(std::regex_search(out, std::regex("\nguest-download +trtcm +blind +20mbit ")));
        // --json keeps the daemon's answer.
        CHECK(run_sluicectl({"--socket", sock, "--json", "show", "meters"}, &out) == 0);
        CHECK(json::parse(out)["meters"].size() == 2);
    }
    SECTION("top --json prints one JSON object per refresh") {
        CHECK(run_sluicectl({"--socket", sock, "--json", "top", "--interval", "0.2", "--iterations", "3"}, &out) == 0);
        std::istringstream lines(out);
        int frames = 0;
        for (std::string line; std::getline(lines, line); ++frames) {
            const json f = json::parse(line, nullptr, false);
            REQUIRE_FALSE(f.is_discarded());
            REQUIRE(f.is_object());
            CHECK(f["interval_s"].get<double>() > 0.1);
            CHECK(f["directions"].size() == 2);
            CHECK(f["directions"][0]["name"] == "upload");
            CHECK(f["directions"][0].contains("rx_pps"));
            CHECK(f["ports"].size() == 2);
            CHECK(f["classes"]["upload"].size() > 1);
            CHECK(f["classes"]["upload"][0].contains("rate_bps"));
        }
        CHECK(frames == 3);
    }
    CHECK(sluiced.stop(SIGTERM) == 0);
    fs::remove_all(dir);
}

namespace {

// A policy whose classes have values left to be derived: bursts from rates,
// ceils from the parent's, a share of the parent's rate.
constexpr const char* kEditPolicy = R"(version = 1
[upload]
rate = "100mbit"
default_class = "other"

[[upload.class]]
name = "staff"
rate = "30mbit"

[[upload.class]]
name = "eng"
parent = "staff"
rate = "15mbit"

[[upload.class]]
name = "ops"
parent = "staff"
rate = "10mbit"
ceil = "12mbit"
burst = "8kb"

[[upload.class]]
name = "lab-parent"
rate = "5mbit"

[[upload.class]]
name = "lab"
parent = "lab-parent"
rate = "2mbit"
ceil = "4mbit"

[[upload.class]]
name = "other"
rate = "10mbit"

[download]
rate = "100mbit"
default_class = "other"

[[download.class]]
name = "staff"
rate = "40mbit"

[[download.class]]
name = "eng"
parent = "staff"
rate = "50%"

[[download.class]]
name = "other"
rate = "10mbit"
weight = 3

[[meter]]
name = "m"
cir = "1mbit"
cbs = "10kb"

[[rule]]
name = "ssh"
protocol = "tcp"
dst_port = 22
class = "eng"

[[rule]]
name = "dns"
protocol = "udp"
dst_port = 53
class = "other"
meter = "m"
)";

struct EditDaemon {
    std::string tag = "sluice-edit-" + std::to_string(getpid());
    fs::path dir = fs::temp_directory_path() / tag;
    std::string sock = (dir / "sluiced.sock").string();
    std::unique_ptr<DaemonProcess> sluiced;
    std::unique_ptr<control::ControlClient> client;

    explicit EditDaemon(const std::string& policy_text) {
        fs::create_directories(dir);
        std::ofstream(dir / "policy.toml") << policy_text;
        sluiced = std::make_unique<DaemonProcess>(
            sluiced_path(),
            std::vector<std::string>{"--lan", "net_null0", "--wan", "net_null1", "--hugepages", "off", "--memory", "256",
                                     "--socket", sock, "--policy", (dir / "policy.toml").string(), "--", "--file-prefix", tag},
            (dir / "sluiced.log").string());
        REQUIRE(sluiced->wait_for_log("bridging", 20s));
        auto c = control::ControlClient::connect(sock, 5s);
        REQUIRE(c.ok());
        client = std::move(*c);
    }
    ~EditDaemon() {
        client.reset();
        CHECK(sluiced->stop(SIGTERM) == 0);
        fs::remove_all(dir);
        fs::remove_all("/var/run/dpdk/" + tag);
    }
    json call(const std::string& cmd, const json& args) {
        auto r = client->call(cmd, args);
        REQUIRE(r.ok());
        return *r;
    }
    json klass(const std::string& direction, const std::string& name) {
        const json r = call("show classes", json::object());
        for (const auto& c : r["result"][direction]["classes"]) {
            if (c["name"] == name) return c;
        }
        FAIL("no class " << name);
        return {};
    }
    // `policy save` to a file, `sluiced --check` of it, and `policy diff`
    // against it: the running policy writes back, and the file is the same.
    void check_saves(const std::string& after) {
        INFO("after " << after);
        const std::string saved = (dir / "saved.toml").string();
        const json s = call("policy save", {{"file", saved}});
        INFO(s.dump());
        REQUIRE(s["ok"] == true);
        const std::string cmd = "'" + sluiced_path() + "' --check --policy '" + saved + "' >" + (dir / "check.out").string() + " 2>&1";
        const int status = std::system(cmd.c_str());
        std::ifstream in(dir / "check.out");
        INFO(std::string(std::istreambuf_iterator<char>(in), {}));
        REQUIRE(WEXITSTATUS(status) == 0);
        const json d = call("policy diff", {{"file", saved}});
        INFO(d.dump());
        REQUIRE(d["ok"] == true);
        REQUIRE(d["result"]["same"] == true);
    }
};

// No message of a live edit points at a line of text the operator never wrote.
bool has_position(const std::string& message) {
    return std::regex_search(message, std::regex(R"((policy|rule|set class|edited)[^ ]*:[0-9]+:[0-9]+)"));
}

}  // namespace

TEST_CASE("set class is checked as a policy file is, and re-derives what the operator did not give") {
    EditDaemon d(kEditPolicy);

    SECTION("a parent's rate below what its children are assured is refused, in the operator's words") {
        const json r = d.call("set class", {{"class", "staff"}, {"rate", "6mbit"}});
        REQUIRE(r["ok"] == false);
        const std::string e = r["error"];
        CHECK(e == "set class staff rate=6mbit refused: the children of \"staff\" are assured 25mbit, more than its "
                   "rate 6mbit; lower their rates or raise the parent's");
        CHECK(d.klass("upload", "staff")["rate"] == "30mbit");
    }
    SECTION("a child's rate above its parent's is refused, not made to fit by lifting its ceil") {
        const json r = d.call("set class", {{"class", "lab"}, {"rate", "8mbit"}});
        REQUIRE(r["ok"] == false);
        const std::string e = r["error"];
        INFO(e);
        CHECK(e.rfind("set class lab rate=8mbit refused:", 0) == 0);
        CHECK(e.find("ceil 4mbit is below rate 8mbit") != std::string::npos);
        CHECK_FALSE(has_position(e));
        const json lab = d.klass("upload", "lab");
        CHECK(lab["rate"] == "2mbit");
        CHECK(lab["ceil"] == "4mbit");
        // With the ceil raised too, the parent still cannot pay for it.
        const json r2 = d.call("set class", {{"class", "lab"}, {"rate", "8mbit"}, {"ceil", "10mbit"}});
        REQUIRE(r2["ok"] == false);
        CHECK(r2["error"].get<std::string>().find("the children of \"lab-parent\" are assured 8mbit, more than its rate 5mbit") !=
              std::string::npos);
    }
    SECTION("the weight's range is the file's") {
        const json r = d.call("set class", {{"class", "eng"}, {"weight", 70000}});
        REQUIRE(r["ok"] == false);
        CHECK(r["error"] == "set class eng weight=70000 refused: weight 70000 is out of range; write 1 to 65535");
        const json ok = d.call("set class", {{"class", "eng"}, {"weight", "65535"}, {"direction", "upload"}});
        INFO(ok.dump());
        REQUIRE(ok["ok"] == true);
        CHECK(d.klass("upload", "eng")["weight"] == 65535);
        d.check_saves("weight=65535");
    }
    SECTION("bursts, ceils and shares follow a changed rate unless they were given") {
        const json r = d.call("set class", {{"class", "staff"}, {"rate", "40mbit"}, {"ceil", "50mbit"}, {"direction", "upload"}});
        INFO(r.dump());
        REQUIRE(r["ok"] == true);
        const json staff = d.klass("upload", "staff"), eng = d.klass("upload", "eng"), ops = d.klass("upload", "ops");
        CHECK(staff["burst"] == 40'000'000 / 8 / 1000 + 1514);
        CHECK(staff["cburst"] == 50'000'000 / 8 / 1000 + 1514);
        CHECK(eng["ceil"] == "50mbit");  // its ceil is the parent's
        CHECK(eng["cburst"] == 50'000'000 / 8 / 1000 + 1514);
        CHECK(ops["ceil"] == "12mbit");  // given
        CHECK(ops["burst"] == 8192);     // given
        // In download, eng is 50% of staff.
        const json down = d.call("set class", {{"class", "staff"}, {"rate", "60mbit"}, {"direction", "download"}});
        REQUIRE(down["ok"] == true);
        CHECK(d.klass("download", "eng")["rate"] == "30mbit");
        CHECK(d.klass("download", "eng")["burst"] == 30'000'000 / 8 / 1000 + 1514);
        const json eng_rate = d.call("set class", {{"class", "eng"}, {"rate", "20mbit"}, {"direction", "upload"}});
        REQUIRE(eng_rate["ok"] == true);
        CHECK(d.klass("upload", "eng")["burst"] == 20'000'000 / 8 / 1000 + 1514);
        d.check_saves("rate changes");
    }
    SECTION("a changed class stays in place: its queue and counters run on") {
        // net_null's frames are not IP: they all go to the default class,
        // which holds a standing queue at 10 Mbit/s.
        auto other = [&] {
            const json r = d.call("stats policy", json::object());
            for (const auto& c : r["result"]["upload"]["classes"]) {
                if (c["name"] == "other") return c;
            }
            FAIL("no class other");
            return json();
        };
        std::this_thread::sleep_for(300ms);
        const json before = other();
        REQUIRE(before["backlog_packets"].get<uint64_t>() > 0);
        for (const char* rate : {"12mbit", "9mbit", "10mbit"}) {
            const json r = d.call("set class", {{"class", "other"}, {"rate", rate}, {"direction", "upload"}});
            REQUIRE(r["ok"] == true);
        }
        const json after = other();
        INFO(before.dump() << "\n" << after.dump());
        CHECK(after["sent_packets"].get<uint64_t>() >= before["sent_packets"].get<uint64_t>());
        CHECK(after["backlog_packets"].get<uint64_t>() > 0);
        CHECK(after["drops"]["class_removed"] == 0);
        CHECK(d.klass("upload", "other")["rate"] == "10mbit");
    }
    SECTION("the file's key names: priority, with prio its alias; a bad value quotes what was typed") {
        std::string out;
        CHECK(run_sluicectl({"--socket", d.sock, "set", "class", "eng", "priority=2"}, &out) == 0);
        CHECK(d.klass("upload", "eng")["priority"] == 2);
        CHECK(run_sluicectl({"--socket", d.sock, "set", "class", "eng", "prio=high"}, &out) == 1);
        INFO(out);
        CHECK(out.find("set class eng prio=high refused") != std::string::npos);
        CHECK_FALSE(has_position(out));
        CHECK(run_sluicectl({"--socket", d.sock, "set", "class", "eng", "rate=2mbps", "direction=upload"}, &out) == 0);
        CHECK(out.find("warning: rate") != std::string::npos);  // the file's bytes-per-second warning
        d.check_saves("priority and rate");
    }
    SECTION("a rule add's errors name the key and value the operator gave") {
        std::string out;
        CHECK(run_sluicectl({"--socket", d.sock, "rule", "add", "protocol=udp", "dst_port=abc", "class=eng"}, &out) == 1);
        INFO(out);
        CHECK(out.find("rule add protocol=udp dst_port=abc class=eng") != std::string::npos);
        CHECK(out.find("dst_port=abc: ") != std::string::npos);
        CHECK_FALSE(has_position(out));
        CHECK(run_sluicectl({"--socket", d.sock, "rule", "add", "protocol=udp", "class=staff"}, &out) == 1);
        CHECK(out.find("class=staff: ") != std::string::npos);
        CHECK_FALSE(has_position(out));
        // Unnamed rules take a free name; the running ones keep theirs.
        CHECK(run_sluicectl({"--socket", d.sock, "rule", "add", "at=1", "protocol=udp", "class=eng"}, &out) == 0);
        CHECK(run_sluicectl({"--socket", d.sock, "rule", "add", "at=1", "protocol=tcp", "class=eng"}, &out) == 0);
        INFO(out);
        CHECK(out.find("rules now: rule-2 rule-1 ssh dns") != std::string::npos);
        CHECK(run_sluicectl({"--socket", d.sock, "meter", "set", "m", "cbs=20kb"}, &out) == 0);
        d.check_saves("rule adds and meter set");
    }
}

// Whatever a sequence of live edits leaves running, `policy save` writes and
// `sluiced --check` accepts, and the file loads to the policy that runs.
TEST_CASE("random live edits always leave a policy that saves and loads back the same") {
    EditDaemon d(kEditPolicy);
    std::mt19937 rng(16);
    auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
    const std::vector<std::string> classes = {"staff", "eng", "ops", "lab-parent", "lab", "other", "root", "nope"};
    const std::vector<std::string> rates = {"500kbit", "1mbit", "2mbit", "5mbit", "8mbit", "12mbit", "20mbit",
                                            "40mbit", "60mbit", "150mbit", "10%", "50%", "100%", "0", "fast", "3mbps"};
    const std::vector<std::string> sizes = {"1000", "1514", "2kb", "8kb", "64kb", "5gb", "big"};
    const std::vector<std::string> leaves = {"eng", "ops", "lab", "other", "staff", "nope"};
    unsigned accepted = 0, refused = 0, rule_number = 0;
    for (int i = 0; i < 160; ++i) {
        std::string cmd;
        json args = json::object();
        switch (rng() % 6) {
            case 0:
            case 1:
            case 2: {
                cmd = "set class";
                args["class"] = pick(classes);
                for (unsigned k = 1 + rng() % 3; k > 0; --k) {
                    switch (rng() % 7) {
                        case 0: args["rate"] = pick(rates); break;
                        case 1: args["ceil"] = pick(rates); break;
                        case 2: args["burst"] = pick(sizes); break;
                        case 3: args["cburst"] = pick(sizes); break;
                        case 4: args[rng() % 2 ? "priority" : "prio"] = static_cast<int>(rng() % 10); break;
                        case 5: args["weight"] = std::vector<int>{1, 3, 100, 65535, 70000, 0}[rng() % 6]; break;
                        default: args["direction"] = rng() % 2 ? "upload" : "download"; break;
                    }
                }
                break;
            }
            case 3: {
                cmd = "rule add";
                std::string body = "protocol = \"" + std::string(rng() % 2 ? "udp" : "tcp") + "\"\n";
                body += "dst_port = " + std::to_string(1 + rng() % 70000) + "\n";
                body += "class = \"" + pick(leaves) + "\"\n";
                if (rng() % 3) body += "name = \"r" + std::to_string(++rule_number) + "\"\n";
                if (rng() % 4 == 0) body += "meter = \"m\"\n";
                args["rule"] = body;
                if (rng() % 2) args["at"] = 1 + static_cast<int>(rng() % 4);
                break;
            }
            case 4: {
                const json rules = d.call("show rules", json::object())["result"]["rules"];
                const std::string name = rules.empty() || rng() % 8 == 0 ? "nope" : rules[rng() % rules.size()]["name"].get<std::string>();
                if (rng() % 2) {
                    cmd = "rule del";
                    args["name"] = name;
                } else {
                    cmd = "rule move";
                    args["name"] = name;
                    args["to"] = 1 + static_cast<int>(rng() % (rules.size() + 1));
                }
                break;
            }
            default: {
                cmd = "meter set";
                args["name"] = "m";
                for (unsigned k = 1 + rng() % 2; k > 0; --k) {
                    switch (rng() % 4) {
                        case 0: args["cir"] = pick(rates); break;
                        case 1: args["cbs"] = pick(sizes); break;
                        case 2: args["ebs"] = pick(sizes); break;
                        default: args["red"] = rng() % 2 ? "pass" : "drop"; break;
                    }
                }
                break;
            }
        }
        const json r = d.call(cmd, args);
        INFO(cmd << " " << args.dump() << " -> " << r.dump());
        if (r["ok"] == true) {
            ++accepted;
            d.check_saves(cmd + " " + args.dump());
        } else {
            ++refused;
            const std::string e = r["error"];
            CHECK_FALSE(has_position(e));
        }
    }
    INFO("accepted " << accepted << ", refused " << refused);
    CHECK(accepted >= 30);
    CHECK(refused >= 30);
}

// A policy of 100,000 rules takes seconds to compile (rte_acl). The load
// runs beside the control thread: a client whose timeout is shorter than
// the load still gets its answer, because sluiced tells it that it is
// working, and another client's `status` is answered all the while.
TEST_CASE("a 100,000-rule load is answered past a short client timeout, and status is answered meanwhile") {
    const std::string tag = "sluice-big-" + std::to_string(getpid());
    const fs::path dir = fs::temp_directory_path() / tag;
    fs::create_directories(dir);
    const std::string sock = (dir / "sluiced.sock").string();
    const std::string home = std::string(SLUICE_SOURCE_DIR) + "/configs/home.toml";
    // home.toml's classes and 100,000 five-field rules (rte_acl's work).
    std::ifstream in(home);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    text = text.substr(0, text.find("[[rule]]"));
    text.reserve(text.size() + 100'000 * 120);
    constexpr int kRules = 100'000;
    for (int i = 0; i < kRules; ++i) {
        text += "[[rule]]\nname = \"r" + std::to_string(i) + "\"\nprotocol = \"udp\"\nsrc = \"10." +
                std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256) +
                "/32\"\ndst_port = " + std::to_string(1024 + i % 60000) + "\nclass = \"bulk\"\n";
    }
    const std::string big = (dir / "big.toml").string();
    {
        std::ofstream out(big);
        out << text;
    }
    DaemonProcess sluiced(sluiced_path(),
                          {"--lan", "net_null0,no-rx=1", "--wan", "net_null1,no-rx=1", "--hugepages", "off", "--memory",
                           "1024", "--socket", sock, "--policy", home, "--", "--file-prefix", tag},
                          (dir / "sluiced.log").string());
    REQUIRE(sluiced.wait_for_log("bridging", 20s));

    std::optional<Result<json>> answer;
    std::vector<json> interim;
    double load_s = 0;
    std::atomic<bool> done{false};
    std::thread loader([&] {
        auto c = control::ControlClient::connect(sock, 1s);
        if (c) {
            (*c)->on_progress([&](const json& j) { interim.push_back(j); });
            const auto t0 = std::chrono::steady_clock::now();
            answer = (*c)->call("policy load", {{"file", big}});
            load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        }
        done = true;
    });
    auto other = control::ControlClient::connect(sock, 5s);
    REQUIRE(other.ok());
    double slowest_status_s = 0;
    int answered = 0;
    while (!done) {
        const auto t0 = std::chrono::steady_clock::now();
        auto s = (*other)->call("status");
        REQUIRE(s.ok());
        CHECK((*s)["ok"] == true);
        slowest_status_s = std::max(slowest_status_s,
                                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        ++answered;
        std::this_thread::sleep_for(50ms);
    }
    loader.join();
    WARN("100,000-rule load answered in " << load_s << " s; " << answered << " status answers meanwhile, the slowest in "
                                          << slowest_status_s << " s");
    REQUIRE(answer.has_value());
    REQUIRE(answer->ok());
    INFO((**answer).dump());
    REQUIRE((**answer)["ok"] == true);
    // The load outlasted the client's 1 s timeout: only the interim lines kept it waiting.
    REQUIRE(load_s > 1.0);
    CHECK(!interim.empty());
    CHECK(answered >= 5);
    CHECK(slowest_status_s < 1.0);
    auto status = (*other)->call("status");
    REQUIRE(status.ok());
    CHECK((*status)["result"]["policy"]["file"] == big);
    // sluicectl waits as long, whatever its --timeout.
    std::string out;
    CHECK(run_sluicectl({"--socket", sock, "--timeout", "1", "policy", "load", big}, &out) == 0);
    CHECK(sluiced.stop(SIGTERM) == 0);
    fs::remove_all(dir);
    fs::remove_all("/var/run/dpdk/" + tag);
}

// --memory too small is refused before the EAL starts, with the least that
// these settings need; that least is enough to start.
TEST_CASE("sluiced refuses too little --memory with the need, and starts with exactly that need") {
    const std::string tag = "sluice-mem-" + std::to_string(getpid());
    const fs::path dir = fs::temp_directory_path() / tag;
    fs::create_directories(dir);
    const std::string sock = (dir / "sluiced.sock").string();
    auto args = [&](const std::string& memory) {
        return std::vector<std::string>{"--lan", "net_null0,no-rx=1", "--wan", "net_null1,no-rx=1", "--hugepages", "off",
                                        "--memory", memory, "--socket", sock, "--", "--file-prefix", tag};
    };
    std::string needed;
    {
        DaemonProcess refused(sluiced_path(), args("64"), (dir / "refused.log").string());
        CHECK(refused.stop(0, 10s) == 2);  // waits for the exit: options are refused with 2
        const std::string log = refused.log();
        INFO(log);
        std::smatch m;
        REQUIRE(std::regex_search(log, m, std::regex("need at least ([0-9]+) MB")));
        needed = m[1];
        CHECK(log.find("give --memory " + needed + " or more") != std::string::npos);
    }
    DaemonProcess sluiced(sluiced_path(), args(needed), (dir / "sluiced.log").string());
    INFO("--memory " << needed);
    REQUIRE(sluiced.wait_for_log("bridging", 20s));
    CHECK(sluiced.stop(SIGTERM) == 0);
    fs::remove_all(dir);
    fs::remove_all("/var/run/dpdk/" + tag);
}
