/*
 * reasm.c - TCP reassembly of one direction of one flow (contract: reasm.h).
 *
 * State between calls (all offsets are 64-bit stream offsets):
 *  - next_off: every byte before it has been taken into the stream (given
 *    to the consumer, kept in `held`, skipped, or declared lost in a gap).
 *  - held: when held_len > 0, held[0..held_len) are the bytes at
 *    [held_off, next_off) that the consumer has not consumed yet.  When
 *    held_len > 0 no skip is pending (a skip eats held bytes first).
 *  - ooo: sorted, non-overlapping segments that start after next_off.  A
 *    segment that overlaps copies already held is cut into the pieces that
 *    fill holes (the first copy wins).
 *  - hist: ring of SW_REASM_HISTORY bytes; byte at offset o lives at
 *    hist[o % SW_REASM_HISTORY].  It always ends at next_off and holds the
 *    hist_len bytes before it; a skip of unseen bytes or a gap empties it.
 *
 * Counting:
 *  - retransmissions: a segment that carries any byte already seen (before
 *    next_off, or already in the out-of-order list).
 *  - ooo_segments: a segment that starts beyond next_off.
 *  - SW_AN_TCP_OVERLAP_CONFLICT: at most once per segment whose overlapping
 *    bytes differ from a copy still held (ooo, held or history).
 *  - A full out-of-order list forces a gap up to the lowest offset waiting
 *    (held or arriving), counted in caps_hit; if the arriving segment still
 *    does not fit it is dropped (SW_AN_TCP_OOO_CAP, caps_hit).
 *  - A consumer that cannot make progress with `held` full: SW_AN_TCP_BUFFER_CAP,
 *    caps_hit, and the direction stops.
 *
 * Bounds: every delivery loop ends when an iteration moves no byte; the
 * out-of-order walk visits each list element at most once per segment;
 * memory is at most buf_max + ooo_max_bytes (+ list headers) + history.
 */
#include <stdlib.h>
#include <string.h>

#include "reasm.h"

#define HIST SW_REASM_HISTORY
_Static_assert((HIST & (HIST - 1)) == 0, "SW_REASM_HISTORY must be a power of two");

#define HELD_MIN 1024u   /* first allocation of `held` */
#define HELD_KEEP 4096u  /* an empty `held` larger than this is released */

struct sw_reasm_seg {
	struct sw_reasm_seg *next;
	uint64_t off;
	uint32_t len;
	uint8_t data[];
};

/* What one call is working with. */
struct env {
	const struct sw_reasm_caps *caps;
	const struct sw_reasm_counters *cnt;
	const struct sw_reasm_consumer *c;
};

/* ---- counters ------------------------------------------------------------ */

static void count(uint64_t *c)
{
	if (c)
		(*c)++;
}

static void count_an(const struct sw_reasm_counters *cnt, enum sw_anomaly a)
{
	if (cnt && cnt->anomalies)
		cnt->anomalies[a]++;
}

static void mem_add(const struct sw_reasm_counters *cnt, int64_t d)
{
	if (cnt && cnt->mem_bytes)
		*cnt->mem_bytes += d;
}

/* ---- memory --------------------------------------------------------------- */

static void seg_free(const struct sw_reasm_counters *cnt, struct sw_reasm_seg *s)
{
	mem_add(cnt, -(int64_t)(sizeof(*s) + s->len));
	free(s);
}

static void held_release(struct sw_reasm *r, const struct sw_reasm_counters *cnt)
{
	if (r->held) {
		mem_add(cnt, -(int64_t)r->held_cap);
		free(r->held);
	}
	r->held = NULL;
	r->held_len = 0;
	r->held_cap = 0;
}

