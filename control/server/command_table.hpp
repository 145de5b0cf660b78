// The commands the control socket answers, by name. Handlers run on the
// control thread, validate their arguments fully before they change anything,
// and return a result or an error message.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>

#include "control/server/protocol.hpp"

namespace sluice::control {

struct Peer {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
};

struct CommandSpec {
    std::string summary;
    bool changes_state = false;  // logged with the peer's credentials
    std::function<Result<json>(const json& args, const Peer& peer)> handler;
};

class CommandTable {
public:
    void add(const std::string& name, CommandSpec spec) { commands_[name] = std::move(spec); }
    // Runs one request; always returns one response line.
    std::string dispatch(const Request& req, const Peer& peer) const;
    const std::map<std::string, CommandSpec>& commands() const { return commands_; }

private:
    std::map<std::string, CommandSpec> commands_;
};

// Argument helpers for handlers: errors name the argument and the type wanted.
Result<std::string> string_arg(const json& args, const char* name);
Result<int64_t> int_arg(const json& args, const char* name, int64_t lo, int64_t hi);
bool has_arg(const json& args, const char* name);

}  // namespace sluice::control
