/*
 * test_decode.c - sw_decode(): every link type, IPv4/IPv6 edge cases,
 * IP-in-IP and GTP-U tunnels, TCP options, and truncation at every length.
 *
 * Frames are decoded from heap copies of exactly caplen bytes, so any read
 * past the capture is an AddressSanitizer error.  Real frames (first SYN of
 * public captures in ../shared/corpus) sit beside hand-built ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "sw_capture.h"

/* ---- frame builder ---------------------------------------------------- */

struct frame {
	uint8_t b[1024];
	size_t n;
};

static void put(struct frame *f, const void *p, size_t n)
{
	assert_true(f->n + n <= sizeof(f->b));
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void put8(struct frame *f, uint8_t v) { put(f, &v, 1); }

static void put16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(f, b, 2);
}

static void put32(struct frame *f, uint32_t v)
{
	put16(f, (uint16_t)(v >> 16));
	put16(f, (uint16_t)v);
}

static void put_zero(struct frame *f, size_t n)
{
	static const uint8_t z[256];
	assert_true(n <= sizeof(z));
	put(f, z, n);
}

static const uint8_t V4_SRC[4] = { 192, 0, 2, 1 };
static const uint8_t V4_DST[4] = { 198, 51, 100, 7 };
static const uint8_t V6_SRC[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t V6_DST[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, [15] = 0x25 };

/* A TCP segment: 20 bytes + opts (padded to 4 by the caller) + payload. */
struct seg {
	uint8_t flags;
	const uint8_t *opts;
	size_t optlen;
	const char *payload;
};

static size_t seg_len(const struct seg *s)
{
	return 20 + s->optlen + (s->payload ? strlen(s->payload) : 0);
}

static void put_tcp(struct frame *f, const struct seg *s)
{
	put16(f, 40000);
	put16(f, 25);
	put32(f, 0x11223344);
	put32(f, 0x55667788);
	put8(f, (uint8_t)(((20 + s->optlen) / 4) << 4));
	put8(f, s->flags);
	put16(f, 29200);
	put16(f, 0); /* checksum: not checked by the decoder */
	put16(f, 0);
	if (s->optlen)
		put(f, s->opts, s->optlen);
	if (s->payload)
		put(f, s->payload, strlen(s->payload));
}

/* IPv4 header with total length tot (0: computed), then the segment. */
static void put_ipv4_tot(struct frame *f, const struct seg *s, uint16_t frag, uint16_t tot)
{
	put8(f, 0x45);
	put8(f, 0);
	put16(f, tot ? tot : (uint16_t)(20 + seg_len(s)));
	put16(f, 0x1234);
	put16(f, frag);
	put8(f, 61);
	put8(f, 6);
	put16(f, 0);
	put(f, V4_SRC, 4);
	put(f, V4_DST, 4);
	put_tcp(f, s);
}

static void put_ipv4(struct frame *f, const struct seg *s)
{
	put_ipv4_tot(f, s, 0x4000, 0);
}

/* IPv6 header; ext holds extension headers (first next-header in nh). */
static void put_ipv6_ext(struct frame *f, const struct seg *s, uint8_t nh, const uint8_t *ext,
			 size_t extlen)
{
	put32(f, 0x60000000);
	put16(f, (uint16_t)(extlen + seg_len(s)));
	put8(f, nh);
	put8(f, 57);
	put(f, V6_SRC, 16);
	put(f, V6_DST, 16);
	if (extlen)
		put(f, ext, extlen);
	put_tcp(f, s);
}

static void put_ipv6(struct frame *f, const struct seg *s)
{
	put_ipv6_ext(f, s, 6, NULL, 0);
}

static void put_eth(struct frame *f, uint16_t type)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	put(f, macs, 12);
	put16(f, type);
}

static void put_pppoe(struct frame *f, uint16_t ppp_len, uint16_t proto)
{
	put8(f, 0x11);
	put8(f, 0);
	put16(f, 0x0f07);
	put16(f, ppp_len);
	put16(f, proto);
}

/* Decode from an exact-size heap copy of the first caplen bytes. */
static enum sw_decode_result decode_n(int dlt, const uint8_t *b, size_t caplen, struct sw_packet *p)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);
	assert_non_null(copy);
	if (caplen)
		memcpy(copy, b, caplen);
	enum sw_decode_result r = sw_decode(dlt, copy, (uint32_t)caplen, p);
	/* Pointers into the copy are checked by offset before it goes. */
	if (r == SW_DECODE_TCP) {
		assert_true(p->l3 >= copy && p->l3 + p->l3_len <= copy + caplen);
		assert_true(p->payload >= p->l3 && p->payload + p->payload_len <= p->l3 + p->l3_len);
		assert_true(p->payload_len <= p->payload_wire_len);
		assert_true(p->n_opts <= SW_TCP_MAX_OPTS);
		p->l3 = b + (p->l3 - copy);
		p->payload = b + (p->payload - copy);
	}
	free(copy);
	return r;
}

static enum sw_decode_result decode_f(int dlt, const struct frame *f, struct sw_packet *p)
{
	return decode_n(dlt, f->b, f->n, p);
}

static const struct seg SEG_DATA = { SW_TH_PSH | SW_TH_ACK, NULL, 0, "EHLO a\r\n" };

static void check_v4_data(const struct frame *f, size_t l3_off, const struct sw_packet *p)
{
	assert_int_equal(p->ip_version, 4);
	assert_memory_equal(p->src, V4_SRC, 4);
	assert_memory_equal(p->dst, V4_DST, 4);
	for (int i = 4; i < 16; i++)
		assert_int_equal(p->src[i] | p->dst[i], 0);
	assert_int_equal(p->ttl, 61);
	assert_int_equal(p->ip_df, 1);
	assert_int_equal(p->sport, 40000);
	assert_int_equal(p->dport, 25);
	assert_int_equal(p->seq, 0x11223344);
	assert_int_equal(p->ack, 0x55667788);
	assert_int_equal(p->window, 29200);
	assert_int_equal(p->tcp_flags, SW_TH_PSH | SW_TH_ACK);
	assert_ptr_equal(p->l3, f->b + l3_off);
	assert_int_equal(p->l3_len, 20 + 20 + 8);
	assert_int_equal(p->payload_len, 8);
	assert_int_equal(p->payload_wire_len, 8);
	assert_memory_equal(p->payload, "EHLO a\r\n", 8);
	assert_int_equal(p->n_opts, 0);
	assert_int_equal(p->mss, 0);
	assert_int_equal(p->wscale, 0xff);
}

static void check_v6_data(const struct frame *f, size_t l3_off, size_t extlen,
			  const struct sw_packet *p)
{
	assert_int_equal(p->ip_version, 6);
	assert_memory_equal(p->src, V6_SRC, 16);
	assert_memory_equal(p->dst, V6_DST, 16);
	assert_int_equal(p->ttl, 57);
	assert_int_equal(p->ip_df, 0);
	assert_int_equal(p->sport, 40000);
	assert_int_equal(p->dport, 25);
	assert_ptr_equal(p->l3, f->b + l3_off);
	assert_int_equal(p->l3_len, 40 + extlen + 20 + 8);
	assert_int_equal(p->payload_len, 8);
	assert_int_equal(p->payload_wire_len, 8);
	assert_memory_equal(p->payload, "EHLO a\r\n", 8);
}

/* ---- link types -------------------------------------------------------- */

static void test_ethernet(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;

	put_eth(&f, 0x0800);
	put_ipv4(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_TCP);
	check_v4_data(&f, 14, &p);

	f.n = 0;
	put_eth(&f, 0x86dd);
	put_ipv6(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_TCP);
	check_v6_data(&f, 14, 0, &p);
}