static void release(struct sw_reasm *r, const struct sw_reasm_counters *cnt)
{
	held_release(r, cnt);
	struct sw_reasm_seg *s = r->ooo;
	while (s) {
		struct sw_reasm_seg *next = s->next;
		seg_free(cnt, s);
		s = next;
	}
	r->ooo = NULL;
	r->ooo_bytes = 0;
	r->ooo_count = 0;
	if (r->hist) {
		mem_add(cnt, -(int64_t)HIST);
		free(r->hist);
	}
	r->hist = NULL;
	r->hist_len = 0;
	r->skip = 0;
}

/* A cap (or an allocation) leaves the consumer unable to go on. */
static void abandon(struct sw_reasm *r, const struct sw_reasm_counters *cnt)
{
	count_an(cnt, SW_AN_TCP_BUFFER_CAP);
	if (cnt)
		count(cnt->caps_hit);
	r->abandoned = true;
	sw_reasm_stop(r, cnt);
}

/* Room for `need` bytes in held (need <= caps->buf_max).  False: no memory. */
static bool held_reserve(struct sw_reasm *r, const struct env *e, uint32_t need)
{
	if (need <= r->held_cap)
		return true;
	uint64_t cap = r->held_cap ? (uint64_t)r->held_cap * 2 : HELD_MIN;
	if (cap < need)
		cap = need;
	if (cap > e->caps->buf_max)
		cap = e->caps->buf_max;
	uint8_t *b = realloc(r->held, (size_t)cap);
	if (!b)
		return false;
	mem_add(e->cnt, (int64_t)cap - (int64_t)r->held_cap);
	r->held = b;
	r->held_cap = (uint32_t)cap;
	return true;
}

/* Append bytes that start at stream offset `off` (== held_off + held_len). */
static bool held_append(struct sw_reasm *r, const struct env *e,
			const uint8_t *p, uint32_t n, uint64_t off)
{
	if (!held_reserve(r, e, r->held_len + n))
		return false;
	if (r->held_len == 0)
		r->held_off = off;
	memcpy(r->held + r->held_len, p, n);
	r->held_len += n;
	return true;
}

static void held_drop_front(struct sw_reasm *r, const struct sw_reasm_counters *cnt, uint32_t k)
{
	if (k == 0)
		return;
	if (k < r->held_len)
		memmove(r->held, r->held + k, r->held_len - k);
	r->held_len -= k;
	r->held_off += k;
	if (r->held_len == 0 && r->held_cap > HELD_KEEP)
		held_release(r, cnt);
}

/* A skip asked for while bytes wait in held eats them first. */
static void held_apply_skip(struct sw_reasm *r, const struct sw_reasm_counters *cnt)
{
	if (r->skip == 0 || r->held_len == 0)
		return;
	uint32_t s = (uint32_t)SW_MIN(r->skip, (uint64_t)r->held_len);
	r->skip -= s;
	held_drop_front(r, cnt, s);
}

/* ---- history -------------------------------------------------------------- */

/* Remember the n bytes that end at next_off. */
static void hist_record(struct sw_reasm *r, const struct sw_reasm_counters *cnt,
			const uint8_t *p, uint32_t n)
{
	if (!r->hist) {
		r->hist = malloc(HIST);
		if (!r->hist)
			return; /* no history: retransmissions go uncompared */
		mem_add(cnt, HIST);
		r->hist_len = 0;
	}
	if (n > HIST) {
		p += n - HIST;
		n = HIST;
	}
	uint32_t pos = (uint32_t)((r->next_off - n) & (HIST - 1));
	uint32_t first = SW_MIN(n, HIST - pos);
	memcpy(r->hist + pos, p, first);
	memcpy(r->hist, p + first, n - first);
	r->hist_len = SW_MIN(r->hist_len + n, (uint32_t)HIST);
}

/*
 * Do bytes p[0..n) at stream offset off (possibly negative: before the
 * ISN), all before next_off, differ from a copy still held?
 */
