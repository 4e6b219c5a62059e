/*
 * sha1.c - SHA-1 per FIPS 180-4 section 6.1, written for Community ID v1.
 * Streaming interface; no allocation.  Inputs are never longer than a few
 * dozen bytes here, so the code favours clarity over speed.
 */
#include <string.h>

#include "sha1.h"

static uint32_t rol32(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

/* FIPS 180-4 6.1.2: one 512-bit block. */
static void sha1_block(uint32_t h[5], const uint8_t b[64])
{
	uint32_t w[80];
	for (int t = 0; t < 16; t++)
		w[t] = ((uint32_t)b[4 * t] << 24) | ((uint32_t)b[4 * t + 1] << 16) |
		       ((uint32_t)b[4 * t + 2] << 8) | b[4 * t + 3];
	for (int t = 16; t < 80; t++)
		w[t] = rol32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);

	uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4];
	for (int t = 0; t < 80; t++) {
		uint32_t f, k;
		if (t < 20) {
			f = (bb & c) | (~bb & d);
			k = 0x5a827999;
		} else if (t < 40) {
			f = bb ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (t < 60) {
			f = (bb & c) | (bb & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = bb ^ c ^ d;
			k = 0xca62c1d6;
		}
		uint32_t tmp = rol32(a, 5) + f + e + k + w[t];
		e = d;
		d = c;
		c = rol32(bb, 30);
		bb = a;
		a = tmp;
	}
	h[0] += a;
	h[1] += bb;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

void sw_sha1_init(struct sw_sha1 *s)
{
	static const uint32_t iv[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
	memcpy(s->h, iv, sizeof iv);
	s->total = 0;
	s->fill = 0;
}

void sw_sha1_update(struct sw_sha1 *s, const void *data, size_t len)
{
	const uint8_t *p = data;
	s->total += len;
	while (len > 0) {
		size_t n = (64 - s->fill < len ? 64 - s->fill : len);
		memcpy(s->block + s->fill, p, n);
		s->fill += n;
		p += n;
		len -= n;
		if (s->fill == 64) {
			sha1_block(s->h, s->block);
			s->fill = 0;
		}
	}
}

/* FIPS 180-4 5.1.1: 0x80, zeros, then the 64-bit big-endian bit length. */
void sw_sha1_final(struct sw_sha1 *s, uint8_t out[SW_SHA1_LEN])
{
	uint64_t bits = s->total * 8;
	uint8_t pad[72] = { 0x80 };
	size_t padlen = (s->fill < 56) ? 56 - s->fill : 120 - s->fill;
	uint8_t lenb[8];
	for (int i = 0; i < 8; i++)
		lenb[i] = (uint8_t)(bits >> (56 - 8 * i));
	sw_sha1_update(s, pad, padlen);
	sw_sha1_update(s, lenb, 8);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

void sw_sha1(const void *data, size_t len, uint8_t out[SW_SHA1_LEN])
{
	struct sw_sha1 s;
	sw_sha1_init(&s);
	sw_sha1_update(&s, data, len);
	sw_sha1_final(&s, out);
}
