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

uint32_t sw_skip_sp(const uint8_t *p, uint32_t n, uint32_t i)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i;
}

uint32_t sw_word_end(const uint8_t *p, uint32_t n, uint32_t i)
{
	while (i < n && p[i] != ' ' && p[i] != '\t')
		i++;
	return i;
}

void sw_cmdq_push(struct sw_engine_ctx *x, struct sw_cmdq *q, uint8_t v)
{
	if (q->len >= SW_CMDQ_MAX) {
		/* More unanswered commands than any client pipelines: pairing is lost. */
		sw_count_anomaly(x->e, SW_AN_SMTP_UNPAIRED_REPLY);
		q->len = 0;
	}
	q->verb[(q->head + q->len) % SW_CMDQ_MAX] = v;
	q->len++;
}

uint8_t sw_cmdq_head(const struct sw_cmdq *q)
{
	return q->len ? q->verb[q->head] : (uint8_t)SW_V_OTHER;
}

void sw_cmdq_pop(struct sw_cmdq *q)
{
	if (q->len) {
		q->head = (uint8_t)((q->head + 1) % SW_CMDQ_MAX);
		q->len--;
	}
}

bool sw_span_is(const uint8_t *p, uint32_t i, uint32_t j, const char *w)
{
	return j - i == strlen(w) && same_ci(p + i, w, j - i);
}

/*
 * Where a client line stops being safe to show: the end of the command
 * (and SASL mechanism) of a line that carries credentials, else n.
 *   SMTP  AUTH mech ...          (RFC 4954)
 *   IMAP  tag LOGIN ... / tag AUTHENTICATE mech ...   (RFC 3501 6.2)
 *   POP3  USER ... / PASS ... / APOP ... / AUTH mech ... (RFC 1939, 5034)
 */
static uint32_t safe_end(enum sw_app_proto proto, const uint8_t *line, uint32_t n)
{
	uint32_t e0 = sw_word_end(line, n, 0);
	uint32_t s1 = sw_skip_sp(line, n, e0), e1 = sw_word_end(line, n, s1);
	uint32_t s2 = sw_skip_sp(line, n, e1), e2 = sw_word_end(line, n, s2);
	switch (proto) {
	case SW_APP_SMTP:
		return sw_span_is(line, 0, e0, "AUTH") ? e1 : n;
	case SW_APP_IMAP:
		if (sw_span_is(line, s1, e1, "LOGIN"))
			return e1;
		return sw_span_is(line, s1, e1, "AUTHENTICATE") ? e2 : n;
	case SW_APP_POP3:
		if (sw_span_is(line, 0, e0, "USER") || sw_span_is(line, 0, e0, "PASS") ||
		    sw_span_is(line, 0, e0, "APOP"))
			return e0;
		return sw_span_is(line, 0, e0, "AUTH") ? e1 : n;
	default:
		return n;
	}
}

const uint8_t *sw_mail_safe_line(enum sw_app_proto proto, const uint8_t *line, uint32_t n,
				 uint8_t *buf, uint32_t cap, uint32_t *out_len)
{
	n = sw_line_trim(line, n);
	uint32_t keep = safe_end(proto, line, n);
	if (keep >= n) {
		*out_len = n;
		return line;
	}
	static const char tail[] = " <redacted>";
	uint32_t k = SW_MIN(keep, cap);
	memcpy(buf, line, k);
	if (k + sizeof(tail) - 1 <= cap) {
		memcpy(buf + k, tail, sizeof(tail) - 1);
		k += (uint32_t)sizeof(tail) - 1;
	}
	*out_len = k;
	return buf;
}

void sw_mail_command_injection(struct sw_engine_ctx *x, const char *cmd, const uint8_t *shown, uint32_t len)
{
	struct sw_evidence ev[2] = {
		{ 0, (uint16_t)strlen(cmd), (const uint8_t *)cmd },
		{ 0, (uint16_t)SW_MIN(len, SW_EVIDENCE_LINE_MAX), shown },
	};
	sw_raise(x, SW_F_STARTTLS_COMMAND_INJECTION, 1, NULL, ev, 2,
		 "client bytes after the STARTTLS command before the server's reply");
}

void sw_mail_starttls_accepted(struct sw_engine_ctx *x)
{
	struct sw_app *a = x->f->app;
	a->mode[1] = SW_M_AWAIT_TLS;
	if (a->mode[0] != SW_M_TLS && a->mode[0] != SW_M_DONE)
		a->mode[0] = SW_M_AWAIT_TLS;
}