static bool past_differs(const struct sw_reasm *r, int64_t off, const uint8_t *p, uint32_t n)
{
	int64_t end = off + n;
	if (r->held_len) {
		int64_t lo = SW_MAX(off, (int64_t)r->held_off);
		if (lo < end && memcmp(p + (lo - off), r->held + (lo - (int64_t)r->held_off),
				       (size_t)(end - lo)))
			return true;
		end = SW_MIN(end, (int64_t)r->held_off);
	}
	if (!r->hist || !r->hist_len)
		return false;
	int64_t lo = SW_MAX(off, (int64_t)(r->next_off - r->hist_len));
	for (; lo < end;) {
		uint32_t pos = (uint32_t)((uint64_t)lo & (HIST - 1));
		uint32_t k = (uint32_t)SW_MIN((int64_t)(HIST - pos), end - lo);
		if (memcmp(p + (lo - off), r->hist + pos, k))
			return true;
		lo += k;
	}
	return false;
}

/* ---- delivery ------------------------------------------------------------- */

static uint32_t call_deliver(const struct env *e, const uint8_t *p, uint32_t n, uint64_t off)
{
	uint32_t k = e->c->deliver(e->c->ctx, e->c->dir, p, n, off);
	return k > n ? n : k;
}

/*
 * Offer p[0..n) at `off` straight from the segment (zero copy), again and
 * again while the consumer takes bytes or skips them.  Returns bytes gone
 * (consumed or skipped).  The caller checks r->stopped.
 */
static uint32_t offer_direct(struct sw_reasm *r, const struct env *e,
			     const uint8_t *p, uint32_t n, uint64_t off)
{
	uint32_t done = 0;
	while (done < n) {
		uint32_t k = call_deliver(e, p + done, n - done, off + done);
		if (r->stopped)
			return done;
		done += k;
		uint32_t s = (uint32_t)SW_MIN(r->skip, (uint64_t)(n - done));
		r->skip -= s;
		done += s;
		if (k == 0 && s == 0)
			break;
	}
	return done;
}

/* Offer `held` from its start while the consumer makes progress. */
static void offer_held(struct sw_reasm *r, const struct env *e)
{
	uint32_t start = 0;
	while (start < r->held_len) {
		uint32_t k = call_deliver(e, r->held + start, r->held_len - start,
					  r->held_off + start);
		if (r->stopped)
			return; /* held is gone */
		start += k;
		uint32_t s = (uint32_t)SW_MIN(r->skip, (uint64_t)(r->held_len - start));
		r->skip -= s;
		start += s;
		if (k == 0 && s == 0)
			break;
	}
	held_drop_front(r, e->cnt, start);
}

/*
 * New contiguous bytes p[0..n) starting at next_off: advance the stream,
 * drop what a pending skip covers, remember history, deliver, keep the rest.
 */
static void take_bytes(struct sw_reasm *r, const struct env *e, const uint8_t *p, uint32_t n)
{
	uint64_t off = r->next_off;
	r->next_off += n;
	r->next_seq += n;

	held_apply_skip(r, e->cnt);
	if (r->skip && !r->held_len) {
		uint32_t s = (uint32_t)SW_MIN(r->skip, (uint64_t)n);
		r->skip -= s;
		p += s;
		n -= s;
		off += s;
		r->hist_len = 0; /* unseen bytes break the window */
	}
	if (n == 0)
		return;
	hist_record(r, e->cnt, p, n);

	while (n) {
		held_apply_skip(r, e->cnt);
		if (r->skip && !r->held_len) {
			uint32_t s = (uint32_t)SW_MIN(r->skip, (uint64_t)n);
			r->skip -= s;
			p += s;
			n -= s;
			off += s;
			if (n == 0)
				return;
		}
		if (!r->held_len) {
			uint32_t gone = offer_direct(r, e, p, n, off);
			if (r->stopped)
				return;
			p += gone;
			n -= gone;
			off += gone;
			if (n == 0)
				return;
			/* The consumer refused n bytes: keep them, if they fit. */
			if (n > e->caps->buf_max || !held_append(r, e, p, n, off))
				abandon(r, e->cnt);
			return;
		}
		uint32_t room = e->caps->buf_max > r->held_len ? e->caps->buf_max - r->held_len : 0;
		if (room == 0) {
			abandon(r, e->cnt);
			return;
		}
		uint32_t take = SW_MIN(n, room);
		if (!held_append(r, e, p, take, off)) {
			abandon(r, e->cnt);
			return;
		}
		p += take;
		n -= take;
		off += take;
		offer_held(r, e);
		if (r->stopped)
			return;
	}
}