static void test_vlan_tags(void **state)
{
	static const uint16_t tpids[] = { 0x8100, 0x88a8, 0x9100 };
	struct sw_packet p;

	/* One tag of each kind, then QinQ of every pair. */
	for (size_t i = 0; i < SW_ARRAY_LEN(tpids); i++) {
		for (size_t j = 0; j <= SW_ARRAY_LEN(tpids); j++) {
			struct frame f = { .n = 0 };
			put_eth(&f, tpids[i]);
			put16(&f, 100);
			size_t off = 18;
			if (j < SW_ARRAY_LEN(tpids)) {
				put16(&f, tpids[j]);
				put16(&f, 200);
				off += 4;
			}
			put16(&f, 0x0800);
			put_ipv4(&f, &SEG_DATA);
			assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_TCP);
			check_v4_data(&f, off, &p);
		}
	}
}

static void test_vlan_depth_cap(void **state)
{
	struct sw_packet p;

	/* Eight tags decode; nine are a crafted stack. */
	for (int tags = 1; tags <= 9; tags++) {
		struct frame f = { .n = 0 };
		put_eth(&f, 0x8100);
		for (int t = 1; t < tags; t++) {
			put16(&f, (uint16_t)t);
			put16(&f, 0x8100);
		}
		put16(&f, 7);
		put16(&f, 0x86dd);
		put_ipv6(&f, &SEG_DATA);
		enum sw_decode_result r = decode_f(DLT_EN10MB, &f, &p);
		if (tags <= 8) {
			assert_int_equal(r, SW_DECODE_TCP);
			check_v6_data(&f, 14 + 4 * (size_t)tags, 0, &p);
		} else {
			assert_int_equal(r, SW_DECODE_MALFORMED);
		}
	}
}

static void test_pppoe(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;

	put_eth(&f, 0x8864);
	put_pppoe(&f, (uint16_t)(2 + 20 + seg_len(&SEG_DATA)), 0x0021);
	put_ipv4(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_TCP);
	check_v4_data(&f, 22, &p);

	f.n = 0;
	put_eth(&f, 0x8864);
	put_pppoe(&f, (uint16_t)(2 + 40 + seg_len(&SEG_DATA)), 0x0057);
	put_ipv6(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_TCP);
	check_v6_data(&f, 22, 0, &p);

	/*
	 * The PPPoE length frames the IP packet: 6 bytes counted by IP but
	 * not by PPPoE were never sent as payload (as in zeek's
	 * pppoe-over-qinq.pcap frame 19).
	 */
	f.n = 0;
	put_eth(&f, 0x8864);
	put_pppoe(&f, 2 + 20 + 20, 0x0021);
	put_ipv4(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_TCP);
	assert_int_equal(p.l3_len, 40);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(p.payload_wire_len, 0);
	/* A PPPoE length that cannot hold the IP header. */
	f.b[18] = 0;
	f.b[19] = 2 + 10;
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_MALFORMED);
	f.n = 0;
	put_eth(&f, 0x8864);
	put_pppoe(&f, 2 + 39, 0x0057);
	put_ipv6(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_MALFORMED);

	/* PPP LCP (0xc021) is not IP. */
	f.n = 0;
	put_eth(&f, 0x8864);
	put_pppoe(&f, 10, 0xc021);
	put_zero(&f, 8);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_NOT_IP);

	/* Discovery frames (0x8863) are not IP. */
	f.n = 0;
	put_eth(&f, 0x8863);
	put_pppoe(&f, 0, 0x0101);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_NOT_IP);

	/* A version/type other than 1/1 or a non-session code cannot be a session frame. */
	f.n = 0;
	put_eth(&f, 0x8864);
	put_pppoe(&f, (uint16_t)(2 + 20 + seg_len(&SEG_DATA)), 0x0021);
	put_ipv4(&f, &SEG_DATA);
	f.b[14] = 0x21;
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_MALFORMED);
	f.b[14] = 0x11;
	f.b[15] = 0x09;
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_MALFORMED);
}

static void test_ppp_ether(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;

	put_pppoe(&f, (uint16_t)(2 + 20 + seg_len(&SEG_DATA)), 0x0021);
	put_ipv4(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_PPP_ETHER, &f, &p), SW_DECODE_TCP);
	check_v4_data(&f, 8, &p);

	f.n = 0;
	put_pppoe(&f, (uint16_t)(2 + 40 + seg_len(&SEG_DATA)), 0x0057);
	put_ipv6(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_PPP_ETHER, &f, &p), SW_DECODE_TCP);
	check_v6_data(&f, 8, 0, &p);
}

static void put_sll(struct frame *f, uint16_t proto)
{
	put16(f, 0);      /* to us */
	put16(f, 1);      /* ARPHRD_ETHER */
	put16(f, 6);
	put_zero(f, 8);
	put16(f, proto);
}

static void put_sll2(struct frame *f, uint16_t proto)
{
	put16(f, proto);
	put16(f, 0);
	put32(f, 2);      /* ifindex */
	put16(f, 1);
	put8(f, 4);       /* outgoing */
	put8(f, 6);
	put_zero(f, 8);
}

static void test_sll(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;

	put_sll(&f, 0x0800);
	put_ipv4(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_LINUX_SLL, &f, &p), SW_DECODE_TCP);
	check_v4_data(&f, 16, &p);

	f.n = 0;
	put_sll(&f, 0x86dd);
	put_ipv6(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_LINUX_SLL, &f, &p), SW_DECODE_TCP);
	check_v6_data(&f, 16, 0, &p);

	/* A VLAN tag libpcap put back after the cooked header. */
	f.n = 0;
	put_sll(&f, 0x8100);
	put16(&f, 42);
	put16(&f, 0x0800);
	put_ipv4(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_LINUX_SLL, &f, &p), SW_DECODE_TCP);
	check_v4_data(&f, 20, &p);

	/* ARP */
	f.n = 0;
	put_sll(&f, 0x0806);
	put_zero(&f, 28);
	assert_int_equal(decode_f(DLT_LINUX_SLL, &f, &p), SW_DECODE_NOT_IP);
}

static void test_sll2(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;

	put_sll2(&f, 0x0800);
	put_ipv4(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_LINUX_SLL2, &f, &p), SW_DECODE_TCP);
	check_v4_data(&f, 20, &p);

	f.n = 0;
	put_sll2(&f, 0x86dd);
	put_ipv6(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_LINUX_SLL2, &f, &p), SW_DECODE_TCP);
	check_v6_data(&f, 20, 0, &p);

	f.n = 0;
	put_sll2(&f, 0x88cc); /* LLDP */
	put_zero(&f, 30);
	assert_int_equal(decode_f(DLT_LINUX_SLL2, &f, &p), SW_DECODE_NOT_IP);
}

static void test_raw(void **state)
{
	static const int dlts[] = { DLT_RAW, DLT_IPV4, DLT_IPV6 };
	struct sw_packet p;

	for (size_t i = 0; i < SW_ARRAY_LEN(dlts); i++) {
		struct frame f = { .n = 0 };
		put_ipv4(&f, &SEG_DATA);
		assert_int_equal(decode_f(dlts[i], &f, &p), SW_DECODE_TCP);
		check_v4_data(&f, 0, &p);

		f.n = 0;
		put_ipv6(&f, &SEG_DATA);
		assert_int_equal(decode_f(dlts[i], &f, &p), SW_DECODE_TCP);
		check_v6_data(&f, 0, 0, &p);

		/* Version 5 is neither. */
		f.b[0] = 0x50;
		assert_int_equal(decode_f(dlts[i], &f, &p), SW_DECODE_NOT_IP);
	}
}

