#include "control/sluicectl/top.hpp"

#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <vector>
#include <cstdio>
#include <thread>

namespace sluice::control {
namespace {

// Puts the terminal in non-canonical mode so a single q is read at once, and
// restores it however the view ends.
class RawTerminal {
public:
    RawTerminal() {
        active_ = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_) == 0;
        if (!active_) return;
        termios raw = saved_;
        raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    ~RawTerminal() {
        if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
    bool quit_pressed(int wait_ms) const {
        if (!active_) {
            std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
            return false;
        }
        pollfd p{STDIN_FILENO, POLLIN, 0};
        if (poll(&p, 1, wait_ms) <= 0) return false;
        char c = 0;
        return read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q');
    }

private:
    termios saved_{};
    bool active_ = false;
};

double rate(const json& a, const json& b, const char* key, double s) {
    const auto x = a.value(key, 0ull), y = b.value(key, 0ull);
    return y >= x && s > 0 ? static_cast<double>(y - x) / s : 0.0;
}

std::string si(double v, const char* unit) {
    if (v >= 1e9) return fmt::format("{:.2f} G{}", v / 1e9, unit);
    if (v >= 1e6) return fmt::format("{:.2f} M{}", v / 1e6, unit);
    if (v >= 1e3) return fmt::format("{:.1f} k{}", v / 1e3, unit);
    return fmt::format("{:.0f} {}", v, unit);
}

uint64_t drops_of(const json& x) {
    uint64_t n = 0;
    if (x.contains("drops")) for (const auto& [k, v] : x["drops"].items()) n += v.get<uint64_t>();
    return n;
}

}  // namespace

// Per-class rows, busiest first: rate sent, drops per second, backlog, delay.
std::string class_rows(const json& before, const json& after, double s) {
    std::string out;
    for (const char* dir : {"upload", "download"}) {
        if (!after.contains(dir) || !before.contains(dir)) continue;
        std::map<std::string, json> old;
        for (const auto& c : before[dir]["classes"]) old[c.value("name", "")] = c;
        struct Row {
            std::string name;
            double bps, pps, drops;
            uint64_t backlog;
            double p99_ms;
        };
        std::vector<Row> rows;
        for (const auto& c : after[dir]["classes"]) {
            const std::string name = c.value("name", "");
            if (name == "root") continue;
            const json& a = old.count(name) ? old[name] : c;
            const uint64_t d0 = drops_of(a), d1 = drops_of(c);
            rows.push_back({name, 8 * rate(a, c, "sent_bytes", s), rate(a, c, "sent_packets", s),
                            d1 >= d0 && s > 0 ? static_cast<double>(d1 - d0) / s : 0.0, c.value("backlog_packets", 0ull),
                            // Recent, so that one old spike does not stay on screen.
                            c.value("delay_recent_p99_us", c.value("delay_p99_us", 0.0)) / 1000.0});
        }
        std::sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) { return x.bps > y.bps; });
        out += fmt::format("\n{:<20} {:>14} {:>12} {:>11} {:>8} {:>10}  ({})\n", "CLASS", "RATE", "PPS", "DROPS/S",
                           "QUEUE", "p99 10s", dir);
        for (const auto& r : rows) {
            out += fmt::format("{:<20} {:>14} {:>12} {:>11} {:>8} {:>8.2f}ms\n", r.name, si(r.bps, "bit/s"),
                               si(r.pps, "p/s"), si(r.drops, "p/s"), r.backlog, r.p99_ms);
        }
    }
    return out;
}

