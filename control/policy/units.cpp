#include "control/policy/units.hpp"

#include <array>
#include <cctype>

namespace sluice::policy {

namespace {

__extension__ using Wide = unsigned __int128;

// One row per unit name: value = number * scale / divisor.
struct Unit {
    std::string_view name;
    uint64_t scale;
    uint64_t divisor;
};

// Rates in bytes per second. The "bit" family divides by 8.
constexpr std::array kRateUnits{
    Unit{"bit", 1, 8},
    Unit{"kbit", 1'000, 8},
    Unit{"mbit", 1'000'000, 8},
    Unit{"gbit", 1'000'000'000, 8},
    Unit{"tbit", 1'000'000'000'000, 8},
    Unit{"kibit", 1ull << 10, 8},
    Unit{"mibit", 1ull << 20, 8},
    Unit{"gibit", 1ull << 30, 8},
    Unit{"tibit", 1ull << 40, 8},
    Unit{"bps", 1, 1},
    Unit{"kbps", 1'000, 1},
    Unit{"mbps", 1'000'000, 1},
    Unit{"gbps", 1'000'000'000, 1},
    Unit{"tbps", 1'000'000'000'000, 1},
    Unit{"kibps", 1ull << 10, 1},
    Unit{"mibps", 1ull << 20, 1},
    Unit{"gibps", 1ull << 30, 1},
    Unit{"tibps", 1ull << 40, 1},
};

// The byte-rate units above, by prefix: how to say them, and the spelling
// with a capital B that marks bytes as meant.
struct ByteRatePrefix {
    std::string_view prefix;
    std::string_view word;
    std::string_view bit_word;
    std::string_view bytes;
};

constexpr std::array kByteRatePrefixes{
    ByteRatePrefix{"", "bytes", "bits", "B"},
    ByteRatePrefix{"k", "kilobytes", "kilobits", "kB"},
    ByteRatePrefix{"m", "megabytes", "megabits", "MB"},
    ByteRatePrefix{"g", "gigabytes", "gigabits", "GB"},
    ByteRatePrefix{"t", "terabytes", "terabits", "TB"},
    ByteRatePrefix{"ki", "kibibytes", "kibibits", "KiB"},
    ByteRatePrefix{"mi", "mebibytes", "mebibits", "MiB"},
    ByteRatePrefix{"gi", "gibibytes", "gibibits", "GiB"},
    ByteRatePrefix{"ti", "tebibytes", "tebibits", "TiB"},
};

// Sizes in bytes; k = 1024 as in tc.
constexpr std::array kSizeUnits{
    Unit{"b", 1, 1},
    Unit{"k", 1ull << 10, 1},
    Unit{"kb", 1ull << 10, 1},
    Unit{"kib", 1ull << 10, 1},
    Unit{"m", 1ull << 20, 1},
    Unit{"mb", 1ull << 20, 1},
    Unit{"mib", 1ull << 20, 1},
    Unit{"g", 1ull << 30, 1},
    Unit{"gb", 1ull << 30, 1},
    Unit{"gib", 1ull << 30, 1},
};

constexpr std::array kTimeUnits{
    Unit{"us", 1, 1},
    Unit{"ms", 1'000, 1},
    Unit{"s", 1'000'000, 1},
};

// A decimal number split into digits and the count of digits after the point.
struct Decimal {
    uint64_t digits = 0;
    uint32_t fraction_digits = 0;
};

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string quoted_text(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// Splits "12.5mbit" into a number and "mbit". Refuses signs, exponents and
// more than 18 significant digits.
bool split_number(std::string_view text, Decimal& number, std::string_view& unit) {
    size_t i = 0;
    bool any_digit = false, point = false;
    for (; i < text.size(); ++i) {
        const char c = text[i];
        if (c >= '0' && c <= '9') {
            if (number.digits > 99'999'999'999'999'999ull) return false;
            number.digits = number.digits * 10 + static_cast<uint64_t>(c - '0');
            if (point) ++number.fraction_digits;
            any_digit = true;
        } else if (c == '.' && !point) {
            point = true;
        } else {
            break;
        }
    }
    if (!any_digit) return false;
    unit = trim(text.substr(i));
    return true;
}

const Unit* find_unit(std::string_view name, const auto& table) {
    const std::string key = lower(name);
    for (const Unit& u : table)
        if (u.name == key) return &u;
    return nullptr;
}

// number * scale / divisor, rounded to nearest; false on overflow of `limit`.
bool scale(const Decimal& n, const Unit& u, uint64_t limit, uint64_t& out) {
    Wide denominator = u.divisor;
    for (uint32_t i = 0; i < n.fraction_digits; ++i) denominator *= 10;
    const Wide numerator = Wide{n.digits} * u.scale;
    const Wide value = (numerator + denominator / 2) / denominator;
    if (value > limit) return false;
    out = static_cast<uint64_t>(value);
    return true;
}

std::string unit_list(const auto& table) {
    std::string out;
    for (const Unit& u : table) {
        if (!out.empty()) out += ", ";
        out += u.name;
    }
    return out;
}

Parsed<uint64_t> parse_with(std::string_view text, const auto& table, std::string_view what,
                            std::string_view example, uint64_t limit) {
    text = trim(text);
    Decimal number;
    std::string_view unit;
    if (!split_number(text, number, unit))
        return Parsed<uint64_t>::failure("\"" + std::string(text) + "\" is not a " + std::string(what) +
                                         "; write a number and a unit, e.g. \"" + std::string(example) + "\"");
    if (unit.empty())
        return Parsed<uint64_t>::failure("\"" + std::string(text) + "\" has no unit; write e.g. \"" +
                                         std::string(example) + "\" (units: " + unit_list(table) + ")");
    const Unit* u = find_unit(unit, table);
    if (u == nullptr)
        return Parsed<uint64_t>::failure("unknown " + std::string(what) + " unit \"" + std::string(unit) +
                                         "\"; use one of " + unit_list(table));
    uint64_t value = 0;
    if (!scale(number, *u, limit, value))
        return Parsed<uint64_t>::failure("\"" + std::string(text) + "\" is too large");
    if (value == 0 && number.digits != 0)
        return Parsed<uint64_t>::failure("\"" + std::string(text) + "\" rounds to zero");
    Parsed<uint64_t> out{value, {}, {}};
    return out;
}

}  // namespace

Parsed<uint64_t> parse_rate(std::string_view text) {
    Parsed<uint64_t> out = parse_with(text, kRateUnits, "rate", "20mbit", kMaxRate);
    if (!out.ok()) return out;
    if (out.value == 0) return Parsed<uint64_t>::failure("a rate must be above zero");
    // tc reads "mbps" as megabytes per second, in any case; people who write
    // it almost always mean megabits. Keep tc's meaning, but say so, with the
    // bit rate it comes to. A capital B ("MBps") says bytes on purpose.
    const std::string_view t = trim(text);
    Decimal number;
    std::string_view unit;
    split_number(t, number, unit);  // cannot fail: parse_with accepted it
    const std::string name = lower(unit);
    if (name.size() < 3 || name.substr(name.size() - 3) != "bps" || unit[unit.size() - 3] == 'B') return out;
    const std::string_view prefix = std::string_view(name).substr(0, name.size() - 3);
    const ByteRatePrefix* p = nullptr;
    for (const ByteRatePrefix& row : kByteRatePrefixes)
        if (row.prefix == prefix) p = &row;
    if (p == nullptr) return out;  // every byte unit has a row; see the table
    const std::string written(t.substr(0, t.size() - unit.size()));
    const std::string_view amount = trim(written);
    std::string_view word = p->word;
    if (amount == "1") word.remove_suffix(1);  // "1 megabyte"
    out.note = quoted_text(t) + " is " + std::string(amount) + " " + std::string(word) +
               " per second (" + format_rate(out.value) + "), as in tc; write " +
               quoted_text(std::string(amount) + std::string(prefix) + "bit") + " for " + std::string(p->bit_word) +
               " per second, or " + quoted_text(std::string(amount) + std::string(p->bytes) + "ps") +
               " to keep bytes without this warning";
    return out;
}

Parsed<RateOrShare> parse_rate_or_share(std::string_view text) {
    const std::string_view t = trim(text);
    if (!t.empty() && t.back() == '%') {
        Decimal number;
        std::string_view rest;
        const std::string_view digits = trim(t.substr(0, t.size() - 1));
        if (!split_number(digits, number, rest) || !rest.empty() || number.fraction_digits > 4)
            return Parsed<RateOrShare>::failure("\"" + std::string(t) +
                                                "\" is not a percentage; write e.g. \"30%\" or \"12.5%\"");
        uint64_t ppm = 0;
        if (!scale(number, Unit{"%", 10'000, 1}, 1'000'000'000ull, ppm) || ppm > kWholeShare || ppm == 0)
            return Parsed<RateOrShare>::failure("\"" + std::string(t) +
                                                "\" is out of range; a share is above 0% and at most 100%");
        return Parsed<RateOrShare>{RateOrShare{0, static_cast<uint32_t>(ppm)}, {}, {}};
    }
    Parsed<uint64_t> rate = parse_rate(text);
    if (!rate.ok()) return Parsed<RateOrShare>::failure(rate.error);
    return Parsed<RateOrShare>{RateOrShare{rate.value, 0}, {}, rate.note};
}

Parsed<uint64_t> parse_size(std::string_view text) {
    return parse_with(text, kSizeUnits, "size", "64kb", 1ull << 40);
}

Parsed<uint32_t> parse_time_us(std::string_view text) {
    Parsed<uint64_t> t = parse_with(text, kTimeUnits, "time", "5ms", 3'600'000'000ull);
    if (!t.ok()) return Parsed<uint32_t>::failure(t.error);
    return Parsed<uint32_t>{static_cast<uint32_t>(t.value), {}, {}};
}

uint64_t apply_share(uint64_t whole, uint32_t share_ppm) {
    return static_cast<uint64_t>(Wide{whole} * share_ppm / kWholeShare);
}

std::string format_rate(uint64_t bytes_per_second) {
    const uint64_t bits = bytes_per_second * 8;  // kMaxRate * 8 fits in 64 bits
    if (bits % 1'000'000'000 == 0 && bits >= 1'000'000'000) return std::to_string(bits / 1'000'000'000) + "gbit";
    if (bits % 1'000'000 == 0 && bits >= 1'000'000) return std::to_string(bits / 1'000'000) + "mbit";
    if (bits % 1'000 == 0 && bits >= 1'000) return std::to_string(bits / 1'000) + "kbit";
    return std::to_string(bits) + "bit";
}

std::string format_share(uint32_t share_ppm) {
    std::string out = std::to_string(share_ppm / 10'000);
    if (uint32_t frac = share_ppm % 10'000; frac != 0) {
        std::string digits = std::to_string(frac);
        digits.insert(0, 4 - digits.size(), '0');
        while (digits.back() == '0') digits.pop_back();
        out += "." + digits;
    }
    return out + "%";
}

std::string format_rate_or_share(const RateOrShare& r) {
    return r.is_share() ? format_share(r.share_ppm) : format_rate(r.bytes_per_second);
}

std::string format_size(uint64_t bytes) {
    if (bytes >= (1ull << 20) && bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "mb";
    if (bytes >= (1ull << 10) && bytes % (1ull << 10) == 0) return std::to_string(bytes >> 10) + "kb";
    return std::to_string(bytes) + "b";
}

}  // namespace sluice::policy
