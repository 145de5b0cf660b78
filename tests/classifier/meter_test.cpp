// Policers against the definitions of RFC 2697 (srTCM) and RFC 2698 (trTCM):
// hand-worked sequences with exact colours, then long random sequences
// checked packet by packet against a model written from the RFC text.
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include <rte_cycles.h>

#include "classifier/meter.hpp"
#include "tests/support/test_eal.hpp"

using namespace sluice::classifier;
using sluice::test::ensure_eal;

namespace {

constexpr uint64_t kStart = 1'000'000'000;  // an arbitrary TSC value to start from

// Ticks after which `bytes` tokens have been added at the committed rate.
uint64_t cir_ticks(const MeterProfile& p, uint64_t bytes) {
    const auto& pr = p.params().kind == MeterParams::Kind::srtcm ? p.srtcm().cir_period : p.trtcm().cir_period;
    const auto& per = p.params().kind == MeterParams::Kind::srtcm ? p.srtcm().cir_bytes_per_period
                                                                   : p.trtcm().cir_bytes_per_period;
    return (bytes + per - 1) / per * pr;
}

// RFC 2697 as written: Tc and Te start full; each tick adds to Tc, and what Tc
// cannot hold goes to Te. The tick (period, tokens per tick) is the profile's.
struct SrTcmModel {
    uint64_t cbs, ebs, period, per_tick, tc, te, last;
    Color check(uint64_t t, uint32_t b, Color pre, bool aware) {
        const uint64_t ticks = (t - last) / period;
        last += ticks * period;
        for (uint64_t i = 0; i < ticks && (tc < cbs || te < ebs); ++i) {
            for (uint64_t k = 0; k < per_tick; ++k) {
                if (tc < cbs) ++tc;
                else if (te < ebs) ++te;
            }
        }
        if ((!aware || pre == Color::green) && tc >= b) { tc -= b; return Color::green; }
        if ((!aware || pre != Color::red) && te >= b) { te -= b; return Color::yellow; }
        return Color::red;
    }
};

// RFC 2698 as written: Tp fills at PIR up to PBS, Tc at CIR up to CBS.
struct TrTcmModel {
    uint64_t cbs, pbs, cperiod, cper, pperiod, pper, tc, tp, tlast_c, tlast_p;
    Color check(uint64_t t, uint32_t b, Color pre, bool aware) {
        uint64_t n = (t - tlast_c) / cperiod;
        tlast_c += n * cperiod;
        tc = std::min(cbs, tc + n * cper);
        n = (t - tlast_p) / pperiod;
        tlast_p += n * pperiod;
        tp = std::min(pbs, tp + n * pper);
        if ((aware && pre == Color::red) || tp < b) return Color::red;
        if ((aware && pre == Color::yellow) || tc < b) { tp -= b; return Color::yellow; }
        tp -= b;
        tc -= b;
        return Color::green;
    }
};

}  // namespace

TEST_CASE("srTCM colours a hand-worked sequence exactly as RFC 2697 says") {
    ensure_eal();
    MeterParams p;
    p.cir = 1'000'000;
    p.cbs = 3000;
    p.ebs = 2000;
    auto prof = MeterProfile::make(p);
    REQUIRE(prof.ok());
    Meter m(*prof, kStart);
    uint64_t t = kStart;
    CHECK(m.check(*prof, t, 1500) == Color::green);   // Tc 3000 -> 1500
    CHECK(m.check(*prof, t, 1500) == Color::green);   // Tc -> 0
    CHECK(m.check(*prof, t, 1500) == Color::yellow);  // Te 2000 -> 500
    CHECK(m.check(*prof, t, 1500) == Color::red);     // neither bucket holds 1500
    CHECK(m.check(*prof, t, 500) == Color::yellow);   // Te -> 0
    CHECK(m.check(*prof, t, 64) == Color::red);
    t += cir_ticks(*prof, 1000);                      // 1 ms at 1 MB/s refills 1000 bytes of Tc
    CHECK(m.check(*prof, t, 1000) == Color::green);
    CHECK(m.check(*prof, t, 1) == Color::red);
    t += cir_ticks(*prof, 10000);                     // Tc fills to 3000, the rest overflows into Te
    CHECK(m.check(*prof, t, 3000) == Color::green);
    CHECK(m.check(*prof, t, 2000) == Color::yellow);
    CHECK(m.check(*prof, t, 1) == Color::red);
}

TEST_CASE("trTCM colours a hand-worked sequence exactly as RFC 2698 says") {
    ensure_eal();
    MeterParams p;
    p.kind = MeterParams::Kind::trtcm;
    p.cir = 1'000'000;
    p.cbs = 2000;
    p.pir = 2'000'000;
    p.pbs = 4000;
    auto prof = MeterProfile::make(p);
    REQUIRE(prof.ok());
    Meter m(*prof, kStart);
    const uint64_t t = kStart;
    CHECK(m.check(*prof, t, 1500) == Color::green);   // Tp 4000->2500, Tc 2000->500
    CHECK(m.check(*prof, t, 1500) == Color::yellow);  // Tc short: Tp 2500->1000
    CHECK(m.check(*prof, t, 1500) == Color::red);     // Tp short
    CHECK(m.check(*prof, t, 1000) == Color::yellow);  // Tp 1000->0, Tc 500 short
    CHECK(m.check(*prof, t, 100) == Color::red);
}