std::string top_frame(const json& before, const json& after, double s, const json& status) {
    std::string out = fmt::format("sluiced {}  pid {}  up {}s  refresh {:.1f}s  (q quits)\n\n", status.value("version", "?"),
                                  status.value("pid", 0), status.value("uptime_s", 0ull), s);
    out += fmt::format("{:<10} {:>12} {:>14} {:>12} {:>14} {:>11} {:>8}\n", "DIRECTION", "RX PPS", "RX RATE",
                       "TX PPS", "TX RATE", "DROPS/S", "QUEUED");
    const auto& da = before["directions"];
    const auto& db = after["directions"];
    for (size_t i = 0; i < db.size() && i < da.size(); ++i) {
        const json& a = da[i];
        const json& b = db[i];
        out += fmt::format("{:<10} {:>12} {:>14} {:>12} {:>14} {:>11} {:>8}\n", b.value("name", ""),
                           si(rate(a, b, "rx_packets", s), "p/s"), si(8 * rate(a, b, "rx_bytes", s), "bit/s"),
                           si(rate(a, b, "tx_packets", s), "p/s"), si(8 * rate(a, b, "tx_bytes", s), "bit/s"),
                           si(rate(a, b, "dropped", s), "p/s"), b.value("queued", 0ull));
    }
    // With several workers per direction: each one's load over the refresh
    // (the share of time in turns that moved packets) and its hand-offs.
    bool several = false;
    for (const auto& d : db) several |= d.contains("workers") && d["workers"].size() > 1;
    if (several) {
        out += fmt::format("\n{:<10} {:>6} {:>12} {:>14} {:>14} {:>6}\n", "DIRECTION", "WORKER", "RX PPS",
                           "HANDED OUT/S", "HANDED IN/S", "BUSY");
        for (size_t i = 0; i < db.size() && i < da.size(); ++i) {
            if (!db[i].contains("workers") || !da[i].contains("workers")) continue;
            const double tsc_hz = db[i].value("tsc_hz", 0.0);
            for (const auto& [w, b] : db[i]["workers"].items()) {
                if (!da[i]["workers"].contains(w)) continue;
                const json& a = da[i]["workers"][w];
                const double busy = tsc_hz > 0 && s > 0 ? 100.0 * rate(a, b, "busy_cycles", s) / tsc_hz : 0.0;
                out += fmt::format("{:<10} {:>6} {:>12} {:>14} {:>14} {:>5.1f}%\n", db[i].value("name", ""), w,
                                   si(rate(a, b, "rx_packets", s), "p/s"), si(rate(a, b, "handoffs_out", s), "p/s"),
                                   si(rate(a, b, "handoffs_in", s), "p/s"), busy);
            }
        }
    }
    out += fmt::format("\n{:<10} {:>12} {:>12} {:>14} {:>12}  {}\n", "PORT", "RX PPS", "TX PPS", "MISSED/S",
                       "ERRORS/S", "LINK");
    const auto& pa = before["ports"];
    const auto& pb = after["ports"];
    for (size_t i = 0; i < pb.size() && i < pa.size(); ++i) {
        const json& a = pa[i];
        const json& b = pb[i];
        out += fmt::format("{:<10} {:>12} {:>12} {:>14} {:>12}  {}\n", b.value("role", ""),
                           si(rate(a, b, "rx_packets", s), "p/s"), si(rate(a, b, "tx_packets", s), "p/s"),
                           si(rate(a, b, "rx_missed", s), "p/s"),
                           si(rate(a, b, "rx_errors", s) + rate(a, b, "tx_errors", s), "p/s"), b.value("link", ""));
    }
    if (after.contains("policy") && before.contains("policy")) out += class_rows(before["policy"], after["policy"], s);
    return out;
}

