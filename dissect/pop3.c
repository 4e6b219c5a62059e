/*
 * pop3.c - the POP3 dissector (RFC 1939; CAPA RFC 2449; STLS RFC 2595 4;
 * AUTH RFC 5034), one line at a time per direction.
 *
 * Invariants:
 *  - Replies are paired with commands through a queue (POP3 allows
 *    pipelining, RFC 2449 6.6).  The greeting answers a pseudo-command at
 *    the head; a client that speaks before any server byte was seen means
 *    the greeting was not captured, and the pseudo-command is dropped.
 *  - A "+OK" to CAPA, RETR, TOP, LIST/UIDL without argument, or AUTH
 *    without argument opens a multi-line response that ends at a line
 *    holding only "." (RFC 1939 3; lines starting with "." are
 *    byte-stuffed).  Its lines are never taken for responses; those of CAPA
 *    are the capability list (keyword first on each line).
 *  - STLS is allowed only in the AUTHORIZATION state (RFC 2595 4): once
 *    PASS, APOP or AUTH succeeds, nothing is left to learn and both
 *    directions end.
 *  - Credentials never reach the evidence: USER, PASS, APOP and AUTH lines
 *    are redacted after the command (and the SASL mechanism); SASL
 *    responses are not looked at.
 */
#include <string.h>

#include "flow.h"

#define SW_POP3_MULTI 0x80 /* queue entry flag: a "+OK" opens a multi-line response */

/* ---- small helpers ------------------------------------------------------------- */

static void end_dissection(struct sw_app *a)
{
	a->mode[0] = a->mode[1] = SW_M_DONE;
}

/* ---- server responses ---------------------------------------------------------------- */

/* One line of the CAPA list (RFC 2449 5): the keyword comes first. */
static void capa_line(struct sw_engine_ctx *x, const uint8_t *line, uint32_t n)
{
	struct sw_app *a = x->f->app;
	struct sw_pop3 *s = &a->u.pop3;
	uint32_t kl = sw_word_end(line, n, 0);
	bool mangled = false;
	if (sw_word_is(line, n, "STLS"))
		s->capa_stls = true;
	else if (sw_token_masks(line, kl, "STLS"))
		mangled = s->capa_mangled = true;
	sw_app_ev_keep(x, 1, line, n, mangled);
}

static void multiline(struct sw_engine_ctx *x, const uint8_t *line, uint32_t n)
{
	struct sw_app *a = x->f->app;
	struct sw_pop3 *s = &a->u.pop3;
	if (n == 1 && line[0] == '.') {
		s->multiline = false;
		if (s->capa_open) {
			s->capa_open = false;
			sw_detect_capabilities(x, s->capa_stls, s->capa_mangled);
		}
		return;
	}
	if (!s->capa_open)
		return;
	if (n > 0 && line[0] == '.') {
		line++; /* byte-stuffed */
		n--;
	}
	capa_line(x, line, n);
}

static void status_reply(struct sw_engine_ctx *x, const uint8_t *line, uint32_t n, bool ok)
{
	struct sw_app *a = x->f->app;
	struct sw_pop3 *s = &a->u.pop3;
	uint8_t e = sw_cmdq_head(&s->q);
	enum sw_verb v = (enum sw_verb)(e & ~SW_POP3_MULTI);

	if (s->q.len == 0)
		sw_count_anomaly(x->e, SW_AN_SMTP_UNPAIRED_REPLY);
	sw_cmdq_pop(&s->q);
	switch (v) {
	case SW_V_GREETING:
		s->greeting_seen = true;
		return;
	case SW_V_STLS:
		sw_detect_starttls_reply(x, ok, line, n);
		return;
	case SW_V_CAPA:
		if (ok) {
			s->capa_open = true;
			s->capa_stls = s->capa_mangled = false;
			sw_app_ev_clear(a);
			sw_app_ev_keep(x, 1, line, n, false);
		}
		break;
	case SW_V_AUTH:
		s->auth_exchange = false;
		if (ok && !(e & SW_POP3_MULTI)) {
			end_dissection(a); /* TRANSACTION state */
			return;
		}
		break;
	case SW_V_PASS:
	case SW_V_APOP:
		if (ok) {
			end_dissection(a);
			return;
		}
		break;
	default:
		break;
	}
	if (ok && (e & SW_POP3_MULTI))
		s->multiline = true;
}

