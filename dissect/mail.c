/*
 * mail.c - what SMTP, IMAP and POP3 share: line helpers, the test for a
 * masked capability token, and the switch to TLS after a STARTTLS success.
 */
#include <string.h>

#include "flow.h"

static inline uint8_t upper(uint8_t c) { return (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c; }

uint32_t sw_line_trim(const uint8_t *line, uint32_t len)
{
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	return len;
}

bool sw_word_is(const uint8_t *p, uint32_t len, const char *w)
{
	uint32_t k = (uint32_t)strlen(w);
	if (len < k)
		return false;
	for (uint32_t i = 0; i < k; i++)
		if (upper(p[i]) != (uint8_t)w[i])
			return false;
	return len == k || p[k] == ' ' || p[k] == '\r' || p[k] == '\n' || p[k] == '\t';
}

/* Case-insensitive equality of two spans of equal length. */
static bool same_ci(const uint8_t *a, const char *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (upper(a[i]) != (uint8_t)b[i])
			return false;
	return true;
}

/* One insertion or deletion away: `longer` is one byte longer than `shorter`. */
static bool one_indel(const uint8_t *longer, uint32_t llen, const char *shorter, uint32_t slen)
{
	uint32_t i = 0;
	while (i < slen && upper(longer[i]) == (uint8_t)shorter[i])
		i++;
	return llen == slen + 1 && same_ci(longer + i + 1, shorter + i, slen - i);
}

static bool one_indel_rev(const uint8_t *shorter, uint32_t slen, const char *longer, uint32_t llen)
{
	uint32_t i = 0;
	while (i < slen && upper(shorter[i]) == (uint8_t)longer[i])
		i++;
	return llen == slen + 1 && same_ci(shorter + i, longer + i + 1, slen - i);
}

/*
 * A token masks `word` (upper case) when it has its length and is X's with
 * an optional last letter (what ESMTP-inspecting firewalls leave:
 * "XXXXXXXA"), one repeated character ("********"), or one edit away from
 * the word ("STARTTLX", "STARTLS").
 */
bool sw_token_masks(const uint8_t *tok, uint32_t len, const char *word)
{
	uint32_t wl = (uint32_t)strlen(word);
	if (len == wl) {
		if (same_ci(tok, word, len))
			return false;
		uint32_t xs = 0, same = 0, diff = 0;
		for (uint32_t i = 0; i < len; i++) {
			xs += upper(tok[i]) == 'X';
			same += tok[i] == tok[0];
			diff += upper(tok[i]) != (uint8_t)word[i];
		}
		return xs >= len - 1 || same == len || diff == 1;
	}
	if (len == wl + 1)
		return one_indel(tok, len, word, wl);
	if (len + 1 == wl)
		return one_indel_rev(tok, len, word, wl);
	return false;
}

void sw_mail_starttls_accepted(struct sw_engine_ctx *x)
{
	struct sw_app *a = x->f->app;
	a->mode[1] = SW_M_AWAIT_TLS;
	if (a->mode[0] != SW_M_TLS && a->mode[0] != SW_M_DONE)
		a->mode[0] = SW_M_AWAIT_TLS;
}
