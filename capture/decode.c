/*
 * decode.c - link, IP and TCP decoding of one captured frame.
 *
 * Contract (see sw_capture.h): sw_decode() reads only the caplen bytes at
 * frame, allocates nothing and makes no system calls; it fills *out and
 * returns SW_DECODE_TCP, or returns why the frame is not a TCP segment
 * (*out is then partly filled and not to be used).
 *
 * Layout of the work, each step clamping the span the next one sees
 * (p0f style: clamp first, in order, one reason per check):
 *
 *   link header    -> ethertype (or IP version nibble for raw/null links)
 *   ethertype      -> VLAN/QinQ tags (bounded), PPPoE session + PPP protocol
 *   IPv4 / IPv6    -> captured span clamped to the IP total length, a
 *                     second "wire" length kept from the IP header
 *   IPv6 ext hdrs  -> bounded chain
 *   tunnels        -> IP-in-IP (IPv4 protocol 4/41, IPv6 next header 4/41)
 *                     and GTP-U (UDP to port 2152, TS 29.281): the inner IP
 *                     packet is decoded with the same rules, bounded by
 *                     the outer lengths, at most SW_ENCAP_MAX levels deep
 *   TCP            -> data offset, options of SYN segments, payload
 *
 * Two lengths travel together: "cap" is what was captured (readable) and
 * "wire" is what the IP header says was sent.  A header that runs past
 * wire is MALFORMED (it cannot be true); one that fits wire but not cap is
 * TRUNCATED (the snaplen cut it).  Where the link frames the IP packet
 * itself (PPPoE's length field), wire is also bounded by that length.
 *
 * Choices worth knowing: an IPv4 total length or IPv6 payload length of 0
 * (TSO/GSO segments captured on the sending host, jumbograms) takes the
 * captured length as the packet; an IPv6 atomic fragment (offset 0, M
 * clear, RFC 6946) is decoded as the whole packet it is; every real
 * fragment is SW_DECODE_FRAGMENT whatever its protocol.  Through a tunnel
 * the innermost IP header speaks for the packet: addresses, TTL, DF bit
 * and l3 are the inner ones (the outer TTL counts the tunnel's hops, not
 * the endpoints').  UDP that is not GTP-U is NOT_TCP without a look at its
 * length.
 */
#include <string.h>

#include <pcap/pcap.h>

#include "sw_capture.h"

/* Caps on attacker-controlled chains. */
#define SW_VLAN_MAX_TAGS 8    /* 802.1Q/QinQ tags in one frame */
#define SW_IPV6_MAX_EXT 8     /* IPv6 extension headers before TCP */
#define SW_ENCAP_MAX 4        /* tunnel levels (IP-in-IP, GTP-U) around the packet */
#define SW_GTP_MAX_EXT 8      /* GTP-U extension headers */

#define SLL_HLEN 16
#define SLL2_HLEN 20
#define NULL_HLEN 4

#define ETYPE_IPV4 0x0800
#define ETYPE_IPV6 0x86dd
#define ETYPE_VLAN 0x8100
#define ETYPE_QINQ 0x88a8
#define ETYPE_QINQ_OLD 0x9100
#define ETYPE_PPPOE_SESS 0x8864

#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057

#define IPP_HOPOPTS 0
#define IPP_IPIP 4
#define IPP_TCP 6
#define IPP_UDP 17
#define IPP_IPV6 41
#define IPP_ROUTING 43
#define IPP_FRAGMENT 44
#define IPP_AH 51
#define IPP_DSTOPTS 60

#define UDP_PORT_GTPU 2152
#define GTP_TPDU 0xff

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WSCALE 3

/*
 * The L3 span: the IP header onwards.  cap bytes are readable; wire bytes
 * were sent according to the IP header.  cap <= wire always holds once
 * the span is clamped.
 */
struct l3_span {
	const uint8_t *p;
	uint32_t cap;
	uint32_t wire;
};

/* Advance the span by n header bytes: MALFORMED past wire, TRUNCATED past cap. */
static enum sw_decode_result span_take(struct l3_span *s, uint32_t n)
{
	if (n > s->wire)
		return SW_DECODE_MALFORMED;
	if (n > s->cap)
		return SW_DECODE_TRUNCATED;
	s->p += n;
	s->cap -= n;
	s->wire -= n;
	return SW_DECODE_TCP;
}

/*
 * TCP options of a SYN or SYN-ACK (RFC 9293 3.1, MSS RFC 9293 3.7.1,
 * window scale RFC 7323 2.2).  Options that do not parse end the walk:
 * they are the peer's problem, not a reason to drop the segment.
 */