TEST_CASE("colour-aware meters never promote a packet's colour") {
    ensure_eal();
    for (auto kind : {MeterParams::Kind::srtcm, MeterParams::Kind::trtcm}) {
        MeterParams p;
        p.kind = kind;
        p.color_aware = true;
        p.cir = 1'000'000;
        p.cbs = p.ebs = p.pbs = 100000;
        p.pir = 2'000'000;
        auto prof = MeterProfile::make(p);
        REQUIRE(prof.ok());
        Meter m(*prof, kStart);
        // Plenty of tokens: the pre-colour is all that decides.
        CHECK(m.check(*prof, kStart, 100, Color::green) == Color::green);
        CHECK(m.check(*prof, kStart, 100, Color::yellow) == Color::yellow);
        CHECK(m.check(*prof, kStart, 100, Color::red) == Color::red);
    }
}

TEST_CASE("meters match the RFC models packet by packet over random traffic") {
    ensure_eal();
    std::mt19937_64 rng(2697);
    for (auto kind : {MeterParams::Kind::srtcm, MeterParams::Kind::trtcm}) {
        for (bool aware : {false, true}) {
            MeterParams p;
            p.kind = kind;
            p.color_aware = aware;
            p.cir = 1'250'000;  // 10 Mbit/s
            p.cbs = 15000;
            p.ebs = 30000;
            p.pir = 2'500'000;
            p.pbs = 30000;
            auto prof = MeterProfile::make(p);
            REQUIRE(prof.ok());
            Meter m(*prof, kStart);
            SrTcmModel s{p.cbs, p.ebs, prof->srtcm().cir_period, prof->srtcm().cir_bytes_per_period,
                         p.cbs, p.ebs, kStart};
            const auto& tp = prof->trtcm();
            TrTcmModel r{p.cbs, p.pbs, tp.cir_period, tp.cir_bytes_per_period, tp.pir_period,
                         tp.pir_bytes_per_period, p.cbs, p.pbs, kStart, kStart};
            uint64_t t = kStart;
            unsigned counts[3] = {};
            for (int i = 0; i < 20000; ++i) {
                t += rng() % 1'000'000;  // ~0.25 ms apart at GHz TSC rates: above CIR and PIR on average
                const auto len = static_cast<uint32_t>(64 + rng() % 1455);
                const auto pre = static_cast<Color>(rng() % 3);
                const Color want = kind == MeterParams::Kind::srtcm ? s.check(t, len, pre, aware)
                                                                    : r.check(t, len, pre, aware);
                const Color got = m.check(*prof, t, len, pre);
                INFO("packet " << i << " kind " << int(kind) << " aware " << aware);
                REQUIRE(got == want);
                ++counts[static_cast<int>(got)];
            }
            // The traffic must actually exercise every colour.
            CHECK(counts[0] > 0);
            CHECK(counts[1] > 0);
            CHECK(counts[2] > 0);
        }
    }
}

TEST_CASE("a packet-rate meter counts packets, whatever their size") {
    ensure_eal();
    MeterParams p;
    p.unit = MeterParams::Unit::packets;
    p.cir = 100;  // packets per second
    p.cbs = 10;
    p.ebs = 0;
    auto prof = MeterProfile::make(p);
    REQUIRE(prof.ok());
    Meter m(*prof, kStart);
    for (int i = 0; i < 10; ++i) CHECK(m.check(*prof, kStart, 1500) == Color::green);
    CHECK(m.check(*prof, kStart, 64) == Color::red);
    const uint64_t later = kStart + cir_ticks(*prof, 5);  // 50 ms: five packets' worth
    for (int i = 0; i < 5; ++i) CHECK(m.check(*prof, later, 9000) == Color::green);
    CHECK(m.check(*prof, later, 64) == Color::red);
}

TEST_CASE("meter parameters that cannot work are refused with a reason") {
    ensure_eal();
    MeterParams p;
    CHECK_FALSE(MeterProfile::make(p).ok());  // no rate
    p.cir = 1000;
    CHECK_FALSE(MeterProfile::make(p).ok());  // no burst
    p.cbs = 1500;
    p.kind = MeterParams::Kind::trtcm;
    p.pir = 500;
    p.pbs = 1500;
    auto r = MeterProfile::make(p);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("peak rate") != std::string::npos);
}

TEST_CASE("colour-aware pre-colour comes from the AF drop precedence") {
    struct Case { uint8_t dscp; Color color; };
    const Case cases[] = {
        {10, Color::green}, {12, Color::yellow}, {14, Color::red},    // AF11 AF12 AF13
        {18, Color::green}, {20, Color::yellow}, {22, Color::red},    // AF2x
        {34, Color::green}, {36, Color::yellow}, {38, Color::red},    // AF4x
        {0, Color::green}, {46, Color::green}, {8, Color::green},     // BE, EF, CS1
        {48, Color::green}, {44, Color::green},                       // CS6, VOICE-ADMIT
    };
    for (const auto& c : cases) {
        INFO("dscp " << int(c.dscp));
        CHECK(color_from_dscp(c.dscp) == c.color);
    }
}

TEST_CASE("a meter keeps its rate on the caller's clock when that is not DPDK's TSC figure") {
    ensure_eal();
    // The caller's TSC runs at 90% of what DPDK believes; 1 MB/s committed.
    const uint64_t tick_hz = rte_get_tsc_hz() / 10 * 9;
    MeterParams p;
    p.cir = 1'000'000;
    p.cbs = 3000;
    p.ebs = 0;
    auto prof = MeterProfile::make(p, tick_hz);
    REQUIRE(prof.ok());
    Meter m(*prof, kStart);
    // 1000-byte packets every 0.5 ms of the caller's clock (2 MB/s) for 10 s.
    uint64_t green_bytes = 0;
    for (uint64_t i = 0; i < 20'000; ++i) {
        const uint64_t t = kStart + i * tick_hz / 2000;
        if (m.check(*prof, t, 1000) == Color::green) green_bytes += 1000;
    }
    INFO("green " << green_bytes << " bytes in 10 s");
    CHECK(green_bytes >= 9'990'000);
    CHECK(green_bytes <= 10'010'000);
}
