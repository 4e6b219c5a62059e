/*
 * test_reasm.c - TCP reassembly (dissect/reasm.c) against its contract in
 * dissect/reasm.h.
 *
 * A recording consumer checks, on every call, that offsets continue from
 * its own position (consumed + skipped + lost), that every delivered byte
 * equals the expected stream at its offset, and keeps the consumed bytes
 * and the gaps it was told about.  It can take everything, one line at a
 * time, nothing, length-prefixed records (header taken, body skipped), or
 * stop the direction after a given offset.  Every test ends with
 * mem_bytes back at 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reasm.h"

enum mode { TAKE_ALL, TAKE_LINE, TAKE_NONE, TAKE_RECORDS, TAKE_STOP_AT, TAKE_GREEDY };

#define MAX_GAPS 64
#define MAX_HEADERS 256

struct rec {
	struct sw_reasm *r;
	const struct sw_reasm_counters *cnt;
	enum mode mode;
	const uint8_t *expect;    /* expected stream, NULL: not checked */
	size_t expect_len;
	uint64_t pos;             /* first byte not consumed, skipped or lost */
	uint64_t pending;         /* skip asked for, not yet seen applied */
	uint8_t *out;             /* consumed bytes, in order */
	size_t out_len, out_cap;
	unsigned calls;
	unsigned n_gaps;
	struct { uint64_t off, lost; } gaps[MAX_GAPS];
	unsigned n_headers;
	uint16_t headers[MAX_HEADERS];
	uint64_t stop_at;
	bool discard;             /* do not keep consumed bytes */
};

struct h {
	struct sw_reasm r;
	struct sw_reasm_caps caps;
	uint64_t an[SW_AN__COUNT];
	uint64_t gaps, gap_bytes, ooo, retrans, caps_hit;
	int64_t mem;
	struct sw_reasm_counters cnt;
	struct sw_reasm_consumer cons;
	struct rec t;
	uint32_t isn;
};

/* ---- the recording consumer ---------------------------------------------- */

static void out_add(struct rec *t, const uint8_t *p, size_t n)
{
	if (n == 0 || t->discard)
		return;
	if (t->out_len + n > t->out_cap) {
		size_t cap = (t->out_len + n) * 2 + 64;
		t->out = realloc(t->out, cap);
		assert_non_null(t->out);
		t->out_cap = cap;
	}
	memcpy(t->out + t->out_len, p, n);
	t->out_len += n;
}

static uint32_t rec_deliver(void *ctx, int dir, const uint8_t *p, uint32_t n, uint64_t off)
{
	struct rec *t = ctx;
	uint32_t k = 0;

	assert_int_equal(dir, 1);
	assert_true(n > 0);
	assert_int_equal(off, t->pos + t->pending);
	t->pos = off;
	t->pending = 0;
	t->calls++;
	if (t->expect) {
		assert_true(off + n <= t->expect_len);
		assert_memory_equal(p, t->expect + off, n);
	}
	switch (t->mode) {
	case TAKE_ALL:
		k = n;
		break;
	case TAKE_GREEDY:
		out_add(t, p, n);
		t->pos += n;
		return n + 7; /* a buggy consumer: must be clamped */
	case TAKE_LINE: {
		const uint8_t *nl = memchr(p, '\n', n);
		k = nl ? (uint32_t)(nl - p) + 1 : 0;
		break;
	}
	case TAKE_NONE:
		k = 0;
		break;
	case TAKE_RECORDS:
		if (n < 2)
			return 0;
		assert_true(t->n_headers < MAX_HEADERS);
		t->headers[t->n_headers++] = (uint16_t)((p[0] << 8) | p[1]);
		k = 2;
		out_add(t, p, k);
		t->pos += k;
		t->pending = (uint64_t)((p[0] << 8) | p[1]);
		sw_reasm_skip(t->r, t->pending);
		return k;
	case TAKE_STOP_AT:
		k = n;
		if (off + k >= t->stop_at) {
			k = (uint32_t)(t->stop_at - off);
			sw_reasm_stop(t->r, t->cnt);
		}
		break;
	}
	out_add(t, p, k);
	t->pos += k;
	return k;
}

static void rec_gap(void *ctx, int dir, uint64_t off, uint64_t lost)
{
	struct rec *t = ctx;

	assert_int_equal(dir, 1);
	assert_true(lost > 0);
	assert_int_equal(off, t->pos + t->pending);
	assert_true(t->n_gaps < MAX_GAPS);
	t->gaps[t->n_gaps].off = off;
	t->gaps[t->n_gaps].lost = lost;
	t->n_gaps++;
	t->pos = off + lost;
	t->pending = 0;
	if (t->mode == TAKE_RECORDS)
		t->mode = TAKE_ALL; /* lost framing: a real parser would resync */
}

/* ---- harness -------------------------------------------------------------- */

static struct h *h_new(enum mode mode, uint32_t isn, const uint8_t *expect, size_t expect_len)
{
	struct h *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	h->caps.buf_max = 65536;
	h->caps.ooo_max_bytes = 1u << 20;
	h->caps.ooo_max_segments = 100000;
	h->cnt.anomalies = h->an;
	h->cnt.gaps = &h->gaps;
	h->cnt.gap_bytes = &h->gap_bytes;
	h->cnt.ooo_segments = &h->ooo;
	h->cnt.retransmissions = &h->retrans;
	h->cnt.caps_hit = &h->caps_hit;
	h->cnt.mem_bytes = &h->mem;
	h->t.r = &h->r;
	h->t.cnt = &h->cnt;
	h->t.mode = mode;
	h->t.expect = expect;
	h->t.expect_len = expect_len;
	h->cons.ctx = &h->t;
	h->cons.dir = 1;
	h->cons.deliver = rec_deliver;
	h->cons.gap = rec_gap;
	h->isn = isn;
	sw_reasm_init(&h->r);
	sw_reasm_start(&h->r, isn);
	return h;
}

