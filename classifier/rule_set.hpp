// A compiled, immutable set of classification rules: packets in, the index of
// the first rule that matches out (kNoRule when none does).
//
// Compiled off the packet path; published to workers by pointer and never
// changed after. For each ingress side it holds one of three lookups, the
// cheapest the rules allow:
//   - a 64-entry DSCP table, when every rule matches on DSCP (and side) alone;
//   - a port/DSCP table (PortDscpTable), when rules add a protocol and one
//     port field and there are few enough of them;
//   - otherwise a pair of rte_acl tries, one per IP family, searched a whole
//     burst at a time, beside exact-match tables (HostTable) for the rules
//     that name only whole addresses. First match wins: rule i gets ACL
//     priority (max - i), and a packet's answer is the lower rule index of
//     the ACL's and the host tables'.
#pragma once

#include <rte_acl.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "classifier/acl_key.hpp"
#include "classifier/host_table.hpp"
#include "classifier/port_dscp_table.hpp"
#include "classifier/rule_spec.hpp"
#include "dataplane/packet_meta.hpp"
#include "common/result.hpp"

namespace sluice::classifier {

inline constexpr uint32_t kMaxClassifyBurst = 256;
// A rule whose lists multiply into more ACL entries than this is refused.
inline constexpr uint64_t kMaxExpansionPerRule = 65536;

// Per-lcore work space for classify(): keys and pointers for one burst.
struct ClassifyScratch {
    AclKey4 key4[kMaxClassifyBurst];
    AclKey6 key6[kMaxClassifyBurst];
    const uint8_t* ptr4[kMaxClassifyBurst];
    const uint8_t* ptr6[kMaxClassifyBurst];
    uint32_t res4[kMaxClassifyBurst];
    uint32_t res6[kMaxClassifyBurst];
    uint16_t pos4[kMaxClassifyBurst];
    uint16_t pos6[kMaxClassifyBurst];
    uint32_t home_src[kMaxClassifyBurst];
    uint32_t home_dst[kMaxClassifyBurst];
};

struct AclContextDeleter {
    void operator()(rte_acl_ctx* c) const { rte_acl_free(c); }
};
using AclContext = std::unique_ptr<rte_acl_ctx, AclContextDeleter>;

class RuleSet {
public:
    enum class Lookup : uint8_t { dscp_table, port_dscp_table, acl };

    // Needs the EAL (rte_acl allocates from DPDK memory). `allow_tables`
    // false forces rte_acl, so tests can compare the lookups on one rule list.
    static Result<std::shared_ptr<const RuleSet>> compile(const std::vector<RuleSpec>& rules,
                                                          bool allow_tables = true);

    // Classifies n (<= kMaxClassifyBurst) packets that entered by `side`:
    // out[i] is the index of the first matching rule, or kNoRule. Malformed
    // and non-IP packets match nothing.
    void classify(Side side, const dataplane::PacketMeta* meta, uint32_t n, uint32_t* out,
                  ClassifyScratch& scratch) const;

    size_t rule_count() const { return rule_count_; }
    bool uses_dscp_table() const { return lookup_ == Lookup::dscp_table; }
    Lookup lookup() const { return lookup_; }
    // ACL entries after expanding lists, over both sides and families.
    size_t acl_entries() const { return acl_entries_; }
    // Addresses in the exact-match host tables, over both sides.
    size_t host_entries() const { return host_entries_; }

private:
    struct PerSide {
        std::array<uint32_t, 64> by_dscp;      // DSCP-only rule sets
        std::unique_ptr<PortDscpTable> ports;  // DSCP + protocol + one port field
        AclContext v4, v6;                     // null when no rule applies to that family
        // Rules on whole addresses only, by family and field.
        HostTable<4> src4, dst4;
        HostTable<16> src6, dst6;
        bool any_hosts4 = false, any_hosts6 = false;
    };
    template <unsigned AddrLen>
    static void find_hosts(const HostTable<AddrLen>& src, const HostTable<AddrLen>& dst,
                           const dataplane::PacketMeta* meta, const uint16_t* pos, uint32_t n, uint32_t* out,
                           ClassifyScratch& s);

    Lookup lookup_ = Lookup::acl;
    size_t rule_count_ = 0;
    size_t acl_entries_ = 0;
    size_t host_entries_ = 0;
    PerSide sides_[2];
};

}  // namespace sluice::classifier
