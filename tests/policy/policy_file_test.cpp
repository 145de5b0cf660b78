// Policy files read and written as a root daemon must: nothing but a regular
// file is read, nothing blocks, nothing is written through a planted name,
// and a policy directory cannot be left by any spelling of a path.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "control/policy/policy_file.hpp"

using namespace sluice::policy;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct TempDir {
    fs::path path;
    explicit TempDir(const char* tag)
        : path(fs::temp_directory_path() / (std::string("sluice-pf-") + tag + "-" + std::to_string(getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
};

void write_file(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("a regular file is read whole") {
    TempDir d("read");
    write_file(d.path / "p.toml", "version = 1\n");
    auto t = read_policy_text((d.path / "p.toml").string());
    REQUIRE(t.ok());
    CHECK(*t == "version = 1\n");
}

TEST_CASE("a FIFO, a device, a directory and an oversized file are refused at once") {
    TempDir d("refuse");
    const auto fifo = d.path / "fifo";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    write_file(d.path / "big", std::string(4096, '#'));
    struct Case {
        std::string path;
        size_t max;
        const char* message;
    };
    const std::vector<Case> cases = {
        {fifo.string(), kMaxPolicyBytes, "is a FIFO"},
        {"/dev/zero", kMaxPolicyBytes, "is a character device"},
        {d.path.string(), kMaxPolicyBytes, "is a directory"},
        {(d.path / "big").string(), 1000, "a policy file may be at most 1000 bytes"},
        {(d.path / "missing").string(), kMaxPolicyBytes, "No such file"},
    };
    for (const auto& c : cases) {
        INFO(c.path);
        const auto start = std::chrono::steady_clock::now();
        auto t = read_policy_text(c.path, c.max);
        CHECK(std::chrono::steady_clock::now() - start < 1s);
        REQUIRE_FALSE(t.ok());
        CHECK(t.error().find(c.message) != std::string::npos);
    }
}

TEST_CASE("a save replaces the file by rename and keeps the old inode as FILE.bak") {
    TempDir d("save");
    const auto target = d.path / "p.toml";
    write_file(target, "old\n");
    struct stat before{};
    REQUIRE(stat(target.c_str(), &before) == 0);
    auto spot = spot_of(target.string());
    REQUIRE(spot.ok());
    auto w = write_atomically(*spot, "new\n");
    REQUIRE(w.ok());
    CHECK(w->backup == target.string() + ".bak");
    CHECK(read_file(target) == "new\n");
    CHECK(read_file(target.string() + ".bak") == "old\n");
    struct stat bak{};
    REQUIRE(stat((target.string() + ".bak").c_str(), &bak) == 0);
    CHECK(bak.st_ino == before.st_ino);  // linked, not copied
    // No temporary file is left beside it.
    size_t files = 0;
    for (const auto& e : fs::directory_iterator(d.path)) files += e.is_regular_file() ? 1 : 0;
    CHECK(files == 2);
}

TEST_CASE("a save never writes through a planted symlink or an attacker's FILE.bak") {
    TempDir d("planted");
    const auto secret = d.path / "secret";
    write_file(secret, "root only\n");
    REQUIRE(chmod(secret.c_str(), 0600) == 0);
    SECTION("the target itself is a symlink: refused, the file it points to unchanged") {
        fs::create_symlink(secret, d.path / "x");
        auto spot = spot_of((d.path / "x").string());
        REQUIRE(spot.ok());
        auto w = write_atomically(*spot, "overwritten\n");
        REQUIRE_FALSE(w.ok());
        CHECK(w.error().find("is a symbolic link") != std::string::npos);
        CHECK(read_file(secret) == "root only\n");
        CHECK_FALSE(fs::exists(d.path / "x.bak"));
    }
    SECTION("FILE.bak planted as a symlink to the secret: replaced, never written through") {
        write_file(d.path / "x", "old\n");
        fs::create_symlink(secret, d.path / "x.bak");
        auto spot = spot_of((d.path / "x").string());
        REQUIRE(spot.ok());
        REQUIRE(write_atomically(*spot, "new\n").ok());
        CHECK(read_file(secret) == "root only\n");
        CHECK_FALSE(fs::is_symlink(d.path / "x.bak"));
        CHECK(read_file(d.path / "x.bak") == "old\n");
    }
    SECTION("a symlink at every name a temporary file could take is never followed") {
        // Temporary names are random and opened O_EXCL|O_NOFOLLOW; the old
        // FILE.tmp.<pid> name is not used at all.
        fs::create_symlink(secret, d.path / ("x.tmp." + std::to_string(getpid())));
        write_file(d.path / "x", "old\n");
        auto spot = spot_of((d.path / "x").string());
        REQUIRE(spot.ok());
        REQUIRE(write_atomically(*spot, "new\n").ok());
        CHECK(read_file(secret) == "root only\n");
        CHECK(read_file(d.path / "x") == "new\n");
    }
}

TEST_CASE("a policy directory cannot be left by any spelling of a path") {
    TempDir d("confine");
    const auto dir = d.path / "policies";
    fs::create_directories(dir / "sub");
    write_file(d.path / "outside.toml", "outside\n");
    write_file(dir / "in.toml", "inside\n");
    fs::create_symlink(d.path / "outside.toml", dir / "escape.toml");
    fs::create_symlink("in.toml", dir / "alias.toml");
    fs::create_symlink(d.path, dir / "up");
    const PolicyDirectory pd = PolicyDirectory::open(dir.string());

    CHECK(pd.below((dir / "in.toml").string()) == std::optional<std::string>("in.toml"));
    CHECK_FALSE(pd.below((dir / ".." / "outside.toml").string()).has_value());
    CHECK_FALSE(pd.below((d.path / "outside.toml").string()).has_value());
    CHECK_FALSE(pd.below("relative.toml").has_value());

    CHECK(*pd.read((dir / "in.toml").string()) == "inside\n");
    CHECK(*pd.read((dir / "alias.toml").string()) == "inside\n");  // a symlink that stays inside
    for (const auto& p : {dir / "escape.toml", dir / "up" / "outside.toml", dir / "sub" / ".." / ".." / "outside.toml"}) {
        INFO(p);
        auto t = pd.read(p.string());
        REQUIRE_FALSE(t.ok());
    }
    auto spot = pd.spot((dir / "up" / "outside.toml").string());
    REQUIRE_FALSE(spot.ok());
    CHECK(spot.error().find("leads out of the policy directory") != std::string::npos);
    auto inside = pd.spot((dir / "sub" / "new.toml").string());
    REQUIRE(inside.ok());
    REQUIRE(write_atomically(*inside, "written\n").ok());
    CHECK(read_file(dir / "sub" / "new.toml") == "written\n");
    CHECK(read_file(d.path / "outside.toml") == "outside\n");
}