/* Send bytes [off, off + n) of buf (buf is the whole stream's layout). */
static void seg(struct h *h, const uint8_t *buf, uint64_t off, uint32_t n, bool fin)
{
	sw_reasm_segment(&h->r, &h->caps, &h->cnt, &h->cons, h->isn + (uint32_t)off,
			 buf + off, n, fin);
}

static void finish(struct h *h)
{
	sw_reasm_finish(&h->r, &h->caps, &h->cnt, &h->cons);
}

static void h_done(struct h *h)
{
	sw_reasm_free(&h->r, &h->cnt);
	assert_int_equal(h->mem, 0);
	free(h->t.out);
	free(h);
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* Text lines "line NNNNN: ...\r\n" filling exactly n bytes, ending in '\n'. */
static uint8_t *make_text(size_t n)
{
	uint8_t *b = malloc(n);
	assert_non_null(b);
	size_t i = 0;
	unsigned line = 0;
	while (i < n) {
		char tmp[64];
		int k = snprintf(tmp, sizeof(tmp), "line %05u: the quick brown fox %u\r\n",
				 line, line * 7919u % 1000u);
		for (int j = 0; j < k && i < n; j++)
			b[i++] = (uint8_t)tmp[j];
		line++;
	}
	b[n - 1] = '\n';
	return b;
}

static bool counters_clean(const struct h *h)
{
	for (int i = 0; i < SW_AN__COUNT; i++)
		if (h->an[i])
			return false;
	return h->gaps == 0 && h->gap_bytes == 0 && h->caps_hit == 0;
}

/* ---- in order ------------------------------------------------------------- */

static void test_in_order_all(void **state)
{
	uint8_t *m = make_text(1000);
	struct h *h = h_new(TAKE_ALL, 1000, m, 1000);
	for (uint32_t o = 0; o < 1000; o += 100)
		seg(h, m, o, 100, o == 900);
	assert_int_equal(h->t.out_len, 1000);
	assert_memory_equal(h->t.out, m, 1000);
	assert_int_equal(h->t.calls, 10);
	assert_true(counters_clean(h));
	assert_int_equal(h->retrans, 0);
	assert_int_equal(h->ooo, 0);
	assert_true(h->r.fin);
	/* zero copy: only the history window was allocated */
	assert_null(h->r.held);
	assert_int_equal(h->mem, SW_REASM_HISTORY);
	h_done(h);
	free(m);
}

static void test_in_order_lines(void **state)
{
	uint8_t *m = make_text(3000);
	struct h *h = h_new(TAKE_LINE, 7, m, 3000);
	for (uint32_t o = 0; o < 3000; o += 77)
		seg(h, m, o, SW_MIN(77u, 3000 - o), false);
	assert_int_equal(h->t.out_len, 3000);
	assert_memory_equal(h->t.out, m, 3000);
	assert_int_equal(h->r.held_len, 0);
	assert_true(counters_clean(h));
	h_done(h);
	free(m);
}

static void test_one_byte_at_a_time(void **state)
{
	uint8_t *m = make_text(1500);
	for (int mode = TAKE_ALL; mode <= TAKE_LINE; mode++) {
		struct h *h = h_new((enum mode)mode, 0xfffffe00u, m, 1500);
		for (uint32_t o = 0; o < 1500; o++)
			seg(h, m, o, 1, false);
		assert_int_equal(h->t.out_len, 1500);
		assert_memory_equal(h->t.out, m, 1500);
		assert_true(counters_clean(h));
		h_done(h);
	}
	free(m);
}

static void test_reversed(void **state)
{
	uint8_t *m = make_text(2000);
	struct h *h = h_new(TAKE_LINE, 555, m, 2000);
	for (int i = 19; i >= 0; i--) {
		seg(h, m, (uint64_t)i * 100, 100, false);
		if (i > 0)
			assert_int_equal(h->t.calls, 0);
	}
	assert_int_equal(h->t.out_len, 2000);
	assert_memory_equal(h->t.out, m, 2000);
	assert_int_equal(h->ooo, 19);
	assert_int_equal(h->r.ooo_count, 0);
	assert_int_equal(h->r.ooo_bytes, 0);
	assert_true(counters_clean(h));
	h_done(h);
	free(m);
}

static void test_greedy_consumer_clamped(void **state)
{
	uint8_t *m = make_text(400);
	struct h *h = h_new(TAKE_GREEDY, 1, m, 400);
	for (uint32_t o = 0; o < 400; o += 40)
		seg(h, m, o, 40, false);
	assert_int_equal(h->t.out_len, 400);
	assert_int_equal(h->r.next_off, 400);
	assert_int_equal(h->r.held_len, 0);
	h_done(h);
	free(m);
}

/* ---- random permutations with duplicates --------------------------------- */

struct tseg {
	uint64_t off;
	uint32_t len;
	uint8_t *data;
};

/*
 * Cut the stream into segments of 1..maxlen bytes, add ndup duplicates of
 * random ranges (bytes changed when `mutate`), shuffle.  Returns the count.
 */
static size_t make_segs(const uint8_t *m, size_t n, uint32_t maxlen, size_t ndup,
			bool mutate, uint64_t *rng, struct tseg **out)
{
	size_t cap = n + ndup + 1, k = 0;
	struct tseg *s = calloc(cap, sizeof(*s));
	assert_non_null(s);
	for (size_t o = 0; o < n;) {
		uint64_t want = rng_next(rng) % maxlen + 1; /* SW_MIN evaluates twice */
		uint32_t len = (uint32_t)SW_MIN(want, (uint64_t)(n - o));
		s[k].off = o;
		s[k].len = len;
		s[k].data = malloc(len);
		memcpy(s[k].data, m + o, len);
		k++;
		o += len;
	}
	for (size_t d = 0; d < ndup; d++) {
		uint64_t o = rng_next(rng) % n;
		uint64_t want = rng_next(rng) % (2 * maxlen) + 1;
		uint32_t len = (uint32_t)SW_MIN(want, (uint64_t)(n - o));
		s[k].off = o;
		s[k].len = len;
		s[k].data = malloc(len);
		memcpy(s[k].data, m + o, len);
		if (mutate)
			for (uint32_t i = 0; i < len; i++)
				if (rng_next(rng) % 4 == 0)
					s[k].data[i] ^= 0x20;
		k++;
	}
	for (size_t i = k - 1; i > 0; i--) {
		size_t j = (size_t)(rng_next(rng) % (i + 1));
		struct tseg tmp = s[i];
		s[i] = s[j];
		s[j] = tmp;
	}
	*out = s;
	return k;
}

static void free_segs(struct tseg *s, size_t k)
{
	for (size_t i = 0; i < k; i++)
		free(s[i].data);
	free(s);
}

static void send_tseg(struct h *h, const struct tseg *s)
{
	sw_reasm_segment(&h->r, &h->caps, &h->cnt, &h->cons, h->isn + (uint32_t)s->off,
			 s->data, s->len, false);
}

static void test_random_permutations(void **state)
{
	const size_t n = 6000;
	uint8_t *m = make_text(n);
	for (uint64_t seed = 1; seed <= 60; seed++) {
		uint64_t rng = seed * 0x9e3779b97f4a7c15ull;
		struct tseg *s;
		size_t k = make_segs(m, n, 1 + (uint32_t)(seed % 300), 40, false, &rng, &s);
		uint32_t isn = seed % 3 == 0 ? 0xffffffffu - (uint32_t)(rng_next(&rng) % 4000)
					     : (uint32_t)rng_next(&rng);
		struct h *h = h_new(seed % 2 ? TAKE_LINE : TAKE_ALL, isn, m, n);
		for (size_t i = 0; i < k; i++)
			send_tseg(h, &s[i]);
		finish(h);
		assert_int_equal(h->t.out_len, n);
		assert_memory_equal(h->t.out, m, n);
		assert_true(counters_clean(h));
		assert_true(h->retrans > 0);
		h_done(h);
		free_segs(s, k);
	}
	free(m);
}

/* Conflicting duplicates: the first copy of every byte wins. */
static void test_random_first_copy_wins(void **state)
{
	const size_t n = 4000;
	uint8_t *m = make_text(n);
	uint8_t *want = malloc(n);
	bool *got = malloc(n);
	for (uint64_t seed = 1; seed <= 40; seed++) {
		uint64_t rng = seed * 0x2545f4914f6cdd1dull;
		struct tseg *s;
		size_t k = make_segs(m, n, 150, 60, true, &rng, &s);
		/* expected stream: first arrival of each byte */
		memset(got, 0, n);
		for (size_t i = 0; i < k; i++)
			for (uint32_t j = 0; j < s[i].len; j++)
				if (!got[s[i].off + j]) {
					got[s[i].off + j] = true;
					want[s[i].off + j] = s[i].data[j];
				}
		struct h *h = h_new(TAKE_ALL, (uint32_t)rng_next(&rng), want, n);
		for (size_t i = 0; i < k; i++)
			send_tseg(h, &s[i]);
		finish(h);
		assert_int_equal(h->t.out_len, n);
		assert_memory_equal(h->t.out, want, n);
		assert_int_equal(h->gaps, 0);
		h_done(h);
		free_segs(s, k);
	}
	free(got);
	free(want);
	free(m);
}

/*
 * Tight caps and lost segments: whatever happens, every delivered byte is
 * the stream's byte at its offset, offsets are accounted for exactly once,
 * and at finish the consumer has reached the FIN.
 */
static void test_random_tight_caps(void **state)
{
	const size_t n = 5000;
	uint8_t *m = make_text(n);
	for (uint64_t seed = 1; seed <= 80; seed++) {
		uint64_t rng = seed * 0xd1342543de82ef95ull;
		struct tseg *s;
		size_t k = make_segs(m, n, 200, 20, false, &rng, &s);
		struct h *h = h_new(seed % 2 ? TAKE_LINE : TAKE_ALL, (uint32_t)rng_next(&rng), m, n);
		h->caps.ooo_max_segments = 1 + (uint32_t)(seed % 5);
		h->caps.ooo_max_bytes = 100 + (uint32_t)(rng_next(&rng) % 800);
		h->caps.buf_max = 4096;
		for (size_t i = 0; i < k; i++)
			if (rng_next(&rng) % 10 != 0) /* lose one in ten */
				send_tseg(h, &s[i]);
		/* a bare FIN marks the end */
		sw_reasm_segment(&h->r, &h->caps, &h->cnt, &h->cons, h->isn + (uint32_t)n,
				 NULL, 0, true);
		finish(h);
		assert_false(h->r.stopped);
		assert_true(h->r.fin);
		assert_int_equal(h->t.pos + h->t.pending, n);
		uint64_t lost = 0;
		for (unsigned g = 0; g < h->t.n_gaps; g++)
			lost += h->t.gaps[g].lost;
		assert_int_equal(lost + h->t.out_len, n);
		assert_true(h->gap_bytes <= lost);
		assert_int_equal(h->an[SW_AN_TCP_GAP], h->gaps);
		assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 0);
		assert_true(h->r.ooo_count <= h->caps.ooo_max_segments);
		h_done(h);
		free_segs(s, k);
	}
	free(m);
}