static void tcp_syn_options(const uint8_t *o, uint32_t n, struct sw_packet *out)
{
	uint32_t i = 0;

	while (i < n) {
		uint8_t kind = o[i];

		if (out->n_opts < SW_TCP_MAX_OPTS)
			out->opt_kinds[out->n_opts++] = kind;
		if (kind == TCPOPT_EOL)
			return;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		/* Every other kind carries a length covering kind and length bytes. */
		if (n - i < 2)
			return;
		uint8_t len = o[i + 1];
		if (len < 2 || len > n - i)
			return;
		if (kind == TCPOPT_MSS && len == 4)
			out->mss = sw_be16(o + i + 2);
		else if (kind == TCPOPT_WSCALE && len == 3)
			out->wscale = o[i + 2];
		i += len;
	}
}

/* TCP header (RFC 9293 3.1) at the start of s. */
static enum sw_decode_result decode_tcp(struct l3_span *s, struct sw_packet *out)
{
	const uint8_t *th = s->p;
	enum sw_decode_result r;

	/* The fixed header must have been sent, then captured. */
	if ((r = span_take(s, 20)) != SW_DECODE_TCP)
		return r;
	uint32_t doff = (uint32_t)(th[12] >> 4) * 4;
	/* Data offset counts 32-bit words and covers at least the fixed header. */
	if (doff < 20)
		return SW_DECODE_MALFORMED;
	/* Options must lie inside the segment, then inside the capture. */
	if ((r = span_take(s, doff - 20)) != SW_DECODE_TCP)
		return r;

	out->sport = sw_be16(th);
	out->dport = sw_be16(th + 2);
	out->seq = sw_be32(th + 4);
	out->ack = sw_be32(th + 8);
	out->tcp_flags = th[13] & 0x3f;
	out->window = sw_be16(th + 14);
	out->payload = s->p;
	out->payload_len = s->cap;
	out->payload_wire_len = s->wire;
	if (out->tcp_flags & SW_TH_SYN)
		tcp_syn_options(th + 20, doff - 20, out);
	return SW_DECODE_TCP;
}

/*
 * Clamp the L3 span to the length the IP header declares (tot = IP header
 * plus payload).  A shorter declared length trims link padding (Ethernet
 * pads to 60 bytes); a longer one means the snaplen cut the packet.
 */
static void span_clamp(struct l3_span *s, uint32_t tot, struct sw_packet *out)
{
	s->wire = tot;
	if (s->cap > tot)
		s->cap = tot;
	out->l3 = s->p;
	out->l3_len = s->cap;
}

static enum sw_decode_result decode_ipv4(const uint8_t *p, uint32_t cap, uint32_t bound,
					 unsigned depth, struct sw_packet *out);
static enum sw_decode_result decode_ipv6(const uint8_t *p, uint32_t cap, uint32_t bound,
					 unsigned depth, struct sw_packet *out);

/* An inner IP packet of a tunnel, the rest of s, one level deeper. */
static enum sw_decode_result decode_inner(struct l3_span *s, uint8_t version, unsigned depth,
					  struct sw_packet *out)
{
	/* Tunnels in tunnels beyond any real deployment are a crafted packet. */
	if (depth >= SW_ENCAP_MAX)
		return SW_DECODE_MALFORMED;
	if (version == 4)
		return decode_ipv4(s->p, s->cap, s->wire, depth + 1, out);
	return decode_ipv6(s->p, s->cap, s->wire, depth + 1, out);
}

/*
 * GTP-U header (3GPP TS 29.281 5.1, 5.2) at the start of s, then the
 * T-PDU's IP packet.  Only version 1, protocol type GTP, message type
 * T-PDU carries user packets; echo, error indication and end marker are
 * signalling (NOT_TCP).
 */
static enum sw_decode_result decode_gtpu(struct l3_span *s, unsigned depth, struct sw_packet *out)
{
	const uint8_t *g = s->p;
	enum sw_decode_result r;

