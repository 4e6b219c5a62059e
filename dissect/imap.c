/*
 * imap.c - the IMAP dissector (RFC 3501 / RFC 9051; STARTTLS 6.2.1, LOGIN
 * 6.2.3, AUTHENTICATE 6.2.2, literals 4.3 and RFC 7888), one line at a
 * time per direction.
 *
 * Invariants:
 *  - A literal {n} / {n+} / ~{n} at the end of a line (either direction)
 *    means n bytes of data follow; they are passed over, never parsed, and
 *    the text after them continues the same command or response.
 *  - Tagged completions are paired with commands by tag (STARTTLS, LOGIN,
 *    AUTHENTICATE are tracked); untagged responses need no pairing.
 *  - A capability list (greeting or OK response code [CAPABILITY ...], or
 *    an untagged CAPABILITY) goes to the detector while the session is not
 *    authenticated: the first one, and any later one that says otherwise.
 *    Lists of an authenticated session describe another state
 *    (STARTTLS is allowed only before authentication) and are ignored.
 *  - Once authenticated (LOGIN/AUTHENTICATE accepted, or PREAUTH), nothing
 *    is left to learn: both directions end at the next tagged completion
 *    that does not answer STARTTLS.
 *  - Credentials never reach the evidence: LOGIN and AUTHENTICATE lines are
 *    redacted after the command (and the SASL mechanism).
 */
#include <string.h>

#include "flow.h"

/* ---- small line helpers ------------------------------------------------------ */

/*
 * RFC 3501 4.3 / RFC 7888: does the (trimmed) text end with a literal
 * announcement "{" number ["+"] "}"?  Returns true and the size.
 */
static bool literal_at_end(const uint8_t *p, uint32_t n, uint64_t *size)
{
	if (n < 3 || p[n - 1] != '}')
		return false;
	uint32_t i = n - 1;
	if (i > 0 && p[i - 1] == '+')
		i--;
	uint32_t end = i;
	while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9')
		i--;
	if (i == end || i == 0 || p[i - 1] != '{' || end - i > 19)
		return false;
	uint64_t v = 0;
	for (uint32_t k = i; k < end; k++)
		v = v * 10 + (uint64_t)(p[k] - '0');
	*size = v;
	return true;
}

/* ---- tags ------------------------------------------------------------------- */

static void tag_add(struct sw_engine_ctx *x, struct sw_imap *m, const uint8_t *tag, uint32_t len,
		    enum sw_verb v)
{
	if (len == 0 || len > SW_IMAP_TAG_MAX)
		return;
	int slot = -1;
	for (int i = 0; i < SW_IMAP_TAGS && slot < 0; i++)
		if (m->pend[i].verb == SW_V_OTHER)
			slot = i;
	if (slot < 0) {
		/* More tracked commands outstanding than any client sends: forget the oldest slot. */
		sw_count_anomaly(x->e, SW_AN_SMTP_UNPAIRED_REPLY);
		slot = 0;
	}
	m->pend[slot].verb = (uint8_t)v;
	m->pend[slot].len = (uint8_t)len;
	memcpy(m->pend[slot].tag, tag, len);
}

/* The verb a tag was given to, removing it; SW_V_OTHER when not tracked. */
static enum sw_verb tag_take(struct sw_imap *m, const uint8_t *tag, uint32_t len)
{
	for (int i = 0; i < SW_IMAP_TAGS; i++) {
		if (m->pend[i].verb != SW_V_OTHER && m->pend[i].len == len &&
		    memcmp(m->pend[i].tag, tag, len) == 0) {
			enum sw_verb v = (enum sw_verb)m->pend[i].verb;
			m->pend[i].verb = SW_V_OTHER;
			return v;
		}
	}
	return SW_V_OTHER;
}

/* ---- server responses ------------------------------------------------------------ */

/* A LOGIN or AUTHENTICATE awaits its tagged reply. */
static bool login_pending(const struct sw_imap *m)
{
	for (size_t i = 0; i < SW_ARRAY_LEN(m->pend); i++)
		if (m->pend[i].verb == SW_V_LOGIN || m->pend[i].verb == SW_V_AUTHENTICATE)
			return true;
	return false;
}