/* ---- overlaps ------------------------------------------------------------- */

static void test_overlap_identical(void **state)
{
	uint8_t *m = make_text(100);
	struct h *h = h_new(TAKE_ALL, 42, m, 100);
	seg(h, m, 30, 20, false);      /* ooo [30,50) */
	seg(h, m, 40, 30, false);      /* ooo [40,70): fills [50,70) */
	assert_int_equal(h->r.ooo_count, 2);
	assert_int_equal(h->r.ooo_bytes, 40);
	seg(h, m, 0, 45, false);       /* in order, overlaps [30,45) */
	assert_int_equal(h->t.out_len, 70);
	seg(h, m, 60, 40, false);      /* overlaps delivered [60,70) */
	seg(h, m, 10, 10, false);      /* old */
	assert_int_equal(h->t.out_len, 100);
	assert_memory_equal(h->t.out, m, 100);
	assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 0);
	assert_int_equal(h->retrans, 4);
	assert_int_equal(h->ooo, 2);
	h_done(h);
	free(m);
}

static void test_overlap_conflict_ooo(void **state)
{
	uint8_t *m = make_text(100);
	uint8_t alt[100];
	memcpy(alt, m, 100);
	memset(alt + 15, 'X', 20);
	struct h *h = h_new(TAKE_ALL, 9, m, 100);
	seg(h, m, 20, 10, false);      /* first copy of [20,30) */
	seg(h, alt, 15, 20, false);    /* differs in [20,30): conflict; [15,20) and [30,35) kept */
	assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 1);
	assert_int_equal(h->r.ooo_count, 3);
	/* the expected stream is the first copy of each byte */
	uint8_t want[100];
	memcpy(want, m, 100);
	memset(want + 15, 'X', 5);
	memset(want + 30, 'X', 5);
	h->t.expect = want;
	seg(h, m, 0, 15, false);
	seg(h, m, 35, 65, false);
	assert_int_equal(h->t.out_len, 100);
	assert_memory_equal(h->t.out, want, 100);
	assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 1);
	h_done(h);
	free(m);
}