static void test_null_loop(void **state)
{
	/* AF_INET is 2 everywhere; AF_INET6 is 10, 24, 28 or 30 by OS; either byte order. */
	static const uint32_t afs[] = { 0x02000000, 0x00000002, 0x1e000000, 0x0000001c, 0x18000000 };
	struct sw_packet p;

	for (size_t i = 0; i < SW_ARRAY_LEN(afs); i++) {
		struct frame f = { .n = 0 };
		put32(&f, afs[i]);
		put_ipv4(&f, &SEG_DATA);
		assert_int_equal(decode_f(DLT_NULL, &f, &p), SW_DECODE_TCP);
		check_v4_data(&f, 4, &p);
		assert_int_equal(decode_f(DLT_LOOP, &f, &p), SW_DECODE_TCP);
		check_v4_data(&f, 4, &p);

		f.n = 0;
		put32(&f, afs[i]);
		put_ipv6(&f, &SEG_DATA);
		assert_int_equal(decode_f(DLT_NULL, &f, &p), SW_DECODE_TCP);
		check_v6_data(&f, 4, 0, &p);
		assert_int_equal(decode_f(DLT_LOOP, &f, &p), SW_DECODE_TCP);
		check_v6_data(&f, 4, 0, &p);
	}
}

static void test_not_ip_and_unsupported(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;

	put_eth(&f, 0x0806);
	put_zero(&f, 46);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_NOT_IP);

	/* An 802.3 length field instead of an ethertype. */
	f.n = 0;
	put_eth(&f, 0x0026);
	put_zero(&f, 46);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_NOT_IP);

	f.n = 0;
	put_ipv4(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_IEEE802_11, &f, &p), SW_DECODE_NOT_IP);
	assert_false(sw_dlt_supported(DLT_IEEE802_11));
	assert_false(sw_dlt_supported(DLT_USB_LINUX));
	static const int ok[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_IPV4,
				  DLT_IPV6, DLT_NULL, DLT_LOOP, DLT_PPP_ETHER };
	for (size_t i = 0; i < SW_ARRAY_LEN(ok); i++)
		assert_true(sw_dlt_supported(ok[i]));

	/* UDP */
	f.n = 0;
	put_ipv4(&f, &SEG_DATA);
	f.b[9] = 17;
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_NOT_TCP);
	/* The link says IPv4, the header says 6. */
	f.n = 0;
	put_eth(&f, 0x0800);
	put_ipv6(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_MALFORMED);
	f.n = 0;
	put_eth(&f, 0x86dd);
	put_ipv4(&f, &SEG_DATA);
	put_zero(&f, 20);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_MALFORMED);
}

static void test_result_names(void **state)
{
	assert_string_equal(sw_decode_result_name(SW_DECODE_TCP), "tcp");
	assert_string_equal(sw_decode_result_name(SW_DECODE_NOT_IP), "not_ip");
	assert_string_equal(sw_decode_result_name(SW_DECODE_NOT_TCP), "not_tcp");
	assert_string_equal(sw_decode_result_name(SW_DECODE_FRAGMENT), "ip_fragment");
	assert_string_equal(sw_decode_result_name(SW_DECODE_TRUNCATED), "truncated");
	assert_string_equal(sw_decode_result_name(SW_DECODE_MALFORMED), "malformed");
	assert_string_equal(sw_decode_result_name(SW_DECODE__COUNT), "unknown");
}

/* ---- IPv4 ------------------------------------------------------------- */

static void test_ipv4_fragments(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;

	put_ipv4_tot(&f, &SEG_DATA, 0x2000, 0); /* MF, offset 0 */
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_FRAGMENT);
	f.n = 0;
	put_ipv4_tot(&f, &SEG_DATA, 0x0003, 0); /* last fragment, offset 24 */
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_FRAGMENT);
	f.n = 0;
	put_ipv4_tot(&f, &SEG_DATA, 0x6000, 0); /* DF and MF */
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_FRAGMENT);
	f.n = 0;
	put_ipv4_tot(&f, &SEG_DATA, 0x0000, 0); /* not a fragment, DF clear */
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	assert_int_equal(p.ip_df, 0);
}

static void test_ipv4_header_lengths(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;

	put_ipv4(&f, &SEG_DATA);
	/* IHL 0..4 cannot hold the fixed header. */
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		f.b[0] = (uint8_t)(0x40 | ihl);
		assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_MALFORMED);
	}
	/* IHL 15 (60 bytes) inside a 48-byte total length cannot be true. */
	f.b[0] = 0x4f;
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_MALFORMED);
	/* Total length shorter than IHL. */
	f.b[0] = 0x45;
	f.b[2] = 0;
	f.b[3] = 19;
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_MALFORMED);
	/* Total length too short for the TCP header. */
	f.b[3] = 30;
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_MALFORMED);
	/* Header only: no payload on the wire. */
	f.b[3] = 40;
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(p.payload_wire_len, 0);
	assert_int_equal(p.l3_len, 40);
}

static void test_ipv4_options(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;

	/* IHL 6 with a router-alert option, built properly. */
	put8(&f, 0x46);
	put8(&f, 0);
	put16(&f, (uint16_t)(24 + seg_len(&SEG_DATA)));
	put16(&f, 1);
	put16(&f, 0x4000);
	put8(&f, 61);
	put8(&f, 6);
	put16(&f, 0);
	put(&f, V4_SRC, 4);
	put(&f, V4_DST, 4);
	put32(&f, 0x94040000);
	put_tcp(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.l3_len, 24 + 28);
	assert_memory_equal(p.payload, "EHLO a\r\n", 8);
}

static void test_ethernet_padding(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;
	static const struct seg ack = { SW_TH_ACK, NULL, 0, NULL };

	/* A bare ACK is 54 bytes; Ethernet pads it to 60 with junk. */
	put_eth(&f, 0x0800);
	put_ipv4(&f, &ack);
	put(&f, "\xde\xad\xbe\xef\x01\x02", 6);
	assert_int_equal(f.n, 60);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_TCP);
	assert_int_equal(p.l3_len, 40);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(p.payload_wire_len, 0);

	/* The same for IPv6 under a VLAN tag: 14 + 4 + 40 + 20 + 8 bytes of padding. */
	f.n = 0;
	put_eth(&f, 0x8100);
	put16(&f, 5);
	put16(&f, 0x86dd);
	put_ipv6(&f, &ack);
	put_zero(&f, 8);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_TCP);
	assert_int_equal(p.l3_len, 60);
	assert_int_equal(p.payload_len, 0);
}

static void test_snaplen_cut_and_tso(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;

	put_ipv4(&f, &SEG_DATA);
	/* Cut 3 payload bytes: the wire length still says 8. */
	assert_int_equal(decode_n(DLT_RAW, f.b, f.n - 3, &p), SW_DECODE_TCP);
	assert_int_equal(p.payload_len, 5);
	assert_int_equal(p.payload_wire_len, 8);
	assert_int_equal(p.l3_len, f.n - 3);

	/* Total length 0: a TSO segment captured on the sender: the frame is the packet. */
	f.b[2] = 0;
	f.b[3] = 0;
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	assert_int_equal(p.payload_len, 8);
	assert_int_equal(p.payload_wire_len, 8);

	f.n = 0;
	put_ipv6(&f, &SEG_DATA);
	f.b[4] = 0;
	f.b[5] = 0;
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	assert_int_equal(p.payload_len, 8);
}