/*
 * Bytes [next_off, to) will never be seen.  Held bytes die with them; a
 * pending skip absorbs lost bytes first (reasm.h, "What the consumer sees").
 */
static void declare_gap(struct sw_reasm *r, const struct env *e, uint64_t to)
{
	if (to <= r->next_off)
		return;
	uint64_t hole = to - r->next_off;
	count_an(e->cnt, SW_AN_TCP_GAP);
	if (e->cnt) {
		count(e->cnt->gaps);
		if (e->cnt->gap_bytes)
			*e->cnt->gap_bytes += hole;
	}

	held_apply_skip(r, e->cnt);
	uint64_t from = r->held_len ? r->held_off : r->next_off;
	uint64_t lost = r->held_len + hole;
	held_drop_front(r, e->cnt, r->held_len);
	uint64_t s = SW_MIN(r->skip, lost);
	r->skip -= s;

	r->next_seq += (uint32_t)hole;
	r->next_off = to;
	r->held_off = to;
	r->hist_len = 0;
	if (lost > s && e->c->gap)
		e->c->gap(e->c->ctx, e->c->dir, from + s, lost - s);
}

/* Deliver out-of-order segments that have become contiguous. */
static void drain(struct sw_reasm *r, const struct env *e)
{
	struct sw_reasm_seg *s;
	while ((s = r->ooo) != NULL && s->off <= r->next_off) {
		r->ooo = s->next;
		r->ooo_count--;
		r->ooo_bytes -= s->len;
		uint64_t end = s->off + s->len;
		if (end > r->next_off) {
			uint32_t cut = (uint32_t)(r->next_off - s->off);
			take_bytes(r, e, s->data + cut, s->len - cut);
		}
		seg_free(e->cnt, s);
		if (r->stopped)
			return;
	}
}

/* ---- the out-of-order list ------------------------------------------------ */

struct ooo_scan {
	uint32_t pieces;  /* new list elements needed */
	uint64_t bytes;   /* new bytes they hold */
	bool overlap;     /* some bytes already in the list */
	bool conflict;    /* ... and some of them differ */
};

/*
 * Walk [off, off + n) against the list.  Without commit: fill *sc.  With
 * commit: insert the pieces that fill holes.  False: an allocation failed
 * (the pieces inserted before it stay, the list is consistent).
 */
static bool ooo_walk(struct sw_reasm *r, const struct sw_reasm_counters *cnt,
		     uint64_t off, const uint8_t *p, uint32_t n, bool commit,
		     struct ooo_scan *sc)
{
	uint64_t end = off + n, cur = off;
	struct sw_reasm_seg **pp = &r->ooo;

