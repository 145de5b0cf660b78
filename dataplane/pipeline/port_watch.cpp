#include "dataplane/pipeline/port_watch.hpp"

#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <spdlog/spdlog.h>

#include "dataplane/kernel_link.hpp"

namespace sluice::dataplane {

std::optional<bool> xdp_program_attached(const std::string& ifname) {
    const unsigned ifindex = if_nametoindex(ifname.c_str());
    if (ifindex == 0) return std::nullopt;
    bpf_xdp_query_opts opts{};
    opts.sz = sizeof(opts);
    if (bpf_xdp_query(static_cast<int>(ifindex), 0, &opts) != 0) return std::nullopt;
    return opts.attach_mode != XDP_ATTACHED_NONE;
}

namespace {

// Drivers whose rx is what arrives on their kernel interface, so that the
// two counters can be compared (a tap port's rx is the kernel's tx).
bool rx_follows_interface(const std::string& driver) {
    return driver == "net_af_xdp" || driver == "net_af_packet" || driver == "net_pcap";
}

PortSample sample(const Port& p) {
    PortSample s;
    s.interface = p.interface();
    const PortStats st = p.stats();
    // A packet the port missed (ring full) still reached it: not a stall.
    s.port_rx = st.rx_packets + st.rx_missed;
    if (s.interface.empty()) {
        s.driver_link_up = p.link_up();
        return s;
    }
    s.link = read_kernel_link(s.interface);
    if (p.driver() == "net_af_xdp") {
        // A failed query says nothing either way: not a reason to alarm.
        if (const auto attached = xdp_program_attached(s.interface)) s.xdp_attached = *attached;
    }
    if (rx_follows_interface(p.driver())) s.kernel_rx = kernel_rx_packets(s.interface);
    return s;
}

}  // namespace

PortWatch::PortWatch(std::vector<const Port*> ports, std::chrono::seconds period) : period_(period) {
    const auto period_s = static_cast<unsigned>(period.count() > 0 ? period.count() : 1);
    for (const Port* p : ports) watched_.push_back({p, DeliveryCheck(3, 3, period_s), PortHealth{}});
    check_all();
    thread_ = std::thread([this] { run(); });
}

PortWatch::~PortWatch() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

PortHealth PortWatch::health(const Port* port) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& w : watched_) {
        if (w.port == port) return w.health;
    }
    return {};
}

void PortWatch::run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!wake_.wait_for(lock, period_, [this] { return stop_; })) {
        lock.unlock();
        check_all();
        lock.lock();
    }
}

void PortWatch::check_all() {
    for (auto& w : watched_) {
        // Sampled without the lock: reading sysfs and netlink takes a while
        // and `status` must not wait for it.
        const PortSample s = sample(*w.port);
        PortHealth h = w.check.update(s);
        PortCondition before;
        {
            std::lock_guard<std::mutex> lock(mu_);
            before = w.health.condition;
            w.health = h;
        }
        if (h.condition == before) continue;
        // One line per change of condition, not one per check.
        if (h.delivering()) {
            spdlog::info("{} port {}: delivering again", w.port->role(), w.port->name());
        } else {
            spdlog::warn("{} port {}: not delivering: {}", w.port->role(), w.port->name(), h.reason);
        }
    }
}

}  // namespace sluice::dataplane
