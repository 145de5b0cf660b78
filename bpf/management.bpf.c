/* The XDP program on Sluice's af_xdp ports: frames for the gateway itself
 * (its management addresses, optionally only the listed services, ARP and
 * IPv6 neighbour discovery for those addresses, listed ethertypes) go to the
 * kernel; every other frame goes to the AF_XDP socket bound to its rx queue,
 * or to the kernel when no socket is bound there.
 *
 * Headers are read within the verifier's bounds: every access is checked
 * against data_end first, VLAN tags are peeled in a fixed number of steps
 * (two: QinQ), and IPv6 extension headers are not walked (a management
 * packet with them goes to the data plane like any other). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmpv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "management.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, 64);
    __type(key, __u32);
    __type(value, __u32);
} xsks_map SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 1024);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct sluice_mgmt_addr_key);
    __type(value, __u8);
} mgmt_addrs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct sluice_mgmt_service_key);
    __type(value, __u8);
} mgmt_services SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, __u16);
    __type(value, __u8);
} mgmt_ethertypes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct sluice_mgmt_config);
} mgmt_config SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, SLUICE_MGMT_VERDICTS);
    __type(key, __u32);
    __type(value, __u64);
} mgmt_counters SEC(".maps");

struct vlan_hdr {
    __be16 tci;
    __be16 proto;
};

/* ARP for IPv4 over Ethernet. */
struct arp_eth {
    __be16 htype, ptype;
    __u8 hlen, plen;
    __be16 oper;
    __u8 sha[6];
    __u8 spa[4];
    __u8 tha[6];
    __u8 tpa[4];
};

static __always_inline void count(__u32 verdict)
{
    __u64 *n = bpf_map_lookup_elem(&mgmt_counters, &verdict);
    if (n)
        *n += 1;
}

static __always_inline int to_kernel(void)
{
    count(SLUICE_MGMT_TO_KERNEL);
    return XDP_PASS;
}

static __always_inline int to_data_plane(struct xdp_md *ctx, __u32 verdict)
{
    /* XDP_PASS when no socket is bound to this queue. */
    int rc = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
    count(rc == XDP_REDIRECT ? verdict : SLUICE_MGMT_NO_SOCKET);
    return rc;
}

static __always_inline int is_own_v4(__be32 addr)
{
    struct sluice_mgmt_addr_key key = {.prefixlen = 128};
    key.addr[10] = 0xff;
    key.addr[11] = 0xff;
    __builtin_memcpy(&key.addr[12], &addr, 4);
    return bpf_map_lookup_elem(&mgmt_addrs, &key) != NULL;
}

static __always_inline int is_own_v6(const struct in6_addr *addr)
{
    struct sluice_mgmt_addr_key key = {.prefixlen = 128};
    __builtin_memcpy(key.addr, addr, 16);
    return bpf_map_lookup_elem(&mgmt_addrs, &key) != NULL;
}

/* With services listed, only those protocols and destination ports. */
static __always_inline int service_listed(__u8 protocol, __u16 port)
{
    __u32 zero = 0;
    struct sluice_mgmt_config *cfg = bpf_map_lookup_elem(&mgmt_config, &zero);
    if (!cfg || !(cfg->flags & SLUICE_MGMT_SERVICES_LISTED))
        return 1;
    struct sluice_mgmt_service_key key = {.protocol = protocol, .port = port};
    if (port != 0 && bpf_map_lookup_elem(&mgmt_services, &key))
        return 1;
    key.port = 0;
    return bpf_map_lookup_elem(&mgmt_services, &key) != NULL;
}

/* The destination port of a TCP or UDP header at `l4`, 0 for others, -1 when
 * the header is cut short. */
static __always_inline int dst_port(__u8 protocol, void *l4, void *end)
{
    if (protocol == IPPROTO_TCP) {
        struct tcphdr *t = l4;
        if ((void *)(t + 1) > end)
            return -1;
        return bpf_ntohs(t->dest);
    }
    if (protocol == IPPROTO_UDP) {
        struct udphdr *u = l4;
        if ((void *)(u + 1) > end)
            return -1;
        return bpf_ntohs(u->dest);
    }
    return 0;
}

