#include "control/policy/names.hpp"

#include <array>
#include <cctype>

namespace sluice::policy {

namespace {

template <typename T>
struct Named {
    std::string_view name;
    T value;
};

constexpr std::array<Named<uint8_t>, 27> kDscp{{
    {"cs0", 0},   {"be", 0},    {"df", 0},    {"le", 1},    {"cs1", 8},   {"af11", 10}, {"af12", 12},
    {"af13", 14}, {"cs2", 16},  {"af21", 18}, {"af22", 20}, {"af23", 22}, {"cs3", 24},  {"af31", 26},
    {"af32", 28}, {"af33", 30}, {"cs4", 32},  {"af41", 34}, {"af42", 36}, {"af43", 38}, {"cs5", 40},
    {"va", 44},   {"voice-admit", 44},        {"ef", 46},   {"cs6", 48},  {"cs7", 56},  {"lowcost", 1},
}};

constexpr std::array<Named<uint8_t>, 11> kProtocols{{
    {"icmp", 1}, {"igmp", 2}, {"tcp", 6}, {"udp", 17}, {"gre", 47}, {"esp", 50},
    {"ah", 51}, {"icmpv6", 58}, {"ipv6-icmp", 58}, {"sctp", 132}, {"udplite", 136},
}};

constexpr std::array<Named<uint16_t>, 9> kEthertypes{{
    {"ipv4", 0x0800}, {"arp", 0x0806}, {"ipv6", 0x86dd}, {"vlan", 0x8100}, {"qinq", 0x88a8},
    {"pppoe-discovery", 0x8863}, {"pppoe", 0x8864}, {"eapol", 0x888e}, {"lldp", 0x88cc},
}};

// Lengths are relative to the frame with its 14-byte Ethernet header and no
// FCS. Ethernet adds FCS 4 + preamble 8 + gap 12 and pads to 64 (+20). The
// ATM and PTM rows carry the IP packet, so they subtract the Ethernet header
// and add their own encapsulation. Same numbers as the shaper's table.
const std::array<Named<Overhead>, 16> kOverheads{{
    {"raw", {"raw", 0, 0, Framing::none}},
    {"ethernet", {"ethernet", 24, 84, Framing::none}},
    {"ethernet-vlan", {"ethernet-vlan", 28, 88, Framing::none}},
    {"pppoe-ethernet", {"pppoe-ethernet", 32, 84, Framing::none}},
    {"docsis", {"docsis", 4, 64, Framing::none}},
    {"pppoa-vcmux", {"pppoa-vcmux", 10 - 14, 0, Framing::atm}},
    {"pppoa-llc", {"pppoa-llc", 14 - 14, 0, Framing::atm}},
    {"pppoe-vcmux", {"pppoe-vcmux", 32 - 14, 0, Framing::atm}},
    {"pppoe-llcsnap", {"pppoe-llcsnap", 40 - 14, 0, Framing::atm}},
    {"bridged-vcmux", {"bridged-vcmux", 24 - 14, 0, Framing::atm}},
    {"bridged-llcsnap", {"bridged-llcsnap", 32 - 14, 0, Framing::atm}},
    {"pppoe-ptm", {"pppoe-ptm", 30 - 14, 0, Framing::ptm}},
    {"bridged-ptm", {"bridged-ptm", 22 - 14, 0, Framing::ptm}},
    // CAKE's names for the two VDSL2 cases, and its worst-case ATM guess.
    {"pppoe-vdsl", {"pppoe-vdsl", 30 - 14, 0, Framing::ptm}},
    {"bridged-vdsl", {"bridged-vdsl", 22 - 14, 0, Framing::ptm}},
    {"conservative", {"conservative", 48 - 14, 0, Framing::atm}},
}};

bool same_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

template <typename T, size_t N>
std::optional<T> lookup(const std::array<Named<T>, N>& table, std::string_view name) {
    for (const auto& row : table)
        if (same_ignoring_case(row.name, name)) return row.value;
    return std::nullopt;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

std::optional<uint8_t> dscp_by_name(std::string_view name) { return lookup(kDscp, name); }

std::string dscp_name(uint8_t dscp) {
    for (const auto& row : kDscp)
        if (row.value == dscp) return upper(row.name);
    return std::to_string(dscp);
}

std::optional<uint8_t> protocol_by_name(std::string_view name) { return lookup(kProtocols, name); }

std::string protocol_name(uint8_t protocol) {
    for (const auto& row : kProtocols)
        if (row.value == protocol) return std::string(row.name);
    return std::to_string(protocol);
}

bool protocol_has_ports(uint8_t protocol) {
    return protocol == 6 || protocol == 17 || protocol == 132 || protocol == 136;
}

std::optional<uint16_t> ethertype_by_name(std::string_view name) { return lookup(kEthertypes, name); }

std::optional<Overhead> overhead_preset(std::string_view name) { return lookup(kOverheads, name); }

std::string overhead_preset_names() {
    std::string out;
    for (const auto& row : kOverheads) {
        if (!out.empty()) out += ", ";
        out += row.name;
    }
    return out;
}

}  // namespace sluice::policy
