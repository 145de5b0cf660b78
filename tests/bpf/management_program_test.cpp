// ManagementProgram (bpf/management_program): a ManagementFilter written
// into the program's maps, read back key by key; a refill that leaves exactly
// the new filter; filters that do not fit refused before anything changes;
// the verdict counters summed over CPUs; the object file written for the
// af_xdp driver.
#include <catch2/catch.hpp>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <tuple>
#include <vector>

#include "bpf/management_program.hpp"
#include "management.h"
#include "tests/support/frame_builder.hpp"

using sluice::bpf::ManagementProgram;
using Filter = sluice::dataplane::ManagementFilter;

namespace {

#define NEEDS_ROOT()                                                \
    if (geteuid() != 0) {                                           \
        WARN("loading an XDP program needs root; not run");         \
        return;                                                     \
    }

template <typename Key>
std::vector<Key> keys_of(int fd) {
    std::vector<Key> keys;
    Key key{}, next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        keys.push_back(next);
        key = next;
        prev = &key;
    }
    return keys;
}

using AddrKey = std::tuple<uint32_t, std::vector<uint8_t>>;
std::set<AddrKey> addresses_in(const ManagementProgram& p) {
    std::set<AddrKey> out;
    for (const auto& k : keys_of<sluice_mgmt_addr_key>(p.maps().addresses))
        out.emplace(k.prefixlen, std::vector<uint8_t>(k.addr, k.addr + 16));
    return out;
}

std::set<std::pair<int, int>> services_in(const ManagementProgram& p) {
    std::set<std::pair<int, int>> out;
    for (const auto& k : keys_of<sluice_mgmt_service_key>(p.maps().services)) out.emplace(k.protocol, k.port);
    return out;
}

std::set<uint16_t> ethertypes_in(const ManagementProgram& p) {
    const auto keys = keys_of<uint16_t>(p.maps().ethertypes);
    return {keys.begin(), keys.end()};
}

uint32_t flags_in(const ManagementProgram& p) {
    const uint32_t zero = 0;
    sluice_mgmt_config c{};
    REQUIRE(bpf_map_lookup_elem(p.maps().config, &zero, &c) == 0);
    return c.flags;
}

Filter::Prefix v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t length) {
    Filter::Prefix p;
    p.addr[10] = p.addr[11] = 0xff;
    p.addr[12] = a, p.addr[13] = b, p.addr[14] = c, p.addr[15] = d;
    p.length = static_cast<uint8_t>(96 + length);
    return p;
}

std::vector<uint8_t> mapped(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}

std::unique_ptr<ManagementProgram> loaded() {
    auto p = ManagementProgram::load();
    INFO((p ? std::string() : p.error()));
    REQUIRE(p);
    return std::move(*p);
}

}  // namespace

TEST_CASE("a management filter is written into the program's maps key by key") {
    NEEDS_ROOT();
    auto p = loaded();
    Filter f;
    f.addresses = {v4(192, 168, 1, 2, 32), v4(10, 0, 0, 0, 8)};
    Filter::Prefix six;
    six.addr = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    six.length = 128;
    f.addresses.push_back(six);
    f.services = {{6, 22, 22}, {6, 9100, 9102}, {1, 0, 0}};
    f.ethertypes = {0x88cc, 0x8809};
    auto r = p->apply(f);
    INFO((r ? std::string() : r.error()));
    REQUIRE(r);
    CHECK(*r == 3 + 5 + 2);

    CHECK(addresses_in(*p) == std::set<AddrKey>{{128, mapped(192, 168, 1, 2)},
                                                {104, mapped(10, 0, 0, 0)},
                                                {128, std::vector<uint8_t>(six.addr.begin(), six.addr.end())}});
    // A port range is one key per port; a protocol without ports is port 0.
    CHECK(services_in(*p) == std::set<std::pair<int, int>>{{6, 22}, {6, 9100}, {6, 9101}, {6, 9102}, {1, 0}});
    CHECK(ethertypes_in(*p) == std::set<uint16_t>{0x88cc, 0x8809});
    CHECK(flags_in(*p) == SLUICE_MGMT_SERVICES_LISTED);
}

TEST_CASE("host bits of a management prefix are not written into the trie") {
    NEEDS_ROOT();
    auto p = loaded();
    Filter f;
    f.addresses = {v4(10, 1, 2, 3, 8)};
    REQUIRE(p->apply(f));
    CHECK(addresses_in(*p) == std::set<AddrKey>{{104, mapped(10, 0, 0, 0)}});
}

TEST_CASE("a refill leaves exactly the new filter in the maps") {
    NEEDS_ROOT();
    auto p = loaded();
    Filter old_filter;
    old_filter.addresses = {v4(192, 168, 1, 2, 32), v4(192, 168, 1, 3, 32)};
    old_filter.services = {{6, 22, 23}};
    old_filter.ethertypes = {0x88cc};
    REQUIRE(p->apply(old_filter));

    Filter next;
    next.addresses = {v4(192, 168, 1, 3, 32), v4(192, 168, 9, 9, 32)};
    next.ethertypes = {0x8809};
    REQUIRE(p->apply(next));
    CHECK(addresses_in(*p) == std::set<AddrKey>{{128, mapped(192, 168, 1, 3)}, {128, mapped(192, 168, 9, 9)}});
    CHECK(services_in(*p).empty());
    CHECK(ethertypes_in(*p) == std::set<uint16_t>{0x8809});
    CHECK(flags_in(*p) == 0);  // no services listed: everything to the addresses

    REQUIRE(p->apply(Filter{}));
    CHECK(addresses_in(*p).empty());
    CHECK(ethertypes_in(*p).empty());
}

