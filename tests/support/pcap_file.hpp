// Reading and writing pcap files with libpcap, for dataplane fixtures.
#pragma once

#include <string>
#include <vector>

#include "tests/support/frame_builder.hpp"

namespace sluice::test {

void write_pcap(const std::string& path, const std::vector<Bytes>& frames);
std::vector<Bytes> read_pcap(const std::string& path);

}  // namespace sluice::test