/*
 * A capability list: tokens from p[i] to the end of the line, or to "]"
 * inside a response code.  line/n is the whole response line (evidence).
 */
static void capabilities(struct sw_engine_ctx *x, const uint8_t *line, uint32_t n, uint32_t i,
			 bool in_code)
{
	struct sw_app *a = x->f->app;
	struct sw_imap *m = &a->u.imap;
	bool has = false, mangled = false;
	uint32_t mangled_at = 0;

	while (i < n) {
		i = sw_skip_sp(line, n, i);
		uint32_t j = i;
		while (j < n && line[j] != ' ' && !(in_code && line[j] == ']'))
			j++;
		if (j > i) {
			if (sw_span_is(line, i, j, "STARTTLS"))
				has = true;
			else if (!mangled && sw_token_masks(line + i, j - i, "STARTTLS")) {
				mangled = true;
				mangled_at = i;
			}
		}
		if (in_code && j < n && line[j] == ']')
			break;
		i = j;
	}
	/*
	 * After login the list changes (RFC 3501 6.2.3: a server may send the
	 * new one with, or just before, its reply to LOGIN): not a stripping.
	 */
	if (m->authenticated || login_pending(m))
		return;
	if (m->caps_reported && has == m->caps_starttls && mangled == m->caps_mangled)
		return;
	m->caps_reported = true;
	m->caps_starttls = has;
	m->caps_mangled = mangled;
	sw_app_ev_clear(a);
	sw_app_ev_keep(x, 1, line, n, false);
	/* A long list is cut in the evidence: show the masked token too. */
	if (mangled && mangled_at + 8 > SW_EVBUF_LINE)
		sw_app_ev_keep(x, 1, line + mangled_at, n - mangled_at, false);
	sw_detect_capabilities(x, has, mangled);
}

/* resp-text: look for a [CAPABILITY ...] response code at p[i]. */
static void resp_code(struct sw_engine_ctx *x, const uint8_t *line, uint32_t n, uint32_t i)
{
	i = sw_skip_sp(line, n, i);
	if (i < n && line[i] == '[') {
		uint32_t j = i + 1;
		while (j < n && line[j] != ' ' && line[j] != ']')
			j++;
		if (sw_span_is(line, i + 1, j, "CAPABILITY"))
			capabilities(x, line, n, j, true);
	}
}

static void end_dissection(struct sw_app *a)
{
	a->mode[0] = a->mode[1] = SW_M_DONE;
}

static void untagged(struct sw_engine_ctx *x, const uint8_t *line, uint32_t n)
{
	struct sw_app *a = x->f->app;
	struct sw_imap *m = &a->u.imap;
	uint32_t i = sw_skip_sp(line, n, 1);
	uint32_t j = sw_word_end(line, n, i);
	bool first = !m->greeting_seen;

	m->greeting_seen = true;
	if (sw_span_is(line, i, j, "CAPABILITY")) {
		capabilities(x, line, n, j, false);
	} else if (sw_span_is(line, i, j, "OK")) {
		resp_code(x, line, n, j);
	} else if (first && sw_span_is(line, i, j, "PREAUTH")) {
		/* RFC 3501 7.1.4: authenticated at once; STARTTLS is no longer allowed. */
		resp_code(x, line, n, j);
		bool advertised = m->caps_reported && m->caps_starttls;
		m->authenticated = true;
		a->mail_cleartext = true;
		sw_detect_preauth(x, advertised, line, n);
	}
}