static void test_overlap_conflict_in_order_vs_ooo(void **state)
{
	uint8_t *m = make_text(60);
	uint8_t alt[60];
	memcpy(alt, m, 60);
	memset(alt + 10, '#', 10);
	struct h *h = h_new(TAKE_ALL, 0, m, 60);
	seg(h, m, 10, 10, false);
	seg(h, alt, 0, 30, false);     /* its [10,20) yields to the held copy */
	assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 1);
	assert_int_equal(h->t.out_len, 30);
	seg(h, m, 30, 30, false);
	assert_memory_equal(h->t.out, m, 60);
	h_done(h);
	free(m);
}

static void test_retransmission_vs_history(void **state)
{
	uint8_t *m = make_text(1000);
	uint8_t alt[1000];
	memcpy(alt, m, 1000);
	for (int i = 0; i < 1000; i++)
		alt[i] ^= 1;
	struct h *h = h_new(TAKE_ALL, 0x7ffffff0u, m, 1000);
	seg(h, m, 0, 100, false);
	seg(h, m, 50, 10, false);      /* same bytes */
	assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 0);
	seg(h, alt, 50, 10, false);    /* in the history window, different */
	assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 1);
	h->t.expect = NULL;
	seg(h, alt, 90, 30, false);    /* partial: [90,100) differs, [100,120) is new */
	assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 2);
	assert_int_equal(h->t.out_len, 120);
	assert_memory_equal(h->t.out + 100, alt + 100, 20);
	assert_int_equal(h->retrans, 3);
	/* move on past the window: old bytes are not compared */
	seg(h, m, 120, 880, false);
	seg(h, alt, 0, 10, false);
	assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 2);
	seg(h, alt, 1000 - SW_REASM_HISTORY, 1, false); /* oldest byte kept */
	assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 3);
	seg(h, alt, 1000 - SW_REASM_HISTORY - 1, 1, false); /* just outside */
	assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 3);
	assert_int_equal(h->retrans, 6);
	h_done(h);
	free(m);
}

static void test_retransmission_vs_held(void **state)
{
	uint8_t m[400];
	memset(m, 'a', 399);
	m[399] = '\n';
	uint8_t alt[400];
	memcpy(alt, m, 400);
	alt[5] = 'b';
	struct h *h = h_new(TAKE_LINE, 77, m, 400);
	seg(h, m, 0, 150, false);
	seg(h, m, 150, 150, false);
	assert_int_equal(h->r.held_len, 300);
	seg(h, alt, 0, 10, false);     /* byte 5 is outside the history, inside held */
	assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 1);
	seg(h, m, 0, 10, false);
	assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 1);
	seg(h, m, 300, 100, false);
	assert_int_equal(h->t.out_len, 400);
	assert_memory_equal(h->t.out, m, 400);
	assert_int_equal(h->r.held_len, 0);
	h_done(h);
}

/* ---- gaps ----------------------------------------------------------------- */

static void test_gap_ooo_cap(void **state)
{
	uint8_t *m = make_text(100);
	struct h *h = h_new(TAKE_ALL, 0xfffffff5u, m, 100);
	h->caps.ooo_max_segments = 2;
	seg(h, m, 0, 10, false);
	/* [10,20) is lost */
	seg(h, m, 20, 10, false);
	seg(h, m, 30, 10, false);
	assert_int_equal(h->t.n_gaps, 0);
	seg(h, m, 40, 10, false);      /* list full: gap up to 20 */
	assert_int_equal(h->t.n_gaps, 1);
	assert_int_equal(h->t.gaps[0].off, 10);
	assert_int_equal(h->t.gaps[0].lost, 10);
	assert_int_equal(h->gaps, 1);
	assert_int_equal(h->gap_bytes, 10);
	assert_int_equal(h->an[SW_AN_TCP_GAP], 1);
	assert_int_equal(h->an[SW_AN_TCP_OOO_CAP], 0);
	assert_int_equal(h->caps_hit, 1);
	assert_int_equal(h->t.out_len, 40);
	for (uint32_t o = 50; o < 100; o += 10)
		seg(h, m, o, 10, false);
	seg(h, m, 10, 10, false);      /* too late */
	assert_int_equal(h->retrans, 1);
	assert_int_equal(h->t.out_len, 90);
	assert_memory_equal(h->t.out, m, 10);
	assert_memory_equal(h->t.out + 10, m + 20, 80);
	assert_int_equal(h->r.next_off, 100);
	assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 0);
	h_done(h);
	free(m);
}

