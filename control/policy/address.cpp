#include "control/policy/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace sluice::policy {

namespace {

std::string quoted_text(std::string_view s) { return "\"" + std::string(s) + "\""; }

uint32_t bits_of(uint8_t version) { return version == 4 ? 32 : 128; }

void clear_host_bits(Prefix& p) {
    const uint32_t bytes = bits_of(p.version) / 8;
    for (uint32_t i = 0; i < bytes; ++i) {
        const uint32_t first_bit = i * 8;
        if (first_bit >= p.length) {
            p.addr[i] = 0;
        } else if (first_bit + 8 > p.length) {
            p.addr[i] &= static_cast<uint8_t>(0xff << (8 - (p.length - first_bit)));
        }
    }
}

}  // namespace

bool Prefix::contains(const Prefix& other) const {
    if (version != other.version || other.length < length) return false;
    const uint32_t whole = length / 8, rest = length % 8;
    for (uint32_t i = 0; i < whole; ++i)
        if (addr[i] != other.addr[i]) return false;
    if (rest == 0) return true;
    const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (addr[whole] & mask) == (other.addr[whole] & mask);
}

Parsed<Prefix> parse_prefix(std::string_view text) {
    const size_t slash = text.find('/');
    const std::string address(text.substr(0, slash));
    Prefix p;
    if (inet_pton(AF_INET, address.c_str(), p.addr.data()) == 1) {
        p.version = 4;
    } else if (inet_pton(AF_INET6, address.c_str(), p.addr.data()) == 1) {
        p.version = 6;
    } else {
        return Parsed<Prefix>::failure(quoted_text(text) +
                                       " is not an IPv4 or IPv6 address; write e.g. \"192.0.2.0/24\" or "
                                       "\"2001:db8::/32\"");
    }
    const uint32_t max = bits_of(p.version);
    uint32_t length = max;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
        if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty() || length > max)
            return Parsed<Prefix>::failure("prefix length in " + quoted_text(text) + " must be 0 to " +
                                           std::to_string(max));
    }
    p.length = static_cast<uint8_t>(length);
    Prefix network = p;
    clear_host_bits(network);
    if (network != p)
        return Parsed<Prefix>::failure(quoted_text(text) + " has host bits set; did you mean " +
                                       quoted_text(format_prefix(network)) + "?");
    return Parsed<Prefix>{p, {}, {}};
}

std::string format_prefix(const Prefix& p) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(p.version == 4 ? AF_INET : AF_INET6, p.addr.data(), buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(p.length);
}

void normalise_prefixes(std::vector<Prefix>& prefixes) {
    // Sorted by (version, address, length), a prefix that contains later ones
    // comes first; one pass then drops every prefix inside the last kept one.
    std::sort(prefixes.begin(), prefixes.end(), [](const Prefix& a, const Prefix& b) {
        if (a.version != b.version) return a.version < b.version;
        if (a.addr != b.addr) return a.addr < b.addr;
        return a.length < b.length;
    });
    std::vector<Prefix> kept;
    kept.reserve(prefixes.size());
    for (const Prefix& p : prefixes)
        if (kept.empty() || !kept.back().contains(p)) kept.push_back(p);
    prefixes = std::move(kept);
}

}  // namespace sluice::policy
