/* The maps of the management XDP program (bpf/management.bpf.c), shared with
 * the C++ side that fills them. Plain C: the BPF program includes it too. */
#ifndef SLUICE_BPF_MANAGEMENT_H
#define SLUICE_BPF_MANAGEMENT_H

#include <linux/types.h>

/* mgmt_addrs (LPM trie): the gateway's own prefixes. IPv4 is stored as an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d), its prefix length plus 96. */
struct sluice_mgmt_addr_key {
    __u32 prefixlen;
    __u8 addr[16];
};

/* mgmt_services (hash): protocol and destination port (host byte order) of
 * the services that go to the kernel; port 0 stands for every port of the
 * protocol (and for protocols without ports, such as ICMP). */
struct sluice_mgmt_service_key {
    __u8 protocol;
    __u8 pad;
    __u16 port;
};

/* mgmt_config (array, one entry). */
#define SLUICE_MGMT_SERVICES_LISTED 1u /* only the listed services go to the kernel */
struct sluice_mgmt_config {
    __u32 flags;
};

/* mgmt_ethertypes (hash): ethertypes (host byte order) that always go to
 * the kernel, such as LLDP (0x88cc). */

/* Per-CPU counters, one per verdict (mgmt_counters, per-CPU array). */
enum sluice_mgmt_verdict {
    SLUICE_MGMT_TO_KERNEL = 0,      /* management traffic: XDP_PASS */
    SLUICE_MGMT_TO_SOCKET = 1,      /* redirected to the AF_XDP socket of its queue */
    SLUICE_MGMT_NO_SOCKET = 2,      /* no socket on its queue: passed to the kernel */
    SLUICE_MGMT_MALFORMED = 3,      /* headers cut short: redirected, the data plane counts it */
    SLUICE_MGMT_VERDICTS = 4,
};

#endif