static void tagged(struct sw_engine_ctx *x, const uint8_t *line, uint32_t n)
{
	struct sw_app *a = x->f->app;
	struct sw_imap *m = &a->u.imap;
	uint32_t te = sw_word_end(line, n, 0);
	uint32_t i = sw_skip_sp(line, n, te);
	uint32_t j = sw_word_end(line, n, i);
	bool ok = sw_span_is(line, i, j, "OK");
	bool no = sw_span_is(line, i, j, "NO") || sw_span_is(line, i, j, "BAD");

	if (!ok && !no) {
		sw_count_anomaly(x->e, SW_AN_MAIL_BAD_SYNTAX);
		return;
	}
	enum sw_verb v = tag_take(m, line, te);
	switch (v) {
	case SW_V_STARTTLS:
		sw_detect_starttls_reply(x, ok, line, n);
		return;
	case SW_V_LOGIN:
	case SW_V_AUTHENTICATE:
		m->auth_exchange = false;
		if (ok)
			m->authenticated = true; /* its [CAPABILITY] describes the new state */
		break;
	default:
		if (ok)
			resp_code(x, line, n, j);
		break;
	}
	if (m->authenticated)
		end_dissection(a);
}

static void server_line(struct sw_engine_ctx *x, const uint8_t *line, uint32_t n)
{
	if (n == 0)
		return;
	if (line[0] == '+')
		return; /* continuation request: literal go-ahead or SASL challenge */
	if (line[0] == '*')
		untagged(x, line, n);
	else
		tagged(x, line, n);
}

/* ---- client commands ------------------------------------------------------------- */

static void client_line(struct sw_engine_ctx *x, const uint8_t *line, uint32_t n)
{
	struct sw_app *a = x->f->app;
	struct sw_imap *m = &a->u.imap;

	if (m->auth_exchange)
		return; /* a SASL response: credentials, not a command */
	if (n == 0)
		return;
	uint32_t te = sw_word_end(line, n, 0);
	uint32_t i = sw_skip_sp(line, n, te);
	uint32_t j = sw_word_end(line, n, i);

	bool login = sw_span_is(line, i, j, "LOGIN");
	bool authenticate = sw_span_is(line, i, j, "AUTHENTICATE");
	uint8_t red[64];
	uint32_t rl;
	const uint8_t *shown = sw_mail_safe_line(SW_APP_IMAP, line, n, red, sizeof(red), &rl);

	/* RFC 3501 6.2.1 / RFC 2595 3.1: nothing may follow STARTTLS before its completion. */
	if (a->starttls_pending)
		sw_mail_command_injection(x, "STARTTLS", shown, rl);
	if (i == j) {
		/* IDLE ends with an untagged "DONE" (RFC 2177); anything else lacks a command. */
		if (!sw_span_is(line, 0, te, "DONE"))
			sw_count_anomaly(x->e, SW_AN_MAIL_BAD_SYNTAX);
		return;
	}
	if (sw_span_is(line, i, j, "STARTTLS")) {
		a->command_sent = SW_YES;
		a->starttls_pending = true;
		tag_add(x, m, line, te, SW_V_STARTTLS);
	} else if (login) {
		tag_add(x, m, line, te, SW_V_LOGIN);
		sw_detect_plaintext_use(x, shown, rl);
		sw_detect_cleartext_auth(x, shown, rl);
	} else if (authenticate) {
		tag_add(x, m, line, te, SW_V_AUTHENTICATE);
		m->auth_exchange = true;
		sw_detect_plaintext_use(x, shown, rl);
		sw_detect_cleartext_auth(x, shown, rl);
	}
}

/* ---- entry point ------------------------------------------------------------------- */

bool sw_imap_line(struct sw_engine_ctx *x, int dir, const uint8_t *line, uint32_t len)
{
	struct sw_imap *m = &x->f->app->u.imap;
	uint32_t i = 0;

	if (m->literal_left[dir] > 0) {
		/* Literal data: pass it over, whatever it holds. */
		uint64_t k = SW_MIN((uint64_t)len, m->literal_left[dir]);
		m->literal_left[dir] -= k;
		i = (uint32_t)k;
		if (i == len)
			return true;
	}
	const uint8_t *t = line + i;
	uint32_t n = sw_line_trim(t, len - i);
	bool cont = m->cont[dir];
	uint64_t size;
	m->cont[dir] = false;
	if (literal_at_end(t, n, &size) && !(dir == 0 && m->auth_exchange)) {
		m->literal_left[dir] = size;
		m->cont[dir] = true;
	}
	if (cont)
		return true; /* the rest of a command or response already handled */
	if (dir == 0)
		client_line(x, t, n);
	else
		server_line(x, t, n);
	return true;
}