	if ((r = span_take(s, 8)) != SW_DECODE_TCP)
		return r;
	uint8_t flags = g[0];
	/* Version 1 (bits 8-6), PT 1 (bit 5): GTP, not GTP' (5.1). */
	if ((flags & 0xf0) != 0x30 || g[1] != GTP_TPDU)
		return SW_DECODE_NOT_TCP;
	/* The length counts the octets after the mandatory 8 (5.1). */
	uint32_t len = sw_be16(g + 2);
	if (len > s->wire)
		return SW_DECODE_MALFORMED;
	s->wire = len;
	s->cap = SW_MIN(s->cap, len);
	/* E, S or PN: sequence number, N-PDU number and next type follow (5.1). */
	if (flags & 0x07) {
		const uint8_t *o = s->p;
		if ((r = span_take(s, 4)) != SW_DECODE_TCP)
			return r;
		uint8_t next = (flags & 0x04) ? o[3] : 0;
		/* Extension headers (5.2): length in 4-octet units, next type last. */
		for (unsigned n = 0; next != 0; n++) {
			const uint8_t *e = s->p;
			if (n == SW_GTP_MAX_EXT)
				return SW_DECODE_MALFORMED;
			if ((r = span_take(s, 1)) != SW_DECODE_TCP)
				return r;
			uint32_t elen = (uint32_t)e[0] * 4;
			/* A zero length cannot hold its own length and next-type octets. */
			if (elen == 0)
				return SW_DECODE_MALFORMED;
			if ((r = span_take(s, elen - 1)) != SW_DECODE_TCP)
				return r;
			next = e[elen - 1];
		}
	}
	/* The T-PDU: an IP packet (or Ethernet/unstructured in 5G: not ours). */
	if (s->wire == 0)
		return SW_DECODE_NOT_IP;
	if (s->cap == 0)
		return SW_DECODE_TRUNCATED;
	switch (s->p[0] >> 4) {
	case 4:
		return decode_inner(s, 4, depth, out);
	case 6:
		return decode_inner(s, 6, depth, out);
	default:
		return SW_DECODE_NOT_IP;
	}
}

/* UDP header (RFC 768): only GTP-U is looked into. */
static enum sw_decode_result decode_udp(struct l3_span *s, unsigned depth, struct sw_packet *out)
{
	const uint8_t *u = s->p;
	enum sw_decode_result r;

	if ((r = span_take(s, 8)) != SW_DECODE_TCP)
		return r;
	if (sw_be16(u + 2) != UDP_PORT_GTPU)
		return SW_DECODE_NOT_TCP;
	/* The UDP length covers its 8-byte header and lies inside the IP payload. */
	uint32_t ulen = sw_be16(u + 4);
	if (ulen < 8 || ulen - 8 > s->wire)
		return SW_DECODE_MALFORMED;
	s->wire = ulen - 8;
	s->cap = SW_MIN(s->cap, s->wire);
	return decode_gtpu(s, depth, out);
}

/* The protocol after the IP header(s): TCP, a tunnel, or not ours. */
static enum sw_decode_result decode_l4(uint8_t proto, struct l3_span *s, unsigned depth,
				       struct sw_packet *out)
{
	switch (proto) {
	case IPP_TCP:
		return decode_tcp(s, out);
	case IPP_IPIP:
		return decode_inner(s, 4, depth, out);
	case IPP_IPV6:
		return decode_inner(s, 6, depth, out);
	case IPP_UDP:
		return decode_udp(s, depth, out);
	default:
		return SW_DECODE_NOT_TCP; /* ICMP, SCTP, ESP, GRE, no next header, ... */
	}
}

/* IPv4 header (RFC 791 3.1); depth counts the tunnels around it. */
static enum sw_decode_result decode_ipv4(const uint8_t *p, uint32_t cap, uint32_t bound,
					 unsigned depth, struct sw_packet *out)
{
	struct l3_span s = { p, cap, cap };

	/* The fixed header must be sent, then captured, before any field is trusted. */
	if (cap < 20)
		return bound < 20 ? SW_DECODE_MALFORMED : SW_DECODE_TRUNCATED;
	/* The link said IPv4; the header must agree. */
	if (p[0] >> 4 != 4)
		return SW_DECODE_MALFORMED;
	uint32_t ihl = (uint32_t)(p[0] & 0x0f) * 4;
	uint32_t tot = sw_be16(p + 2);
	/* Total length 0 is a TSO/GSO segment seen on the sending host: the frame is the packet. */
	if (tot == 0)
		tot = cap;
	/* No more was sent than the link framed. */
	tot = SW_MIN(tot, bound);
	/* The header is at least 20 bytes and lies inside the total length. */
	if (ihl < 20 || tot < ihl)
		return SW_DECODE_MALFORMED;
	span_clamp(&s, tot, out);
	enum sw_decode_result r = span_take(&s, ihl);
	if (r != SW_DECODE_TCP)
		return r;

	uint16_t frag = sw_be16(p + 6);
	out->ip_version = 4;
	out->ttl = p[8];
	out->ip_df = (frag & 0x4000) != 0;
	/* An outer IPv6 header of a tunnel may have filled all 16 bytes. */
	memset(out->src, 0, sizeof(out->src));
	memset(out->dst, 0, sizeof(out->dst));
	memcpy(out->src, p + 12, 4);
	memcpy(out->dst, p + 16, 4);
	/* More-fragments set or a non-zero offset: a fragment, not reassembled here. */
	if (frag & 0x3fff)
		return SW_DECODE_FRAGMENT;
	return decode_l4(p[9], &s, depth, out);
}