/* ---- IPv6 extension headers ------------------------------------------ */

static void test_ipv6_ext_headers(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;
	uint8_t ext[128];
	size_t n = 0;

	/* hop-by-hop (8) -> routing (16) -> destination options (8) -> AH (24) -> TCP */
	memset(ext, 0, sizeof(ext));
	ext[n] = 43;  ext[n + 1] = 0; n += 8;
	ext[n] = 60;  ext[n + 1] = 1; n += 16;
	ext[n] = 51;  ext[n + 1] = 0; n += 8;
	ext[n] = 6;   ext[n + 1] = 4; n += 24;
	put_ipv6_ext(&f, &SEG_DATA, 0, ext, n);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	check_v6_data(&f, 0, n, &p);

	/* Truncated at every length: never a crash; complete headers give TCP. */
	for (size_t cap = 0; cap < f.n; cap++) {
		enum sw_decode_result r = decode_n(DLT_RAW, f.b, cap, &p);
		if (cap < 40 + n + 20)
			assert_int_equal(r, SW_DECODE_TRUNCATED);
		else
			assert_int_equal(r, SW_DECODE_TCP);
	}

	/* A header longer than the payload length says was sent. */
	f.n = 0;
	ext[1] = 200;
	put_ipv6_ext(&f, &SEG_DATA, 0, ext, n);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_MALFORMED);
}

static void test_ipv6_fragment_and_chain_cap(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;
	uint8_t ext[128] = { 0 };

	/* First fragment: offset 0, M set. */
	ext[0] = 6;
	ext[3] = 1;
	put_ipv6_ext(&f, &SEG_DATA, 44, ext, 8);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_FRAGMENT);
	/* Later fragment: offset 1 (8 bytes), M clear. */
	f.b[40 + 2] = 0;
	f.b[40 + 3] = 8;
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_FRAGMENT);
	/* Atomic fragment (RFC 6946): offset 0, M clear is a whole packet. */
	f.b[40 + 3] = 0;
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	check_v6_data(&f, 0, 8, &p);

	/* Eight hop-by-hop-like headers decode, nine are too many. */
	for (size_t k = 8; k <= 9; k++) {
		memset(ext, 0, sizeof(ext));
		for (size_t i = 0; i < k; i++)
			ext[i * 8] = i + 1 < k ? 60 : 6;
		f.n = 0;
		put_ipv6_ext(&f, &SEG_DATA, 0, ext, k * 8);
		assert_int_equal(decode_f(DLT_RAW, &f, &p),
				 k == 8 ? SW_DECODE_TCP : SW_DECODE_MALFORMED);
	}

	/* No next header (59), ESP (50), UDP (17), ICMPv6 (58). */
	static const uint8_t other[] = { 59, 50, 17, 58 };
	for (size_t i = 0; i < SW_ARRAY_LEN(other); i++) {
		memset(ext, 0, sizeof(ext));
		ext[0] = other[i];
		f.n = 0;
		put_ipv6_ext(&f, &SEG_DATA, 60, ext, 8);
		assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_NOT_TCP);
		f.n = 0;
		put_ipv6_ext(&f, &SEG_DATA, other[i], NULL, 0);
		assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_NOT_TCP);
	}
}

/* ---- TCP -------------------------------------------------------------- */

static void test_tcp_data_offset(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;

	put_ipv4(&f, &SEG_DATA);
	/* Data offset 0..4 cannot hold the fixed header. */
	for (uint8_t d = 0; d < 5; d++) {
		f.b[20 + 12] = (uint8_t)(d << 4);
		assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_MALFORMED);
	}
	/* Data offset 7 (28 bytes) fits the 28-byte segment: all header, no payload. */
	f.b[20 + 12] = 0x70;
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	assert_int_equal(p.payload_len, 0);
	/* Data offset 8 runs past the segment the IP header declares. */
	f.b[20 + 12] = 0x80;
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_MALFORMED);
	/* Data offset 15 inside a longer wire segment, but past the capture. */
	f.b[20 + 12] = 0xf0;
	f.b[2] = 0;
	f.b[3] = 200;
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TRUNCATED);
}

/* Linux SYN: mss 1460, sackOK, TS, nop, wscale 7. */
static const uint8_t LINUX_SYN_OPTS[] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0,
					  1, 3, 3, 7 };

static void test_syn_options(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;
	struct seg syn = { SW_TH_SYN, LINUX_SYN_OPTS, sizeof(LINUX_SYN_OPTS), NULL };

	put_ipv4(&f, &syn);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	assert_int_equal(p.mss, 1460);
	assert_int_equal(p.wscale, 7);
	assert_int_equal(p.n_opts, 5);
	static const uint8_t kinds[] = { 2, 4, 8, 1, 3 };
	assert_memory_equal(p.opt_kinds, kinds, 5);
	assert_int_equal(p.tcp_flags, SW_TH_SYN);

	/* SYN-ACK too. */
	syn.flags = SW_TH_SYN | SW_TH_ACK;
	f.n = 0;
	put_ipv6(&f, &syn);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	assert_int_equal(p.mss, 1460);
	assert_int_equal(p.wscale, 7);
	assert_int_equal(p.n_opts, 5);

	/* The same options on an ACK are not parsed. */
	syn.flags = SW_TH_ACK;
	f.n = 0;
	put_ipv4(&f, &syn);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	assert_int_equal(p.mss, 0);
	assert_int_equal(p.wscale, 0xff);
	assert_int_equal(p.n_opts, 0);
}

static void test_syn_options_odd(void **state)
{
	struct sw_packet p;

	/* EOL ends the list: it is recorded, what follows is not. */
	static const uint8_t eol[] = { 1, 0, 2, 4, 0x05, 0xb4, 0, 0 };
	/* No options at all. */
	/* A zero length cannot advance: the walk stops, the segment stays. */
	static const uint8_t zero_len[] = { 2, 4, 0x02, 0x18, 8, 0, 3, 3, 7, 0, 0, 0 };
	/* A length past the option space. */
	static const uint8_t long_len[] = { 3, 3, 2, 1, 2, 40, 0, 0 };
	/* MSS with the wrong length is kept as a kind but not read. */
	static const uint8_t bad_mss[] = { 2, 6, 1, 1, 1, 1, 3, 3, 9, 1, 1, 1 };
	/* Twenty NOPs then MSS: kinds cap at SW_TCP_MAX_OPTS, MSS still read. */
	uint8_t many[24];
	memset(many, 1, 20);
	many[20] = 2; many[21] = 4; many[22] = 0x01; many[23] = 0x00;

	static const struct {
		const uint8_t *o;
		size_t n;
		uint16_t mss;
		uint8_t ws;
		uint8_t n_opts;
		uint8_t kinds[4];
	} cases[] = {
		{ eol, sizeof(eol), 0, 0xff, 2, { 1, 0 } },
		{ NULL, 0, 0, 0xff, 0, { 0 } },
		{ zero_len, sizeof(zero_len), 0x0218, 0xff, 2, { 2, 8 } },
		{ long_len, sizeof(long_len), 0, 2, 3, { 3, 1, 2 } },
		{ bad_mss, sizeof(bad_mss), 0, 9, 5, { 2, 3, 1, 1 } },
	};
	for (size_t i = 0; i < SW_ARRAY_LEN(cases); i++) {
		struct frame f = { .n = 0 };
		struct seg syn = { SW_TH_SYN, cases[i].o, cases[i].n, NULL };
		put_ipv4(&f, &syn);
		assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
		assert_int_equal(p.mss, cases[i].mss);
		assert_int_equal(p.wscale, cases[i].ws);
		assert_int_equal(p.n_opts, cases[i].n_opts);
		assert_memory_equal(p.opt_kinds, cases[i].kinds, SW_MIN(cases[i].n_opts, 4));
	}

	struct frame f = { .n = 0 };
	struct seg syn = { SW_TH_SYN, many, sizeof(many), NULL };
	put_ipv4(&f, &syn);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	assert_int_equal(p.n_opts, SW_TCP_MAX_OPTS);
	assert_int_equal(p.mss, 256);
	for (int i = 0; i < SW_TCP_MAX_OPTS; i++)
		assert_int_equal(p.opt_kinds[i], 1);
}

