/*
 * community_id.c - Community ID v1 (corelight/community-id-spec):
 *
 *   sha1(seed[2, BE] || addr_a || addr_b || proto || 0x00 || port_a[2, BE] || port_b[2, BE])
 *   -> standard base64 with padding, prefixed "1:".
 *
 * The endpoints are ordered so that the smaller (address, then port),
 * compared as network-order bytes, comes first.  Ports are included for
 * TCP (6), UDP (17) and SCTP (132); other protocols hash addresses and
 * proto only.  ICMP type/code mapping is not needed here: stripwatch only
 * sees TCP.
 */
#include <string.h>

#include "b64.h"
#include "sha1.h"
#include "sw_alert.h"

static bool proto_has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132;
}

void sw_community_id(uint16_t seed, uint8_t ip_version, uint8_t proto,
		     const uint8_t *saddr, uint16_t sport,
		     const uint8_t *daddr, uint16_t dport,
		     char out[SW_COMMUNITY_ID_LEN])
{
	size_t alen = ip_version == 6 ? 16 : 4;
	int c = memcmp(saddr, daddr, alen);
	/* Swap when the source is the larger endpoint; ports decide a tie. */
	bool swap = c > 0 || (c == 0 && sport > dport);
	const uint8_t *a1 = swap ? daddr : saddr, *a2 = swap ? saddr : daddr;
	uint16_t p1 = swap ? dport : sport, p2 = swap ? sport : dport;

	uint8_t buf[2 + 16 + 16 + 2 + 4];
	size_t n = 0;
	buf[n++] = (uint8_t)(seed >> 8);
	buf[n++] = (uint8_t)seed;
	memcpy(buf + n, a1, alen);
	n += alen;
	memcpy(buf + n, a2, alen);
	n += alen;
	buf[n++] = proto;
	buf[n++] = 0;
	if (proto_has_ports(proto)) {
		buf[n++] = (uint8_t)(p1 >> 8);
		buf[n++] = (uint8_t)p1;
		buf[n++] = (uint8_t)(p2 >> 8);
		buf[n++] = (uint8_t)p2;
	}

	uint8_t digest[SW_SHA1_LEN];
	sw_sha1(buf, n, digest);
	out[0] = '1';
	out[1] = ':';
	/* 20 bytes -> 28 chars + NUL = 29 <= SW_COMMUNITY_ID_LEN - 2. */
	_Static_assert(2 + SW_B64_LEN(SW_SHA1_LEN) + 1 <= SW_COMMUNITY_ID_LEN, "the id fits");
	sw_b64_encode(out + 2, digest, sizeof digest);
}
