/*
 * test_json_escape.c - the fast paths of alert/json.c against the plain
 * rules: sw_json_escape (runs of plain ASCII copied whole) must give the
 * same bytes, and fail at the same output sizes, as a byte-at-a-time
 * escaper written from json.h; jb_key (one pass when it fits) must leave
 * the same buffer, length and state as the member written piece by piece.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

/* ---- reference: one input character at a time, straight from json.h --------- */

static size_t ref_escape(char *out, size_t outcap, const uint8_t *s, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	size_t o = 0, i = 0;
	while (i < n) {
		uint8_t c = s[i];
		const char *e = NULL;
		char u[7];
		size_t el;
		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default: break;
		}
		if (e) {
			el = 2;
		} else {
			size_t sl = (c >= 0x20 && c != 0x7f) ? sw_utf8_seq_len(s + i, n - i) : 0;
			if (sl > 0) {
				if (outcap - o < sl)
					return (size_t)-1;
				memcpy(out + o, s + i, sl);
				o += sl;
				i += sl;
				continue;
			}
			u[0] = '\\';
			u[1] = 'u';
			u[2] = '0';
			u[3] = '0';
			u[4] = hx[c >> 4];
			u[5] = hx[c & 15];
			e = u;
			el = 6;
		}
		if (outcap - o < el)
			return (size_t)-1;
		memcpy(out + o, e, el);
		o += el;
		i++;
	}
	return o;
}

/* A small deterministic generator: failures reproduce. */
static uint64_t rng_state;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32);
}

/* Mostly plain ASCII with specials, controls, valid and broken UTF-8 mixed in. */
static size_t random_text(uint8_t *b, size_t cap)
{
	static const uint8_t *const pieces[] = {
		(const uint8_t *)"\"", (const uint8_t *)"\\", (const uint8_t *)"\n", (const uint8_t *)"\r",
		(const uint8_t *)"\t", (const uint8_t *)"\x7f", (const uint8_t *)"\x01",
		(const uint8_t *)"\xc3\xa9", (const uint8_t *)"\xe2\x82\xac",
		(const uint8_t *)"\xf0\x9f\x94\x92", (const uint8_t *)"\xe2\x82", (const uint8_t *)"\xc0\xaf",
		(const uint8_t *)"\xed\xa0\x80", (const uint8_t *)"\xff", (const uint8_t *)"\x80",
	};
	size_t n = rnd() % cap, i = 0;
	int mode = (int)(rnd() % 3);
	while (i < n) {
		uint32_t r = rnd();
		if (mode == 0) { /* byte soup */
			b[i++] = (uint8_t)r;
		} else if (r % 8 != 0 || mode == 2) { /* plain ASCII, sometimes long runs */
			b[i++] = (uint8_t)(0x20 + (r >> 8) % 0x5f);
		} else {
			const uint8_t *p = pieces[(r >> 8) % (sizeof pieces / sizeof pieces[0])];
			size_t pl = strlen((const char *)p);
			for (size_t k = 0; k < pl && i < n; k++)
				b[i++] = p[k];
		}
	}
	return n;
}

static void check_same(const uint8_t *in, size_t n, size_t outcap)
{
	static char a[6 * 512 + 8], b[6 * 512 + 8];
	assert_true(outcap <= sizeof a);
	size_t wa = sw_json_escape(a, outcap, in, n);
	size_t wb = ref_escape(b, outcap, in, n);
	assert_true(wa == wb);
	if (wa != (size_t)-1)
		assert_memory_equal(a, b, wa);
}

static void test_escape_matches_reference(void **state)
{
	uint8_t in[512];
	rng_state = 0x9e3779b97f4a7c15ull;
	for (int round = 0; round < 20000; round++) {
		size_t n = random_text(in, sizeof in);
		check_same(in, n, 6 * n);
		/* Around the exact size: the same answer whether it fits or not. */
		char full[6 * 512 + 8];
		size_t need = ref_escape(full, sizeof full, in, n);
		assert_true(need != (size_t)-1);
		for (size_t cap = need > 8 ? need - 8 : 0; cap <= need + 1; cap++)
			check_same(in, n, cap);
		if (need > 0)
			check_same(in, n, rnd() % need);
	}
}

static void test_escape_every_pair(void **state)
{
	/* Every two-byte input, with plain ASCII on both sides. */
	for (int c1 = 0; c1 < 256; c1++) {
		for (int c2 = 0; c2 < 256; c2++) {
			uint8_t in[6] = { 'a', 'b', (uint8_t)c1, (uint8_t)c2, 'c', 'd' };
			check_same(in, sizeof in, 64);
			check_same(in + 2, 2, 64);
		}
	}
}

/* ---- jb_key: one pass or piece by piece, the same result --------------------- */

static void ref_key(struct jb *j, const char *name)
{
	if (j->len > 0 && j->buf[j->len - 1] != '{' && j->buf[j->len - 1] != '[')
		jb_raw(j, ",", 1);
	jb_raw(j, "\"", 1);
	jb_cstr(j, name);
	jb_raw(j, "\":", 2);
}

static void test_key_matches_reference(void **state)
{
	static const char *const prefix[] = { "", "{", "[", "{\"a\":1", "x" };
	static const char *const names[] = { "", "k", "timestamp", "community_id" };
	for (size_t p = 0; p < sizeof prefix / sizeof prefix[0]; p++) {
		for (size_t nm = 0; nm < sizeof names / sizeof names[0]; nm++) {
			for (size_t limit = 0; limit < 40; limit++) {
				for (int over = 0; over < 2; over++) {
					char ba[64], bb[64];
					struct jb a, b;
					memset(ba, '#', sizeof ba);
					memset(bb, '#', sizeof bb);
					jb_init(&a, ba, sizeof ba, sizeof ba - limit);
					jb_init(&b, bb, sizeof bb, sizeof bb - limit);
					size_t pl = strlen(prefix[p]);
					if (pl > limit)
						continue;
					memcpy(ba, prefix[p], pl);
					memcpy(bb, prefix[p], pl);
					a.len = b.len = pl;
					a.over = b.over = over != 0;
					jb_key(&a, names[nm]);
					ref_key(&b, names[nm]);
					assert_int_equal(a.len, b.len);
					assert_int_equal(a.over, b.over);
					assert_memory_equal(ba, bb, sizeof ba);
				}
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_matches_reference),
		cmocka_unit_test(test_escape_every_pair),
		cmocka_unit_test(test_key_matches_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
