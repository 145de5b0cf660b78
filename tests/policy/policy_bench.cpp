// Load cost of a large policy: 100,000 classes and 10,000 rules, generated in
// memory in the shape an ISP edge has (subscribers under the link, three
// classes inside each, one rule per subscriber and direction plus voice
// rules), then loaded several times.
//
// Prints: the text size; the time of the whole load (parse, validation,
// tree resolution, rule normalisation, the shadowing check) and of toml++'s
// share of it; peak RSS growth over the first load; and the bytes the
// compiled Policy holds. Built with the project, run by hand:
//   build/tests/policy/policy_bench [runs]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "control/policy/loader.hpp"

using namespace sluice::policy;

namespace {

constexpr int kSubscribersPerDirection = 12'500;  // x 4 classes x 2 directions = 100,000
constexpr int kRules = 10'000;

std::string address_of(int subscriber) {
    return "100." + std::to_string(64 + subscriber / 65536) + "." + std::to_string(subscriber / 256 % 256) + "." +
           std::to_string(subscriber % 256);
}

void add_direction(std::string& text, const char* dir) {
    text += std::string("[") + dir + "]\nrate = \"100gbit\"\noverhead = \"ethernet\"\ndefault_class = \"s0-normal\"\n";
    for (int s = 0; s < kSubscribersPerDirection; ++s) {
        const std::string sub = "s" + std::to_string(s);
        text += std::string("[[") + dir + ".class]]\nname = \"" + sub + "\"\nrate = \"4mbit\"\nceil = \"" +
                (s % 2 ? "100mbit" : "1gbit") + "\"\n";
        const char* kinds[] = {"voice", "normal", "bulk"};
        const char* shares[] = {"10%", "70%", "20%"};
        const char* prio[] = {"0", "3", "6"};
        for (int k = 0; k < 3; ++k) {
            text += std::string("[[") + dir + ".class]]\nname = \"" + sub + "-" + kinds[k] + "\"\nparent = \"" + sub +
                    "\"\nrate = \"" + shares[k] + "\"\npriority = " + prio[k] + "\nqueue = \"" +
                    (k == 0 ? "fifo" : "fq_codel") + "\"\n";
        }
    }
}

std::string generate() {
    std::string text = "version = 1\n";
    text.reserve(12 << 20);
    add_direction(text, "upload");
    add_direction(text, "download");
    // Per subscriber: a voice rule (EF from its address) before its catch-all,
    // alternating directions; every fourth subscriber also has an IPv6 /56.
    for (int i = 0; i < kRules; ++i) {
        const int s = i / 2;
        const bool up = s % 2 == 0;
        const std::string sub = "s" + std::to_string(s);
        text += "[[rule]]\nname = \"r" + std::to_string(i) + "\"\nside = \"" + (up ? "lan" : "wan") + "\"\n";
        text += std::string(up ? "src" : "dst") + " = [\"" + address_of(s) + "/32\"";
        if (s % 4 == 0) {
            char v6[48];
            std::snprintf(v6, sizeof v6, ", \"2001:db8:%x::/48\"", s);
            text += v6;
        }
        text += "]\n";
        if (i % 2 == 0) text += "dscp = \"EF\"\n";
        text += std::string(up ? "upload_class" : "download_class") + " = \"" + sub + (i % 2 == 0 ? "-voice" : "-normal") +
                "\"\n";
    }
    return text;
}

long peak_rss_kb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

template <typename T>
size_t vector_bytes(const std::vector<T>& v) {
    return v.capacity() * sizeof(T);
}

size_t string_bytes(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; }

// Bytes the compiled object owns: its own size and every heap block under it.
size_t policy_bytes(const Policy& p) {
    size_t bytes = sizeof(Policy);
    for (const ClassTree& t : p.directions) {
        bytes += vector_bytes(t.classes) + string_bytes(t.link.overhead.preset);
        for (const Class& c : t.classes) bytes += string_bytes(c.name) + vector_bytes(c.children);
    }
    bytes += vector_bytes(p.rules);
    for (const Rule& r : p.rules) {
        const Match& m = r.match;
        bytes += string_bytes(r.name) + vector_bytes(m.src) + vector_bytes(m.dst) + vector_bytes(m.src_ports) +
                 vector_bytes(m.dst_ports);
    }
    bytes += vector_bytes(p.meters);
    bytes += vector_bytes(p.management.addresses) + vector_bytes(p.management.services);
    return bytes;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
    const std::string text = generate();
    std::printf("policy text: %.1f MiB, %d classes, %d rules\n", static_cast<double>(text.size()) / (1 << 20),
                kSubscribersPerDirection * 4 * 2, kRules);

    using Clock = std::chrono::steady_clock;
    std::vector<double> load_ms, parse_ms;
    long rss_growth_kb = 0;
    size_t compiled = 0;
    size_t warnings = 0;
    for (int run = 0; run < runs; ++run) {
        const long before = peak_rss_kb();
        const auto t0 = Clock::now();
        LoadResult r = load_string(text, "bench.toml");
        const auto t1 = Clock::now();
        if (!r.ok()) {
            for (size_t i = 0; i < r.diagnostics.size() && i < 5; ++i)
                std::fprintf(stderr, "%s\n", format(r.diagnostics[i]).c_str());
            return 1;
        }
        if (run == 0) {
            rss_growth_kb = peak_rss_kb() - before;
            compiled = policy_bytes(*r.policy);
            warnings = r.diagnostics.size();
        }
        load_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    // toml++ alone, the same text, counting the parse and freeing the
    // document (load_string does both): what is left is Sluice's own work.
    for (int run = 0; run < runs; ++run) {
        const auto t0 = Clock::now();
        {
            toml::table t = toml::parse(text, std::string_view("bench.toml"));
        }
        const auto t1 = Clock::now();
        parse_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::printf("load_string (parse + compile): median %.0f ms, best %.0f ms over %d runs\n", median(load_ms),
                *std::min_element(load_ms.begin(), load_ms.end()), runs);
    std::printf("  of which toml++ (parse and free the document): median %.0f ms\n", median(parse_ms));
    std::printf("peak RSS growth during the first load: %.1f MiB\n", static_cast<double>(rss_growth_kb) / 1024);
    std::printf("compiled Policy: %.1f MiB (%.0f bytes per class+rule)\n", static_cast<double>(compiled) / (1 << 20),
                static_cast<double>(compiled) / (kSubscribersPerDirection * 8 + kRules));
    std::printf("diagnostics: %zu\n", warnings);
    return 0;
}