/* ---- real frames ------------------------------------------------------ */

/* zeek pppoe-over-qinq.pcap frame 1: 802.1Q 3704, 802.1Q 2474, PPPoE, IPv4, SYN. */
static const uint8_t REAL_QINQ_PPPOE_SYN[] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x81, 0x00, 0x0e, 0x78,
	0x81, 0x00, 0x09, 0xaa, 0x88, 0x64, 0x11, 0x00, 0x0f, 0x07, 0x00, 0x42, 0x00, 0x21, 0x45, 0x00,
	0x00, 0x40, 0x00, 0x00, 0x40, 0x00, 0x3f, 0x06, 0x35, 0xb3, 0x01, 0x01, 0x01, 0x01, 0x02, 0x02,
	0x02, 0x02, 0x4f, 0xaa, 0x01, 0xbb, 0xd7, 0xa8, 0x41, 0x55, 0x00, 0x00, 0x00, 0x00, 0xb0, 0x02,
	0xff, 0xff, 0xec, 0xed, 0x00, 0x00, 0x02, 0x04, 0x05, 0xa0, 0x01, 0x03, 0x03, 0x06, 0x01, 0x01,
	0x08, 0x0a, 0x01, 0x2d, 0xd8, 0x8c, 0x00, 0x00, 0x00, 0x00, 0x04, 0x02, 0x00, 0x00,
};

/* zeek communityid/ipv6.pcap frame 1: Ethernet, IPv6, SYN to port 25. */
static const uint8_t REAL_V6_SYN[] = {
	0x00, 0x05, 0x73, 0xa0, 0x07, 0xd1, 0x68, 0xa3, 0xc4, 0xf9, 0x49, 0xf6, 0x86, 0xdd, 0x60, 0x00,
	0x00, 0x00, 0x00, 0x20, 0x06, 0x40, 0x20, 0x01, 0x04, 0x70, 0xe5, 0xbf, 0xde, 0xad, 0x49, 0x57,
	0x21, 0x74, 0xe8, 0x2c, 0x48, 0x87, 0x26, 0x07, 0xf8, 0xb0, 0x40, 0x0c, 0x0c, 0x03, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x1a, 0xf9, 0xc7, 0x00, 0x19, 0x03, 0xa0, 0x88, 0x30, 0x00, 0x00,
	0x00, 0x00, 0x80, 0x02, 0x20, 0x00, 0xda, 0x47, 0x00, 0x00, 0x02, 0x04, 0x05, 0x8c, 0x01, 0x03,
	0x03, 0x08, 0x01, 0x01, 0x04, 0x02,
};

/* zeek openjdk-25.0.2-zeek.org.pcap frame 1: Linux SLL2, IPv4, SYN to 443. */
static const uint8_t REAL_SLL2_SYN[] = {
	0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x04, 0x06, 0xfa, 0x37, 0xdc, 0x8d,
	0xaf, 0xab, 0x00, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x7b, 0xa7, 0x40, 0x00, 0x40, 0x06, 0xaf, 0xcf,
	0xc0, 0xa8, 0x40, 0x06, 0xc0, 0x00, 0x4e, 0x96, 0xd7, 0x12, 0x01, 0xbb, 0x3a, 0x10, 0xe0, 0x2e,
	0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0x34, 0x88, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
	0x04, 0x02, 0x08, 0x0a, 0x9c, 0x3b, 0x79, 0xf9, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
};

/* ntop KakaoTalk_chat.pcap first TCP frame: Linux SLL, IPv4, SYN to 8080. */
static const uint8_t REAL_SLL_SYN[] = {
	0x00, 0x04, 0x02, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00,
	0x45, 0x00, 0x00, 0x3c, 0xf3, 0x56, 0x40, 0x00, 0x3f, 0x06, 0x49, 0xa0, 0x0a, 0x18, 0x52, 0xbc,
	0x67, 0xf6, 0x39, 0xfb, 0xc7, 0x4d, 0x1f, 0x90, 0xcb, 0x0d, 0xf4, 0x99, 0x00, 0x00, 0x00, 0x00,
	0xa0, 0x02, 0x39, 0x08, 0x62, 0x0f, 0x00, 0x00, 0x02, 0x04, 0x05, 0x78, 0x04, 0x02, 0x08, 0x0a,
	0x00, 0x0b, 0x07, 0xcf, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
};

/* zeek pop3-starttls.pcap frame 1: BSD null (AF 2 little-endian), IPv4, SYN to 110. */
static const uint8_t REAL_NULL_SYN[] = {
	0x02, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x40, 0x2d, 0xfd, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
	0xc0, 0xa8, 0x04, 0x95, 0xc0, 0xa8, 0x04, 0x95, 0xd5, 0xf7, 0x00, 0x6e, 0xcf, 0x45, 0xd9, 0x0f,
	0x00, 0x00, 0x00, 0x00, 0xb0, 0x02, 0xff, 0xff, 0x8a, 0xad, 0x00, 0x00, 0x02, 0x04, 0x3f, 0xd8,
	0x01, 0x03, 0x03, 0x04, 0x01, 0x01, 0x08, 0x0a, 0x3d, 0xe8, 0xab, 0xee, 0x00, 0x00, 0x00, 0x00,
	0x04, 0x02, 0x00, 0x00,
};

/*
 * ntop ja3_lots_of_cipher_suites_2_anon.pcap frame 1: Ethernet, IPv4, UDP
 * to 2152, GTPv1-U T-PDU with a sequence number, inner IPv4, SYN to 443.
 */
static const uint8_t REAL_GTPU_SYN[] = {
	0xfc, 0x48, 0xef, 0xa2, 0x9a, 0x3f, 0x30, 0xd1, 0x7e, 0x0f, 0x6c, 0x3e, 0x08, 0x00, 0x45, 0xb8,
	0x00, 0x64, 0x23, 0xdd, 0x00, 0x00, 0x40, 0x11, 0x8c, 0x83, 0x84, 0xbe, 0xf4, 0x0c, 0x97, 0x79,
	0xb9, 0x2c, 0x08, 0x68, 0x08, 0x68, 0x00, 0x50, 0x00, 0x00, 0x32, 0xff, 0x00, 0x40, 0x01, 0x3c,
	0x5b, 0x74, 0x6e, 0x50, 0x00, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x63, 0x4a, 0x40, 0x00, 0x40, 0x06,
	0x29, 0xfe, 0xc0, 0xa8, 0x93, 0xb1, 0x97, 0x79, 0xc1, 0xa0, 0xe4, 0x80, 0x01, 0xbb, 0x42, 0xc6,
	0xda, 0xe5, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0x39, 0x08, 0xa3, 0xe3, 0x00, 0x00, 0x02, 0x04,
	0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x0b, 0xb9, 0xaf, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03,
	0x03, 0x05,
};

