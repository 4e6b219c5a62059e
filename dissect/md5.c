/*
 * md5.c - MD5 message digest (RFC 1321), used only for JA3/JA3S
 * fingerprints.  MD5 is not used for anything that needs collision
 * resistance here: JA3 is a label, not a security boundary.
 *
 * Streaming: sw_md5_update() may be called with any split of the input;
 * the state holds at most 63 pending bytes.  No allocation.
 */
#include <string.h>

#include "tls.h"

static inline uint32_t rotl32(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

/* The four auxiliary functions (RFC 1321 3.4). */
#define MD5_F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MD5_G(x, y, z) ((y) ^ ((z) & ((x) ^ (y))))
#define MD5_H(x, y, z) ((x) ^ (y) ^ (z))
#define MD5_I(x, y, z) ((y) ^ ((x) | ~(z)))
/* One step: a = b + ((a + fn(b,c,d) + X[k] + T[i]) <<< s). */
#define MD5_STEP(fn, a, b, c, d, xk, t, s) \
	((a) = (b) + rotl32((a) + fn((b), (c), (d)) + (xk) + (uint32_t)(t), (s)))

/* One 64-byte block; words are little-endian.  T[i] = floor(2^32 * |sin(i + 1)|). */
static void md5_block(uint32_t st[4], const uint8_t *blk)
{
	uint32_t x[16];
	for (unsigned i = 0; i < 16; i++)
		x[i] = (uint32_t)blk[4 * i] | ((uint32_t)blk[4 * i + 1] << 8) |
		       ((uint32_t)blk[4 * i + 2] << 16) | ((uint32_t)blk[4 * i + 3] << 24);

	uint32_t a = st[0], b = st[1], c = st[2], d = st[3];

	/* Round 1 */
	MD5_STEP(MD5_F, a, b, c, d, x[0], 0xd76aa478, 7);
	MD5_STEP(MD5_F, d, a, b, c, x[1], 0xe8c7b756, 12);
	MD5_STEP(MD5_F, c, d, a, b, x[2], 0x242070db, 17);
	MD5_STEP(MD5_F, b, c, d, a, x[3], 0xc1bdceee, 22);
	MD5_STEP(MD5_F, a, b, c, d, x[4], 0xf57c0faf, 7);
	MD5_STEP(MD5_F, d, a, b, c, x[5], 0x4787c62a, 12);
	MD5_STEP(MD5_F, c, d, a, b, x[6], 0xa8304613, 17);
	MD5_STEP(MD5_F, b, c, d, a, x[7], 0xfd469501, 22);
	MD5_STEP(MD5_F, a, b, c, d, x[8], 0x698098d8, 7);
	MD5_STEP(MD5_F, d, a, b, c, x[9], 0x8b44f7af, 12);
	MD5_STEP(MD5_F, c, d, a, b, x[10], 0xffff5bb1, 17);
	MD5_STEP(MD5_F, b, c, d, a, x[11], 0x895cd7be, 22);
	MD5_STEP(MD5_F, a, b, c, d, x[12], 0x6b901122, 7);
	MD5_STEP(MD5_F, d, a, b, c, x[13], 0xfd987193, 12);
	MD5_STEP(MD5_F, c, d, a, b, x[14], 0xa679438e, 17);
	MD5_STEP(MD5_F, b, c, d, a, x[15], 0x49b40821, 22);
	/* Round 2 */
	MD5_STEP(MD5_G, a, b, c, d, x[1], 0xf61e2562, 5);
	MD5_STEP(MD5_G, d, a, b, c, x[6], 0xc040b340, 9);
	MD5_STEP(MD5_G, c, d, a, b, x[11], 0x265e5a51, 14);
	MD5_STEP(MD5_G, b, c, d, a, x[0], 0xe9b6c7aa, 20);
	MD5_STEP(MD5_G, a, b, c, d, x[5], 0xd62f105d, 5);
	MD5_STEP(MD5_G, d, a, b, c, x[10], 0x02441453, 9);
	MD5_STEP(MD5_G, c, d, a, b, x[15], 0xd8a1e681, 14);
	MD5_STEP(MD5_G, b, c, d, a, x[4], 0xe7d3fbc8, 20);
	MD5_STEP(MD5_G, a, b, c, d, x[9], 0x21e1cde6, 5);
	MD5_STEP(MD5_G, d, a, b, c, x[14], 0xc33707d6, 9);
	MD5_STEP(MD5_G, c, d, a, b, x[3], 0xf4d50d87, 14);
	MD5_STEP(MD5_G, b, c, d, a, x[8], 0x455a14ed, 20);
	MD5_STEP(MD5_G, a, b, c, d, x[13], 0xa9e3e905, 5);
	MD5_STEP(MD5_G, d, a, b, c, x[2], 0xfcefa3f8, 9);
	MD5_STEP(MD5_G, c, d, a, b, x[7], 0x676f02d9, 14);
	MD5_STEP(MD5_G, b, c, d, a, x[12], 0x8d2a4c8a, 20);
	/* Round 3 */
	MD5_STEP(MD5_H, a, b, c, d, x[5], 0xfffa3942, 4);
	MD5_STEP(MD5_H, d, a, b, c, x[8], 0x8771f681, 11);
	MD5_STEP(MD5_H, c, d, a, b, x[11], 0x6d9d6122, 16);
	MD5_STEP(MD5_H, b, c, d, a, x[14], 0xfde5380c, 23);
	MD5_STEP(MD5_H, a, b, c, d, x[1], 0xa4beea44, 4);
	MD5_STEP(MD5_H, d, a, b, c, x[4], 0x4bdecfa9, 11);
	MD5_STEP(MD5_H, c, d, a, b, x[7], 0xf6bb4b60, 16);
	MD5_STEP(MD5_H, b, c, d, a, x[10], 0xbebfbc70, 23);
	MD5_STEP(MD5_H, a, b, c, d, x[13], 0x289b7ec6, 4);
	MD5_STEP(MD5_H, d, a, b, c, x[0], 0xeaa127fa, 11);
	MD5_STEP(MD5_H, c, d, a, b, x[3], 0xd4ef3085, 16);
	MD5_STEP(MD5_H, b, c, d, a, x[6], 0x04881d05, 23);
	MD5_STEP(MD5_H, a, b, c, d, x[9], 0xd9d4d039, 4);
	MD5_STEP(MD5_H, d, a, b, c, x[12], 0xe6db99e5, 11);
	MD5_STEP(MD5_H, c, d, a, b, x[15], 0x1fa27cf8, 16);
	MD5_STEP(MD5_H, b, c, d, a, x[2], 0xc4ac5665, 23);
	/* Round 4 */
	MD5_STEP(MD5_I, a, b, c, d, x[0], 0xf4292244, 6);
	MD5_STEP(MD5_I, d, a, b, c, x[7], 0x432aff97, 10);
	MD5_STEP(MD5_I, c, d, a, b, x[14], 0xab9423a7, 15);
	MD5_STEP(MD5_I, b, c, d, a, x[5], 0xfc93a039, 21);
	MD5_STEP(MD5_I, a, b, c, d, x[12], 0x655b59c3, 6);
	MD5_STEP(MD5_I, d, a, b, c, x[3], 0x8f0ccc92, 10);
	MD5_STEP(MD5_I, c, d, a, b, x[10], 0xffeff47d, 15);
	MD5_STEP(MD5_I, b, c, d, a, x[1], 0x85845dd1, 21);
	MD5_STEP(MD5_I, a, b, c, d, x[8], 0x6fa87e4f, 6);
	MD5_STEP(MD5_I, d, a, b, c, x[15], 0xfe2ce6e0, 10);
	MD5_STEP(MD5_I, c, d, a, b, x[6], 0xa3014314, 15);
	MD5_STEP(MD5_I, b, c, d, a, x[13], 0x4e0811a1, 21);
	MD5_STEP(MD5_I, a, b, c, d, x[4], 0xf7537e82, 6);
	MD5_STEP(MD5_I, d, a, b, c, x[11], 0xbd3af235, 10);
	MD5_STEP(MD5_I, c, d, a, b, x[2], 0x2ad7d2bb, 15);
	MD5_STEP(MD5_I, b, c, d, a, x[9], 0xeb86d391, 21);

	st[0] += a;
	st[1] += b;
	st[2] += c;
	st[3] += d;
}

void sw_md5_init(struct sw_md5 *m)
{
	m->s[0] = 0x67452301;
	m->s[1] = 0xefcdab89;
	m->s[2] = 0x98badcfe;
	m->s[3] = 0x10325476;
	m->n = 0;
}

void sw_md5_update(struct sw_md5 *m, const void *data, size_t n)
{
	const uint8_t *p = data;
	size_t have = (size_t)(m->n & 63);

	m->n += n;
	if (have) {
		size_t take = SW_MIN(n, 64 - have);
		memcpy(m->buf + have, p, take);
		p += take;
		n -= take;
		if (have + take < 64)
			return;
		md5_block(m->s, m->buf);
	}
	for (; n >= 64; p += 64, n -= 64)
		md5_block(m->s, p);
	if (n)
		memcpy(m->buf, p, n);
}

/* Pad (RFC 1321 3.1, 3.2), finish and write lower-case hex. */
void sw_md5_final_hex(struct sw_md5 *m, char hex[33])
{
	static const char digits[] = "0123456789abcdef";
	uint64_t bits = m->n * 8;
	uint8_t pad[72] = { 0x80 };
	size_t have = (size_t)(m->n & 63);
	size_t padlen = (have < 56) ? 56 - have : 120 - have;

	for (unsigned i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (8 * i));
	sw_md5_update(m, pad, padlen + 8);

	for (unsigned i = 0; i < 16; i++) {
		uint8_t byte = (uint8_t)(m->s[i / 4] >> (8 * (i % 4)));
		hex[2 * i] = digits[byte >> 4];
		hex[2 * i + 1] = digits[byte & 15];
	}
	hex[32] = '\0';
}
