#include "dataplane/instance_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "dataplane/eal.hpp"

namespace sluice::dataplane {
namespace {

// The key=value pairs after the device name, in order.
std::vector<std::pair<std::string, std::string>> devargs_pairs(const std::string& devargs) {
    std::vector<std::pair<std::string, std::string>> out;
    size_t pos = devargs.find(',');
    while (pos != std::string::npos) {
        const size_t next = devargs.find(',', pos + 1);
        const std::string item = devargs.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
        const size_t eq = item.find('=');
        if (eq != std::string::npos) out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
        pos = next;
    }
    return out;
}

bool starts_with_any(const std::string& s, std::initializer_list<const char*> prefixes) {
    for (const char* p : prefixes) {
        if (s.rfind(p, 0) == 0) return true;
    }
    return false;
}

// A file name for any string: '/' becomes '+'; '+', '%' and everything
// outside [A-Za-z0-9._:@=-] become %XX. Different strings never meet.
std::string escape(const std::string& s) {
    std::string out;
    for (const unsigned char c : s) {
        if (c == '/') {
            out += '+';
        } else if (std::isalnum(c) || c == '.' || c == '_' || c == ':' || c == '@' || c == '=' || c == '-') {
            out += static_cast<char>(c);
        } else {
            out += fmt::format("%{:02X}", c);
        }
    }
    return out;
}

// A lock file name for a path: readable when it fits, hashed when it would
// be too long for a file name (a socket path escaped can reach 400 bytes).
std::string path_file(const char* kind, const std::string& path) {
    std::string name = fmt::format("{}{}.lock", kind, escape(path));
    if (name.size() <= 200) return name;
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (const unsigned char c : path) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return fmt::format("{}-hash-{:016x}.lock", kind, h);
}

// An absolute path with the symbolic links of its existing directories
// resolved; the last component is kept as it is (the socket may not exist).
std::string normalised_path(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path p = fs::absolute(path, ec);
    if (ec) p = fs::path(path);
    p = p.lexically_normal();
    fs::path parent = fs::weakly_canonical(p.parent_path(), ec);
    if (ec) parent = p.parent_path();
    return (parent / p.filename()).string();
}

LockIdentity interface_identity(const std::string& ifname) {
    return {"iface-" + escape(ifname) + ".lock", "interface " + ifname, "driven", ""};
}

// The pid written in a lock file, 0 when none is there (yet).
long holder_pid(int fd) {
    // The holder writes its pid right after locking: give it a moment.
    for (int attempt = 0; attempt < 20; ++attempt) {
        char buf[64] = {};
        const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n > 0) {
            char* end = nullptr;
            const long pid = std::strtol(buf, &end, 10);
            if (end != buf && pid > 0) return pid;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return 0;
}

// Opens the lock directory (creating it 0755 when missing) and checks that
// nobody but the daemon's user can add, remove or replace files in it.
Result<int> open_lock_directory(const std::string& dir) {
    bool created = false;
    if (mkdir(dir.c_str(), 0755) == 0) {
        created = true;
    } else if (errno != EEXIST) {
        return Error{fmt::format("cannot create lock directory {}: {}", dir, std::strerror(errno))};
    }
    const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        return Error{fmt::format("cannot open lock directory {}: {}", dir,
                                 e == ELOOP || e == ENOTDIR ? "it is not a directory (a symbolic link?); remove it"
                                                            : std::strerror(e))};
    }
    if (created) fchmod(fd, 0755);
    struct stat st{};
    if (fstat(fd, &st) != 0) {
        const int e = errno;
        close(fd);
        return Error{fmt::format("cannot examine lock directory {}: {}", dir, std::strerror(e))};
    }
    if (st.st_uid != geteuid()) {
        close(fd);
        return Error{fmt::format("lock directory {} belongs to uid {}, not to uid {} that runs sluiced; remove it",
                                 dir, st.st_uid, geteuid())};
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        close(fd);
        return Error{fmt::format("lock directory {} is writable by others (mode {:04o}); make it 0755 or remove it",
                                 dir, st.st_mode & 07777)};
    }
    return fd;
}

// The devices that EAL arguments after "--" add: --vdev, -a, --allow.
std::vector<std::string> eal_devices(const std::vector<std::string>& args) {
    std::vector<std::string> out;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        const bool takes_next = a == "--vdev" || a == "-a" || a == "--allow";
        if (takes_next && i + 1 < args.size()) {
            out.push_back(args[++i]);
        } else if (a.rfind("--vdev=", 0) == 0) {
            out.push_back(a.substr(7));
        } else if (a.rfind("--allow=", 0) == 0) {
            out.push_back(a.substr(8));
        } else if (a.size() > 2 && a.rfind("-a", 0) == 0 && a[2] != '-') {
            out.push_back(a.substr(2));
        }
    }
    return out;
}

}  // namespace