struct real_frame {
	const char *name;
	int dlt;
	const uint8_t *b;
	size_t n;
	size_t l3_off;     /* where the IP header starts */
	size_t hdr_end;    /* where the TCP payload starts */
	uint16_t sport, dport, mss;
	uint8_t wscale, n_opts, ttl;
	uint8_t kinds[SW_TCP_MAX_OPTS];
};

static const struct real_frame REAL[] = {
	{ "qinq-pppoe", DLT_EN10MB, REAL_QINQ_PPPOE_SYN, sizeof(REAL_QINQ_PPPOE_SYN), 30, 94,
	  20394, 443, 1440, 6, 8, 63, { 2, 1, 3, 1, 1, 8, 4, 0 } },
	{ "ipv6", DLT_EN10MB, REAL_V6_SYN, sizeof(REAL_V6_SYN), 14, 86,
	  63943, 25, 1420, 8, 6, 64, { 2, 1, 3, 1, 1, 4 } },
	{ "sll2", DLT_LINUX_SLL2, REAL_SLL2_SYN, sizeof(REAL_SLL2_SYN), 20, 80,
	  55058, 443, 1460, 7, 5, 64, { 2, 4, 8, 1, 3 } },
	{ "sll", DLT_LINUX_SLL, REAL_SLL_SYN, sizeof(REAL_SLL_SYN), 16, 76,
	  51021, 8080, 1400, 7, 5, 63, { 2, 4, 8, 1, 3 } },
	{ "null", DLT_NULL, REAL_NULL_SYN, sizeof(REAL_NULL_SYN), 4, 68,
	  54775, 110, 16344, 4, 8, 64, { 2, 1, 3, 1, 1, 8, 4, 0 } },
	{ "gtpu", DLT_EN10MB, REAL_GTPU_SYN, sizeof(REAL_GTPU_SYN), 54, 114,
	  58496, 443, 1460, 5, 5, 64, { 2, 4, 8, 1, 3 } },
};

static void test_real_frames(void **state)
{
	struct sw_packet p;

	for (size_t i = 0; i < SW_ARRAY_LEN(REAL); i++) {
		const struct real_frame *rf = &REAL[i];
		assert_int_equal(decode_n(rf->dlt, rf->b, rf->n, &p), SW_DECODE_TCP);
		assert_ptr_equal(p.l3, rf->b + rf->l3_off);
		assert_ptr_equal(p.payload, rf->b + rf->hdr_end);
		assert_int_equal(p.payload_len, 0);
		assert_int_equal(p.tcp_flags, SW_TH_SYN);
		assert_int_equal(p.sport, rf->sport);
		assert_int_equal(p.dport, rf->dport);
		assert_int_equal(p.mss, rf->mss);
		assert_int_equal(p.wscale, rf->wscale);
		assert_int_equal(p.ttl, rf->ttl);
		assert_int_equal(p.n_opts, rf->n_opts);
		assert_memory_equal(p.opt_kinds, rf->kinds, rf->n_opts);
	}
	/* Check the addresses of two. */
	assert_int_equal(decode_n(DLT_EN10MB, REAL_QINQ_PPPOE_SYN, sizeof(REAL_QINQ_PPPOE_SYN), &p),
			 SW_DECODE_TCP);
	static const uint8_t a1[16] = { 1, 1, 1, 1 }, a2[16] = { 2, 2, 2, 2 };
	assert_memory_equal(p.src, a1, 16);
	assert_memory_equal(p.dst, a2, 16);
	assert_int_equal(p.seq, 0xd7a84155);
	assert_int_equal(p.window, 65535);
	assert_int_equal(p.ip_df, 1);
	assert_int_equal(decode_n(DLT_EN10MB, REAL_V6_SYN, sizeof(REAL_V6_SYN), &p), SW_DECODE_TCP);
	assert_memory_equal(p.dst, REAL_V6_SYN + 38, 16);
	/* The tunnelled SYN speaks with the inner addresses, not the GTP endpoints'. */
	assert_int_equal(decode_n(DLT_EN10MB, REAL_GTPU_SYN, sizeof(REAL_GTPU_SYN), &p), SW_DECODE_TCP);
	static const uint8_t in_src[16] = { 192, 168, 147, 177 }, in_dst[16] = { 151, 121, 193, 160 };
	assert_memory_equal(p.src, in_src, 16);
	assert_memory_equal(p.dst, in_dst, 16);
	assert_int_equal(p.ip_version, 4);
	assert_int_equal(p.ip_df, 1);
	assert_int_equal(p.l3_len, 60);
}

/* Every prefix of a frame: TRUNCATED until the TCP header is whole, then TCP. */
static void check_prefixes(int dlt, const uint8_t *b, size_t n, size_t hdr_end)
{
	struct sw_packet p;

	for (size_t cap = 0; cap <= n; cap++) {
		enum sw_decode_result r = decode_n(dlt, b, cap, &p);
		if (cap < hdr_end) {
			assert_int_equal(r, SW_DECODE_TRUNCATED);
			continue;
		}
		assert_int_equal(r, SW_DECODE_TCP);
		assert_int_equal(p.payload_len, cap - hdr_end);
		assert_int_equal(p.payload_wire_len, n - hdr_end);
	}
}

static void test_truncation_every_length(void **state)
{
	for (size_t i = 0; i < SW_ARRAY_LEN(REAL); i++)
		check_prefixes(REAL[i].dlt, REAL[i].b, REAL[i].n, REAL[i].hdr_end);

	struct frame f = { .n = 0 };
	struct seg syn = { SW_TH_SYN, LINUX_SYN_OPTS, sizeof(LINUX_SYN_OPTS), "data" };
	put_eth(&f, 0x88a8);
	put16(&f, 1);
	put16(&f, 0x8100);
	put16(&f, 2);
	put16(&f, 0x86dd);
	put_ipv6(&f, &syn);
	check_prefixes(DLT_EN10MB, f.b, f.n, f.n - 4);

	f.n = 0;
	put_pppoe(&f, (uint16_t)(2 + 20 + seg_len(&syn)), 0x0021);
	put_ipv4(&f, &syn);
	check_prefixes(DLT_PPP_ETHER, f.b, f.n, f.n - 4);

	f.n = 0;
	put_sll2(&f, 0x0800);
	put_ipv4(&f, &syn);
	check_prefixes(DLT_LINUX_SLL2, f.b, f.n, f.n - 4);

	f.n = 0;
	put_sll(&f, 0x86dd);
	put_ipv6(&f, &syn);
	check_prefixes(DLT_LINUX_SLL, f.b, f.n, f.n - 4);

	f.n = 0;
	put32(&f, 0x0000001e);
	put_ipv6(&f, &syn);
	check_prefixes(DLT_LOOP, f.b, f.n, f.n - 4);
}

/* ---- tunnels: IP-in-IP and GTP-U ----------------------------------------- */

static const uint8_t OUT4_SRC[4] = { 203, 0, 113, 1 };
static const uint8_t OUT4_DST[4] = { 203, 0, 113, 2 };
static const uint8_t OUT6_SRC[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, [15] = 1 };
static const uint8_t OUT6_DST[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, [15] = 2 };

/* An outer IPv4 header (TTL 200, DF clear) carrying plen bytes of protocol proto. */
static void put_outer4(struct frame *f, uint8_t proto, size_t plen)
{
	put8(f, 0x45);
	put8(f, 0);
	put16(f, (uint16_t)(20 + plen));
	put16(f, 7);
	put16(f, 0);
	put8(f, 200);
	put8(f, proto);
	put16(f, 0);
	put(f, OUT4_SRC, 4);
	put(f, OUT4_DST, 4);
}