/*
 * IPv6 header (RFC 8200 3) and its extension header chain (RFC 8200 4);
 * depth counts the tunnels around it.
 */
static enum sw_decode_result decode_ipv6(const uint8_t *p, uint32_t cap, uint32_t bound,
					 unsigned depth, struct sw_packet *out)
{
	struct l3_span s = { p, cap, cap };
	enum sw_decode_result r;

	/* The fixed header must be sent, then captured, before any field is trusted. */
	if (cap < 40)
		return bound < 40 ? SW_DECODE_MALFORMED : SW_DECODE_TRUNCATED;
	/* The link said IPv6; the header must agree. */
	if (p[0] >> 4 != 6)
		return SW_DECODE_MALFORMED;
	uint32_t plen = sw_be16(p + 4);
	/* Payload length 0: a jumbogram (RFC 2675) or a TSO segment: the frame is the packet. */
	uint32_t tot = plen ? 40 + plen : cap;
	/* No more was sent than the link framed. */
	tot = SW_MIN(tot, bound);
	/* The fixed header lies inside what was sent. */
	if (tot < 40)
		return SW_DECODE_MALFORMED;
	span_clamp(&s, tot, out);
	(void)span_take(&s, 40);

	out->ip_version = 6;
	out->ttl = p[7];
	out->ip_df = 0; /* an outer IPv4 header of a tunnel may have set it */
	memcpy(out->src, p + 8, 16);
	memcpy(out->dst, p + 24, 16);

	uint8_t nh = p[6];
	for (unsigned n = 0;; n++) {
		const uint8_t *h = s.p;
		uint32_t hlen;

		if (nh != IPP_HOPOPTS && nh != IPP_ROUTING && nh != IPP_DSTOPTS &&
		    nh != IPP_FRAGMENT && nh != IPP_AH)
			break; /* the upper-layer protocol */
		/* A longer chain than any sender needs is an evasion attempt. */
		if (n == SW_IPV6_MAX_EXT)
			return SW_DECODE_MALFORMED;
		/* Every extension header starts with next-header and a length byte. */
		if ((r = span_take(&s, 2)) != SW_DECODE_TCP)
			return r;
		if (nh == IPP_FRAGMENT)
			hlen = 8;                        /* RFC 8200 4.5: fixed size */
		else if (nh == IPP_AH)
			hlen = ((uint32_t)h[1] + 2) * 4; /* RFC 4302 2.2: 32-bit words minus 2 */
		else
			hlen = ((uint32_t)h[1] + 1) * 8; /* RFC 8200 4.3: 8-octet units minus 1 */
		if ((r = span_take(&s, hlen - 2)) != SW_DECODE_TCP)
			return r;
		/* An atomic fragment (offset 0, M clear) is a whole packet (RFC 6946). */
		if (nh == IPP_FRAGMENT && (sw_be16(h + 2) & 0xfff9) != 0)
			return SW_DECODE_FRAGMENT;
		nh = h[0];
	}
	return decode_l4(nh, &s, depth, out);
}

/* IP by its version nibble: raw IP, BSD null/loopback. */
static enum sw_decode_result decode_ip_nibble(const uint8_t *p, uint32_t cap, struct sw_packet *out)
{
	if (cap < 1)
		return SW_DECODE_TRUNCATED;
	switch (p[0] >> 4) {
	case 4:
		return decode_ipv4(p, cap, UINT32_MAX, 0, out);
	case 6:
		return decode_ipv6(p, cap, UINT32_MAX, 0, out);
	default:
		return SW_DECODE_NOT_IP;
	}
}

/* PPP protocol field inside a PPPoE session frame (RFC 1661 2, RFC 2516 5). */
static enum sw_decode_result decode_pppoe(struct sw_cur *c, struct sw_packet *out)
{
	uint8_t vt = cur_u8(c);
	uint8_t code = cur_u8(c);
	cur_skip(c, 2); /* session id */
	uint16_t len = cur_be16(c);
	uint16_t proto = cur_be16(c);