	while (cur < end) {
		struct sw_reasm_seg *s = *pp;
		uint64_t piece_end = end;
		if (s) {
			uint64_t s_end = s->off + s->len;
			if (s_end <= cur) {
				pp = &s->next;
				continue;
			}
			if (s->off <= cur) {
				uint64_t o_end = SW_MIN(end, s_end);
				if (!commit) {
					sc->overlap = true;
					if (memcmp(p + (cur - off), s->data + (cur - s->off),
						   (size_t)(o_end - cur)))
						sc->conflict = true;
				}
				cur = o_end;
				pp = &s->next;
				continue;
			}
			piece_end = SW_MIN(end, s->off);
		}
		uint32_t len = (uint32_t)(piece_end - cur);
		if (commit) {
			struct sw_reasm_seg *ns = malloc(sizeof(*ns) + len);
			if (!ns)
				return false;
			mem_add(cnt, (int64_t)(sizeof(*ns) + len));
			ns->off = cur;
			ns->len = len;
			memcpy(ns->data, p + (cur - off), len);
			ns->next = s;
			*pp = ns;
			pp = &ns->next;
			r->ooo_count++;
			r->ooo_bytes += len;
		} else {
			sc->pieces++;
			sc->bytes += len;
		}
		cur = piece_end;
	}
	return true;
}

static void place(struct sw_reasm *r, const struct env *e, int64_t off,
		  const uint8_t *p, uint32_t n, bool retry);

static void ooo_drop(const struct env *e)
{
	count_an(e->cnt, SW_AN_TCP_OOO_CAP);
	if (e->cnt)
		count(e->cnt->caps_hit);
}

/* A segment that starts beyond next_off. */
static void ooo_add(struct sw_reasm *r, const struct env *e, uint64_t off,
		    const uint8_t *p, uint32_t n, bool retry)
{
	struct ooo_scan sc = { 0, 0, false, false };
	ooo_walk(r, e->cnt, off, p, n, false, &sc);
	if (!retry && e->cnt) {
		count(e->cnt->ooo_segments);
		if (sc.overlap)
			count(e->cnt->retransmissions);
		if (sc.conflict)
			count_an(e->cnt, SW_AN_TCP_OVERLAP_CONFLICT);
	}
	if (sc.pieces == 0)
		return;
	if ((uint64_t)r->ooo_count + sc.pieces <= e->caps->ooo_max_segments &&
	    (uint64_t)r->ooo_bytes + sc.bytes <= e->caps->ooo_max_bytes) {
		if (!ooo_walk(r, e->cnt, off, p, n, true, &sc))
			ooo_drop(e);
		return;
	}
	if (retry) {
		ooo_drop(e);
		return;
	}
	/* Full: give up on the first hole, then try once more. */
	if (e->cnt)
		count(e->cnt->caps_hit);
	uint64_t to = r->ooo && r->ooo->off < off ? r->ooo->off : off;
	declare_gap(r, e, to);
	if (r->stopped)
		return;
	drain(r, e);
	if (r->stopped)
		return;
	place(r, e, (int64_t)off, p, n, true);
}

/*
 * A segment that starts at next_off.  Bytes also waiting in the list yield
 * to those copies (first copy wins); the rest is taken piece by piece.
 */
static void in_order(struct sw_reasm *r, const struct env *e, const uint8_t *p,
		     uint32_t n, bool retry)
{
	if (r->ooo && r->next_off + n > r->ooo->off) {
		struct ooo_scan sc = { 0, 0, false, false };
		ooo_walk(r, e->cnt, r->next_off, p, n, false, &sc);
		if (!retry && e->cnt) {
			if (sc.overlap)
				count(e->cnt->retransmissions);
			if (sc.conflict)
				count_an(e->cnt, SW_AN_TCP_OVERLAP_CONFLICT);
		}
	}
	for (;;) {
		struct sw_reasm_seg *s = r->ooo;
		uint64_t start = r->next_off;
		uint64_t end = start + n;
		if (!s || end <= s->off) {
			take_bytes(r, e, p, n);
			if (!r->stopped)
				drain(r, e);
			return;
		}
		/* Each turn drains at least the first list element. */
		uint32_t pre = (uint32_t)(s->off - start);
		if (pre) {
			take_bytes(r, e, p, pre);
			if (r->stopped)
				return;
		}
		drain(r, e);
		if (r->stopped || end <= r->next_off)
			return;
		uint32_t cut = (uint32_t)(r->next_off - start);
		p += cut;
		n -= cut;
	}
}

