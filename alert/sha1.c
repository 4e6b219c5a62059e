/*
 * sha1.c - SHA-1 per FIPS 180-4 section 6.1, written for Community ID v1.
 * Streaming interface; no allocation.  Every flow event hashes one short
 * input (16 bytes for IPv4, 40 for IPv6), so the compression function is
 * unrolled (a 16-word rolling schedule, no branch per round) and the
 * one-shot form pads an input of up to 55 bytes into a single block.
 */
#include <string.h>

#include "sha1.h"

static inline uint32_t rol32(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

/* Byte by byte (any host order); compilers make one load and a bswap of it. */
static inline uint32_t load_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* FIPS 180-4 6.1.2 step 1: W[t] for t >= 16, kept in a ring of 16 words. */
#define W(t) (w[(t) & 15] = rol32(w[((t) + 13) & 15] ^ w[((t) + 8) & 15] ^ \
				  w[((t) + 2) & 15] ^ w[(t) & 15], 1))
/* 4.1.1: Ch, Parity, Maj. */
#define F1(b, c, d) ((d) ^ ((b) & ((c) ^ (d))))
#define F2(b, c, d) ((b) ^ (c) ^ (d))
#define F3(b, c, d) (((b) & (c)) | ((d) & ((b) | (c))))
/* One round with the roles of a..e rotated by the caller instead of moved. */
#define R(a, b, c, d, e, f, k, x)                                  \
	do {                                                        \
		(e) += rol32((a), 5) + f((b), (c), (d)) + (k) + (x); \
		(b) = rol32((b), 30);                               \
	} while (0)
#define R5(f, k, x0, x1, x2, x3, x4)         \
	do {                                  \
		R(a, b, c, d, e, f, k, x0);   \
		R(e, a, b, c, d, f, k, x1);   \
		R(d, e, a, b, c, f, k, x2);   \
		R(c, d, e, a, b, f, k, x3);   \
		R(b, c, d, e, a, f, k, x4);   \
	} while (0)

/* FIPS 180-4 6.1.2: one 512-bit block. */
static void sha1_block(uint32_t h[5], const uint8_t blk[64])
{
	uint32_t w[16];
	for (int t = 0; t < 16; t++)
		w[t] = load_be32(blk + 4 * t);
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	const uint32_t k1 = 0x5a827999, k2 = 0x6ed9eba1, k3 = 0x8f1bbcdc, k4 = 0xca62c1d6;

	R5(F1, k1, w[0], w[1], w[2], w[3], w[4]);
	R5(F1, k1, w[5], w[6], w[7], w[8], w[9]);
	R5(F1, k1, w[10], w[11], w[12], w[13], w[14]);
	R5(F1, k1, w[15], W(16), W(17), W(18), W(19));
	R5(F2, k2, W(20), W(21), W(22), W(23), W(24));
	R5(F2, k2, W(25), W(26), W(27), W(28), W(29));
	R5(F2, k2, W(30), W(31), W(32), W(33), W(34));
	R5(F2, k2, W(35), W(36), W(37), W(38), W(39));
	R5(F3, k3, W(40), W(41), W(42), W(43), W(44));
	R5(F3, k3, W(45), W(46), W(47), W(48), W(49));
	R5(F3, k3, W(50), W(51), W(52), W(53), W(54));
	R5(F3, k3, W(55), W(56), W(57), W(58), W(59));
	R5(F2, k4, W(60), W(61), W(62), W(63), W(64));
	R5(F2, k4, W(65), W(66), W(67), W(68), W(69));
	R5(F2, k4, W(70), W(71), W(72), W(73), W(74));
	R5(F2, k4, W(75), W(76), W(77), W(78), W(79));

	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

static void put_digest(const uint32_t h[5], uint8_t out[SW_SHA1_LEN])
{
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
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
	put_digest(s->h, out);
}

void sw_sha1(const void *data, size_t len, uint8_t out[SW_SHA1_LEN])
{
	static const uint32_t iv[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
	if (len <= 55) {
		/* 5.1.1 in one block: the data, 0x80, zeros, the bit length. */
		uint8_t blk[64] = { 0 };
		uint32_t h[5];
		memcpy(blk, data, len);
		blk[len] = 0x80;
		uint64_t bits = (uint64_t)len * 8;
		for (int i = 0; i < 8; i++)
			blk[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
		memcpy(h, iv, sizeof iv);
		sha1_block(h, blk);
		put_digest(h, out);
		return;
	}
	struct sw_sha1 s;
	sw_sha1_init(&s);
	sw_sha1_update(&s, data, len);
	sw_sha1_final(&s, out);
}
