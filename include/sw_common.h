/*
 * sw_common.h - small things every stage uses: the bounded byte cursor and
 * a few helpers.  Nothing here allocates.
 *
 * The cursor is the one accessor layer for wire bytes (STYLE.md 3): a read
 * either succeeds wholly inside [p, end) or marks the cursor failed and
 * returns 0.  Failure is sticky, so a parser can read a whole structure and
 * test cur_ok() once at the end.  Nested lengths are opened with cur_sub(),
 * which charges the child's bytes to the parent (STYLE.md 2).
 */
#ifndef SW_COMMON_H
#define SW_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SW_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SW_MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#define SW_LIKELY(x) __builtin_expect(!!(x), 1)
#define SW_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define SW_LIKELY(x) (x)
#define SW_UNLIKELY(x) (x)
#endif

struct sw_cur {
	const uint8_t *p;   /* next byte to read */
	const uint8_t *end; /* one past the last readable byte */
	bool bad;           /* a read ran past end: sticky */
};

static inline struct sw_cur cur_make(const uint8_t *p, size_t n)
{
	struct sw_cur c = { p, p + n, false };
	return c;
}

static inline size_t cur_left(const struct sw_cur *c) { return c->bad ? 0 : (size_t)(c->end - c->p); }
static inline bool cur_ok(const struct sw_cur *c) { return !c->bad; }
/* True when every byte was consumed and no read failed. */
static inline bool cur_done(const struct sw_cur *c) { return !c->bad && c->p == c->end; }

static inline bool cur_need(struct sw_cur *c, size_t n)
{
	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		c->p = c->end;
		return false;
	}
	return true;
}

static inline uint8_t cur_u8(struct sw_cur *c)
{
	if (!cur_need(c, 1))
		return 0;
	return *c->p++;
}

static inline uint16_t cur_be16(struct sw_cur *c)
{
	if (!cur_need(c, 2))
		return 0;
	uint16_t v = (uint16_t)((c->p[0] << 8) | c->p[1]);
	c->p += 2;
	return v;
}

static inline uint32_t cur_be24(struct sw_cur *c)
{
	if (!cur_need(c, 3))
		return 0;
	uint32_t v = ((uint32_t)c->p[0] << 16) | ((uint32_t)c->p[1] << 8) | c->p[2];
	c->p += 3;
	return v;
}

static inline uint32_t cur_be32(struct sw_cur *c)
{
	if (!cur_need(c, 4))
		return 0;
	uint32_t v = ((uint32_t)c->p[0] << 24) | ((uint32_t)c->p[1] << 16) |
		     ((uint32_t)c->p[2] << 8) | c->p[3];
	c->p += 4;
	return v;
}

/* Borrow n bytes; returns NULL (and fails the cursor) when fewer are left. */
static inline const uint8_t *cur_bytes(struct sw_cur *c, size_t n)
{
	if (!cur_need(c, n))
		return NULL;
	const uint8_t *b = c->p;
	c->p += n;
	return b;
}

static inline void cur_skip(struct sw_cur *c, size_t n) { (void)cur_bytes(c, n); }

/*
 * Open a child span of n bytes.  The parent advances past it at once; a
 * short parent fails both.  Check cur_done(child) when closing it: leftover
 * bytes in a closed span are an anomaly, not something to skip.
 */
static inline struct sw_cur cur_sub(struct sw_cur *c, size_t n)
{
	const uint8_t *b = cur_bytes(c, n);
	struct sw_cur s = { b, b ? b + n : NULL, b == NULL };
	return s;
}

/* Big-endian loads for code that has already checked the length. */
static inline uint16_t sw_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t sw_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

#endif
