#include "bpf/management_program.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

#include "management.h"
#include "management.skel.h"

namespace sluice::bpf {

Fd::~Fd() {
    if (fd_ >= 0) ::close(fd_);
}

Fd& Fd::operator=(Fd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        o.fd_ = -1;
    }
    return *this;
}

namespace {

// The kernel keeps 15 characters of a program's name: "sluice_manageme".
constexpr char kProgramName[] = "sluice_management";
constexpr size_t kKeptName = BPF_OBJ_NAME_LEN - 1;

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

bool prog_info(int fd, bpf_prog_info& info, std::vector<uint32_t>* map_ids) {
    info = {};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return false;
    if (map_ids == nullptr) return true;
    const uint32_t n = info.nr_map_ids;
    map_ids->assign(n, 0);
    info = {};
    info.nr_map_ids = n;
    info.map_ids = reinterpret_cast<uint64_t>(map_ids->data());
    len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return false;
    map_ids->resize(std::min(n, info.nr_map_ids));
    return true;
}

bool is_ours(const bpf_prog_info& info) {
    return info.type == BPF_PROG_TYPE_XDP && std::strncmp(info.name, kProgramName, kKeptName) == 0;
}

uint32_t max_entries(int map_fd) {
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    return bpf_obj_get_info_by_fd(map_fd, &info, &len) == 0 ? info.max_entries : 0;
}

// The attach mode flag of the program with `id` on the interface, 0 when it
// is not attached there.
uint32_t attached_mode(int ifindex, uint32_t id) {
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    if (bpf_xdp_query(ifindex, 0, &q) != 0) return 0;
    if (q.drv_prog_id == id) return XDP_FLAGS_DRV_MODE;
    if (q.skb_prog_id == id) return XDP_FLAGS_SKB_MODE;
    if (q.hw_prog_id == id) return XDP_FLAGS_HW_MODE;
    return 0;
}

// Detaches the program `fd` (id `id`) from the interface only while it is
// still the one attached there: XDP_FLAGS_REPLACE makes the kernel compare.
int detach_exactly(int ifindex, uint32_t id, int fd) {
    const uint32_t mode = attached_mode(ifindex, id);
    if (mode == 0) return 0;  // gone already (the driver detaches on close)
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = fd);
    return bpf_xdp_detach(ifindex, mode | XDP_FLAGS_REPLACE, &opts);
}

// Map keys as bytes, so that one set type compares them all.
template <typename Key>
std::vector<uint8_t> bytes_of(const Key& k) {
    const auto* p = reinterpret_cast<const uint8_t*>(&k);
    return {p, p + sizeof(Key)};
}
using KeySet = std::set<std::vector<uint8_t>>;

KeySet keys_in(int fd, size_t key_size) {
    KeySet keys;
    std::vector<uint8_t> key(key_size), next(key_size);
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
        keys.insert(next);
        key = next;
        prev = key.data();
    }
    return keys;
}

// Writes `want` into the map, then deletes what else it holds. When old and
// new together do not fit, the stale entries go first: the change is then
// not free of a gap, which only a change of nearly the whole map can cause.
Result<size_t> refill(int fd, size_t key_size, const KeySet& want, uint32_t capacity, const char* what) {
    const KeySet have = keys_in(fd, key_size);
    size_t added = 0;
    for (const auto& k : want) added += have.count(k) == 0;
    const auto remove_stale = [&]() -> Result<size_t> {
        for (const auto& k : have) {
            if (want.count(k) != 0) continue;
            if (bpf_map_delete_elem(fd, k.data()) != 0 && errno != ENOENT)
                return Error{std::string("cannot remove a stale entry from the XDP program's ") + what + " map: " +
                             errno_text(errno)};
        }
        return want.size();
    };
    const bool stale_first = have.size() + added > capacity;
    if (stale_first) {
        auto r = remove_stale();
        if (!r) return r;
    }
    const uint8_t one = 1;
    for (const auto& k : want) {
        if (have.count(k) != 0) continue;
        if (bpf_map_update_elem(fd, k.data(), &one, BPF_ANY) != 0)
            return Error{std::string("cannot add an entry to the XDP program's ") + what + " map: " +
                         errno_text(errno)};
    }
    if (!stale_first) return remove_stale();
    return want.size();
}

}  // namespace

