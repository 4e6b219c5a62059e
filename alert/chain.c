/*
 * chain.c - hashing and reading the fixed-form chain members (chain.h).
 * Lines handed in here may come from a tampered file: every offset is
 * checked against the line length.
 */
#define _GNU_SOURCE /* memmem */
#include <string.h>

#include <sodium.h>

#include "chain.h"

void sw_line_hash(uint8_t out[SW_HASH_LEN], const char *line, size_t len)
{
	crypto_generichash(out, SW_HASH_LEN, (const unsigned char *)line, len, NULL, 0);
}

static bool all_of(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(set, s[i]))
			return false;
	return true;
}

#define B64SET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

/* Checks that line[*end - strlen(lit) .. *end) == lit and moves *end back. */
static bool back_lit(const char *line, size_t *end, const char *lit)
{
	size_t n = strlen(lit);
	if (*end < n || memcmp(line + *end - n, lit, n) != 0)
		return false;
	*end -= n;
	return true;
}

/* Moves *end back over a fixed-width field of n chars from set. */
static bool back_field(const char *line, size_t *end, size_t n, const char *set, const char **f)
{
	if (*end < n || !all_of(line + *end - n, n, set))
		return false;
	*end -= n;
	*f = line + *end;
	return true;
}

int sw_chain_parse_tail(const char *line, size_t len, struct sw_chain_tail *t)
{
	memset(t, 0, sizeof *t);
	size_t end = len;
	const char *f;

	if (len >= SW_SIG_SUFFIX_LEN &&
	    memcmp(line + len - SW_SIG_SUFFIX_LEN, ",\"sig\":\"", 8) == 0) {
		size_t sl = 0;
		end = len;
		if (!back_lit(line, &end, "\"}") || !back_field(line, &end, 88, B64SET, &f) ||
		    sodium_base642bin(t->sig, sizeof t->sig, f, 88, NULL, &sl, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0 || sl != SW_SIG_LEN ||
		    !back_lit(line, &end, ",\"sig\":\""))
			return -1;
		t->has_sig = true;
		t->signed_len = end;
	} else if (!back_lit(line, &end, "}")) {
		return -1;
	}

	size_t pl = 0;
	if (!back_lit(line, &end, "\"") || !back_field(line, &end, 16, "0123456789ABCDEF", &f))
		return -1;
	memcpy(t->kid, f, 16);
	if (!back_lit(line, &end, ",\"kid\":\"") || !back_lit(line, &end, "\"") ||
	    !back_field(line, &end, 44, B64SET, &f) ||
	    sodium_base642bin(t->prev, sizeof t->prev, f, 44, NULL, &pl, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || pl != SW_HASH_LEN)
		return -1;
	if (!back_lit(line, &end, ",\"prev\":\"") || !back_lit(line, &end, "\"") ||
	    !back_field(line, &end, 32, "0123456789abcdef", &f))
		return -1;
	memcpy(t->session, f, 32);
	if (!back_lit(line, &end, ",\"session\":\""))
		return -1;

	size_t digits = 0;
	while (digits < end && digits <= 20 && line[end - 1 - digits] >= '0' && line[end - 1 - digits] <= '9')
		digits++;
	if (digits == 0 || digits > 20)
		return -1;
	uint64_t v = 0;
	for (size_t i = end - digits; i < end; i++) {
		uint64_t d = (uint64_t)(line[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	end -= digits;
	if (!back_lit(line, &end, ",\"seq\":"))
		return -1;
	t->seq = v;
	return 0;
}

/* Copies the string value that starts at p (after the opening quote). */
static bool copy_simple(const char *p, const char *lim, char *out, size_t n)
{
	size_t i = 0;
	while (p < lim && *p != '"') {
		if (*p == '\\' || i + 1 >= n)
			return false;
		out[i++] = *p++;
	}
	if (p >= lim)
		return false;
	out[i] = '\0';
	return true;
}

bool sw_line_event_type(const char *line, size_t len, char *out, size_t n)
{
	/* {"timestamp":"2026-11-27T07:18:03.123456Z","event_type":" */
	static const char a[] = "{\"timestamp\":\"";
	static const char b[] = "\",\"event_type\":\"";
	size_t off = sizeof a - 1 + 27;
	if (len < off + sizeof b - 1 || memcmp(line, a, sizeof a - 1) != 0 ||
	    memcmp(line + off, b, sizeof b - 1) != 0)
		return false;
	return copy_simple(line + off + sizeof b - 1, line + len, out, n);
}

static const char *find(const char *line, size_t len, const char *s)
{
	size_t n = strlen(s);
	if (n > len)
		return NULL;
	return memmem(line, len, s, n);
}

bool sw_line_chain_kind(const char *line, size_t len, char *out, size_t n)
{
	static const char k[] = "\"chain\":{\"kind\":\"";
	const char *p = find(line, len, k);
	if (!p)
		return false;
	return copy_simple(p + sizeof k - 1, line + len, out, n);
}

bool sw_line_has(const char *line, size_t len, const char *s)
{
	return find(line, len, s) != NULL;
}