json top_json(const json& before, const json& after, double s, const json& status) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    json out{{"time", std::chrono::duration<double>(now).count()},
             {"interval_s", s},
             {"daemon", {{"version", status.value("version", "")}, {"pid", status.value("pid", 0)},
                         {"uptime_s", status.value("uptime_s", 0ull)}}}};
    json directions = json::array();
    const auto& da = before["directions"];
    const auto& db = after["directions"];
    for (size_t i = 0; i < db.size() && i < da.size(); ++i) {
        const json& a = da[i];
        const json& b = db[i];
        directions.push_back({{"name", b.value("name", "")},
                              {"rx_pps", rate(a, b, "rx_packets", s)}, {"rx_bps", 8 * rate(a, b, "rx_bytes", s)},
                              {"tx_pps", rate(a, b, "tx_packets", s)}, {"tx_bps", 8 * rate(a, b, "tx_bytes", s)},
                              {"drops_per_s", rate(a, b, "dropped", s)}, {"queued", b.value("queued", 0ull)}});
        if (b.contains("workers") && a.contains("workers")) {
            const double tsc_hz = b.value("tsc_hz", 0.0);
            json workers = json::array();
            for (const auto& [w, bw] : b["workers"].items()) {
                if (!a["workers"].contains(w)) continue;
                const json& aw = a["workers"][w];
                workers.push_back({{"worker", std::stoi(w)}, {"rx_pps", rate(aw, bw, "rx_packets", s)},
                                   {"handoffs_out_per_s", rate(aw, bw, "handoffs_out", s)},
                                   {"handoffs_in_per_s", rate(aw, bw, "handoffs_in", s)},
                                   {"busy_share", tsc_hz > 0 ? rate(aw, bw, "busy_cycles", s) / tsc_hz : 0.0}});
            }
            directions.back()["workers"] = workers;
        }
    }
    out["directions"] = directions;
    json ports = json::array();
    const auto& pa = before["ports"];
    const auto& pb = after["ports"];
    for (size_t i = 0; i < pb.size() && i < pa.size(); ++i) {
        const json& a = pa[i];
        const json& b = pb[i];
        ports.push_back({{"role", b.value("role", "")},
                         {"rx_pps", rate(a, b, "rx_packets", s)}, {"tx_pps", rate(a, b, "tx_packets", s)},
                         {"missed_per_s", rate(a, b, "rx_missed", s)},
                         {"errors_per_s", rate(a, b, "rx_errors", s) + rate(a, b, "tx_errors", s)},
                         {"link", b.value("link", "")}});
    }
    out["ports"] = ports;
    if (after.contains("policy") && before.contains("policy")) {
        json classes = json::object();
        const json& was = before["policy"];
        const json& is = after["policy"];
        for (const char* dir : {"upload", "download"}) {
            if (!is.contains(dir) || !was.contains(dir)) continue;
            std::map<std::string, json> old;
            for (const auto& c : was[dir]["classes"]) old[c.value("name", "")] = c;
            json list = json::array();
            // In the daemon's order (the tree's), root included: scripts sort as they need.
            for (const auto& c : is[dir]["classes"]) {
                const std::string name = c.value("name", "");
                const json& a = old.count(name) ? old[name] : c;
                const uint64_t d0 = drops_of(a), d1 = drops_of(c);
                list.push_back({{"name", name}, {"rate_bps", 8 * rate(a, c, "sent_bytes", s)},
                                {"pps", rate(a, c, "sent_packets", s)},
                                {"drops_per_s", d1 >= d0 && s > 0 ? static_cast<double>(d1 - d0) / s : 0.0},
                                {"backlog_packets", c.value("backlog_packets", 0ull)},
                                {"delay_p99_ms", c.value("delay_p99_us", 0.0) / 1000.0},
                                {"delay_recent_p99_ms", c.value("delay_recent_p99_us", 0.0) / 1000.0},
                                {"delay_recent_window_s", c.value("delay_recent_window_s", 0.0)}});
            }
            classes[dir] = list;
        }
        out["classes"] = classes;
    }
    return out;
}

int run_top(ControlClient& client, const TopOptions& o) {
    RawTerminal term;
    const bool tty = isatty(STDOUT_FILENO);
    auto fetch = [&client](const char* cmd) -> Result<json> {
        auto r = client.call(cmd);
        if (!r) return Error{r.error()};
        if (!(*r).value("ok", false)) return Error{(*r).value("error", std::string("refused"))};
        return (*r)["result"];
    };
    // Directions and ports, and the classes when a policy runs.
    auto fetch_all = [&fetch]() -> Result<json> {
        auto st = fetch("stats");
        if (!st) return st;
        if (auto p = fetch("stats policy")) (*st)["policy"] = *p;
        return st;
    };
    auto before = fetch_all();
    if (!before) {
        std::fprintf(stderr, "sluicectl: %s\n", before.error().c_str());
        return 2;
    }
    auto t0 = std::chrono::steady_clock::now();
    for (unsigned frame = 0; o.iterations == 0 || frame < o.iterations; ++frame) {
        if (term.quit_pressed(static_cast<int>(o.interval_s * 1000))) break;
        auto after = fetch_all();
        auto status = fetch("status");
        if (!after || !status) {
            std::fprintf(stderr, "sluicectl: %s\n", (!after ? after.error() : status.error()).c_str());
            return 2;
        }
        const auto t1 = std::chrono::steady_clock::now();
        const double s = std::chrono::duration<double>(t1 - t0).count();
        if (o.json) {
            // One object per line, whatever stdout is: for scripts and jq.
            std::fputs((top_json(*before, *after, s, *status).dump() + "\n").c_str(), stdout);
        } else {
            // Clear and home on a terminal; plain frames one after another otherwise.
            if (tty) std::fputs("\x1b[H\x1b[2J", stdout);
            std::fputs(top_frame(*before, *after, s, *status).c_str(), stdout);
            if (!tty) std::fputs("\n", stdout);
        }
        std::fflush(stdout);
        before = std::move(after);
        t0 = t1;
    }
    return 0;
}

}  // namespace sluice::control