bool is_management_program(uint32_t id) {
    Fd fd(bpf_prog_get_fd_by_id(id));
    if (!fd) return false;
    bpf_prog_info info{};
    return prog_info(fd.get(), info, nullptr) && is_ours(info);
}

Result<std::unique_ptr<ManagementProgram>> ManagementProgram::from_program(Fd prog) {
    bpf_prog_info info{};
    std::vector<uint32_t> map_ids;
    if (!prog_info(prog.get(), info, &map_ids))
        return Error{"cannot read the XDP program's description: " + errno_text(errno)};
    if (!is_ours(info)) return Error{std::string("the XDP program \"") + info.name + "\" is not Sluice's"};
    std::unique_ptr<ManagementProgram> p(new ManagementProgram());
    p->id_ = info.id;
    for (uint32_t map_id : map_ids) {
        Fd fd(bpf_map_get_fd_by_id(map_id));
        if (!fd) return Error{"cannot open a map of the XDP program: " + errno_text(errno)};
        bpf_map_info mi{};
        uint32_t len = sizeof(mi);
        if (bpf_obj_get_info_by_fd(fd.get(), &mi, &len) != 0)
            return Error{"cannot read a map of the XDP program: " + errno_text(errno)};
        const std::string name = mi.name;
        if (name == "mgmt_addrs") p->addresses_ = std::move(fd);
        else if (name == "mgmt_services") p->services_ = std::move(fd);
        else if (name == "mgmt_ethertypes") p->ethertypes_ = std::move(fd);
        else if (name == "mgmt_config") p->config_ = std::move(fd);
        else if (name == "mgmt_counters") p->counters_ = std::move(fd);
        else if (name == "xsks_map") p->sockets_ = std::move(fd);
    }
    if (!p->addresses_ || !p->services_ || !p->ethertypes_ || !p->config_ || !p->counters_ || !p->sockets_)
        return Error{"the XDP program lacks one of its maps; it was built from another version of Sluice"};
    p->prog_ = std::move(prog);
    return p;
}

Result<std::unique_ptr<ManagementProgram>> ManagementProgram::load() {
    management* skel = management__open_and_load();
    if (skel == nullptr) return Error{"cannot load the management XDP program: " + errno_text(errno)};
    Fd prog(dup(bpf_program__fd(skel->progs.sluice_management)));
    // The program holds its maps: they live as long as this fd does.
    management__destroy(skel);
    if (!prog) return Error{"cannot keep the management XDP program: " + errno_text(errno)};
    return from_program(std::move(prog));
}

Result<std::unique_ptr<ManagementProgram>> ManagementProgram::adopt(const std::string& interface) {
    const int ifindex = static_cast<int>(if_nametoindex(interface.c_str()));
    if (ifindex == 0) return Error{"no interface " + interface + ": " + errno_text(errno)};
    uint32_t id = 0;
    if (bpf_xdp_query_id(ifindex, 0, &id) != 0 || id == 0)
        return Error{"no XDP program is attached to " + interface};
    Fd prog(bpf_prog_get_fd_by_id(id));
    if (!prog) return Error{"cannot open the XDP program on " + interface + ": " + errno_text(errno)};
    auto p = from_program(std::move(prog));
    if (!p) return Error{"interface " + interface + ": " + p.error()};
    (*p)->interface_ = interface;
    (*p)->ifindex_ = ifindex;
    return p;
}

ManagementProgram::~ManagementProgram() {
    if (ifindex_ != 0) (void)detach_exactly(ifindex_, id_, prog_.get());
}

ManagementMaps ManagementProgram::maps() const {
    return {addresses_.get(), services_.get(), ethertypes_.get(), config_.get(), counters_.get(), sockets_.get()};
}