/* Route one segment at stream offset off (may be before 0). */
static void place(struct sw_reasm *r, const struct env *e, int64_t off,
		  const uint8_t *p, uint32_t n, bool retry)
{
	int64_t next = (int64_t)r->next_off;
	int64_t end = off + n;

	if (off < next) {
		bool differs = past_differs(r, off, p, (uint32_t)(SW_MIN(end, next) - off));
		if (!retry) {
			if (e->cnt)
				count(e->cnt->retransmissions);
			if (differs)
				count_an(e->cnt, SW_AN_TCP_OVERLAP_CONFLICT);
		}
		if (end <= next)
			return;
		uint32_t cut = (uint32_t)(next - off);
		p += cut;
		n -= cut;
		off = next;
	}
	if (off > next)
		ooo_add(r, e, (uint64_t)off, p, n, retry);
	else
		in_order(r, e, p, n, retry);
}

static void fin_update(struct sw_reasm *r)
{
	r->fin = r->fin_seen && r->next_off >= r->fin_off;
}

/* ---- entry points -------------------------------------------------------- */

void sw_reasm_init(struct sw_reasm *r)
{
	memset(r, 0, sizeof(*r));
}

void sw_reasm_start(struct sw_reasm *r, uint32_t isn)
{
	if (r->started)
		return;
	r->isn = isn;
	r->next_seq = isn;
	r->next_off = 0;
	r->held_off = 0;
	r->started = true;
}

void sw_reasm_segment(struct sw_reasm *r, const struct sw_reasm_caps *caps,
		      const struct sw_reasm_counters *cnt,
		      const struct sw_reasm_consumer *c,
		      uint32_t seq, const uint8_t *p, uint32_t n, bool fin)
{
	if (SW_UNLIKELY(r->stopped || !r->started))
		return;
	struct env e = { caps, cnt, c };
	/* RFC 9293 3.4: sequence space is modulo 2^32; a segment lies within
	 * 2^31 of the next expected byte, behind or ahead. */
	uint32_t d = seq - r->next_seq;
	int64_t delta = d < 0x80000000u ? (int64_t)d : (int64_t)d - ((int64_t)1 << 32);
	int64_t off = (int64_t)r->next_off + delta;

	if (fin && off + n >= (int64_t)r->next_off) {
		r->fin_seen = true;
		r->fin_off = (uint64_t)(off + n);
	}
	if (n && p)
		place(r, &e, off, p, n, false);
	if (!r->stopped)
		fin_update(r);
}

void sw_reasm_skip(struct sw_reasm *r, uint64_t n)
{
	if (r->stopped)
		return;
	r->skip = r->skip + n < r->skip ? UINT64_MAX : r->skip + n;
}

void sw_reasm_finish(struct sw_reasm *r, const struct sw_reasm_caps *caps,
		     const struct sw_reasm_counters *cnt, const struct sw_reasm_consumer *c)
{
	if (r->stopped || !r->started)
		return;
	struct env e = { caps, cnt, c };
	/* Each turn removes at least the first list element. */
	while (r->ooo) {
		declare_gap(r, &e, r->ooo->off);
		if (r->stopped)
			return;
		drain(r, &e);
		if (r->stopped)
			return;
	}
	if (r->fin_seen && r->fin_off > r->next_off) {
		declare_gap(r, &e, r->fin_off);
		if (r->stopped)
			return;
	}
	held_apply_skip(r, cnt);
	if (r->held_len) {
		offer_held(r, &e);
		if (r->stopped)
			return;
	}
	fin_update(r);
}

void sw_reasm_stop(struct sw_reasm *r, const struct sw_reasm_counters *cnt)
{
	release(r, cnt);
	r->stopped = true;
}

void sw_reasm_free(struct sw_reasm *r, const struct sw_reasm_counters *cnt)
{
	release(r, cnt);
	r->stopped = true;
}
