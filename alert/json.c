/*
 * json.c - bounded JSON building and string escaping (see json.h for the
 * rules on invalid UTF-8 and on members that do not fit).
 */
#include <string.h>

#include "json.h"

void jb_init(struct jb *j, char *buf, size_t cap, size_t reserve)
{
	j->buf = buf;
	j->len = 0;
	j->cap = cap;
	j->limit = cap > reserve ? cap - reserve : 0;
	j->over = false;
	j->cut = 0;
}

void jb_raw(struct jb *j, const char *s, size_t n)
{
	if (j->over || j->len > j->limit || n > j->limit - j->len) {
		j->over = true;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
}

void jb_cstr(struct jb *j, const char *s)
{
	jb_raw(j, s, strlen(s));
}

void jb_close(struct jb *j, char c)
{
	if (j->len < j->cap)
		j->buf[j->len++] = c;
}

/* jb_raw(j, &c, 1) without a call to memcpy. */
static inline void jb_byte(struct jb *j, char c)
{
	if (j->over || j->len >= j->limit) {
		j->over = true;
		return;
	}
	j->buf[j->len++] = c;
}

static void jb_sep(struct jb *j)
{
	if (j->len > 0 && j->buf[j->len - 1] != '{' && j->buf[j->len - 1] != '[')
		jb_byte(j, ',');
}

void jb_key(struct jb *j, const char *name)
{
	size_t nl = strlen(name);
	bool sep = j->len > 0 && j->buf[j->len - 1] != '{' && j->buf[j->len - 1] != '[';
	size_t need = (sep ? 1 : 0) + nl + 3;
	if (!j->over && j->len <= j->limit && need <= j->limit - j->len) {
		/* All of it fits: one pass.  Else piece by piece, as before. */
		char *p = j->buf + j->len;
		if (sep)
			*p++ = ',';
		*p++ = '"';
		memcpy(p, name, nl);
		p += nl;
		*p++ = '"';
		*p = ':';
		j->len += need;
		return;
	}
	jb_sep(j);
	jb_raw(j, "\"", 1);
	jb_raw(j, name, nl);
	jb_raw(j, "\":", 2);
}

void jb_elem(struct jb *j)
{
	jb_sep(j);
}

/*
 * RFC 3629 section 4: the well-formed sequences.  The second byte's range
 * depends on the first, which is what excludes overlong forms (C0, C1,
 * E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and values above U+10FFFF
 * (F4 90.., F5..FF).
 */
size_t sw_utf8_seq_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t need;
	uint8_t lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < need)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

static const char hexdig[] = "0123456789abcdef";

/* Bytes copied as they are, without a look at UTF-8: printable ASCII but '"' and '\\'. */
static const uint8_t plain_tab[256] = { /* 0x80..0xff: 0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x70 */
};

static inline bool plain_ascii(uint8_t c)
{
	return plain_tab[c] != 0;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Some byte of x is zero (exact as a yes/no: borrows only reach bytes above a zero). */
static inline uint64_t has_zero(uint64_t x)
{
	return (x - ONES) & ~x & HIGHS;
}

/*
 * Some byte of the 8 at p is not plain: below 0x20, '"', '\\', 0x7f or
 * above (the complement of plain_tab, checked by the byte loop after it).
 */
static inline bool word_has_special(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	uint64_t below20 = (v - 0x20 * ONES) & ~v & HIGHS;
	return ((v & HIGHS) | below20 | has_zero(v ^ ('"' * ONES)) | has_zero(v ^ ('\\' * ONES)) |
		has_zero(v ^ (0x7f * ONES))) != 0;
}

/*
 * Runs of plain ASCII go out with one memcpy each; every other byte takes
 * the rules above one character at a time.  Fails exactly when the whole
 * escaped text is longer than outcap (pieces are written in order).
 */
size_t sw_json_escape(char *out, size_t outcap, const uint8_t *s, size_t n)
{
	size_t o = 0;
	size_t i = 0;
	while (i < n) {
		size_t r = i;
		/* Eight bytes at a time while all are plain, then one by one. */
		while (r + 8 <= n && !word_has_special(s + r))
			r += 8;
		while (r < n && plain_ascii(s[r]))
			r++;
		if (r > i) {
			if (outcap - o < r - i)
				return (size_t)-1;
			memcpy(out + o, s + i, r - i);
			o += r - i;
			i = r;
			if (i == n)
				break;
		}
		uint8_t c = s[i];
		char esc = 0;
		switch (c) {
		case '"': esc = '"'; break;
		case '\\': esc = '\\'; break;
		case '\b': esc = 'b'; break;
		case '\f': esc = 'f'; break;
		case '\n': esc = 'n'; break;
		case '\r': esc = 'r'; break;
		case '\t': esc = 't'; break;
		default: break;
		}
		if (esc) {
			if (outcap - o < 2)
				return (size_t)-1;
			out[o++] = '\\';
			out[o++] = esc;
			i++;
			continue;
		}
		size_t sl = (c >= 0x20 && c != 0x7f) ? sw_utf8_seq_len(s + i, n - i) : 0;
		if (sl == 0) {
			/* A control, or a byte that starts no valid sequence. */
			if (outcap - o < 6)
				return (size_t)-1;
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hexdig[c >> 4];
			out[o + 5] = hexdig[c & 15];
			o += 6;
			i++;
			continue;
		}
		if (outcap - o < sl)
			return (size_t)-1;
		memcpy(out + o, s + i, sl);
		o += sl;
		i += sl;
	}
	return o;
}

void jb_strn(struct jb *j, const uint8_t *s, size_t n)
{
	jb_byte(j, '"');
	if (j->over || j->len > j->limit)
		return;
	size_t w = sw_json_escape(j->buf + j->len, j->limit - j->len, s, n);
	if (w == (size_t)-1) {
		j->over = true;
		return;
	}
	j->len += w;
	jb_byte(j, '"');
}

void jb_str(struct jb *j, const char *s)
{
	jb_strn(j, (const uint8_t *)s, strlen(s));
}

void jb_u64(struct jb *j, uint64_t v)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	jb_raw(j, tmp + sizeof tmp - n, n);
}

void jb_bool(struct jb *j, bool v)
{
	if (v)
		jb_raw(j, "true", 4);
	else
		jb_raw(j, "false", 5);
}

bool jb_commit(struct jb *j, size_t mark)
{
	if (!j->over)
		return true;
	j->len = mark;
	j->over = false;
	j->cut++;
	return false;
}

void jb_m_str(struct jb *j, const char *name, const char *v)
{
	size_t m = jb_mark(j);
	jb_key(j, name);
	jb_str(j, v);
	jb_commit(j, m);
}

void jb_m_strn(struct jb *j, const char *name, const uint8_t *v, size_t n)
{
	size_t m = jb_mark(j);
	jb_key(j, name);
	jb_strn(j, v, n);
	jb_commit(j, m);
}

void jb_m_u64(struct jb *j, const char *name, uint64_t v)
{
	size_t m = jb_mark(j);
	jb_key(j, name);
	jb_u64(j, v);
	jb_commit(j, m);
}

void jb_m_bool(struct jb *j, const char *name, bool v)
{
	size_t m = jb_mark(j);
	jb_key(j, name);
	jb_bool(j, v);
	jb_commit(j, m);
}

bool jb_open(struct jb *j, const char *name, char bracket)
{
	size_t m = jb_mark(j);
	jb_key(j, name);
	jb_raw(j, &bracket, 1);
	return jb_commit(j, m);
}
