#include "control/policy/management.hpp"

#include <array>

#include "control/policy/address.hpp"
#include "control/policy/names.hpp"
#include "control/policy/rules.hpp"
#include "control/policy/toml_reader.hpp"
#include "control/policy/values.hpp"

namespace sluice::policy {

namespace {

constexpr std::array<std::string_view, 2> kManagementKeys{"addresses", "service"};
constexpr std::array<std::string_view, 2> kServiceKeys{"protocol", "ports"};

constexpr std::string_view kNotEnforced =
    "[management] is read and kept (policy save writes it back), but sluiced does not enforce it yet: "
    "traffic for these addresses is bridged and shaped like any other";

std::optional<Range> read_port(const toml::node& n, DiagnosticSink& sink) {
    if (const auto* i = n.as_integer()) {
        if (i->get() >= 1 && i->get() <= 65535) return Range{static_cast<uint16_t>(i->get()), static_cast<uint16_t>(i->get())};
        sink.error(position_of(n), "ports: " + std::to_string(i->get()) + " is not a port (1 to 65535)");
        return std::nullopt;
    }
    sink.error(position_of(n), "ports: write port numbers, e.g. ports = [22, 443], not " + std::string(type_phrase(n)));
    return std::nullopt;
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
    // Until the XDP program hands management traffic to the kernel, the
    // section is only carried along; say so rather than let it look active.
    if (!t->empty())
        sink.warning(r.at(), std::string(kNotEnforced));
    r.check_keys(kManagementKeys);
    if (r.require("addresses", "the gateway's own addresses, e.g. addresses = [\"192.168.1.2\", \"fd00::2\"]")) {
        const toml::node* n = r.find("addresses");
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
