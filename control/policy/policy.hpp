// The compiled policy: what a policy file means, resolved and validated.
//
// One immutable object, built by the loader off the packet path and shared
// by pointer-to-const with everything that reads it (shaper adapter,
// classifier compiler, BPF map filler, sluicectl). Nothing here refers back
// to the TOML text except source lines kept for messages.
//
// Units, everywhere in this file: rates are bytes per second (uint64),
// sizes are bytes, times are microseconds. The file's units ("20mbit",
// "64kb", "5ms", "30%") are resolved by the loader and never seen here.
//
// Layout follows the shaper: classes are a flat vector indexed by class id,
// id 0 is the root (the link), parents are ids, children lists are ids. Rules
// are an ordered vector in their normalised form (sorted, merged ranges and
// prefixes, DSCP as a 64-bit mask), ready for rte_acl or the DSCP table.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "control/policy/units.hpp"

namespace sluice::policy {

// Upload = lan→wan egress (packets that entered on the LAN port), download =
// wan→lan egress. Used as an index into per-direction arrays.
enum class Direction : uint8_t { upload = 0, download = 1 };
inline constexpr size_t kDirectionCount = 2;
constexpr size_t index(Direction d) { return static_cast<size_t>(d); }
constexpr const char* direction_name(Direction d) { return d == Direction::upload ? "upload" : "download"; }

inline constexpr uint32_t kRootClass = 0;
inline constexpr uint32_t kNoClass = UINT32_MAX;  // a rule gives no class for that direction
inline constexpr uint32_t kNoMeter = UINT32_MAX;
inline constexpr uint8_t kPriorityCount = 8;      // priorities 0 (first) .. 7
inline constexpr uint32_t kMaxClassDepth = 16;    // root at depth 0
inline constexpr uint32_t kMaxWeight = 65'535;    // a class's weight, 1..this

// ---------------------------------------------------------------- the link

enum class Framing : uint8_t {
    none,  // bytes as they are
    atm,   // AAL5: whole 48-byte cells, 53 bytes each on the wire
    ptm,   // VDSL2 PTM 64/65: one byte more per started 64 bytes
};

// What one frame costs on the wire, relative to the frame with its Ethernet
// header and without FCS (what the port hands us). Same meaning as the
// shaper's OverheadModel, so the adapter copies the three numbers.
struct Overhead {
    std::string preset;     // the keyword it came from, "" when written out
    int32_t bytes = 0;      // added to every frame, may be negative
    uint32_t mpu = 0;       // minimum packet unit after `bytes`
    Framing framing = Framing::none;
};

struct Link {
    uint64_t rate = 0;  // bytes per second on the wire
    Overhead overhead{};
};

// ---------------------------------------------------------------- classes

enum class QueueKind : uint8_t { fifo, codel, fq_codel };

// The queue of a leaf class. RFC 8289 / RFC 8290 defaults.
struct Queue {
    QueueKind kind = QueueKind::codel;
    uint32_t limit_packets = 1'000;
    uint64_t limit_bytes = 0;        // 0: no byte limit
    uint32_t target_us = 5'000;      // codel, fq_codel
    uint32_t interval_us = 100'000;  // codel, fq_codel
    uint32_t flows = 1'024;          // fq_codel
    uint32_t quantum = 1'514;        // fq_codel, bytes per round
};

struct Class {
    std::string name;
    uint32_t id = 0;
    uint32_t parent = kNoClass;  // kNoClass only for the root
    uint32_t depth = 0;          // root 0
    uint64_t rate = 0;           // assured, bytes per second
    uint64_t ceil = 0;           // maximum when borrowing, bytes per second, >= rate
    uint32_t burst = 0;          // bytes at `rate`
    uint32_t cburst = 0;         // bytes at `ceil`
    uint8_t priority = 4;        // 0..7, 0 is served first; leaves only
    uint32_t weight = 1;         // share among equal priorities when borrowing
    Queue queue{};               // meaningful only when `children` is empty
    std::optional<uint8_t> set_dscp;  // re-mark packets of this class
    std::vector<uint32_t> children;   // ids, in file order
    uint32_t line = 0;                // where it was declared (0: the implicit root)

    // What the file gave, where the values above may also be derived: a
    // share of the parent's rate or ceil, a ceil left to the parent's, a
    // burst left to its rate. The writer writes back only what was given,
    // so a reload (and a live edit, which is one) derives the rest again
    // from the new values instead of freezing the old ones.
    RateOrShare rate_given{};                // a share is of the parent's rate
    std::optional<RateOrShare> ceil_given;   // none: the parent's ceil; a share is of it
    bool burst_given = false;                // else a millisecond at rate plus a frame
    bool cburst_given = false;               // else a millisecond at ceil plus a frame
    bool priority_given = false;
    bool weight_given = false;

