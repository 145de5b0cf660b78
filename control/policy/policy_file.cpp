#include "control/policy/policy_file.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace sluice::policy {
namespace {

std::string errno_text(int e) { return std::strerror(e); }

const char* kind_of(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symbolic link";
    return "not a regular file";
}

// glibc 2.36 has no wrapper for openat2.
int openat2_beneath(int dirfd, const char* path, uint64_t flags) {
    open_how how{};
    how.flags = flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return static_cast<int>(syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
}

// From a descriptor opened with O_PATH: refuses anything but a regular file
// of at most `max` bytes, then reads it through a descriptor of its own.
Result<std::string> read_regular(const UniqueFd& path_fd, const std::string& name, size_t max) {
    struct stat st{};
    if (fstat(path_fd.get(), &st) != 0) return Error{"cannot read " + name + ": " + errno_text(errno)};
    if (!S_ISREG(st.st_mode)) {
        return Error{name + " is " + kind_of(st.st_mode) + "; a policy is read only from a regular file"};
    }
    const std::string limit = "; a policy file may be at most " + std::to_string(max) + " bytes";
    if (static_cast<uint64_t>(st.st_size) > max) return Error{name + " is " + std::to_string(st.st_size) + " bytes" + limit};
    // Reopening through the descriptor reaches the inode already inspected,
    // whatever the name points to by now.
    const std::string self = "/proc/self/fd/" + std::to_string(path_fd.get());
    UniqueFd fd(::open(self.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd) return Error{"cannot read " + name + ": " + errno_text(errno)};
    std::string text;
    text.resize(static_cast<size_t>(st.st_size) + 1);
    size_t at = 0;
    for (;;) {
        if (at == text.size()) {
            // The file grew since it was inspected.
            if (text.size() > max) return Error{name + " grew past " + std::to_string(max) + " bytes" + limit};
            text.resize(std::min(max + 1, text.size() * 2 + 4096));
        }
        const ssize_t n = ::read(fd.get(), text.data() + at, text.size() - at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error{"cannot read " + name + ": " + errno_text(errno)};
        if (n == 0) break;
        at += static_cast<size_t>(n);
    }
    text.resize(at);
    return text;
}

std::string random_suffix() {
    unsigned char bytes[8];
    if (getrandom(bytes, sizeof(bytes), 0) != static_cast<ssize_t>(sizeof(bytes))) {
        // O_EXCL still refuses any name that exists; only uniqueness suffers.
        for (auto& b : bytes) b = static_cast<unsigned char>(std::rand());
    }
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (unsigned char b : bytes) {
        s += hex[b >> 4];
        s += hex[b & 15];
    }
    return s;
}

// Why a lookup beneath the policy directory failed, in the operator's words.
Error beneath_error(const std::string& path, const std::string& dir, const char* what, int e) {
    if (e == EXDEV || e == ELOOP) return Error{path + " leads out of the policy directory " + dir};
    return Error{std::string(what) + path + ": " + errno_text(e)};
}

bool valid_component(const std::string& name) {
    return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

}  // namespace

UniqueFd::~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.release();
    }
    return *this;
}

Result<std::string> read_policy_text(const std::string& path, size_t max) {
    UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
    if (!fd) return Error{"cannot read the policy file " + path + ": " + errno_text(errno)};
    return read_regular(fd, path, max);
}

Result<FileSpot> spot_of(const std::string& path) {
    const std::filesystem::path p(path);
    FileSpot spot;
    spot.name = p.filename().string();
    spot.display = path;
    if (!valid_component(spot.name)) return Error{path + " does not name a file"};
    const std::string dir = p.parent_path().empty() ? "." : p.parent_path().string();
    spot.dir = UniqueFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!spot.dir) return Error{"cannot open the directory " + dir + ": " + errno_text(errno)};
    return spot;
}

Result<Written> write_atomically(const FileSpot& spot, std::string_view text) {
    const int dir = spot.dir.get();
    const std::string& name = spot.name;
    struct stat old{};
    bool existed = false;
    if (fstatat(dir, name.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(old.st_mode)) {
            return Error{spot.display + " is a symbolic link; save writes a regular file in place of a regular file: "
                                        "name the file it points to"};
        }
        if (!S_ISREG(old.st_mode)) return Error{spot.display + " is " + kind_of(old.st_mode) + "; nothing was saved"};
        existed = true;
    } else if (errno != ENOENT) {
        return Error{"cannot inspect " + spot.display + ": " + errno_text(errno)};
    }

    const std::string tmp = "." + name + ".tmp." + random_suffix();
    UniqueFd fd(::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640));
    if (!fd) return Error{"cannot create a temporary file beside " + spot.display + ": " + errno_text(errno)};
    auto fail = [&](const std::string& what, int e) -> Result<Written> {
        ::unlinkat(dir, tmp.c_str(), 0);
        return Error{what + ": " + errno_text(e) + "; nothing was saved"};
    };
    if (existed) {
        // The new file keeps the old one's group and permissions (never
        // writable by others); its owner is whoever saves.
        if (::fchmod(fd.get(), old.st_mode & 0664) != 0) return fail("cannot set the mode of " + spot.display, errno);
        if (::fchown(fd.get(), static_cast<uid_t>(-1), old.st_gid) != 0 && errno != EPERM) {
            return fail("cannot set the group of " + spot.display, errno);
        }
    }
    size_t at = 0;
    while (at < text.size()) {
        const ssize_t w = ::write(fd.get(), text.data() + at, text.size() - at);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fail("cannot write " + spot.display, w < 0 ? errno : EIO);
        at += static_cast<size_t>(w);
    }
    if (::fsync(fd.get()) != 0) return fail("cannot flush " + spot.display, errno);
    if (::close(fd.release()) != 0) return fail("cannot flush " + spot.display, errno);

