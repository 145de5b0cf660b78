// sluicectl: the operator's command line for sluiced. Links no DPDK.
//
//   sluicectl [--socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS]
//
// Exit codes: 0 done, 1 refused by sluiced (or invalid), 2 sluiced not reachable.
#include <boost/program_options.hpp>
#include <fmt/format.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>
#include <thread>
#include <string>
#include <vector>

#include "control/client/control_client.hpp"
#include "control/policy/diagnostic.hpp"
#include "control/policy/loader.hpp"
#include "control/policy/policy_file.hpp"
#include "control/sluicectl/render.hpp"
#include "control/sluicectl/top.hpp"

namespace po = boost::program_options;
using sluice::control::json;

namespace {

constexpr int kOk = 0, kRefused = 1, kUnreachable = 2;

struct Command {
    const char* usage;
    const char* summary;
};

const std::vector<std::pair<std::string, Command>> kCommands = {
    {"status", {"status", "version, uptime, ports and their links, lcores"}},
    {"stats", {"stats [--reset] [CLASS...]", "counters per direction, port and class (only the named classes when given); --reset starts them from zero"}},
    {"top", {"top [--interval S] [--iterations N]", "live rates per direction and port; q quits; with --json one JSON object per refresh, a line each"}},
    {"show", {"show ports|classes|rules|meters", "the running configuration (classes as a tree)"}},
    {"policy", {"policy check FILE | load FILE | reload | diff [FILE] | save [FILE]",
                "validate offline; apply a file or the running file again; compare with or write back to a file"}},
    {"rule", {"rule add [at=N] KEY=VALUE... | rule del NAME | rule move NAME N",
              "edit the running rules; KEY=VALUE in the policy file's syntax, e.g. protocol='\"udp\"' dst_port=5060"}},
    {"meter", {"meter set NAME [cir=R] [cbs=S] [ebs=S] [pir=R] [pbs=S] [yellow=pass|drop|remark yellow_dscp=D] [red=...]",
               "change a policer live (the policy file's keys, checked as a file is)"}},
    {"set", {"set class NAME [rate=R] [ceil=R] [burst=S] [cburst=S] [priority=P] [weight=W] [direction=D]",
             "change a class live: the policy file's keys and ranges (prio= is short for priority=), checked with the whole "
             "policy as a file is; bursts and ceils the file left out follow the new rates; answered once every worker "
             "applied it"}},
    {"log", {"log level LEVEL", "set the daemon's log level (trace ... off; root only)"}},
    {"call", {"call COMMAND [JSON-ARGS]", "send any request as it is, print the raw response"}},
};

std::string usage() {
    std::string s =
        "Usage: sluicectl [--socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS]\n\n"
        "Talks to sluiced over its control socket.\n\nCommands:\n";
    for (const auto& [name, c] : kCommands) s += fmt::format("  {:<28} {}\n", c.usage, c.summary);
    s += "\nOptions:\n"
         "  --socket PATH      control socket (default /run/sluice/sluiced.sock)\n"
         "  --json             print results as JSON, for scripts\n"
         "  --timeout SECONDS  how long to wait for sluiced (default 5); work sluiced\n"
         "                     reports as under way (a big policy's load) is waited for\n"
         "  --help             this help; COMMAND --help for one command\n\n"
         "Exit codes: 0 done, 1 refused, 2 sluiced not reachable.\n";
    return s;
}

// Files are named to the daemon as absolute paths: its working directory is not ours.
std::string absolute_path(const std::string& file) {
    std::error_code ec;
    const auto abs = std::filesystem::absolute(file, ec);
    return ec ? file : abs.string();
}

// How to name a policy file to sluiced. sluiced reads files only where the
// caller could name them (root anywhere, a member in the policy directory);
// anything else is read here, as the caller, and sent as text. Either way
// the file is checked here first, so a file the caller cannot read is
// reported as such.
sluice::Result<json> policy_arguments(const std::string& socket, double timeout_s, const std::string& file) {
    const std::string path = absolute_path(file);
    auto text = sluice::policy::read_policy_text(path);
    if (!text) return sluice::Error{text.error()};
    bool by_path = geteuid() == 0;
    if (!by_path) {
        auto client = sluice::control::ControlClient::connect(
            socket, std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
        if (client) {
            auto status = (*client)->call("status");
            if (status && (*status).value("ok", false)) {
                const std::string dir = (*status)["result"].value("policy_dir", std::string());
                by_path = !dir.empty() && sluice::policy::PolicyDirectory::open(dir).below(path).has_value();
            }
        }
    }
    if (by_path) return json{{"file", path}};
    return json{{"text", std::move(*text)}, {"name", path}};
}

int fail(int code, const std::string& message) {
    std::fprintf(stderr, "sluicectl: %s\n", message.c_str());
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    std::string socket = sluice::control::kDefaultSocket;
    bool as_json = false;
    bool reset = false;
    sluice::control::TopOptions top;
    double timeout_s = 5;
    std::vector<std::string> words;

    po::options_description global;
    global.add_options()
        ("socket", po::value(&socket))
        ("json", po::bool_switch(&as_json))
        ("reset", po::bool_switch(&reset))
        ("interval", po::value(&top.interval_s))
        ("iterations", po::value(&top.iterations))
        ("timeout", po::value(&timeout_s))
        ("help,h", "")
        ("words", po::value(&words));
    po::positional_options_description positional;
    positional.add("words", -1);
    po::variables_map vm;
    try {
        // Options may come before or after the command; "--" ends them.
        po::store(po::command_line_parser(argc, argv).options(global).positional(positional).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        return fail(kRefused, fmt::format("{} (see sluicectl --help)", e.what()));
    }
    if (words.empty()) {
        if (vm.count("help")) {
            std::fputs(usage().c_str(), stdout);
            return kOk;
        }
        return fail(kRefused, "no command given (see sluicectl --help)");
    }
    const std::string& verb = words[0];
    const Command* cmd = nullptr;
    for (const auto& [name, c] : kCommands) {
        if (name == verb) cmd = &c;
    }
    if (cmd == nullptr) return fail(kRefused, fmt::format("unknown command '{}' (see sluicectl --help)", verb));
    if (vm.count("help")) {
        std::printf("Usage: sluicectl %s\n\n%s\n", cmd->usage, cmd->summary);
        return kOk;
    }

    // Turn the words into one request.
    std::string request;
    json args = json::object();
    const size_t n = words.size();
    if (verb == "status" && n == 1) {
        request = "status";
    } else if (verb == "stats") {
        request = reset ? "stats reset" : "stats";
    } else if (verb == "top" && n == 1) {
        if (top.interval_s < 0.1 || top.interval_s > 3600) return fail(kRefused, "--interval must be 0.1-3600 seconds");
        auto client = sluice::control::ControlClient::connect(
            socket, std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
        if (!client) return fail(kUnreachable, client.error());
        top.json = as_json;
        return sluice::control::run_top(**client, top);
    } else if (verb == "show" && n == 2 &&
               (words[1] == "ports" || words[1] == "classes" || words[1] == "rules" || words[1] == "meters")) {
        request = "show " + words[1];
    } else if (verb == "policy" && n == 3 && words[1] == "check") {
        // Offline: no daemon needed, the same loader sluiced uses.
        const auto result = sluice::policy::load_file(words[2]);
        json messages = json::array();
        for (const auto& d : result.diagnostics) {
            messages.push_back(sluice::policy::format(d));
            if (!as_json) std::fprintf(stderr, "%s\n", sluice::policy::format(d).c_str());
        }
        if (as_json) std::cout << json{{"file", words[2]}, {"valid", result.ok()}, {"messages", messages}}.dump(2) << "\n";
        else if (result.ok()) std::printf("%s: valid\n", words[2].c_str());
        return result.ok() ? kOk : kRefused;
    } else if (verb == "policy" && n == 3 && words[1] == "load") {
        request = "policy load";
        auto named = policy_arguments(socket, timeout_s, words[2]);
        if (!named) return fail(kRefused, named.error());
        args = *named;
    } else if (verb == "set" && n >= 4 && words[1] == "class") {
        request = "set class";
        args["class"] = words[2];
        for (size_t i = 3; i < n; ++i) {
            const auto eq = words[i].find('=');
            if (eq == std::string::npos || eq == 0) return fail(kRefused, fmt::format("'{}' is not KEY=VALUE", words[i]));
            // Sent as typed: the daemon reads each value as the policy file's
            // key of that name, with the file's checks and messages.
            args[words[i].substr(0, eq)] = words[i].substr(eq + 1);
        }
    } else if (verb == "policy" && n == 3 && words[1] == "diff") {
        request = "policy diff";
        auto named = policy_arguments(socket, timeout_s, words[2]);
        if (!named) return fail(kRefused, named.error());
        args = *named;
    } else if (verb == "policy" && (n == 2 || n == 3) && (words[1] == "save" || words[1] == "diff")) {
        request = "policy " + words[1];
        if (n == 3) args["file"] = absolute_path(words[2]);
    } else if (verb == "rule" && n >= 3 && words[1] == "add") {
        request = "rule add";
        std::string body;
        for (size_t i = 2; i < n; ++i) {
            const auto eq = words[i].find('=');
            if (eq == std::string::npos || eq == 0) return fail(kRefused, fmt::format("'{}' is not KEY=VALUE", words[i]));
            const std::string key = words[i].substr(0, eq), value = words[i].substr(eq + 1);
            if (key == "at") {
                char* end = nullptr;
                args["at"] = std::strtol(value.c_str(), &end, 10);
                continue;
            }
            // Bare words become TOML strings; numbers, lists and quoted text pass as written.
            const bool literal = !value.empty() && (value.front() == '"' || value.front() == '[' ||
                                                    value.find_first_not_of("0123456789") == std::string::npos ||
                                                    value == "true" || value == "false");
            body += key + " = " + (literal ? value : "\"" + value + "\"") + "\n";
        }
        args["rule"] = body;
    } else if (verb == "rule" && n == 3 && words[1] == "del") {
        request = "rule del";
        args["name"] = words[2];
    } else if (verb == "rule" && n == 4 && words[1] == "move") {
        request = "rule move";
        args["name"] = words[2];
        char* end = nullptr;
        args["to"] = std::strtol(words[3].c_str(), &end, 10);
    } else if (verb == "meter" && n >= 4 && words[1] == "set") {
        request = "meter set";
        args["name"] = words[2];
        for (size_t i = 3; i < n; ++i) {
            const auto eq = words[i].find('=');
            if (eq == std::string::npos || eq == 0) return fail(kRefused, fmt::format("'{}' is not KEY=VALUE", words[i]));
            args[words[i].substr(0, eq)] = words[i].substr(eq + 1);
        }
    } else if (verb == "policy" && n == 2 && words[1] == "reload") {
        request = "policy reload";
    } else if (verb == "log" && n == 3 && words[1] == "level") {
        request = "log level";
        args["level"] = words[2];
    } else if (verb == "call" && (n == 2 || n == 3)) {
        request = words[1];
        if (n == 3) {
            args = json::parse(words[2], nullptr, false);
            if (args.is_discarded() || !args.is_object()) return fail(kRefused, "JSON-ARGS must be a JSON object");
        }
    } else {
        return fail(kRefused, fmt::format("usage: sluicectl {}", cmd->usage));
    }

    auto client = sluice::control::ControlClient::connect(
        socket, std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
    if (!client) return fail(kUnreachable, client.error());
    // Long work (a big policy's load) is waited for as long as sluiced says
    // it is working on it; on a terminal, the wait is shown.
    bool shown = false;
    if (isatty(STDERR_FILENO)) {
        (*client)->on_progress([&shown](const json& interim) {
            const auto s = static_cast<double>(interim.value("elapsed_ms", int64_t{0})) / 1000;
            if (s < 1) return;
            std::fprintf(stderr, "\rsluicectl: sluiced is %s '%s' (%.0f s)\033[K",
                         interim.value("state", "") == "queued" ? "queued behind other work for" : "working on",
                         interim.value("working", "").c_str(), s);
            std::fflush(stderr);
            shown = true;
        });
    }
    auto resp = (*client)->call(request, args);
    if (shown) std::fputs("\r\033[K", stderr);
    if (!resp) return fail(kUnreachable, resp.error());
    const json& r = *resp;
    if (verb == "call") {
        std::cout << r.dump(2) << "\n";
        return r.value("ok", false) ? kOk : kRefused;
    }
    if (!r.value("ok", false)) return fail(kRefused, r.value("error", std::string("refused")));
    // A diff that finds differences answers like diff(1): exit 1.
    if (request == "policy diff" && !r["result"].value("same", true)) {
        if (as_json) std::cout << r["result"].dump(2) << "\n";
        else std::cout << sluice::control::render(request, r["result"]);
        return kRefused;
    }
    json result = r["result"];
    if (request == "stats") {
        // Per-class figures when a policy runs; without one there are none.
        auto p = (*client)->call("stats policy");
        if (p && (*p).value("ok", false)) {
            result["policy"] = (*p)["result"];
            if (!as_json) {
                // A second look a moment later gives each class's current rate.
                const auto t0 = std::chrono::steady_clock::now();
                std::this_thread::sleep_for(std::chrono::milliseconds(500));
                auto q = (*client)->call("stats policy");
                const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                if (q && (*q).value("ok", false)) {
                    for (auto& [dir, d] : result["policy"].items()) {
                        const json& later = (*q)["result"][dir]["classes"];
                        for (size_t i = 0; i < d["classes"].size() && i < later.size(); ++i) {
                            const auto a = d["classes"][i].value("sent_bytes", 0ull), b = later[i].value("sent_bytes", 0ull);
                            d["classes"][i]["rate_bps"] = b >= a ? static_cast<double>(b - a) * 8 / s : 0.0;
                        }
                    }
                }
            }
        }
        // Named classes only, when some are named.
        if (n > 1 && result.contains("policy")) {
            std::set<std::string> wanted(words.begin() + 1, words.end());
            size_t found = 0;
            for (auto& [dir, d] : result["policy"].items()) {
                json kept = json::array();
                for (const auto& c : d["classes"]) {
                    if (wanted.count(c.value("name", ""))) kept.push_back(c);
                }
                found += kept.size();
                d["classes"] = kept;
            }
            if (found == 0) return fail(kRefused, "none of the named classes exists ('sluicectl show classes' lists them)");
        }
    }
    if (as_json) {
        std::cout << result.dump(2) << "\n";
    } else {
        std::cout << sluice::control::render(request, result);
    }
    return kOk;
}
