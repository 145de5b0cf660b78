// Quantities as operators write them for tc, turned into the integers the
// policy stores.
//
//   rates  "20mbit" (bits/s, SI: k = 1000), "2500kbps" (bytes/s, as tc;
//          warns, with the bit rate, unless written "2500kBps"),
//          "1.5gbit", IEC "kibit"/"kibps" (k = 1024)  -> bytes per second
//   shares "30%" of a parent's rate or ceil             -> parts per million
//   sizes  "64kb" (k = 1024, as tc), "1500b", a bare integer is bytes -> bytes
//   times  "5ms", "250us", "1s"                          -> microseconds
//
// Unit names are case-insensitive. Parsers return a value or a message that
// says what was wrong and what to write; they never throw.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::policy {

template <typename T>
struct Parsed {
    T value{};
    std::string error;  // empty: value is valid
    std::string note;   // a warning to pass on, even when valid

    bool ok() const { return error.empty(); }
    static Parsed failure(std::string message) { return Parsed{T{}, std::move(message), {}}; }
};

// A rate, or a share of the parent's when written as a percentage.
struct RateOrShare {
    uint64_t bytes_per_second = 0;
    uint32_t share_ppm = 0;  // non-zero: a percentage, in parts per million
    bool is_share() const { return share_ppm != 0; }
};

inline constexpr uint32_t kWholeShare = 1'000'000;
// The largest rate accepted: 10 Tbit/s keeps every product with a
// microsecond count or a percentage inside 64 bits.
inline constexpr uint64_t kMaxRate = 1'250'000'000'000ull;

Parsed<uint64_t> parse_rate(std::string_view text);
Parsed<RateOrShare> parse_rate_or_share(std::string_view text);
Parsed<uint64_t> parse_size(std::string_view text);
Parsed<uint32_t> parse_time_us(std::string_view text);

// `share_ppm` of `whole`, rounded down.
uint64_t apply_share(uint64_t whole, uint32_t share_ppm);

// A rate written back for humans in bits, exact when possible: "20mbit",
// "8kbit", "1234bit". Used by messages and the dump.
std::string format_rate(uint64_t bytes_per_second);
// A share as the file writes it: "30%", "12.5%" (exact: at most four
// decimals, as parse_rate_or_share reads them).
std::string format_share(uint32_t share_ppm);
// A rate or a share, as the file writes it.
std::string format_rate_or_share(const RateOrShare& r);
// A size as "64kb"/"1500b" when exact.
std::string format_size(uint64_t bytes);

}  // namespace sluice::policy