    Written out;
    if (existed) {
        // The previous file's own inode becomes FILE.bak: linked, then
        // renamed over whatever FILE.bak was, so nothing is copied and no
        // planted FILE.bak is ever written through.
        const std::string bak_tmp = "." + name + ".bak." + random_suffix();
        if (::linkat(dir, name.c_str(), dir, bak_tmp.c_str(), 0) != 0) {
            return fail("cannot keep the previous " + spot.display + " as " + spot.display + ".bak", errno);
        }
        if (::renameat(dir, bak_tmp.c_str(), dir, (name + ".bak").c_str()) != 0) {
            const int e = errno;
            ::unlinkat(dir, bak_tmp.c_str(), 0);
            return fail("cannot keep the previous " + spot.display + " as " + spot.display + ".bak", e);
        }
        out.backup = spot.display + ".bak";
    }
    if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) return fail("cannot replace " + spot.display, errno);
    // The rename is durable once the directory is.
    ::fsync(dir);
    return out;
}

PolicyDirectory PolicyDirectory::open(const std::string& dir) {
    PolicyDirectory d;
    d.path_ = std::filesystem::path(dir).lexically_normal().string();
    while (d.path_.size() > 1 && d.path_.back() == '/') d.path_.pop_back();
    UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (fd) d.fd_ = std::make_shared<const UniqueFd>(std::move(fd));
    if (char* real = ::realpath(dir.c_str(), nullptr); real != nullptr) {
        d.canonical_ = real;
        std::free(real);
    }
    return d;
}

std::optional<std::string> PolicyDirectory::below(const std::string& path) const {
    if (path.empty() || path.front() != '/') return std::nullopt;
    const std::string p = std::filesystem::path(path).lexically_normal().string();
    for (const std::string& base : {path_, canonical_}) {
        if (base.empty()) continue;
        const std::string prefix = base == "/" ? base : base + "/";
        if (p.size() > prefix.size() && p.compare(0, prefix.size(), prefix) == 0) return p.substr(prefix.size());
    }
    return std::nullopt;
}

Result<std::string> PolicyDirectory::relative_part(const std::string& path) const {
    if (!fd_) return Error{"the policy directory " + path_ + " does not exist"};
    if (!path.empty() && path.front() == '/') {
        auto rel = below(path);
        if (!rel) return Error{path + " is not in the policy directory " + path_};
        return *rel;
    }
    if (path.empty()) return Error{"no file named"};
    return path;
}

Result<std::string> PolicyDirectory::read(const std::string& path, size_t max) const {
    auto rel = relative_part(path);
    if (!rel) return Error{rel.error()};
    UniqueFd fd(openat2_beneath(fd_->get(), rel->c_str(), O_PATH | O_CLOEXEC));
    if (!fd) return beneath_error(path, path_, "cannot read the policy file ", errno);
    return read_regular(fd, path, max);
}

Result<FileSpot> PolicyDirectory::spot(const std::string& path) const {
    auto rel = relative_part(path);
    if (!rel) return Error{rel.error()};
    const std::filesystem::path r(*rel);
    FileSpot spot;
    spot.name = r.filename().string();
    spot.display = path;
    if (!valid_component(spot.name)) return Error{path + " does not name a file"};
    const std::string parent = r.parent_path().empty() ? "." : r.parent_path().string();
    spot.dir = UniqueFd(openat2_beneath(fd_->get(), parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!spot.dir) return beneath_error(path, path_, "cannot open the directory of ", errno);
    return spot;
}

}  // namespace sluice::policy
