#include "tests/support/pcap_file.hpp"

#include <pcap/pcap.h>

#include <stdexcept>

namespace sluice::test {

void write_pcap(const std::string& path, const std::vector<Bytes>& frames) {
    pcap_t* p = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t* d = pcap_dump_open(p, path.c_str());
    if (d == nullptr) {
        pcap_close(p);
        throw std::runtime_error("cannot write " + path);
    }
    long usec = 0;
    for (const Bytes& f : frames) {
        pcap_pkthdr h{};
        h.ts.tv_sec = 1700000000;
        h.ts.tv_usec = usec++;
        h.caplen = h.len = static_cast<bpf_u_int32>(f.size());
        pcap_dump(reinterpret_cast<u_char*>(d), &h, f.data());
    }
    pcap_dump_close(d);
    pcap_close(p);
}

std::vector<Bytes> read_pcap(const std::string& path) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(path.c_str(), err);
    if (p == nullptr) throw std::runtime_error("cannot read " + path + ": " + err);
    std::vector<Bytes> out;
    pcap_pkthdr* h;
    const u_char* data;
    while (pcap_next_ex(p, &h, &data) == 1) out.emplace_back(data, data + h->caplen);
    pcap_close(p);
    return out;
}

}  // namespace sluice::test
