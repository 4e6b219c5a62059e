/*
 * sha1.h - SHA-1 (FIPS 180-4), only for Community ID v1, which is defined
 * over SHA-1.  Not for anything that needs collision resistance.
 */
#ifndef SW_SHA1_H
#define SW_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SW_SHA1_LEN 20

struct sw_sha1 {
	uint32_t h[5];
	uint64_t total;      /* bytes hashed so far */
	uint8_t block[64];
	size_t fill;         /* bytes waiting in block */
};

void sw_sha1_init(struct sw_sha1 *s);
void sw_sha1_update(struct sw_sha1 *s, const void *data, size_t len);
void sw_sha1_final(struct sw_sha1 *s, uint8_t out[SW_SHA1_LEN]);
/* One shot. */
void sw_sha1(const void *data, size_t len, uint8_t out[SW_SHA1_LEN]);

#endif
