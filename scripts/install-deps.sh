#!/bin/sh
# Installs every package Sluice needs to build, test and run its demo on Debian 12.
# Idempotent: packages already present are left alone, and apt's index is only
# refreshed when something is missing.
set -eu

PACKAGES="
build-essential pkg-config meson ninja-build
libdpdk-dev dpdk dpdk-dev
libbpf-dev libelf-dev zlib1g-dev clang llvm bpftool
libclang-rt-14-dev
libboost-program-options-dev libspdlog-dev libfmt-dev catch2
libtomlplusplus-dev nlohmann-json3-dev libpcap-dev libsystemd-dev
iproute2 iputils-ping iperf3 irtt tcpdump tshark tcpreplay python3-scapy python3-matplotlib
procps psmisc ethtool bash-completion systemd
"

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: must run as root (apt-get install needs it)" >&2
    exit 1
fi

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer for it.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