TEST_CASE("a refill that swaps nearly the whole service map still ends with the new filter") {
    NEEDS_ROOT();
    auto p = loaded();
    Filter a;
    a.addresses = {v4(192, 168, 1, 2, 32)};
    a.services = {{6, 1, 3000}};
    REQUIRE(p->apply(a));
    Filter b = a;
    b.services = {{17, 1, 3000}};  // old and new together exceed the map's 4096
    auto r = p->apply(b);
    INFO((r ? std::string() : r.error()));
    REQUIRE(r);
    const auto s = services_in(*p);
    CHECK(s.size() == 3000);
    CHECK(s.count({17, 1}) == 1);
    CHECK(s.count({6, 1}) == 0);
}

TEST_CASE("a filter whose service ports exceed the map is refused and changes nothing") {
    NEEDS_ROOT();
    auto p = loaded();
    Filter ok;
    ok.addresses = {v4(192, 168, 1, 2, 32)};
    ok.services = {{6, 22, 22}};
    REQUIRE(p->apply(ok));

    Filter big = ok;
    big.services = {{6, 1, 65535}};
    auto r = p->apply(big);
    REQUIRE_FALSE(r);
    CHECK(r.error() ==
          "the management services name more than 4096 ports, all the XDP program can hold; list fewer ports, "
          "or a protocol without ports for all of them");
    CHECK(services_in(*p) == std::set<std::pair<int, int>>{{6, 22}});

    Filter backwards = ok;
    backwards.services = {{6, 30, 20}};
    auto b = p->apply(backwards);
    REQUIRE_FALSE(b);
    CHECK(b.error() == "management service ports 30-20 run backwards");
}

TEST_CASE("the verdict counters are summed over every CPU") {
    NEEDS_ROOT();
    auto p = loaded();
    Filter f;
    f.addresses = {v4(198, 51, 100, 2, 32)};
    REQUIRE(p->apply(f));
    const auto run = [&](const sluice::test::Bytes& frame) {
        sluice::test::Bytes out(frame.size() + 256);
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
                    .data_size_in = static_cast<__u32>(frame.size()),
                    .data_size_out = static_cast<__u32>(out.size()), .repeat = 1);
        REQUIRE(bpf_prog_test_run_opts(p->program_fd(), &opts) == 0);
    };
    sluice::test::Ipv4Spec own, other;
    const uint8_t own_addr[4] = {198, 51, 100, 2}, other_addr[4] = {198, 51, 100, 9};
    std::memcpy(own.dst, own_addr, 4);
    std::memcpy(other.dst, other_addr, 4);
    for (int i = 0; i < 3; ++i)
        run(sluice::test::ethernet(0x0800, sluice::test::ipv4_datagram(own, sluice::test::udp(1, 53))));
    for (int i = 0; i < 2; ++i)
        run(sluice::test::ethernet(0x0800, sluice::test::ipv4_datagram(other, sluice::test::udp(1, 53))));
    run(sluice::test::ethernet(0x0800, {0x45, 0}));  // an IPv4 header cut short
    const auto c = p->counters();
    CHECK(c.to_kernel == 3);
    // No socket is bound in a test run: the data plane's frames, the cut one
    // too, are passed, and counted as such.
    CHECK(c.no_socket == 3);
    CHECK(c.to_socket == 0);
    CHECK(c.malformed == 0);
}

TEST_CASE("the object file for the af_xdp driver is written whole into a private directory") {
    NEEDS_ROOT();
    char base[] = "/tmp/hx-objXXXXXX";
    REQUIRE(mkdtemp(base) != nullptr);
    const std::string dir = std::string(base) + "/xdp";
    auto path = sluice::bpf::write_object_file(dir);
    INFO((path ? std::string() : path.error()));
    REQUIRE(path);
    CHECK(*path == dir + "/management.bpf.o");
    struct stat st {};
    REQUIRE(stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(stat(path->c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    // It opens as the program, with the map the driver looks for.
    bpf_object* obj = bpf_object__open_file(path->c_str(), nullptr);
    REQUIRE(libbpf_get_error(obj) == 0);
    CHECK(bpf_object__find_map_by_name(obj, "xsks_map") != nullptr);
    CHECK(bpf_object__find_program_by_name(obj, "sluice_management") != nullptr);
    bpf_object__close(obj);

    // A directory others can write to is refused: they could swap the program.
    REQUIRE(chmod(dir.c_str(), 0777) == 0);
    auto refused = sluice::bpf::write_object_file(dir);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().find("writable by others") != std::string::npos);
    std::system(("rm -rf " + std::string(base)).c_str());
}
