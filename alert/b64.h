/*
 * b64.h - standard base64 with padding (RFC 4648 section 4), the same
 * text as sodium_bin2base64(..., sodium_base64_VARIANT_ORIGINAL), for
 * public data only: hashes, signatures, Community IDs.  Table lookups, so
 * not constant-time: never for secret bytes (keys stay with libsodium).
 */
#ifndef SW_B64_H
#define SW_B64_H

#include <stddef.h>
#include <stdint.h>

/* Characters written for n bytes, NUL excluded. */
#define SW_B64_LEN(n) (((n) + 2) / 3 * 4)

/* Writes SW_B64_LEN(n) characters and a NUL into out; returns out. */
char *sw_b64_encode(char *out, const uint8_t *in, size_t n);

#endif