static void test_ooo_drop(void **state)
{
	uint8_t *m = make_text(200);
	struct h *h = h_new(TAKE_ALL, 5, m, 200);
	h->caps.ooo_max_bytes = 25;
	seg(h, m, 50, 10, false);
	seg(h, m, 100, 30, false);     /* 30 > 25: gap to 50, [50,60) delivered, still too big */
	assert_int_equal(h->t.n_gaps, 1);
	assert_int_equal(h->t.gaps[0].off, 0);
	assert_int_equal(h->t.gaps[0].lost, 50);
	assert_int_equal(h->an[SW_AN_TCP_OOO_CAP], 1);
	assert_int_equal(h->caps_hit, 2);
	assert_int_equal(h->r.ooo_count, 0);
	assert_int_equal(h->t.out_len, 10);
	/* an empty list and a segment that does not fit: gap up to it */
	seg(h, m, 150, 30, false);
	assert_int_equal(h->t.n_gaps, 2);
	assert_int_equal(h->t.gaps[1].off, 60);
	assert_int_equal(h->t.gaps[1].lost, 90);
	assert_int_equal(h->t.out_len, 40);
	assert_int_equal(h->r.next_off, 180);
	h_done(h);
	free(m);
}

static void test_gap_at_finish(void **state)
{
	uint8_t *m = make_text(100);
	struct h *h = h_new(TAKE_ALL, 1234, m, 100);
	seg(h, m, 0, 10, false);
	seg(h, m, 30, 10, false);
	seg(h, m, 60, 20, true);       /* FIN at 80 */
	assert_true(h->r.fin_seen);
	assert_false(h->r.fin);
	assert_int_equal(h->t.out_len, 10);
	finish(h);
	assert_int_equal(h->t.n_gaps, 2);
	assert_int_equal(h->t.gaps[0].off, 10);
	assert_int_equal(h->t.gaps[0].lost, 20);
	assert_int_equal(h->t.gaps[1].off, 40);
	assert_int_equal(h->t.gaps[1].lost, 20);
	assert_int_equal(h->gap_bytes, 40);
	assert_int_equal(h->t.out_len, 40);
	assert_memory_equal(h->t.out + 10, m + 30, 10);
	assert_memory_equal(h->t.out + 20, m + 60, 20);
	assert_true(h->r.fin);
	assert_int_equal(h->mem, SW_REASM_HISTORY);
	h_done(h);
	free(m);
}

static void test_gap_trailing_fin(void **state)
{
	uint8_t *m = make_text(100);
	struct h *h = h_new(TAKE_ALL, 0xffffffffu, m, 100);
	seg(h, m, 0, 10, false);
	sw_reasm_segment(&h->r, &h->caps, &h->cnt, &h->cons, h->isn + 25, NULL, 0, true);
	finish(h);
	assert_int_equal(h->t.n_gaps, 1);
	assert_int_equal(h->t.gaps[0].off, 10);
	assert_int_equal(h->t.gaps[0].lost, 15);
	assert_true(h->r.fin);
	h_done(h);
	free(m);
}

/* A partial line waiting in held dies with the gap and is reported in it. */
static void test_gap_drops_held(void **state)
{
	const uint8_t m[] = "one\ntwo-partial three\nfour\n";
	struct h *h = h_new(TAKE_LINE, 100, m, sizeof(m) - 1);
	seg(h, m, 0, 8, false);        /* "one\ntwo-" */
	assert_int_equal(h->r.held_len, 4);
	seg(h, m, 22, 5, false);       /* "four\n" after a hole */
	finish(h);
	assert_int_equal(h->t.n_gaps, 1);
	assert_int_equal(h->t.gaps[0].off, 4);
	assert_int_equal(h->t.gaps[0].lost, 18);
	assert_int_equal(h->gap_bytes, 14);
	assert_int_equal(h->t.out_len, 9);
	assert_memory_equal(h->t.out, "one\nfour\n", 9);
	h_done(h);
}

/* A full list and an arriving segment lower than all of it: gap up to it. */
static void test_gap_to_lowest(void **state)
{
	uint8_t *m = make_text(100);
	struct h *h = h_new(TAKE_ALL, 8, m, 100);
	h->caps.ooo_max_segments = 1;
	seg(h, m, 0, 10, false);
	seg(h, m, 50, 10, false);
	seg(h, m, 20, 10, false);      /* full: gap [10,20), [20,30) delivered */
	assert_int_equal(h->t.n_gaps, 1);
	assert_int_equal(h->t.gaps[0].off, 10);
	assert_int_equal(h->t.gaps[0].lost, 10);
	assert_int_equal(h->t.out_len, 20);
	assert_int_equal(h->r.ooo_count, 1);
	seg(h, m, 30, 20, false);      /* fills [30,50), [50,60) follows */
	assert_int_equal(h->t.out_len, 50);
	assert_int_equal(h->r.next_off, 60);
	assert_int_equal(h->an[SW_AN_TCP_OOO_CAP], 0);
	h_done(h);
	free(m);
}

/* A FIN on an old segment ends nothing. */
static void test_old_fin_ignored(void **state)
{
	uint8_t *m = make_text(100);
	struct h *h = h_new(TAKE_ALL, 8, m, 100);
	seg(h, m, 0, 50, false);
	seg(h, m, 10, 10, true);
	assert_false(h->r.fin_seen);
	assert_false(h->r.fin);
	seg(h, m, 50, 50, true);
	assert_true(h->r.fin);
	assert_int_equal(h->r.fin_off, 100);
	h_done(h);
	free(m);
}