std::string kernel_interface(const std::string& devargs) {
    if (is_pci_address(devargs)) return "";
    // virtio_user and vhost use iface= for other things than an interface.
    const std::string name = device_name(devargs);
    if (starts_with_any(name, {"net_vhost", "eth_vhost", "net_virtio_user", "virtio_user"})) return "";
    for (const auto& [key, value] : devargs_pairs(devargs)) {
        if (key == "iface" || key == "rx_iface" || key == "rx_iface_in" || key == "tx_iface") return value;
    }
    return "";
}

std::string normalised_pci_address(const std::string& devargs) {
    std::string a = device_name(devargs);
    if (a.size() == 7) a = "0000:" + a;
    std::transform(a.begin(), a.end(), a.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return a;
}

std::vector<LockIdentity> port_identities(const std::string& devargs) {
    std::vector<LockIdentity> out;
    if (is_pci_address(devargs)) {
        const std::string a = normalised_pci_address(devargs);
        out.push_back({"pci-" + a + ".lock", "PCI device " + a, "driven", ""});
        return out;
    }
    const std::string name = device_name(devargs);
    const auto pairs = devargs_pairs(devargs);
    if (starts_with_any(name, {"net_vhost", "eth_vhost"})) {
        for (const auto& [key, value] : pairs) {
            if (key == "iface") {
                const std::string path = normalised_path(value);
                out.push_back({path_file("vhost", path), "vhost-user socket " + path, "driven", ""});
            }
        }
        return out;
    }
    if (starts_with_any(name, {"net_virtio_user", "virtio_user"})) return out;
    // af_xdp, af_packet, pcap on an interface, tap: every interface named.
    for (const auto& [key, value] : pairs) {
        if (key == "iface" || key == "rx_iface" || key == "rx_iface_in" || key == "tx_iface") {
            LockIdentity id = interface_identity(value);
            if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(std::move(id));
        }
    }
    return out;
}

LockIdentity socket_identity(const std::string& path) {
    const std::string p = normalised_path(path);
    return {path_file("socket", p), "control socket " + p, "served", " or choose another --socket"};
}

std::string default_lock_directory() {
    if (geteuid() == 0) return "/run/lock/sluice";
    if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && xdg[0] == '/') {
        return std::string(xdg) + "/sluice";
    }
    return fmt::format("/tmp/sluice-{}", geteuid());
}

