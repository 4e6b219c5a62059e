/*
 * json.h - a bounded JSON line builder for the alert stage.
 *
 * A builder writes into a caller's fixed buffer up to `limit` bytes; the
 * bytes between limit and cap are kept back for closing brackets and the
 * chain members, so closing what is open always fits.  Members are added
 * with jb_mark()/jb_commit(): a member that does not fit is rolled back
 * whole and counted in `cut`, so the line stays valid JSON.
 *
 * Strings are escaped per RFC 8259 section 7 and forced to valid UTF-8
 * (RFC 3629): valid sequences are copied as they are; every byte that is
 * not part of a valid sequence (stray continuation bytes, overlong forms,
 * UTF-16 surrogates, code points above U+10FFFF, a sequence cut short) is
 * written as \u00XX, XX being the byte's value.  Because valid characters
 * U+0080..U+00FF are always written raw, an escaped \u0080..\u00ff in our
 * output always stands for one invalid input byte: the analyst sees the
 * original byte, and nothing is lost.  Controls (0x00-0x1f, 0x7f) become
 * \b \f \n \r \t or \u00XX; '"' and '\' are escaped.
 */
#ifndef SW_JSON_H
#define SW_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jb {
	char *buf;
	size_t len;      /* bytes written */
	size_t limit;    /* members may fill up to here */
	size_t cap;      /* closers may fill up to here */
	bool over;       /* a write since the last mark did not fit */
	uint32_t cut;    /* members dropped because they did not fit */
};

void jb_init(struct jb *j, char *buf, size_t cap, size_t reserve);

/* Raw bytes (no escaping), checked against limit. */
void jb_raw(struct jb *j, const char *s, size_t n);
void jb_cstr(struct jb *j, const char *s);
/* A closing '}' or ']': uses the reserve, never fails. */
void jb_close(struct jb *j, char c);

/* Member name with the separating comma when needed: ,"name": */
void jb_key(struct jb *j, const char *name);
/* Escaped string value "..." of n bytes. */
void jb_strn(struct jb *j, const uint8_t *s, size_t n);
void jb_str(struct jb *j, const char *s);
void jb_u64(struct jb *j, uint64_t v);
void jb_bool(struct jb *j, bool v);
/* An array element separator when needed. */
void jb_elem(struct jb *j);

/* Transactions for one member. */
static inline size_t jb_mark(struct jb *j)
{
	j->over = false;
	return j->len;
}
/* Keeps the member if it fit, else rolls back and counts.  True if kept. */
bool jb_commit(struct jb *j, size_t mark);

/* Opens member name as an object ('{') or array ('['); false (nothing written) if it did not fit. */
bool jb_open(struct jb *j, const char *name, char bracket);

/* Convenience members (each one transaction). */
void jb_m_str(struct jb *j, const char *name, const char *v);
void jb_m_strn(struct jb *j, const char *name, const uint8_t *v, size_t n);
void jb_m_u64(struct jb *j, const char *name, uint64_t v);
void jb_m_bool(struct jb *j, const char *name, bool v);

/*
 * Escape n bytes of s into out (no quotes); returns bytes written, or
 * (size_t)-1 when outcap is too small.  Worst case 6 bytes per input byte.
 */
size_t sw_json_escape(char *out, size_t outcap, const uint8_t *s, size_t n);

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s[0] starts none. */
size_t sw_utf8_seq_len(const uint8_t *s, size_t n);

#endif