    bool is_leaf() const { return children.empty(); }
};

struct ClassTree {
    Link link{};
    std::vector<Class> classes;  // index = id; classes[0] is the root
    uint32_t default_class = kRootClass;
};

// ---------------------------------------------------------------- rules

enum class SideMatch : uint8_t { any, lan, wan };
enum class FragmentMatch : uint8_t { any, fragment, not_fragment };

struct Prefix {
    uint8_t version = 4;    // 4 or 6
    std::array<uint8_t, 16> addr{};  // network order; IPv4 in the first 4 bytes; host bits zero
    uint8_t length = 0;     // bits

    bool contains(const Prefix& other) const;  // same family and other inside this
    friend bool operator==(const Prefix&, const Prefix&) = default;
    friend auto operator<=>(const Prefix&, const Prefix&) = default;
};

// Inclusive range; used for ports and VLAN ids.
struct Range {
    uint16_t lo = 0;
    uint16_t hi = 0;
    friend bool operator==(const Range&, const Range&) = default;
};

inline constexpr uint64_t kAnyDscp = ~0ull;
inline constexpr uint8_t kAnyPcp = 0xff;

// Every field is "any" by default. Lists are alternatives (any of them);
// fields are conjunctions (all of them). Normalised: prefixes and ranges are
// sorted, merged and free of entries covered by others; an IPv4-only or
// IPv6-only address list sets ip_version; ethertype IPv4/IPv6 becomes
// ip_version.
struct Match {
    SideMatch side = SideMatch::any;
    std::optional<Range> vlan;         // outer VLAN id; set: the frame must be tagged
    uint8_t pcp = kAnyPcp;             // bit p: outer-tag PCP p (tagged frames)
    std::optional<uint16_t> ethertype; // non-IP ethertypes only (IP ones become ip_version)
    uint8_t ip_version = 0;            // 0: either
    std::vector<Prefix> src, dst;      // empty: any address
    std::optional<uint8_t> protocol;   // IP protocol / IPv6 next header
    std::vector<Range> src_ports, dst_ports;  // empty: any (and no ports needed)
    uint64_t dscp = kAnyDscp;          // bit d: DSCP d
    FragmentMatch fragment = FragmentMatch::any;
};

struct Action {
    // Class per direction; kNoClass sends the packet to that direction's
    // default class.
    std::array<uint32_t, kDirectionCount> class_id{kNoClass, kNoClass};
    std::optional<uint8_t> set_dscp;
    uint32_t meter = kNoMeter;
};

struct Rule {
    std::string name;  // from the file, or "rule-<n>" (1-based) when unnamed
    Match match;
    Action action;
    uint32_t line = 0;
};

// ---------------------------------------------------------------- meters

enum class MeterKind : uint8_t { srtcm, trtcm };  // RFC 2697, RFC 2698
enum class MeterUnit : uint8_t { bytes, packets };  // what the buckets count
enum class ColourMode : uint8_t { blind, aware };
enum class Verdict : uint8_t { pass, remark, drop };

struct ColourAction {
    Verdict verdict = Verdict::pass;
    uint8_t dscp = 0;  // for remark
};

struct Meter {
    std::string name;
    MeterKind kind = MeterKind::srtcm;
    ColourMode mode = ColourMode::blind;
    // packets: rates are packets per second and bursts packets (as `tc
    // police pkts_rate` counts), whatever the packets' sizes.
    MeterUnit unit = MeterUnit::bytes;
    uint64_t cir = 0;  // bytes per second
    uint64_t cbs = 0;  // bytes
    uint64_t ebs = 0;  // srTCM excess burst, bytes
    bool ebs_given = false;  // else ebs is cbs (RFC 2697 allows it), again after a change of cbs
    uint64_t pir = 0;  // trTCM peak rate, bytes per second
    uint64_t pbs = 0;  // trTCM peak burst, bytes
    ColourAction yellow{Verdict::pass, 0};
    ColourAction red{Verdict::drop, 0};
    uint32_t line = 0;
};

// ---------------------------------------------------------------- management

// Traffic for the gateway itself. A packet goes to the kernel when its
// destination is in `addresses` and, if `services` is not empty, its
// protocol and destination port match one of them.
struct Service {
    uint8_t protocol = 0;
    std::vector<Range> ports;  // empty: every port (or a protocol without ports)
    friend bool operator==(const Service&, const Service&) = default;
};

struct Management {
    std::vector<Prefix> addresses;
    std::vector<Service> services;
    std::vector<uint16_t> ethertypes;  // sorted, no duplicates; host order
    friend bool operator==(const Management&, const Management&) = default;
};

// ---------------------------------------------------------------- the whole

struct Policy {
    std::array<ClassTree, kDirectionCount> directions;
    std::vector<Rule> rules;  // first match wins
    std::vector<Meter> meters;
    Management management;

    const ClassTree& tree(Direction d) const { return directions[index(d)]; }
};

}  // namespace sluice::policy