SEC("xdp")
int sluice_management(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end)
        return to_data_plane(ctx, SLUICE_MGMT_MALFORMED);
    __u16 proto = bpf_ntohs(eth->h_proto);
    void *l3 = eth + 1;

    /* Up to two VLAN tags: 802.1ad outside, 802.1Q inside. */
#pragma unroll
    for (int i = 0; i < 2; i++) {
        if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
            break;
        struct vlan_hdr *v = l3;
        if ((void *)(v + 1) > end)
            return to_data_plane(ctx, SLUICE_MGMT_MALFORMED);
        proto = bpf_ntohs(v->proto);
        l3 = v + 1;
    }

    if (bpf_map_lookup_elem(&mgmt_ethertypes, &proto))
        return to_kernel();

    if (proto == ETH_P_ARP) {
        struct arp_eth *a = l3;
        if ((void *)(a + 1) > end)
            return to_data_plane(ctx, SLUICE_MGMT_MALFORMED);
        __be32 target;
        __builtin_memcpy(&target, a->tpa, 4);
        if (a->ptype == bpf_htons(ETH_P_IP) && is_own_v4(target))
            return to_kernel();
        return to_data_plane(ctx, SLUICE_MGMT_TO_SOCKET);
    }

    if (proto == ETH_P_IP) {
        struct iphdr *ip = l3;
        if ((void *)(ip + 1) > end || ip->ihl < 5)
            return to_data_plane(ctx, SLUICE_MGMT_MALFORMED);
        if (!is_own_v4(ip->daddr))
            return to_data_plane(ctx, SLUICE_MGMT_TO_SOCKET);
        /* A fragment after the first has no ports: its protocol decides. */
        int port = 0;
        if (!(ip->frag_off & bpf_htons(0x1fff))) {
            port = dst_port(ip->protocol, (__u8 *)ip + ip->ihl * 4, end);
            if (port < 0)
                return to_data_plane(ctx, SLUICE_MGMT_MALFORMED);
        }
        if (service_listed(ip->protocol, (__u16)port))
            return to_kernel();
        return to_data_plane(ctx, SLUICE_MGMT_TO_SOCKET);
    }

    if (proto == ETH_P_IPV6) {
        struct ipv6hdr *ip6 = l3;
        if ((void *)(ip6 + 1) > end)
            return to_data_plane(ctx, SLUICE_MGMT_MALFORMED);
        /* Neighbour discovery about an own address: solicitations go to a
         * solicited-node multicast address, so the target decides. */
        if (ip6->nexthdr == IPPROTO_ICMPV6) {
            struct icmp6hdr *icmp = (void *)(ip6 + 1);
            if ((void *)(icmp + 1) > end)
                return to_data_plane(ctx, SLUICE_MGMT_MALFORMED);
            if (icmp->icmp6_type == 135 || icmp->icmp6_type == 136) {
                struct in6_addr *target = (void *)(icmp + 1);
                if ((void *)(target + 1) > end)
                    return to_data_plane(ctx, SLUICE_MGMT_MALFORMED);
                if (is_own_v6(target))
                    return to_kernel();
            }
        }
        if (!is_own_v6(&ip6->daddr))
            return to_data_plane(ctx, SLUICE_MGMT_TO_SOCKET);
        int port = dst_port(ip6->nexthdr, ip6 + 1, end);
        if (port < 0)
            return to_data_plane(ctx, SLUICE_MGMT_MALFORMED);
        if (service_listed(ip6->nexthdr, (__u16)port))
            return to_kernel();
        return to_data_plane(ctx, SLUICE_MGMT_TO_SOCKET);
    }

    return to_data_plane(ctx, SLUICE_MGMT_TO_SOCKET);
}