/* ---- sequence wrap -------------------------------------------------------- */

static void test_wrap(void **state)
{
	uint8_t *m = make_text(600);
	struct h *h = h_new(TAKE_LINE, 0xffffff00u, m, 600);
	seg(h, m, 0, 200, false);      /* 0xffffff00 .. 0xffffffc7 */
	seg(h, m, 300, 100, false);    /* beyond the wrap, out of order */
	seg(h, m, 200, 100, false);    /* crosses 2^32 */
	seg(h, m, 150, 100, false);    /* retransmission across the wrap */
	seg(h, m, 400, 200, true);
	assert_int_equal(h->t.out_len, 600);
	assert_memory_equal(h->t.out, m, 600);
	assert_int_equal(h->r.next_off, 600);
	assert_int_equal(h->r.next_seq, (uint32_t)(0xffffff00u + 600));
	assert_true(h->r.fin);
	assert_int_equal(h->retrans, 1);
	assert_true(counters_clean(h));
	h_done(h);
	free(m);
}

/* Far beyond 2^32 bytes of stream: offsets keep counting in 64 bits. */
static void test_long_stream_offsets(void **state)
{
	uint8_t buf[4096];
	memset(buf, 'z', sizeof(buf));
	struct h *h = h_new(TAKE_ALL, 3, NULL, 0);
	h->t.discard = true;
	uint64_t total = 0;
	uint32_t seq = 3;
	for (int i = 0; i < 1200000; i++) {
		sw_reasm_segment(&h->r, &h->caps, &h->cnt, &h->cons, seq, buf, sizeof(buf), false);
		seq += sizeof(buf);
		total += sizeof(buf);
	}
	assert_true(total > (1ull << 32));
	assert_int_equal(h->r.next_off, total);
	assert_int_equal(h->t.pos, total);
	assert_true(counters_clean(h));
	h_done(h);
}

/* ---- skip ----------------------------------------------------------------- */

/* Records: 2-byte length, body.  Lengths chosen to cross segments. */
static size_t make_records(uint8_t *b, size_t cap, const uint16_t *lens, unsigned n)
{
	size_t o = 0;
	for (unsigned i = 0; i < n; i++) {
		assert_true(o + 2 + lens[i] <= cap);
		b[o++] = (uint8_t)(lens[i] >> 8);
		b[o++] = (uint8_t)lens[i];
		for (unsigned j = 0; j < lens[i]; j++)
			b[o++] = (uint8_t)(i + j);
		/* body bytes must never reach the consumer: the expected-stream
		 * check would still pass, so the headers are the real check */
	}
	return o;
}

static const uint16_t rec_lens[] = { 5, 300, 0, 1, 4000, 17, 999, 2, 100, 3 };

static void check_records(const struct h *h)
{
	assert_int_equal(h->t.n_headers, SW_ARRAY_LEN(rec_lens));
	for (unsigned i = 0; i < SW_ARRAY_LEN(rec_lens); i++)
		assert_int_equal(h->t.headers[i], rec_lens[i]);
	assert_int_equal(h->t.out_len, 2 * SW_ARRAY_LEN(rec_lens));
}

static void test_skip_across_segments(void **state)
{
	static uint8_t b[8192];
	size_t n = make_records(b, sizeof(b), rec_lens, SW_ARRAY_LEN(rec_lens));
	const uint32_t sizes[] = { 100, 1, 7, 1460, 3 };
	for (unsigned v = 0; v < SW_ARRAY_LEN(sizes); v++) {
		struct h *h = h_new(TAKE_RECORDS, 0xfffff000u, b, n);
		for (size_t o = 0; o < n; o += sizes[v])
			seg(h, b, o, (uint32_t)SW_MIN((size_t)sizes[v], n - o), false);
		check_records(h);
		assert_int_equal(h->t.pos + h->t.pending, n);
		assert_int_equal(h->r.skip, 0);
		assert_true(counters_clean(h));
		/* never more than a split header was copied */
		assert_true(h->r.held_cap <= 1024);
		h_done(h);
	}
}

static void test_skip_out_of_order(void **state)
{
	static uint8_t b[8192];
	size_t n = make_records(b, sizeof(b), rec_lens, SW_ARRAY_LEN(rec_lens));
	struct h *h = h_new(TAKE_RECORDS, 99, b, n);
	for (size_t o = 200; o < n; o += 200)
		seg(h, b, o, (uint32_t)SW_MIN((size_t)200, n - o), false);
	seg(h, b, 0, 200, false);
	check_records(h);
	assert_int_equal(h->r.skip, 0);
	h_done(h);
}

/* A hole inside a body costs the consumer nothing; one past it is a gap. */
static void test_skip_absorbs_gap(void **state)
{
	static uint8_t b[8192];
	const uint16_t lens[] = { 300, 5, 5 };
	size_t n = make_records(b, sizeof(b), lens, 3);   /* [0,2) [2,302) [302,304) [304,309) ... */
	struct h *h = h_new(TAKE_RECORDS, 1, b, n);
	seg(h, b, 0, 100, false);
	seg(h, b, 200, (uint32_t)(n - 200), false);
	finish(h);
	assert_int_equal(h->gaps, 1);
	assert_int_equal(h->gap_bytes, 100);
	assert_int_equal(h->t.n_gaps, 0);
	assert_int_equal(h->t.n_headers, 3);
	assert_int_equal(h->t.pos + h->t.pending, n);
	h_done(h);

	h = h_new(TAKE_RECORDS, 1, b, n);
	seg(h, b, 0, 200, false);
	seg(h, b, 305, (uint32_t)(n - 305), false);   /* lose [200,305) */
	finish(h);
	assert_int_equal(h->gap_bytes, 105);
	assert_int_equal(h->t.n_gaps, 1);
	assert_int_equal(h->t.gaps[0].off, 302);
	assert_int_equal(h->t.gaps[0].lost, 3);
	assert_int_equal(h->t.n_headers, 1);
	assert_int_equal(h->t.pos, n);
	h_done(h);
}

