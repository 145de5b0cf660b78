// The commands the control socket answers, by name. Handlers run on the
// control thread, validate their arguments fully before they change anything,
// and return a result or an error message.
//
// The privilege model (docs/operations.md) is enforced here, from the
// peer's credentials as the kernel gave them (SO_PEERCRED, SO_PEERGROUPS):
// a peer that is neither root nor a member of the socket's group gets
// nothing; members get every command marked Access::member; commands marked
// Access::root are root's alone. Handlers that take paths check the role
// themselves (a member names no file outside the policy directory).
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>

#include "control/server/protocol.hpp"

namespace sluice::control {

enum class Role {
    none,    // connected, but neither root nor in the socket's group
    member,  // in the socket's group: looks and shapes
    root,    // uid 0, or the daemon's own uid
};

struct Peer {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    Role role = Role::root;
};

const char* role_name(Role r);

enum class Access {
    member,  // root and members of the socket's group
    root,    // root only
};

struct CommandSpec {
    std::string summary;
    bool changes_state = false;  // audited with the peer's credentials
    std::function<Result<json>(const json& args, const Peer& peer)> handler;
    Access access = Access::member;
    // Work that may take seconds (a policy compile, a file's fsync): run
    // beside the control thread, which keeps answering other clients; its
    // handler must therefore be safe to run concurrently with every other
    // command's (see protocol.hpp for the interim lines such work sends).
    bool background = false;
};

class CommandTable {
public:
    void add(const std::string& name, CommandSpec spec) { commands_[name] = std::move(spec); }
    // Runs one request; always returns one response line. Refusals for
    // lack of privilege are audited with the peer's uid.
    std::string dispatch(const Request& req, const Peer& peer) const;
    const std::map<std::string, CommandSpec>& commands() const { return commands_; }
    // Whether `cmd` runs beside the control thread (CommandSpec::background).
    bool runs_in_background(const std::string& cmd) const {
        const auto it = commands_.find(cmd);
        return it != commands_.end() && it->second.background;
    }
    // The group named in refusals ("sluice" unless the daemon was told otherwise).
    void set_group_name(std::string name) { group_ = std::move(name); }

private:
    std::map<std::string, CommandSpec> commands_;
    std::string group_ = "sluice";
};

// Argument helpers for handlers: errors name the argument and the type wanted.
Result<std::string> string_arg(const json& args, const char* name);
Result<int64_t> int_arg(const json& args, const char* name, int64_t lo, int64_t hi);
bool has_arg(const json& args, const char* name);

}  // namespace sluice::control
