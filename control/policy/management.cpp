#include "control/policy/management.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

#include "control/policy/address.hpp"
#include "control/policy/names.hpp"
#include "control/policy/rules.hpp"
#include "control/policy/toml_reader.hpp"
#include "control/policy/values.hpp"

namespace sluice::policy {

namespace {

constexpr std::array<std::string_view, 3> kManagementKeys{"addresses", "service", "ethertypes"};
constexpr std::array<std::string_view, 2> kServiceKeys{"protocol", "ports"};

std::optional<Range> read_port(const toml::node& n, DiagnosticSink& sink) {
    if (const auto* i = n.as_integer()) {
        if (i->get() >= 1 && i->get() <= 65535) return Range{static_cast<uint16_t>(i->get()), static_cast<uint16_t>(i->get())};
        sink.error(position_of(n), "ports: " + std::to_string(i->get()) + " is not a port (1 to 65535)");
        return std::nullopt;
    }
    sink.error(position_of(n), "ports: write port numbers, e.g. ports = [22, 443], not " + std::string(type_phrase(n)));
    return std::nullopt;
}

std::string hex(int64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof(buf), "0x%04llx", static_cast<unsigned long long>(v));
    return buf;
}

// Ethertypes that carry the traffic the addresses already sort: listing one
// would hand every frame of that family to the kernel, not only the
// gateway's. VLAN tags are peeled before the ethertype is looked at, so a
// tag's type would never match.
std::optional<std::string> whole_family(int64_t v) {
    switch (v) {
        case 0x0800: return "IPv4";
        case 0x86dd: return "IPv6";
        case 0x0806: return "ARP";
        case 0x8100:
        case 0x88a8: return "a VLAN tag";
        default: return std::nullopt;
    }
}

std::optional<uint16_t> read_ethertype(const toml::node& n, DiagnosticSink& sink) {
    const auto* i = n.as_integer();
    if (i == nullptr) {
        sink.error(position_of(n), "ethertypes: write ethertypes as numbers, e.g. ethertypes = [0x88cc], not " +
                                       std::string(type_phrase(n)));
        return std::nullopt;
    }
    const int64_t v = i->get();
    if (v < 0x0600 || v > 0xffff) {
        sink.error(position_of(n), "ethertypes: " + std::to_string(v) + " (" + (v < 0 ? std::string("negative") : hex(v)) +
                                       ") is not an ethertype (0x0600 to 0xffff), e.g. 0x88cc for LLDP");
        return std::nullopt;
    }
    if (auto family = whole_family(v)) {
        sink.error(position_of(n), "ethertypes: " + hex(v) + " is " + *family +
                                       ", which would send every such frame to the kernel; list the gateway's "
                                       "addresses in addresses instead (ARP and neighbour discovery for them follow)");
        return std::nullopt;
    }
    return static_cast<uint16_t>(v);
}

Service read_service(const toml::table& t, DiagnosticSink& sink) {
    TableReader r(t, "[[management.service]]", sink);
    r.check_keys(kServiceKeys);
    Service s;
    if (r.require("protocol", "e.g. protocol = \"tcp\"")) {
        if (auto name = r.string("protocol")) {
            if (auto p = protocol_by_name(*name)) {
                s.protocol = *p;
            } else {
                r.error("protocol", "protocol: unknown protocol " + quoted(*name) + "; use tcp, udp, icmp, icmpv6 or sctp");
            }
        }
    }
    if (const toml::node* n = r.find("ports")) {
        if (s.protocol != 0 && !protocol_has_ports(s.protocol)) {
            r.error("ports", "ports: protocol " + protocol_name(s.protocol) + " has no ports");
        } else if (const auto* array = n->as_array()) {
            for (const toml::node& e : *array)
                if (auto port = read_port(e, sink)) s.ports.push_back(*port);
        } else if (auto port = read_port(*n, sink)) {
            s.ports.push_back(*port);
        }
        normalise_ranges(s.ports);
    }
    return s;
}

}  // namespace

void read_management(const toml::node* node, Management& out, DiagnosticSink& sink) {
    if (node == nullptr) return;
    const auto* t = node->as_table();
    if (t == nullptr) {
        sink.error(position_of(*node), "management must be a table ([management]), not " + std::string(type_phrase(*node)));
        return;
    }
    TableReader r(*t, "[management]", sink);
    r.check_keys(kManagementKeys);
    if (const toml::node* n = r.find("ethertypes")) {
        if (const auto* array = n->as_array()) {
            for (const toml::node& e : *array)
                if (auto type = read_ethertype(e, sink)) out.ethertypes.push_back(*type);
            std::sort(out.ethertypes.begin(), out.ethertypes.end());
            out.ethertypes.erase(std::unique(out.ethertypes.begin(), out.ethertypes.end()), out.ethertypes.end());
        } else {
            r.error("ethertypes", "ethertypes must be a list of ethertypes, e.g. ethertypes = [0x88cc], not " +
                                      std::string(type_phrase(*n)));
        }
    }
    // A section with only ethertypes (LLDP to the kernel, say) names no
    // address; one with neither would describe no traffic at all.
    const bool addresses_required = !r.has("ethertypes") || r.has("service");
    if (!addresses_required || r.require("addresses", "the gateway's own addresses, e.g. addresses = [\"192.168.1.2\", \"fd00::2\"]")) {
        if (const toml::node* n = r.find("addresses")) {
            const auto* array = n->as_array();
            if (array == nullptr) {
                r.error("addresses", "addresses must be a list of addresses, e.g. [\"192.168.1.2\"]");
            } else {
                for (const toml::node& e : *array) {
                    const auto text = string_value(e, "addresses", "192.168.1.2", sink);
                    if (!text) continue;
                    Parsed<Prefix> p = parse_prefix(*text);
                    if (p.ok()) {
                        out.addresses.push_back(p.value);
                    } else {
                        sink.error(position_of(e), "addresses: " + p.error);
                    }
                }
                normalise_prefixes(out.addresses);
            }
        }
    }
    if (const toml::node* n = r.find("service")) {
        const auto* array = n->as_array();
        if (array == nullptr) {
            r.error("service", "service must be an array of tables: write each as [[management.service]]");
            return;
        }
        for (const toml::node& e : *array) {
            if (const auto* st = e.as_table()) {
                out.services.push_back(read_service(*st, sink));
            } else {
                sink.error(position_of(e), "each service must be a table, not " + std::string(type_phrase(e)));
            }
        }
    }
}

}  // namespace sluice::policy