/* Skipped bytes are never kept: a retransmission of them is not compared. */
static void test_skip_breaks_history(void **state)
{
	static uint8_t b[4096];
	const uint16_t lens[] = { 5, 1000, 5 };
	size_t n = make_records(b, sizeof(b), lens, 3);
	struct h *h = h_new(TAKE_RECORDS, 1, b, n);
	for (size_t o = 0; o < 800; o += 100)
		seg(h, b, o, 100, false);
	assert_true(h->r.hist_len <= 100);
	seg(h, b, 700, 100, false);    /* same bytes, not held anywhere */
	seg(h, b, 750, 50, false);
	assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 0);
	assert_int_equal(h->retrans, 2);
	seg(h, b, 800, (uint32_t)(n - 800), false);
	assert_int_equal(h->t.n_headers, 3);
	h_done(h);
}

/* A skip asked for from outside deliver() eats held bytes first. */
static void test_skip_outside_deliver(void **state)
{
	const uint8_t m[] = "abcdef\nxyz";
	struct h *h = h_new(TAKE_LINE, 10, m, sizeof(m) - 1);
	seg(h, m, 0, 3, false);        /* "abc" held */
	assert_int_equal(h->r.held_len, 3);
	sw_reasm_skip(&h->r, 2);
	h->t.pending = 2;
	seg(h, m, 3, 7, false);        /* "def\nxyz" */
	assert_int_equal(h->t.out_len, 5);
	assert_memory_equal(h->t.out, "cdef\n", 5);
	assert_int_equal(h->r.held_len, 3);
	/* skip beyond held, then data */
	sw_reasm_skip(&h->r, 5);
	h->t.pending = 5;
	finish(h);                     /* held "xyz" dropped by the skip */
	assert_int_equal(h->r.held_len, 0);
	assert_int_equal(h->r.skip, 2);
	h_done(h);
}

/* ---- caps and stop -------------------------------------------------------- */

static void test_held_cap_incremental(void **state)
{
	uint8_t m[200];
	memset(m, 'q', sizeof(m));
	struct h *h = h_new(TAKE_LINE, 0, m, sizeof(m));
	h->caps.buf_max = 64;
	for (uint32_t o = 0; o < 60; o += 10)
		seg(h, m, o, 10, false);
	assert_int_equal(h->r.held_len, 60);
	assert_false(h->r.stopped);
	seg(h, m, 60, 10, false);
	assert_true(h->r.stopped);
	assert_true(h->r.abandoned);
	assert_int_equal(h->an[SW_AN_TCP_BUFFER_CAP], 1);
	assert_int_equal(h->caps_hit, 1);
	assert_int_equal(h->mem, 0);
	assert_null(h->r.held);
	unsigned calls = h->t.calls;
	seg(h, m, 70, 10, false);
	finish(h);
	assert_int_equal(h->t.calls, calls);
	assert_int_equal(h->mem, 0);
	h_done(h);
}

static void test_held_cap_one_segment(void **state)
{
	uint8_t m[100];
	memset(m, 'q', sizeof(m));
	struct h *h = h_new(TAKE_LINE, 0, m, sizeof(m));
	h->caps.buf_max = 64;
	seg(h, m, 0, 100, false);
	assert_true(h->r.stopped);
	assert_int_equal(h->an[SW_AN_TCP_BUFFER_CAP], 1);
	assert_int_equal(h->mem, 0);
	h_done(h);
}

/* Held partly full, a big segment: taken in pieces, no cap hit. */
static void test_held_cap_not_hit_by_progress(void **state)
{
	uint8_t m[400];
	for (int i = 0; i < 400; i++)
		m[i] = (i % 20 == 19) ? '\n' : (uint8_t)('a' + i % 26);
	struct h *h = h_new(TAKE_LINE, 0, m, sizeof(m));
	h->caps.buf_max = 64;
	seg(h, m, 0, 50, false);       /* two lines and 10 bytes held */
	assert_int_equal(h->r.held_len, 10);
	seg(h, m, 50, 350, false);
	assert_false(h->r.stopped);
	assert_int_equal(h->t.out_len, 400);
	assert_memory_equal(h->t.out, m, 400);
	assert_true(counters_clean(h));
	h_done(h);
}

/* A long line grows held; once it is consumed, the big buffer goes back. */
static void test_held_released_when_drained(void **state)
{
	static uint8_t m[6001];
	memset(m, 'w', 6000);
	m[6000] = '\n';
	struct h *h = h_new(TAKE_LINE, 0, m, sizeof(m));
	for (uint32_t o = 0; o < 6000; o += 1000)
		seg(h, m, o, 1000, false);
	assert_int_equal(h->r.held_len, 6000);
	assert_true(h->r.held_cap >= 6000);
	assert_int_equal(h->mem, SW_REASM_HISTORY + (int64_t)h->r.held_cap);
	seg(h, m, 6000, 1, false);
	assert_int_equal(h->t.out_len, 6001);
	assert_null(h->r.held);
	assert_int_equal(h->mem, SW_REASM_HISTORY);
	h_done(h);
}

static void test_consumer_takes_nothing(void **state)
{
	uint8_t *m = make_text(3000);
	struct h *h = h_new(TAKE_NONE, 0, m, 3000);
	h->caps.buf_max = 2500;
	for (uint32_t o = 0; o < 2500; o += 500)
		seg(h, m, o, 500, false);
	assert_int_equal(h->r.held_len, 2500);
	assert_false(h->r.stopped);
	seg(h, m, 2500, 1, false);
	assert_true(h->r.stopped);
	assert_int_equal(h->an[SW_AN_TCP_BUFFER_CAP], 1);
	assert_int_equal(h->mem, 0);
	h_done(h);
	free(m);
}

