/*
 * b64.c - standard base64 with padding for public bytes (b64.h).
 */
#include "b64.h"

static const char tab[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *sw_b64_encode(char *out, const uint8_t *in, size_t n)
{
	char *p = out;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
		p[0] = tab[v >> 18];
		p[1] = tab[(v >> 12) & 63];
		p[2] = tab[(v >> 6) & 63];
		p[3] = tab[v & 63];
		p += 4;
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		p[0] = tab[v >> 18];
		p[1] = tab[(v >> 12) & 63];
		p[2] = '=';
		p[3] = '=';
		p += 4;
	} else if (n - i == 2) {
		uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
		p[0] = tab[v >> 18];
		p[1] = tab[(v >> 12) & 63];
		p[2] = tab[(v >> 6) & 63];
		p[3] = '=';
		p += 4;
	}
	*p = '\0';
	return out;
}