Result<size_t> ManagementProgram::apply(const dataplane::ManagementFilter& f) {
    // Every key first, checked against the maps' sizes: nothing changes
    // unless the whole filter fits.
    KeySet addresses, services, ethertypes;
    for (const auto& a : f.addresses) {
        if (a.length > 128) return Error{"management address with prefix length " + std::to_string(a.length) + " (at most 128)"};
        sluice_mgmt_addr_key k{};
        k.prefixlen = a.length;
        // The trie compares only the prefix; zero the host bits so that the
        // key read back is the key written.
        for (unsigned i = 0; i < 16; ++i) {
            const unsigned bits = a.length > i * 8 ? std::min(8u, a.length - i * 8) : 0;
            k.addr[i] = static_cast<uint8_t>(a.addr[i] & (bits == 0 ? 0 : 0xff << (8 - bits)));
        }
        addresses.insert(bytes_of(k));
    }
    const uint32_t service_capacity = max_entries(services_.get());
    for (const auto& s : f.services) {
        if (s.first_port > s.last_port)
            return Error{"management service ports " + std::to_string(s.first_port) + "-" +
                         std::to_string(s.last_port) + " run backwards"};
        // A hash lookup per port is what the program can afford per frame, so
        // a range becomes one key per port.
        for (uint32_t port = s.first_port; port <= s.last_port; ++port) {
            sluice_mgmt_service_key k{};
            k.protocol = s.protocol;
            k.port = static_cast<uint16_t>(port);
            services.insert(bytes_of(k));
            if (services.size() > service_capacity)
                return Error{"the management services name more than " + std::to_string(service_capacity) +
                             " ports, all the XDP program can hold; list fewer ports, or a protocol without ports "
                             "for all of them"};
        }
    }
    for (const uint16_t type : f.ethertypes) ethertypes.insert(bytes_of(type));
    const uint32_t address_capacity = max_entries(addresses_.get());
    if (addresses.size() > address_capacity)
        return Error{std::to_string(addresses.size()) + " management addresses, more than the " +
                     std::to_string(address_capacity) + " the XDP program can hold; use prefixes"};
    const uint32_t ethertype_capacity = max_entries(ethertypes_.get());
    if (ethertypes.size() > ethertype_capacity)
        return Error{std::to_string(ethertypes.size()) + " management ethertypes, more than the " +
                     std::to_string(ethertype_capacity) + " the XDP program can hold"};

    // Additions before the switch to "only listed services", removals after
    // it: a frame that is management in both the old and the new filter
    // finds an entry for it at every moment.
    auto r = refill(addresses_.get(), sizeof(sluice_mgmt_addr_key), addresses, address_capacity, "address");
    if (!r) return r;
    r = refill(ethertypes_.get(), sizeof(uint16_t), ethertypes, ethertype_capacity, "ethertype");
    if (!r) return r;
    const KeySet have_services = keys_in(services_.get(), sizeof(sluice_mgmt_service_key));
    const uint8_t one = 1;
    for (const auto& k : services) {
        if (have_services.count(k) != 0) continue;
        if (have_services.size() + services.size() > service_capacity) break;  // refill below, stale first
        if (bpf_map_update_elem(services_.get(), k.data(), &one, BPF_ANY) != 0)
            return Error{"cannot add an entry to the XDP program's service map: " + errno_text(errno)};
    }
    const uint32_t zero = 0;
    const sluice_mgmt_config config{f.services.empty() ? 0u : SLUICE_MGMT_SERVICES_LISTED};
    if (bpf_map_update_elem(config_.get(), &zero, &config, BPF_ANY) != 0)
        return Error{"cannot write the XDP program's configuration: " + errno_text(errno)};
    r = refill(services_.get(), sizeof(sluice_mgmt_service_key), services, service_capacity, "service");
    if (!r) return r;
    return addresses.size() + services.size() + ethertypes.size();
}

