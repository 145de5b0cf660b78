// Units as operators write them for tc, and what the policy stores; and the
// spelling-distance guesses behind "did you mean".
#include <catch2/catch.hpp>

#include "control/policy/suggest.hpp"
#include "control/policy/units.hpp"

using namespace sluice::policy;

TEST_CASE("rates in bits per second are SI and become bytes per second") {
    struct Case {
        const char* text;
        uint64_t bytes_per_second;
    } cases[] = {
        {"8bit", 1},
        {"1kbit", 125},
        {"20mbit", 2'500'000},
        {"1.5mbit", 187'500},
        {"1gbit", 125'000'000},
        {"100gbit", 12'500'000'000},
        {"1tbit", 125'000'000'000},
        {"1kibit", 128},
        {"1mibit", 131'072},
        {"20Mbit", 2'500'000},
        {" 20mbit ", 2'500'000},
        {"20 mbit", 2'500'000},
        {"12bit", 2},  // 1.5 bytes rounds to nearest
    };
    for (const Case& c : cases) {
        INFO(c.text);
        const Parsed<uint64_t> r = parse_rate(c.text);
        REQUIRE(r.ok());
        CHECK(r.value == c.bytes_per_second);
    }
}

TEST_CASE("rates in bytes per second follow tc: kbps is kilobytes") {
    CHECK(parse_rate("1bps").value == 1);
    CHECK(parse_rate("2500kbps").value == 2'500'000);
    CHECK(parse_rate("10mbps").value == 10'000'000);
    CHECK(parse_rate("1gbps").value == 1'000'000'000);
    CHECK(parse_rate("1kibps").value == 1'024);
}

TEST_CASE("a byte rate warns, in any case, with the bit rate it means and what to write for bits") {
    struct Case {
        const char* text;
        const char* note;
    };
    const Case cases[] = {
        {"100Mbps", "\"100Mbps\" is 100 megabytes per second (800mbit), as in tc; write \"100mbit\" for megabits "
                    "per second, or \"100MBps\" to keep bytes without this warning"},
        {"2mbps", "\"2mbps\" is 2 megabytes per second (16mbit), as in tc; write \"2mbit\" for megabits per second, "
                  "or \"2MBps\" to keep bytes without this warning"},
        {"2500kbps", "\"2500kbps\" is 2500 kilobytes per second (20mbit), as in tc; write \"2500kbit\" for kilobits "
                     "per second, or \"2500kBps\" to keep bytes without this warning"},
        {"2500Kbps", "\"2500Kbps\" is 2500 kilobytes per second (20mbit), as in tc; write \"2500kbit\" for kilobits "
                     "per second, or \"2500kBps\" to keep bytes without this warning"},
        {"1gbps", "\"1gbps\" is 1 gigabyte per second (8gbit), as in tc; write \"1gbit\" for gigabits per second, "
                  "or \"1GBps\" to keep bytes without this warning"},
        {"1.5 GBPS", nullptr},
        {"1tbps", "\"1tbps\" is 1 terabyte per second (8000gbit), as in tc; write \"1tbit\" for terabits per second, "
                  "or \"1TBps\" to keep bytes without this warning"},
        {"1000bps", "\"1000bps\" is 1000 bytes per second (8kbit), as in tc; write \"1000bit\" for bits per second, "
                    "or \"1000Bps\" to keep bytes without this warning"},
        {"1kibps", "\"1kibps\" is 1 kibibyte per second (8192bit), as in tc; write \"1kibit\" for kibibits per "
                   "second, or \"1KiBps\" to keep bytes without this warning"},
        {"0.5 Mibps", "\"0.5 Mibps\" is 0.5 mebibytes per second (4194304bit), as in tc; write \"0.5mibit\" for "
                      "mebibits per second, or \"0.5MiBps\" to keep bytes without this warning"},
        // A capital B says bytes on purpose: no warning.
        {"2MBps", nullptr},
        {"2500kBps", nullptr},
        {"1KiBps", nullptr},
        {"1000Bps", nullptr},
        // Bits never warn.
        {"20mbit", nullptr},
        {"20Mbit", nullptr},
    };
    for (const Case& c : cases) {
        INFO(c.text);
        const Parsed<uint64_t> r = parse_rate(c.text);
        REQUIRE(r.ok());
        CHECK(r.note == (c.note ? c.note : ""));
    }
    CHECK(parse_rate("2mbps").value == parse_rate("2Mbps").value);
    CHECK(parse_rate("2MBps").value == 2'000'000);
}

TEST_CASE("a byte rate given as a class rate passes the warning on") {
    const Parsed<RateOrShare> r = parse_rate_or_share("2mbps");
    REQUIRE(r.ok());
    CHECK(r.value.bytes_per_second == 2'000'000);
    CHECK_FALSE(r.note.empty());
}

TEST_CASE("bad rates say what to write") {
    CHECK(parse_rate("20").error == "\"20\" has no unit; write e.g. \"20mbit\" (units: bit, kbit, mbit, gbit, tbit, "
                                    "kibit, mibit, gibit, tibit, bps, kbps, mbps, gbps, tbps, kibps, mibps, gibps, tibps)");
    CHECK(parse_rate("-5mbit").error == "\"-5mbit\" is not a rate; write a number and a unit, e.g. \"20mbit\"");
    CHECK(parse_rate("0kbit").error == "a rate must be above zero");
    CHECK(parse_rate("1bit").error == "\"1bit\" rounds to zero");
    CHECK(parse_rate("11tbit").error == "\"11tbit\" is too large");
    CHECK(parse_rate("99999999999999999999gbit").error ==
          "\"99999999999999999999gbit\" is not a rate; write a number and a unit, e.g. \"20mbit\"");
    CHECK(parse_rate("5 mbit/s").error.rfind("unknown rate unit \"mbit/s\"", 0) == 0);
}

TEST_CASE("shares are percentages of the parent, kept in parts per million") {
    CHECK(parse_rate_or_share("30%").value.share_ppm == 300'000);
    CHECK(parse_rate_or_share("12.5%").value.share_ppm == 125'000);
    CHECK(parse_rate_or_share("100%").value.share_ppm == 1'000'000);
    CHECK(parse_rate_or_share("0.0001%").value.share_ppm == 1);
    CHECK(parse_rate_or_share("20mbit").value.bytes_per_second == 2'500'000);
    CHECK_FALSE(parse_rate_or_share("20mbit").value.is_share());
    CHECK(parse_rate_or_share("0%").error == "\"0%\" is out of range; a share is above 0% and at most 100%");
    CHECK(parse_rate_or_share("101%").error == "\"101%\" is out of range; a share is above 0% and at most 100%");
    CHECK(parse_rate_or_share("x%").error == "\"x%\" is not a percentage; write e.g. \"30%\" or \"12.5%\"");
    CHECK(apply_share(2'500'000, 300'000) == 750'000);
    CHECK(apply_share(3, 500'000) == 1);  // rounded down
    CHECK(apply_share(kMaxRate, kWholeShare) == kMaxRate);
}

TEST_CASE("sizes are bytes with binary multiples, as in tc") {
    CHECK(parse_size("1514b").value == 1'514);
    CHECK(parse_size("64kb").value == 65'536);
    CHECK(parse_size("64k").value == 65'536);
    CHECK(parse_size("1.5kb").value == 1'536);
    CHECK(parse_size("2mb").value == 2 * 1'048'576);
    CHECK(parse_size("1gib").value == 1'073'741'824);
    CHECK(parse_size("10kbyte").error ==
          "unknown size unit \"kbyte\"; use one of b, k, kb, kib, m, mb, mib, g, gb, gib");
}

TEST_CASE("times are microseconds") {
    CHECK(parse_time_us("5ms").value == 5'000);
    CHECK(parse_time_us("100ms").value == 100'000);
    CHECK(parse_time_us("250us").value == 250);
    CHECK(parse_time_us("1s").value == 1'000'000);
    CHECK(parse_time_us("0.5ms").value == 500);
    CHECK(parse_time_us("5 minutes").error == "unknown time unit \"minutes\"; use one of us, ms, s");
}

TEST_CASE("rates and sizes are written back exactly") {
    CHECK(format_rate(2'500'000) == "20mbit");
    CHECK(format_rate(125'000'000) == "1gbit");
    CHECK(format_rate(1'312'500) == "10500kbit");
    CHECK(format_rate(1) == "8bit");
    CHECK(format_size(65'536) == "64kb");
    CHECK(format_size(1'514) == "1514b");
    CHECK(format_size(2 * 1'048'576) == "2mb");
}

TEST_CASE("near names are suggested for typos, not for unrelated words") {
    const std::string_view keys[] = {"priority", "parent", "rate", "ceil", "queue"};
    CHECK(edit_distance("pirority", "priority") == 1);  // a swap is one edit
    CHECK(edit_distance("RATE", "rate") == 0);
    CHECK(edit_distance("", "abc") == 3);
    CHECK(nearest("pirority", keys) == "priority");
    CHECK(nearest("rat", keys) == "rate");
    CHECK(nearest("quuee", keys) == "queue");
    CHECK_FALSE(nearest("bandwidth", keys).has_value());
    CHECK_FALSE(nearest("x", keys).has_value());
}