static void test_stop_inside_deliver(void **state)
{
	uint8_t *m = make_text(300);
	struct h *h = h_new(TAKE_STOP_AT, 17, m, 300);
	h->t.stop_at = 150;
	seg(h, m, 200, 50, false);     /* waits out of order */
	seg(h, m, 0, 100, false);
	seg(h, m, 100, 100, false);    /* stop at 150, from inside deliver */
	assert_true(h->r.stopped);
	assert_false(h->r.abandoned);
	assert_int_equal(h->mem, 0);
	assert_int_equal(h->t.out_len, 150);
	unsigned calls = h->t.calls;
	seg(h, m, 250, 50, false);
	sw_reasm_skip(&h->r, 10);
	finish(h);
	assert_int_equal(h->t.calls, calls);
	assert_true(counters_clean(h));
	h_done(h);
	free(m);
}

static void test_stop_outside(void **state)
{
	uint8_t *m = make_text(300);
	struct h *h = h_new(TAKE_LINE, 17, m, 300);
	seg(h, m, 0, 45, false);       /* leaves a partial line held */
	seg(h, m, 100, 50, false);
	assert_true(h->mem > SW_REASM_HISTORY);
	sw_reasm_stop(&h->r, &h->cnt);
	assert_int_equal(h->mem, 0);
	unsigned calls = h->t.calls;
	seg(h, m, 45, 55, false);
	finish(h);
	assert_int_equal(h->t.calls, calls);
	assert_int_equal(h->mem, 0);
	h_done(h);
	free(m);
}

static void test_free_with_everything_held(void **state)
{
	uint8_t *m = make_text(300);
	struct h *h = h_new(TAKE_LINE, 17, m, 300);
	seg(h, m, 0, 45, false);
	seg(h, m, 100, 50, false);
	seg(h, m, 200, 50, false);
	assert_int_equal(h->r.ooo_count, 2);
	h_done(h);                     /* asserts mem_bytes == 0 */
	free(m);
}

static void test_before_start_and_empty(void **state)
{
	const uint8_t m[] = "abcdefghi";
	struct h *h = h_new(TAKE_ALL, 0, m, 9);
	sw_reasm_init(&h->r);          /* back to "not started" */
	sw_reasm_segment(&h->r, &h->caps, &h->cnt, &h->cons, 0, m, 5, false);
	finish(h);
	assert_int_equal(h->t.calls, 0);
	assert_int_equal(h->mem, 0);
	sw_reasm_start(&h->r, 0);
	sw_reasm_start(&h->r, 1000);   /* ignored */
	sw_reasm_segment(&h->r, &h->caps, &h->cnt, &h->cons, 0, m, 0, false);
	assert_int_equal(h->t.calls, 0);
	sw_reasm_segment(&h->r, &h->caps, &h->cnt, &h->cons, 0, m, 5, false);
	assert_int_equal(h->t.out_len, 5);
	/* from before the ISN, ending at next_off: old */
	sw_reasm_segment(&h->r, &h->caps, &h->cnt, &h->cons, (uint32_t)-3,
			 (const uint8_t *)"xxxabcde", 8, false);
	assert_int_equal(h->r.next_off, 5);
	assert_int_equal(h->retrans, 1);
	/* from before the ISN, into new bytes */
	sw_reasm_segment(&h->r, &h->caps, &h->cnt, &h->cons, (uint32_t)-2,
			 (const uint8_t *)"xxabcdefghi", 11, false);
	assert_int_equal(h->t.out_len, 9);
	assert_memory_equal(h->t.out, m, 9);
	assert_int_equal(h->an[SW_AN_TCP_OVERLAP_CONFLICT], 0);
	h_done(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_all),
		cmocka_unit_test(test_in_order_lines),
		cmocka_unit_test(test_one_byte_at_a_time),
		cmocka_unit_test(test_reversed),
		cmocka_unit_test(test_greedy_consumer_clamped),
		cmocka_unit_test(test_random_permutations),
		cmocka_unit_test(test_random_first_copy_wins),
		cmocka_unit_test(test_random_tight_caps),
		cmocka_unit_test(test_overlap_identical),
		cmocka_unit_test(test_overlap_conflict_ooo),
		cmocka_unit_test(test_overlap_conflict_in_order_vs_ooo),
		cmocka_unit_test(test_retransmission_vs_history),
		cmocka_unit_test(test_retransmission_vs_held),
		cmocka_unit_test(test_gap_ooo_cap),
		cmocka_unit_test(test_ooo_drop),
		cmocka_unit_test(test_gap_at_finish),
		cmocka_unit_test(test_gap_trailing_fin),
		cmocka_unit_test(test_gap_drops_held),
		cmocka_unit_test(test_gap_to_lowest),
		cmocka_unit_test(test_old_fin_ignored),
		cmocka_unit_test(test_skip_breaks_history),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_long_stream_offsets),
		cmocka_unit_test(test_skip_across_segments),
		cmocka_unit_test(test_skip_out_of_order),
		cmocka_unit_test(test_skip_absorbs_gap),
		cmocka_unit_test(test_skip_outside_deliver),
		cmocka_unit_test(test_held_cap_incremental),
		cmocka_unit_test(test_held_cap_one_segment),
		cmocka_unit_test(test_held_cap_not_hit_by_progress),
		cmocka_unit_test(test_held_released_when_drained),
		cmocka_unit_test(test_consumer_takes_nothing),
		cmocka_unit_test(test_stop_inside_deliver),
		cmocka_unit_test(test_stop_outside),
		cmocka_unit_test(test_free_with_everything_held),
		cmocka_unit_test(test_before_start_and_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