Result<LockFile> LockFile::acquire(int dir_fd, const std::string& dir, const LockIdentity& id) {
    const std::string path = dir + "/" + id.file;
    // A holder that exits removes the file; one that we opened just before
    // that is locked in vain, so try again with the file now at the name.
    for (int attempt = 0; attempt < 10; ++attempt) {
        // O_NOFOLLOW: a symbolic link planted at the name is refused, never
        // followed; O_NONBLOCK keeps a planted FIFO from blocking the open.
        const int fd = openat(dir_fd, id.file.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
        if (fd < 0) {
            const int e = errno;
            if (e == ELOOP) return Error{fmt::format("lock file {} is a symbolic link; remove it", path)};
            return Error{fmt::format("cannot open lock file {}: {}", path, std::strerror(e))};
        }
        struct stat st{};
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink > 1) {
            close(fd);
            return Error{fmt::format("lock file {} is not a plain file of its own; remove it", path)};
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            const int e = errno;
            if (e != EWOULDBLOCK) {
                close(fd);
                return Error{fmt::format("cannot lock {}: {}", path, std::strerror(e))};
            }
            const long pid = holder_pid(fd);
            close(fd);
            const std::string who = pid > 0 ? fmt::format("sluiced pid {}", pid) : "another sluiced";
            return Error{fmt::format("{} is already {} by {}; stop it first{} (lock {})", id.description, id.verb,
                                     who, id.advice, path)};
        }
        struct stat now{};
        if (fstat(fd, &st) != 0 || fstatat(dir_fd, id.file.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0 ||
            now.st_ino != st.st_ino || now.st_dev != st.st_dev) {
            close(fd);
            continue;
        }
        const int own_dir = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
        if (own_dir < 0) {
            const int e = errno;
            close(fd);
            return Error{fmt::format("cannot keep lock directory {} open: {}", dir, std::strerror(e))};
        }
        LockFile lock(own_dir, fd, id);
        // Ours now, whatever an earlier owner left in it.
        const std::string content = fmt::format("{}\n{}\n", getpid(), id.description);
        if (ftruncate(fd, 0) != 0 ||
            pwrite(fd, content.data(), content.size(), 0) != static_cast<ssize_t>(content.size())) {
            return Error{fmt::format("cannot write lock file {}: {}", path, std::strerror(errno))};
        }
        return lock;
    }
    return Error{fmt::format("cannot lock {}: it keeps being replaced", path)};
}

LockFile::LockFile(LockFile&& o) noexcept : dir_fd_(o.dir_fd_), fd_(o.fd_), id_(std::move(o.id_)) {
    o.dir_fd_ = -1;
    o.fd_ = -1;
}

LockFile& LockFile::operator=(LockFile&& o) noexcept {
    if (this != &o) {
        release();
        dir_fd_ = o.dir_fd_;
        fd_ = o.fd_;
        id_ = std::move(o.id_);
        o.dir_fd_ = -1;
        o.fd_ = -1;
    }
    return *this;
}

LockFile::~LockFile() { release(); }

void LockFile::release() {
    // Removed while still locked: nobody can take a file that is going away.
    if (fd_ >= 0 && dir_fd_ >= 0) unlinkat(dir_fd_, id_.file.c_str(), 0);
    if (fd_ >= 0) close(fd_);
    if (dir_fd_ >= 0) close(dir_fd_);
    fd_ = dir_fd_ = -1;
}

Result<InstanceLock> InstanceLock::acquire(const DaemonOptions& o, const std::string& dir) {
    // Each identity with the option that brought it, to refuse one device
    // used twice with a message that says where.
    std::vector<std::pair<LockIdentity, std::string>> wanted;
    auto add = [&wanted](const std::string& devargs, const std::string& origin) -> Result<bool> {
        for (auto& id : port_identities(devargs)) {
            for (const auto& [have, from] : wanted) {
                if (have == id) {
                    return Error{fmt::format("{} and {} both name {}; a port can be used only once", from, origin,
                                             id.description)};
                }
            }
            wanted.emplace_back(std::move(id), origin);
        }
        return true;
    };
    if (auto r = add(o.lan, "--lan"); !r) return Error{r.error()};
    if (auto r = add(o.wan, "--wan"); !r) return Error{r.error()};
    for (const auto& d : eal_devices(o.eal_args)) {
        // The EAL refuses a device given twice itself; only other names matter.
        if (d == o.lan || d == o.wan) continue;
        if (auto r = add(d, "EAL device " + device_name(d)); !r) return Error{r.error()};
    }
    std::vector<LockIdentity> ids;
    for (auto& [id, from] : wanted) ids.push_back(std::move(id));
    ids.push_back(socket_identity(o.socket));
    return acquire(ids, dir);
}

Result<InstanceLock> InstanceLock::acquire(const std::vector<LockIdentity>& ids, const std::string& dir) {
    auto dir_fd = open_lock_directory(dir);
    if (!dir_fd) return Error{dir_fd.error()};
    // One order for every daemon: two that start together and want the same
    // ports cannot each take one and refuse the other its second.
    std::vector<LockIdentity> sorted(ids);
    std::sort(sorted.begin(), sorted.end(), [](const LockIdentity& a, const LockIdentity& b) { return a.file < b.file; });
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());

    InstanceLock out;
    out.dir_ = dir;
    for (const auto& id : sorted) {
        auto lock = LockFile::acquire(*dir_fd, dir, id);
        if (!lock) {
            close(*dir_fd);
            return Error{lock.error()};
        }
        out.locks_.push_back(std::move(*lock));
    }
    close(*dir_fd);
    return out;
}

}  // namespace sluice::dataplane
