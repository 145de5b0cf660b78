// The overhead model, the fixed-point buckets and the small tables.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <random>

#include "shaper/class_stats.hpp"
#include "shaper/codel.hpp"
#include "shaper/id_index.hpp"
#include "shaper/overhead.hpp"
#include "shaper/token_bucket.hpp"

using namespace sluice::shaper;

TEST_CASE("wire cost adds the overhead, pads to the minimum unit and rounds up to whole cells", "[shaper][overhead]") {
    struct Case {
        OverheadModel model;
        uint32_t length;
        uint32_t cost;
    };
    const Case cases[] = {
        {{0, 0, Framing::none}, 1500, 1500},
        {{24, 84, Framing::none}, 1514, 1538},  // Ethernet: FCS, preamble, gap
        {{24, 84, Framing::none}, 42, 84},      // padded to the minimum frame
        {{-4, 0, Framing::atm}, 52, 53},        // 48 bytes: exactly one cell
        {{-4, 0, Framing::atm}, 53, 106},       // 49 bytes: a second cell
        {{0, 0, Framing::ptm}, 64, 65},         // 64/65 encoding
        {{0, 0, Framing::ptm}, 65, 67},
    };
    for (const Case& c : cases) {
        INFO("length " << c.length << " overhead " << c.model.overhead);
        CHECK(c.model.wire_cost(c.length) == c.cost);
    }
}

TEST_CASE("overhead presets are found by name and unknown names are not", "[shaper][overhead]") {
    CHECK(overhead_preset("ethernet")->overhead == 24);
    CHECK(overhead_preset("pppoe-llcsnap")->framing == Framing::atm);
    CHECK(!overhead_preset("ethernet2"));
}

TEST_CASE("a bucket profile's fixed-point cost per byte is within 1e-4 of exact from 1 kbit/s to 400 Gbit/s",
          "[shaper][bucket]") {
    for (uint64_t hz : {uint64_t{1'000'000'000}, uint64_t{2'994'000'000}}) {
        for (uint64_t rate : {uint64_t{125}, uint64_t{8'000}, uint64_t{1'250'000}, uint64_t{125'000'000},
                              uint64_t{12'500'000'000}, uint64_t{50'000'000'000}}) {
            const BucketProfile p = BucketProfile::make(hz, rate, 1514);
            const double exact = static_cast<double>(hz) * (1 << kTokenShift) / static_cast<double>(rate);
            INFO("hz " << hz << " rate " << rate);
            CHECK(std::abs(static_cast<double>(p.cost_per_byte) - exact) / exact < 1e-4);
        }
    }
}

TEST_CASE("CoDel's inverse square root is accurate to 1e-6", "[shaper][codel]") {
    for (uint32_t n : {1u, 2u, 3u, 4u, 10u, 100u, 1000u, 65'535u, 1'000'000u}) {
        const double got = static_cast<double>(codel_inv_sqrt_q32(n)) / 4294967296.0;
        INFO("n " << n);
        CHECK(got == Approx(1 / std::sqrt(static_cast<double>(n))).epsilon(1e-6));
    }
}

TEST_CASE("the delay histogram's quantiles are within one bucket of the exact ones", "[shaper][stats]") {
    DelayHistogram h;
    std::mt19937_64 rng(7);
    std::vector<uint64_t> v;
    for (int i = 0; i < 10'000; ++i) {
        v.push_back(rng() % 1'000'000);
        h.record(v.back(), 0);
    }
    std::sort(v.begin(), v.end());
    for (double q : {0.5, 0.99}) {
        const auto exact = static_cast<double>(v[static_cast<size_t>(q * (v.size() - 1))]);
        const auto got = static_cast<double>(h.quantile_ticks(q, 0));
        CHECK(got >= exact);
        CHECK(got <= exact * 1.26);
    }
}

TEST_CASE("the class id index finds, replaces and erases any 32-bit id", "[shaper][index]") {
    IdIndex idx;
    std::map<uint32_t, uint32_t> ref;
    std::mt19937 rng(3);
    for (int i = 0; i < 20'000; ++i) {
        const uint32_t id = rng() % 5'000 * 2654435761u;
        if (rng() % 3 == 0) {
            idx.erase(id);
            ref.erase(id);
        } else {
            idx.insert(id, static_cast<uint32_t>(i));
            ref[id] = static_cast<uint32_t>(i);
        }
    }
    CHECK(idx.size() == ref.size());
    for (const auto& [id, slot] : ref) REQUIRE(idx.find(id) == slot);
    CHECK(idx.find(0xdeadbeef) == IdIndex::kMissing);
}

TEST_CASE("ids numbered in a run are looked up in a plain array, and the index stays right as they thin out",
          "[shaper][index]") {
    IdIndex idx;
    std::map<uint32_t, uint32_t> ref;
    // Counting up from a base, as a provisioning system would.
    for (uint32_t i = 0; i < 100'000; ++i) {
        idx.insert(1'000'000 + i, i);
        ref[1'000'000 + i] = i;
    }
    CHECK(idx.dense());
    // Erasing most of them leaves holes; ids far outside the run end the array.
    std::mt19937 rng(7);
    for (int i = 0; i < 90'000; ++i) {
        const uint32_t id = 1'000'000 + rng() % 100'000;
        idx.erase(id);
        ref.erase(id);
    }
    CHECK(idx.dense());
    for (uint32_t id = 999'000; id < 1'101'000; ++id) {
        const auto it = ref.find(id);
        REQUIRE(idx.find(id) == (it == ref.end() ? IdIndex::kMissing : it->second));
    }
    idx.insert(7, 1);
    idx.insert(0xfffffff0u, 2);
    ref[7] = 1;
    ref[0xfffffff0u] = 2;
    CHECK(!idx.dense());
    CHECK(idx.size() == ref.size());
    for (const auto& [id, slot] : ref) REQUIRE(idx.find(id) == slot);
    CHECK(idx.find(1'000'000 + 100'000) == IdIndex::kMissing);
    // Counting down works too.
    IdIndex down;
    for (uint32_t i = 0; i < 10'000; ++i) down.insert(50'000 - i, i);
    CHECK(down.dense());
    for (uint32_t i = 0; i < 10'000; ++i) REQUIRE(down.find(50'000 - i) == i);
    CHECK(down.find(50'001) == IdIndex::kMissing);
    CHECK(down.find(40'000) == IdIndex::kMissing);
}