static void server_line(struct sw_engine_ctx *x, const uint8_t *line, uint32_t n)
{
	struct sw_pop3 *s = &x->f->app->u.pop3;

	if (s->multiline) {
		multiline(x, line, n);
		return;
	}
	/* RFC 1939 3: status indicator "+OK" or "-ERR". */
	if (sw_word_is(line, n, "+OK")) {
		status_reply(x, line, n, true);
	} else if (sw_word_is(line, n, "-ERR")) {
		status_reply(x, line, n, false);
	} else if (n >= 1 && line[0] == '+' && (sw_cmdq_head(&s->q) & ~SW_POP3_MULTI) == SW_V_AUTH) {
		/* RFC 5034 4: a SASL challenge "+ ..."; the exchange goes on. */
	} else {
		sw_count_anomaly(x->e, SW_AN_MAIL_BAD_SYNTAX);
	}
}

/* ---- client commands -------------------------------------------------------------------- */

struct verb_row {
	const char *word;
	enum sw_verb verb;
};

static const struct verb_row verbs[] = {
	{ "CAPA", SW_V_CAPA }, { "STLS", SW_V_STLS }, { "USER", SW_V_USER }, { "PASS", SW_V_PASS },
	{ "APOP", SW_V_APOP }, { "AUTH", SW_V_AUTH }, { "QUIT", SW_V_QUIT }, { "NOOP", SW_V_NOOP },
	{ "RSET", SW_V_RSET },
};

static enum sw_verb verb_of(const uint8_t *p, uint32_t n)
{
	for (size_t i = 0; i < SW_ARRAY_LEN(verbs); i++)
		if (sw_word_is(p, n, verbs[i].word))
			return verbs[i].verb;
	return SW_V_OTHER;
}

/* Does this command's "+OK" open a multi-line response (RFC 1939 5, RFC 2449 5, RFC 5034 4)? */
static bool answers_multiline(const uint8_t *line, uint32_t n, enum sw_verb v, bool has_arg)
{
	if (v == SW_V_CAPA)
		return true;
	if (v == SW_V_AUTH)
		return !has_arg; /* bare AUTH lists the mechanisms */
	if (sw_word_is(line, n, "RETR") || sw_word_is(line, n, "TOP"))
		return true;
	if (sw_word_is(line, n, "LIST") || sw_word_is(line, n, "UIDL"))
		return !has_arg;
	return false;
}

static void client_line(struct sw_engine_ctx *x, const uint8_t *line, uint32_t n)
{
	struct sw_app *a = x->f->app;
	struct sw_pop3 *s = &a->u.pop3;

	if (s->auth_exchange)
		return; /* a SASL response: credentials, not a command */
	enum sw_verb v = verb_of(line, n);
	uint32_t we = sw_word_end(line, n, 0);
	uint32_t arg = sw_skip_sp(line, n, we);
	bool has_arg = arg < n;
	/* Credentials never reach the evidence. */
	uint8_t red[64];
	uint32_t rl;
	const uint8_t *shown = sw_mail_safe_line(SW_APP_POP3, line, n, red, sizeof(red), &rl);

	/* RFC 2595 4: nothing may follow STLS before its reply. */
	if (a->starttls_pending)
		sw_mail_command_injection(x, "STLS", shown, rl);
	/* The client speaks before any server byte: the greeting was not captured. */
	if (sw_cmdq_head(&s->q) == SW_V_GREETING && !s->greeting_seen && x->f->bytes[1] == 0)
		sw_cmdq_pop(&s->q);

	uint8_t e = (uint8_t)v;
	if (answers_multiline(line, n, v, has_arg))
		e |= SW_POP3_MULTI;
	sw_cmdq_push(x, &s->q, e);

	switch (v) {
	case SW_V_STLS:
		a->command_sent = SW_YES;
		a->starttls_pending = true;
		break;
	case SW_V_USER:
		sw_detect_plaintext_use(x, shown, rl);
		break;
	case SW_V_PASS:
	case SW_V_APOP:
		sw_detect_plaintext_use(x, shown, rl);
		sw_detect_cleartext_auth(x, shown, rl);
		break;
	case SW_V_AUTH:
		if (!has_arg)
			break; /* a request for the mechanism list */
		s->auth_exchange = true;
		sw_detect_plaintext_use(x, shown, rl);
		sw_detect_cleartext_auth(x, shown, rl);
		break;
	default:
		break;
	}
}

bool sw_pop3_line(struct sw_engine_ctx *x, int dir, const uint8_t *line, uint32_t len)
{
	uint32_t n = sw_line_trim(line, len);
	if (dir == 0)
		client_line(x, line, n);
	else
		server_line(x, line, n);
	return true;
}