	if (!cur_ok(c))
		return SW_DECODE_TRUNCATED;
	/* Version 1, type 1, code 0 is the only session data frame (RFC 2516 4). */
	if (vt != 0x11 || code != 0)
		return SW_DECODE_MALFORMED;
	/* The PPPoE length covers the PPP protocol field. */
	if (len < 2)
		return SW_DECODE_MALFORMED;
	/*
	 * The PPPoE length frames the IP packet: an IP length beyond it
	 * counts bytes that were never sent (seen in the wild: 6 bytes of
	 * padding counted by IP but not by PPPoE).
	 */
	uint32_t left = (uint32_t)cur_left(c);
	uint32_t bound = (uint32_t)len - 2;
	if (proto == PPP_IPV4)
		return decode_ipv4(c->p, left, bound, 0, out);
	if (proto == PPP_IPV6)
		return decode_ipv6(c->p, left, bound, 0, out);
	return SW_DECODE_NOT_IP;
}

/*
 * Dispatch on an ethertype already read, the cursor just after it: skip up
 * to SW_VLAN_MAX_TAGS 802.1Q/802.1ad tags (IEEE 802.1Q 9.5), then IPv4,
 * IPv6 or a PPPoE session.
 */
static enum sw_decode_result decode_ethertype(struct sw_cur *c, uint16_t type,
					      struct sw_packet *out)
{
	for (unsigned tags = 0;
	     type == ETYPE_VLAN || type == ETYPE_QINQ || type == ETYPE_QINQ_OLD; tags++) {
		/* Deeper stacks than any real network uses are a crafted frame. */
		if (tags == SW_VLAN_MAX_TAGS)
			return SW_DECODE_MALFORMED;
		cur_skip(c, 2); /* tag control information */
		type = cur_be16(c);
	}
	if (!cur_ok(c))
		return SW_DECODE_TRUNCATED;

	uint32_t left = (uint32_t)cur_left(c);
	switch (type) {
	case ETYPE_IPV4:
		return decode_ipv4(c->p, left, UINT32_MAX, 0, out);
	case ETYPE_IPV6:
		return decode_ipv6(c->p, left, UINT32_MAX, 0, out);
	case ETYPE_PPPOE_SESS:
		return decode_pppoe(c, out);
	default:
		return SW_DECODE_NOT_IP; /* ARP, LLDP, 802.3 length field, ... */
	}
}

static enum sw_decode_result decode_link(int dlt, const uint8_t *frame, uint32_t caplen,
					 struct sw_packet *out)
{
	struct sw_cur c = cur_make(frame, caplen);
	uint16_t type;

	switch (dlt) {
	case DLT_EN10MB:
		cur_skip(&c, 12); /* destination, source */
		type = cur_be16(&c);
		break;
	case DLT_LINUX_SLL:
		/* packet type, ARPHRD type, address length, 8 address bytes, protocol */
		cur_skip(&c, SLL_HLEN - 2);
		type = cur_be16(&c);
		break;
	case DLT_LINUX_SLL2:
		/* protocol, reserved, interface index, ARPHRD type, packet type, address */
		type = cur_be16(&c);
		cur_skip(&c, SLL2_HLEN - 2);
		break;
	case DLT_PPP_ETHER:
		return decode_pppoe(&c, out);
	case DLT_NULL:
	case DLT_LOOP:
		/* The AF word's byte order is the capturing host's: trust the IP nibble. */
		if (caplen < NULL_HLEN)
			return SW_DECODE_TRUNCATED;
		return decode_ip_nibble(frame + NULL_HLEN, caplen - NULL_HLEN, out);
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		return decode_ip_nibble(frame, caplen, out);
	default:
		return SW_DECODE_NOT_IP;
	}
	if (!cur_ok(&c))
		return SW_DECODE_TRUNCATED;
	return decode_ethertype(&c, type, out);
}

enum sw_decode_result sw_decode(int dlt, const uint8_t *frame, uint32_t caplen,
				struct sw_packet *out)
{
	memset(out, 0, sizeof(*out));
	out->wscale = 0xff;
	if (caplen == 0)
		return SW_DECODE_TRUNCATED;
	return decode_link(dlt, frame, caplen, out);
}

bool sw_dlt_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_PPP_ETHER:
	case DLT_NULL:
	case DLT_LOOP:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		return true;
	default:
		return false;
	}
}

const char *sw_decode_result_name(enum sw_decode_result r)
{
	static const char *const names[SW_DECODE__COUNT] = {
		[SW_DECODE_TCP] = "tcp",
		[SW_DECODE_NOT_IP] = "not_ip",
		[SW_DECODE_NOT_TCP] = "not_tcp",
		[SW_DECODE_FRAGMENT] = "ip_fragment",
		[SW_DECODE_TRUNCATED] = "truncated",
		[SW_DECODE_MALFORMED] = "malformed",
	};

	if ((unsigned)r >= SW_DECODE__COUNT)
		return "unknown";
	return names[r];
}