/* An outer IPv6 header (hop limit 201) with next header nh and plen payload bytes. */
static void put_outer6(struct frame *f, uint8_t nh, size_t plen)
{
	put32(f, 0x60000000);
	put16(f, (uint16_t)plen);
	put8(f, nh);
	put8(f, 201);
	put(f, OUT6_SRC, 16);
	put(f, OUT6_DST, 16);
}

static void put_udp(struct frame *f, uint16_t dport, size_t plen)
{
	put16(f, 2152);
	put16(f, dport);
	put16(f, (uint16_t)(8 + plen));
	put16(f, 0);
}

/* GTPv1-U header: flags, type, the length of what follows the first 8 octets, TEID. */
static void put_gtp(struct frame *f, uint8_t flags, uint8_t type, size_t len_after8)
{
	put8(f, flags);
	put8(f, type);
	put16(f, (uint16_t)len_after8);
	put32(f, 0x013c5b74);
}

#define INNER4_LEN (20 + 20 + 8) /* put_ipv4(&SEG_DATA) */
#define INNER6_LEN (40 + 20 + 8) /* put_ipv6(&SEG_DATA) */

static void test_ip_in_ip(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;

	/* IPv4 in IPv4 (protocol 4, RFC 2003). */
	put_eth(&f, 0x0800);
	put_outer4(&f, 4, INNER4_LEN);
	put_ipv4(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_TCP);
	check_v4_data(&f, 14 + 20, &p);

	/* IPv6 in IPv4 (protocol 41, RFC 4213): the outer DF must not leak in. */
	f.n = 0;
	put_eth(&f, 0x0800);
	put_outer4(&f, 41, INNER6_LEN);
	f.b[14 + 6] = 0x40;
	put_ipv6(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_TCP);
	check_v6_data(&f, 14 + 20, 0, &p);

	/* IPv4 in IPv6 (next header 4, RFC 2473): no outer address bytes left over. */
	f.n = 0;
	put_outer6(&f, 4, INNER4_LEN);
	put_ipv4(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	check_v4_data(&f, 40, &p);

	/* IPv6 in IPv6 after a destination options header. */
	static const uint8_t dstopts[8] = { 41, 0, 1, 4, 0, 0, 0, 0 };
	f.n = 0;
	put_outer6(&f, 60, 8 + INNER6_LEN);
	put(&f, dstopts, 8);
	put_ipv6(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	check_v6_data(&f, 48, 0, &p);

	/* The inner packet says it is longer than the outer payload: trimmed to it. */
	f.n = 0;
	put_outer4(&f, 4, INNER4_LEN - 4);
	put_ipv4(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	assert_int_equal(p.payload_len, 4);
	assert_int_equal(p.payload_wire_len, 4);

	/* The outer payload cannot hold an inner header. */
	f.n = 0;
	put_outer4(&f, 4, 12);
	put_ipv4(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_MALFORMED);
	f.n = 0;
	put_outer4(&f, 41, 30);
	put_ipv6(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_MALFORMED);

	/* An outer fragment is a fragment whatever it carries. */
	f.n = 0;
	put_outer4(&f, 4, INNER4_LEN);
	f.b[6] = 0x20;
	put_ipv4(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_FRAGMENT);
	/* An inner fragment too. */
	f.n = 0;
	put_outer4(&f, 4, INNER4_LEN);
	put_ipv4_tot(&f, &SEG_DATA, 0x2000, 0);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_FRAGMENT);
	/* The inner version nibble disagrees with the outer protocol number. */
	f.n = 0;
	put_outer4(&f, 41, INNER4_LEN + 20);
	put_ipv4(&f, &SEG_DATA);
	put_zero(&f, 20);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_MALFORMED);
}

/* n levels of IPv4-in-IPv4 around SEG_DATA. */
static void put_nested(struct frame *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		put_outer4(f, 4, (n - 1 - i) * 20 + INNER4_LEN);
	put_ipv4(f, &SEG_DATA);
}

static void test_tunnel_depth_cap(void **state)
{
	struct frame f = { .n = 0 };
	struct sw_packet p;

	/* Four tunnel levels are decoded ... */
	put_nested(&f, 4);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_TCP);
	check_v4_data(&f, 4 * 20, &p);
	/* ... a fifth is a crafted packet. */
	f.n = 0;
	put_nested(&f, 5);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_MALFORMED);

	/* GTP-U levels count as well: GTP in IP-in-IP in GTP ... five deep. */
	f.n = 0;
	size_t inner = INNER4_LEN;
	size_t sizes[5];
	for (int i = 4; i >= 0; i--) {
		sizes[i] = inner;
		inner += (i % 2) ? 20 : 20 + 8 + 8;
	}
	for (int i = 0; i < 5; i++) {
		if (i % 2) {
			put_outer4(&f, 4, sizes[i]);
		} else {
			put_outer4(&f, 17, 16 + sizes[i]);
			put_udp(&f, 2152, 8 + sizes[i]);
			put_gtp(&f, 0x30, 0xff, sizes[i]);
		}
	}
	put_ipv4(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_MALFORMED);
}

/* A GTP-U frame: Ethernet, outer IPv4 or IPv6, UDP, GTP header (hdr bytes), inner packet. */
static void build_gtp(struct frame *f, int outer, const uint8_t *gtp_opt, size_t optlen,
		      uint8_t flags, int inner)
{
	size_t in_len = inner == 4 ? INNER4_LEN : INNER6_LEN;
	size_t after8 = optlen + in_len;

	f->n = 0;
	put_eth(f, outer == 4 ? 0x0800 : 0x86dd);
	if (outer == 4)
		put_outer4(f, 17, 8 + 8 + after8);
	else
		put_outer6(f, 17, 8 + 8 + after8);
	put_udp(f, 2152, 8 + after8);
	put_gtp(f, flags, 0xff, after8);
	if (optlen)
		put(f, gtp_opt, optlen);
	if (inner == 4)
		put_ipv4(f, &SEG_DATA);
	else
		put_ipv6(f, &SEG_DATA);
}

/* Sequence number, N-PDU number, next extension type 0x85, then two extensions. */
static const uint8_t GTP_EXT[] = {
	0x6e, 0x50, 0x00, 0x85,
	0x01, 0x10, 0x05, 0x40,             /* PDU session container, next 0x40 */
	0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, /* 8 octets, last */
};