ManagementCounters ManagementProgram::counters() const {
    const int cpus = libbpf_num_possible_cpus();
    std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus > 0 ? cpus : 1));
    std::array<uint64_t, SLUICE_MGMT_VERDICTS> sum{};
    for (uint32_t v = 0; v < SLUICE_MGMT_VERDICTS; ++v) {
        if (bpf_map_lookup_elem(counters_.get(), &v, per_cpu.data()) != 0) continue;
        for (uint64_t n : per_cpu) sum[v] += n;
    }
    return {sum[SLUICE_MGMT_TO_KERNEL], sum[SLUICE_MGMT_TO_SOCKET], sum[SLUICE_MGMT_NO_SOCKET],
            sum[SLUICE_MGMT_MALFORMED]};
}

Result<bool> clear_stale_program(const std::string& interface) {
    const int ifindex = static_cast<int>(if_nametoindex(interface.c_str()));
    if (ifindex == 0) return Error{"no interface " + interface + ": " + errno_text(errno)};
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    if (int rc = bpf_xdp_query(ifindex, 0, &q); rc != 0)
        return Error{"cannot ask which XDP program is on " + interface + ": " + errno_text(rc)};
    bool removed = false;
    for (const uint32_t id : {q.drv_prog_id, q.skb_prog_id, q.hw_prog_id}) {
        if (id == 0) continue;
        Fd fd(bpf_prog_get_fd_by_id(id));
        bpf_prog_info info{};
        if (!fd || !prog_info(fd.get(), info, nullptr))
            return Error{"cannot read the XDP program (id " + std::to_string(id) + ") on " + interface + ": " +
                         errno_text(errno)};
        if (!is_ours(info))
            return Error{"interface " + interface + " already has an XDP program that is not Sluice's (id " +
                         std::to_string(id) + ", name \"" + info.name +
                         "\"); the af_xdp port cannot attach its own. If nothing else needs it, remove it with: "
                         "ip link set dev " + interface + " xdp off"};
        // Left by a run that could not detach it (killed): nobody else
        // attaches a program of this name.
        if (int rc = detach_exactly(ifindex, id, fd.get()); rc != 0)
            return Error{"cannot remove the XDP program a previous run left on " + interface + ": " +
                         errno_text(rc) + "; remove it with: ip link set dev " + interface + " xdp off"};
        removed = true;
    }
    return removed;
}

Result<std::string> write_object_file(const std::string& directory) {
    // The parent (/run/sluice) as the daemon's other files expect it; the
    // object's own directory private to the user that loads programs.
    const std::string parent = directory.substr(0, directory.find_last_of('/'));
    if (!parent.empty() && mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
        return Error{"cannot create " + parent + ": " + errno_text(errno)};
    if (mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST)
        return Error{"cannot create " + directory + ": " + errno_text(errno)};
    struct stat st {};
    if (lstat(directory.c_str(), &st) != 0) return Error{"cannot read " + directory + ": " + errno_text(errno)};
    if (!S_ISDIR(st.st_mode)) return Error{directory + " is not a directory; remove it"};
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return Error{directory + " is writable by others or belongs to another user; the XDP program must not "
                                 "be replaceable there: remove the directory (sluiced makes it again, mode 0700)"};

    size_t size = 0;
    const void* elf = management__elf_bytes(&size);
    std::string tmp = directory + "/.management.bpf.o.XXXXXX";
    Fd fd(mkstemp(tmp.data()));
    if (!fd) return Error{"cannot create a file in " + directory + ": " + errno_text(errno)};
    const auto fail = [&](const std::string& what) -> Result<std::string> {
        const int err = errno;
        unlink(tmp.c_str());
        return Error{"cannot " + what + " " + tmp + ": " + errno_text(err)};
    };
    if (fchmod(fd.get(), 0600) != 0) return fail("set the mode of");
    const auto* p = static_cast<const char*>(elf);
    for (size_t done = 0; done < size;) {
        const ssize_t n = write(fd.get(), p + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail("write");
        done += static_cast<size_t>(n);
    }
    if (fsync(fd.get()) != 0) return fail("write");
    const std::string path = directory + "/management.bpf.o";
    if (rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
    return path;
}

}  // namespace sluice::bpf
