#include "classifier/rule_set.hpp"

#include <rte_lcore.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstddef>

namespace sluice::classifier {
namespace {

// Field numbers shared by both layouts, then the family-specific ones.
enum HeadField : uint8_t { kProto = 0, kDscp, kFlags, kPcp, kZero8, kHeadFields };

constexpr unsigned kFields4 = kHeadFields + 2 + 2 + 2;   // src, dst, ports, vlan+zero
constexpr unsigned kFields6 = kHeadFields + 8 + 2 + 2;   // 4 words each address
RTE_ACL_RULE_DEF(AclRule4, kFields4);
RTE_ACL_RULE_DEF(AclRule6, kFields6);

rte_acl_field_def def(uint8_t type, uint8_t size, uint8_t field, uint8_t input, size_t offset) {
    return rte_acl_field_def{type, size, field, input, static_cast<uint32_t>(offset)};
}

void head_defs(rte_acl_config& cfg) {
    cfg.defs[kProto] = def(RTE_ACL_FIELD_TYPE_BITMASK, 1, kProto, 0, offsetof(AclKeyHead, proto));
    cfg.defs[kDscp] = def(RTE_ACL_FIELD_TYPE_RANGE, 1, kDscp, 1, offsetof(AclKeyHead, dscp));
    cfg.defs[kFlags] = def(RTE_ACL_FIELD_TYPE_BITMASK, 1, kFlags, 1, offsetof(AclKeyHead, flags));
    cfg.defs[kPcp] = def(RTE_ACL_FIELD_TYPE_RANGE, 1, kPcp, 1, offsetof(AclKeyHead, pcp));
    cfg.defs[kZero8] = def(RTE_ACL_FIELD_TYPE_BITMASK, 1, kZero8, 1, offsetof(AclKeyHead, zero));
}

rte_acl_config config4() {
    rte_acl_config cfg{};
    cfg.num_categories = 1;
    cfg.num_fields = kFields4;
    head_defs(cfg);
    cfg.defs[5] = def(RTE_ACL_FIELD_TYPE_MASK, 4, 5, 2, offsetof(AclKey4, src));
    cfg.defs[6] = def(RTE_ACL_FIELD_TYPE_MASK, 4, 6, 3, offsetof(AclKey4, dst));
    cfg.defs[7] = def(RTE_ACL_FIELD_TYPE_RANGE, 2, 7, 4, offsetof(AclKey4, sport));
    cfg.defs[8] = def(RTE_ACL_FIELD_TYPE_RANGE, 2, 8, 4, offsetof(AclKey4, dport));
    cfg.defs[9] = def(RTE_ACL_FIELD_TYPE_RANGE, 2, 9, 5, offsetof(AclKey4, vlan));
    cfg.defs[10] = def(RTE_ACL_FIELD_TYPE_RANGE, 2, 10, 5, offsetof(AclKey4, zero));
    return cfg;
}

rte_acl_config config6() {
    rte_acl_config cfg{};
    cfg.num_categories = 1;
    cfg.num_fields = kFields6;
    head_defs(cfg);
    for (uint8_t w = 0; w < 4; ++w) {
        cfg.defs[5 + w] = def(RTE_ACL_FIELD_TYPE_MASK, 4, static_cast<uint8_t>(5 + w),
                              static_cast<uint8_t>(2 + w), offsetof(AclKey6, src) + 4u * w);
        cfg.defs[9 + w] = def(RTE_ACL_FIELD_TYPE_MASK, 4, static_cast<uint8_t>(9 + w),
                              static_cast<uint8_t>(6 + w), offsetof(AclKey6, dst) + 4u * w);
    }
    cfg.defs[13] = def(RTE_ACL_FIELD_TYPE_RANGE, 2, 13, 10, offsetof(AclKey6, sport));
    cfg.defs[14] = def(RTE_ACL_FIELD_TYPE_RANGE, 2, 14, 10, offsetof(AclKey6, dport));
    cfg.defs[15] = def(RTE_ACL_FIELD_TYPE_RANGE, 2, 15, 11, offsetof(AclKey6, vlan));
    cfg.defs[16] = def(RTE_ACL_FIELD_TYPE_RANGE, 2, 16, 11, offsetof(AclKey6, zero));
    return cfg;
}

struct Range8 {
    uint8_t lo, hi;
};

// The runs of set bits in a mask of `bits` bits, as inclusive ranges; a full
// mask becomes the field's whole range so that out-of-band values match too.
std::vector<Range8> runs(uint64_t mask, unsigned bits) {
    const uint64_t full = bits == 64 ? ~0ull : (1ull << bits) - 1;
    if ((mask & full) == full) return {{0, 255}};
    std::vector<Range8> out;
    for (unsigned i = 0; i < bits;) {
        if (!((mask >> i) & 1)) {
            ++i;
            continue;
        }
        unsigned j = i;
        while (j + 1 < bits && ((mask >> (j + 1)) & 1)) ++j;
        out.push_back({static_cast<uint8_t>(i), static_cast<uint8_t>(j)});
        i = j + 1;
    }
    return out;
}

uint32_t word(const uint8_t* a) {
    return (static_cast<uint32_t>(a[0]) << 24) | (static_cast<uint32_t>(a[1]) << 16) |
           (static_cast<uint32_t>(a[2]) << 8) | a[3];
}

std::vector<const Prefix*> of_family(const std::vector<Prefix>& list, uint8_t version) {
    std::vector<const Prefix*> out;
    for (const auto& p : list) {
        if (p.version == version) out.push_back(&p);
    }
    return out;
}

bool applies(const RuleSpec& r, Side side) {
    return r.side == SideMatch::any || (r.side == SideMatch::lan) == (side == Side::lan);
}

// Expands one rule for one family into ACL entries (the cross product of its
// lists). Returns false when the rule cannot match this family at all.
template <typename AclRule, unsigned AddrWords>
Result<bool> expand(const RuleSpec& r, uint32_t index, uint8_t version, std::vector<AclRule>& out) {
    if (r.ip_version != 0 && r.ip_version != version) return false;
    const auto src = of_family(r.src, version);
    const auto dst = of_family(r.dst, version);
    if ((!r.src.empty() && src.empty()) || (!r.dst.empty() && dst.empty())) return false;

    const std::vector<PortRange> any_port{PortRange{}};
    const auto& sports = r.src_ports.empty() ? any_port : r.src_ports;
    const auto& dports = r.dst_ports.empty() ? any_port : r.dst_ports;
    const auto dscps = runs(r.dscp, 64);
    const auto pcps = runs(r.pcp, 8);
    if (dscps.empty() || pcps.empty()) return false;  // an empty set matches nothing

    const uint64_t n = std::max<size_t>(src.size(), 1) * std::max<size_t>(dst.size(), 1) * sports.size() *
                       dports.size() * dscps.size() * pcps.size();
    if (n > kMaxExpansionPerRule) {
        return Error{fmt::format("rule {} expands into {} table entries (more than {}): split its "
                                 "address, port or DSCP lists over several rules",
                                 index + 1, n, kMaxExpansionPerRule)};
    }

    AclRule base{};
    base.data.category_mask = 1;
    base.data.priority = static_cast<int32_t>(RTE_ACL_MAX_PRIORITY - index);
    base.data.userdata = index + 1;  // 0 means "no match" to rte_acl
    if (r.protocol) {
        base.field[kProto].value.u8 = *r.protocol;
        base.field[kProto].mask_range.u8 = 0xff;
    }
    uint8_t flags = 0, flag_mask = 0;
    if (r.asks_for_ports()) {
        flags |= key_flag::has_ports;
        flag_mask |= key_flag::has_ports;
    }
    if (r.fragment != FragmentMatch::any) {
        flag_mask |= key_flag::fragment;
        if (r.fragment == FragmentMatch::fragment) flags |= key_flag::fragment;
    }
    base.field[kFlags].value.u8 = flags;
    base.field[kFlags].mask_range.u8 = flag_mask;
    constexpr unsigned kSrc = kHeadFields, kDst = kHeadFields + AddrWords;
    constexpr unsigned kSport = kDst + AddrWords, kDport = kSport + 1, kVlan = kDport + 1, kZero16 = kVlan + 1;
    base.field[kVlan].value.u16 = r.vlan ? r.vlan->lo : 0;
    base.field[kVlan].mask_range.u16 = r.vlan ? r.vlan->hi : 0xffff;
    base.field[kZero16].mask_range.u16 = 0xffff;

    auto set_addr = [](AclRule& e, unsigned first, const Prefix* p) {
        for (unsigned w = 0; w < AddrWords; ++w) {
            const int bits = p ? static_cast<int>(p->length) - 32 * static_cast<int>(w) : 0;
            e.field[first + w].value.u32 = p ? word(p->addr + 4 * w) : 0;
            e.field[first + w].mask_range.u32 = static_cast<uint32_t>(std::clamp(bits, 0, 32));
        }
    };
    const std::vector<const Prefix*> any_addr{nullptr};
    for (const Prefix* s : src.empty() ? any_addr : src) {
        for (const Prefix* d : dst.empty() ? any_addr : dst) {
            for (const auto& sp : sports) {
                for (const auto& dp : dports) {
                    for (const auto& ds : dscps) {
                        for (const auto& pc : pcps) {
                            AclRule e = base;
                            set_addr(e, kSrc, s);
                            set_addr(e, kDst, d);
                            e.field[kSport].value.u16 = sp.lo;
                            e.field[kSport].mask_range.u16 = sp.hi;
                            e.field[kDport].value.u16 = dp.lo;
                            e.field[kDport].mask_range.u16 = dp.hi;
                            e.field[kDscp].value.u8 = ds.lo;
                            e.field[kDscp].mask_range.u8 = ds.hi;
                            e.field[kPcp].value.u8 = pc.lo;
                            e.field[kPcp].mask_range.u8 = pc.hi;
                            out.push_back(e);
                        }
                    }
                }
            }
        }
    }
    return true;
}

// `in_acl[i]`: rule i is searched by the ACL (not by the host tables).
template <typename AclRule, unsigned AddrWords>
Result<AclContext> build(const std::vector<RuleSpec>& rules, const std::vector<bool>& in_acl, Side side,
                         uint8_t version, const rte_acl_config& cfg, size_t& entries) {
    std::vector<AclRule> expanded;
    for (uint32_t i = 0; i < rules.size(); ++i) {
        if (!in_acl[i] || !applies(rules[i], side)) continue;
        auto r = expand<AclRule, AddrWords>(rules[i], i, version, expanded);
        if (!r) return Error{r.error()};
    }
    if (expanded.empty()) return AclContext{};
    entries += expanded.size();

    // rte_acl finds contexts by name; every compiled set needs its own.
    static std::atomic<uint64_t> serial{0};
    const std::string name = fmt::format("sl{}{}{}", serial.fetch_add(1), side == Side::lan ? 'l' : 'w', version);
    rte_acl_param param{};
    param.name = name.c_str();
    param.socket_id = static_cast<int>(rte_socket_id());
    param.rule_size = sizeof(AclRule);
    param.max_rule_num = static_cast<uint32_t>(expanded.size());
    AclContext ctx(rte_acl_create(&param));
    if (!ctx) return Error{"cannot create an ACL context (out of DPDK memory?)"};
    int rc = rte_acl_add_rules(ctx.get(), reinterpret_cast<const rte_acl_rule*>(expanded.data()),
                               static_cast<uint32_t>(expanded.size()));
    if (rc != 0) return Error{fmt::format("rte_acl_add_rules failed: {}", rc)};
    rc = rte_acl_build(ctx.get(), &cfg);
    if (rc != 0) return Error{fmt::format("rte_acl_build failed for {} entries: {}", expanded.size(), rc)};
    return ctx;
}

}  // namespace

Result<std::shared_ptr<const RuleSet>> RuleSet::compile(const std::vector<RuleSpec>& rules,
                                                        bool allow_tables) {
    if (rules.size() >= RTE_ACL_MAX_PRIORITY) return Error{"too many rules"};
    auto set = std::shared_ptr<RuleSet>(new RuleSet());
    set->rule_count_ = rules.size();
    bool dscp_only = allow_tables, port_table = allow_tables && rules.size() <= PortDscpTable::kMaxRules;
    for (const auto& r : rules) {
        dscp_only &= r.dscp_only();
        port_table &= PortDscpTable::eligible(r);
    }
    set->lookup_ = dscp_only ? Lookup::dscp_table : port_table ? Lookup::port_dscp_table : Lookup::acl;

    for (Side side : {Side::lan, Side::wan}) {
        PerSide& ps = set->sides_[static_cast<unsigned>(side)];
        ps.by_dscp.fill(kNoRule);
        if (set->lookup_ == Lookup::port_dscp_table) {
            ps.ports = std::make_unique<PortDscpTable>(rules, side);
            continue;
        }
        if (set->lookup_ == Lookup::dscp_table) {
            // Fill from the last rule to the first so the first match wins.
            for (uint32_t i = static_cast<uint32_t>(rules.size()); i-- > 0;) {
                if (!applies(rules[i], side)) continue;
                for (unsigned d = 0; d < 64; ++d) {
                    if ((rules[i].dscp >> d) & 1) ps.by_dscp[d] = i;
                }
            }
            continue;
        }
        // Rules on whole addresses alone go to the host tables, the rest to the ACL.
        std::vector<bool> in_acl(rules.size(), true);
        if (allow_tables) {
            for (uint32_t i = 0; i < rules.size(); ++i) {
                const RuleSpec& r = rules[i];
                if (!host_only(r)) continue;
                in_acl[i] = false;
                if (!applies(r, side)) continue;
                const bool on_src = !r.src.empty();
                for (const Prefix& p : on_src ? r.src : r.dst) {
                    if (r.ip_version != 0 && r.ip_version != p.version) continue;
                    if (p.version == 4)
                        (on_src ? ps.src4 : ps.dst4).add(p.addr, i);
                    else
                        (on_src ? ps.src6 : ps.dst6).add(p.addr, i);
                }
            }
            for (auto* t : {&ps.src4, &ps.dst4}) t->build();
            for (auto* t : {&ps.src6, &ps.dst6}) t->build();
            ps.any_hosts4 = !ps.src4.empty() || !ps.dst4.empty();
            ps.any_hosts6 = !ps.src6.empty() || !ps.dst6.empty();
            set->host_entries_ += ps.src4.size() + ps.dst4.size() + ps.src6.size() + ps.dst6.size();
        }
        static const rte_acl_config cfg4 = config4();
        static const rte_acl_config cfg6 = config6();
        auto v4 = build<AclRule4, 1>(rules, in_acl, side, 4, cfg4, set->acl_entries_);
        if (!v4) return Error{v4.error()};
        auto v6 = build<AclRule6, 4>(rules, in_acl, side, 6, cfg6, set->acl_entries_);
        if (!v6) return Error{v6.error()};
        ps.v4 = std::move(*v4);
        ps.v6 = std::move(*v6);
    }
    return std::shared_ptr<const RuleSet>(std::move(set));
}

void RuleSet::classify(Side side, const dataplane::PacketMeta* meta, uint32_t n, uint32_t* out,
                       ClassifyScratch& s) const {
    const PerSide& ps = sides_[static_cast<unsigned>(side)];
    if (lookup_ == Lookup::dscp_table) {
        for (uint32_t i = 0; i < n; ++i) {
            out[i] = meta[i].is_ip() && !meta[i].malformed() ? ps.by_dscp[meta[i].dscp()] : kNoRule;
        }
        return;
    }
    if (lookup_ == Lookup::port_dscp_table) {
        for (uint32_t i = 0; i < n; ++i) out[i] = ps.ports->lookup(meta[i]);
        return;
    }
    // Packets by family: those a family's ACL or host tables will see.
    const bool want4 = ps.v4 || ps.any_hosts4, want6 = ps.v6 || ps.any_hosts6;
    uint32_t n4 = 0, n6 = 0;
    for (uint32_t i = 0; i < n; ++i) {
        out[i] = kNoRule;
        const auto& m = meta[i];
        if (m.malformed()) continue;
        if (m.l3 == dataplane::L3Kind::ipv4 && want4)
            s.pos4[n4++] = static_cast<uint16_t>(i);
        else if (m.l3 == dataplane::L3Kind::ipv6 && want6)
            s.pos6[n6++] = static_cast<uint16_t>(i);
    }
    if (n4 && ps.v4) {
        for (uint32_t k = 0; k < n4; ++k) {
            fill_key<AclKey4, 4>(s.key4[k], meta[s.pos4[k]]);
            s.ptr4[k] = reinterpret_cast<const uint8_t*>(&s.key4[k]);
        }
        rte_acl_classify(ps.v4.get(), s.ptr4, s.res4, n4, 1);
        for (uint32_t k = 0; k < n4; ++k) out[s.pos4[k]] = s.res4[k] - 1;  // 0 - 1 == kNoRule
    }
    if (n6 && ps.v6) {
        for (uint32_t k = 0; k < n6; ++k) {
            fill_key<AclKey6, 16>(s.key6[k], meta[s.pos6[k]]);
            s.ptr6[k] = reinterpret_cast<const uint8_t*>(&s.key6[k]);
        }
        rte_acl_classify(ps.v6.get(), s.ptr6, s.res6, n6, 1);
        for (uint32_t k = 0; k < n6; ++k) out[s.pos6[k]] = s.res6[k] - 1;
    }
    if (n4 && ps.any_hosts4) find_hosts(ps.src4, ps.dst4, meta, s.pos4, n4, out, s);
    if (n6 && ps.any_hosts6) find_hosts(ps.src6, ps.dst6, meta, s.pos6, n6, out, s);
}

// The host tables for one family's packets, lowering out[] where a host
// rule comes first. All probe lines of the burst are requested before the
// first is read, so their cache misses overlap.
template <unsigned AddrLen>
void RuleSet::find_hosts(const HostTable<AddrLen>& src, const HostTable<AddrLen>& dst,
                         const dataplane::PacketMeta* meta, const uint16_t* pos, uint32_t n, uint32_t* out,
                         ClassifyScratch& s) {
    const bool by_src = !src.empty(), by_dst = !dst.empty();
    for (uint32_t k = 0; k < n; ++k) {
        const dataplane::PacketMeta& m = meta[pos[k]];
        if (by_src) src.prefetch(s.home_src[k] = src.home(m.src_addr));
        if (by_dst) dst.prefetch(s.home_dst[k] = dst.home(m.dst_addr));
    }
    for (uint32_t k = 0; k < n; ++k) {
        const dataplane::PacketMeta& m = meta[pos[k]];
        uint32_t r = out[pos[k]];
        if (by_src) r = std::min(r, src.find(m.src_addr, s.home_src[k]));
        if (by_dst) r = std::min(r, dst.find(m.dst_addr, s.home_dst[k]));
        out[pos[k]] = r;
    }
}

}  // namespace sluice::classifier