static void test_gtpu(void **state)
{
	struct frame f;
	struct sw_packet p;
	size_t out4 = 14 + 20 + 8 + 8, out6 = 14 + 40 + 8 + 8;

	/* No optional fields. */
	build_gtp(&f, 4, NULL, 0, 0x30, 4);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_TCP);
	check_v4_data(&f, out4, &p);
	/* Sequence number only (S). */
	build_gtp(&f, 4, GTP_EXT, 4, 0x32, 6);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_TCP);
	check_v6_data(&f, out4 + 4, 0, &p);
	/* N-PDU number only (PN): the same 4 octets; the next type is not read without E. */
	build_gtp(&f, 6, GTP_EXT, 4, 0x31, 4);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_TCP);
	check_v4_data(&f, out6 + 4, &p);
	/* E with a chain of two extension headers, over IPv6. */
	build_gtp(&f, 6, GTP_EXT, sizeof(GTP_EXT), 0x34, 6);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_TCP);
	check_v6_data(&f, out6 + sizeof(GTP_EXT), 0, &p);

	/* Signalling and other UDP: not TCP. */
	build_gtp(&f, 4, NULL, 0, 0x30, 4);
	f.b[out4 - 7] = 0x01; /* echo request */
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_NOT_TCP);
	build_gtp(&f, 4, NULL, 0, 0x20, 4); /* PT 0: GTP' */
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_NOT_TCP);
	build_gtp(&f, 4, NULL, 0, 0x50, 4); /* version 2 */
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_NOT_TCP);
	build_gtp(&f, 4, NULL, 0, 0x30, 4);
	f.b[14 + 20 + 3] = 0x69; /* UDP to port 2153 */
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_NOT_TCP);
	/* The T-PDU is not IP (an Ethernet PDU session). */
	build_gtp(&f, 4, NULL, 0, 0x30, 4);
	f.b[out4] = 0x02;
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_NOT_IP);
	/* An empty T-PDU. */
	f.n = 0;
	put_outer4(&f, 17, 16);
	put_udp(&f, 2152, 8);
	put_gtp(&f, 0x30, 0xff, 0);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_NOT_IP);

	/* Lengths that cannot be true. */
	build_gtp(&f, 4, NULL, 0, 0x30, 4);
	f.b[out4 - 5] += 1; /* GTP length one past the UDP payload */
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_MALFORMED);
	build_gtp(&f, 4, NULL, 0, 0x30, 4);
	f.b[14 + 20 + 4] = 0;
	f.b[14 + 20 + 5] = 7; /* UDP length below its header */
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_MALFORMED);
	build_gtp(&f, 4, NULL, 0, 0x30, 4);
	f.b[14 + 20 + 4] = 0x10; /* UDP length past the IP payload */
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_MALFORMED);
	/* The UDP payload is too short for the GTP header. */
	f.n = 0;
	put_outer4(&f, 17, 8 + 6);
	put_udp(&f, 2152, 6);
	put_gtp(&f, 0x30, 0xff, 0);
	assert_int_equal(decode_f(DLT_RAW, &f, &p), SW_DECODE_MALFORMED);
	/* An extension header of length 0. */
	uint8_t ext[sizeof(GTP_EXT)];
	memcpy(ext, GTP_EXT, sizeof(ext));
	ext[4] = 0;
	build_gtp(&f, 4, ext, sizeof(ext), 0x34, 4);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_MALFORMED);
	/* An extension header running past the GTP length. */
	memcpy(ext, GTP_EXT, sizeof(ext));
	ext[8] = 0x40;
	build_gtp(&f, 4, ext, sizeof(ext), 0x34, 4);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_MALFORMED);

	/* A chain of extension headers longer than the cap. */
	uint8_t chain[4 + 9 * 4];
	memcpy(chain, GTP_EXT, 4);
	for (int i = 0; i < 9; i++) {
		uint8_t *e = chain + 4 + 4 * i;
		e[0] = 1;
		e[1] = e[2] = 0;
		e[3] = i == 8 ? 0 : 0x85;
	}
	build_gtp(&f, 4, chain, sizeof(chain), 0x34, 4);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_MALFORMED);
	chain[4 + 4 * 7 + 3] = 0; /* eight: within the cap */
	f.n = 0;
	put_eth(&f, 0x0800);
	put_outer4(&f, 17, 16 + 4 + 8 * 4 + INNER4_LEN);
	put_udp(&f, 2152, 8 + 4 + 8 * 4 + INNER4_LEN);
	put_gtp(&f, 0x34, 0xff, 4 + 8 * 4 + INNER4_LEN);
	put(&f, chain, 4 + 8 * 4);
	put_ipv4(&f, &SEG_DATA);
	assert_int_equal(decode_f(DLT_EN10MB, &f, &p), SW_DECODE_TCP);
	check_v4_data(&f, out4 + 4 + 8 * 4, &p);
}

/* Every prefix of tunnelled frames: TRUNCATED until the inner TCP header is whole. */
static void test_tunnel_truncation(void **state)
{
	struct frame f = { .n = 0 };
	struct seg syn = { SW_TH_SYN, LINUX_SYN_OPTS, sizeof(LINUX_SYN_OPTS), "data" };

	build_gtp(&f, 6, GTP_EXT, sizeof(GTP_EXT), 0x34, 4);
	check_prefixes(DLT_EN10MB, f.b, f.n, f.n - 8);
	build_gtp(&f, 4, GTP_EXT, 4, 0x32, 6);
	check_prefixes(DLT_EN10MB, f.b, f.n, f.n - 8);

	f.n = 0;
	put_outer4(&f, 41, 40 + seg_len(&syn));
	put_ipv6(&f, &syn);
	check_prefixes(DLT_RAW, f.b, f.n, f.n - 4);

	f.n = 0;
	put_eth(&f, 0x86dd);
	put_outer6(&f, 4, 20 + seg_len(&syn));
	put_ipv4(&f, &syn);
	check_prefixes(DLT_EN10MB, f.b, f.n, f.n - 4);

	f.n = 0;
	put_nested(&f, 4);
	check_prefixes(DLT_RAW, f.b, f.n, f.n - 8);
}

/* Random frames and random mutations of real ones: no crash, invariants hold. */
static void test_random_frames(void **state)
{
	static const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_NULL,
				    DLT_LOOP, DLT_PPP_ETHER, DLT_IPV4, DLT_IPV6 };
	uint64_t x = 0x9e3779b97f4a7c15u;
	uint8_t b[160];
	struct sw_packet p;
	uint64_t seen[SW_DECODE__COUNT] = { 0 };

	for (int iter = 0; iter < 200000; iter++) {
		const struct real_frame *rf = &REAL[(size_t)iter % SW_ARRAY_LEN(REAL)];
		size_t n = rf->n;
		memcpy(b, rf->b, n);
		/* Flip a few bytes (xorshift64). */
		for (int k = 0; k < 3; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			b[x % n] = (uint8_t)(x >> 32);
		}
		enum sw_decode_result r = decode_n(rf->dlt, b, (size_t)(x >> 40) % (n + 1), &p);
		assert_true((unsigned)r < SW_DECODE__COUNT);
		seen[r]++;
		r = decode_n(dlts[(x >> 20) % SW_ARRAY_LEN(dlts)], b, n, &p);
		assert_true((unsigned)r < SW_DECODE__COUNT);
	}
	/* The mutations reached every outcome. */
	for (int r = 0; r < SW_DECODE__COUNT; r++)
		assert_true(seen[r] > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ethernet),
		cmocka_unit_test(test_vlan_tags),
		cmocka_unit_test(test_vlan_depth_cap),
		cmocka_unit_test(test_pppoe),
		cmocka_unit_test(test_ppp_ether),
		cmocka_unit_test(test_sll),
		cmocka_unit_test(test_sll2),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_null_loop),
		cmocka_unit_test(test_not_ip_and_unsupported),
		cmocka_unit_test(test_result_names),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv4_header_lengths),
		cmocka_unit_test(test_ipv4_options),
		cmocka_unit_test(test_ethernet_padding),
		cmocka_unit_test(test_snaplen_cut_and_tso),
		cmocka_unit_test(test_ipv6_ext_headers),
		cmocka_unit_test(test_ipv6_fragment_and_chain_cap),
		cmocka_unit_test(test_tcp_data_offset),
		cmocka_unit_test(test_syn_options),
		cmocka_unit_test(test_syn_options_odd),
		cmocka_unit_test(test_real_frames),
		cmocka_unit_test(test_truncation_every_length),
		cmocka_unit_test(test_ip_in_ip),
		cmocka_unit_test(test_tunnel_depth_cap),
		cmocka_unit_test(test_gtpu),
		cmocka_unit_test(test_tunnel_truncation),
		cmocka_unit_test(test_random_frames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
