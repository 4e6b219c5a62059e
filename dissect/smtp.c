/*
 * smtp.c - the SMTP dissector (RFC 5321, STARTTLS RFC 3207, AUTH RFC 4954,
 * CHUNKING RFC 3030), one line at a time per direction.
 *
 * Replies are paired with commands through a queue, so pipelined commands
 * (RFC 2920) get the right answers; a multi-line reply is one unit: its
 * lines are gathered (capabilities, evidence) and it is acted on at its
 * last line.  The DATA body is scanned for its terminator without being
 * kept; a BDAT chunk is counted off.  Credentials never reach the
 * evidence: AUTH lines are redacted after the mechanism.
 */
#include <string.h>

#include "flow.h"

struct verb_row {
	const char *word;
	enum sw_verb verb;
};

static const struct verb_row verbs[] = {
	{ "EHLO", SW_V_EHLO }, { "HELO", SW_V_HELO }, { "STARTTLS", SW_V_STARTTLS },
	{ "AUTH", SW_V_AUTH }, { "MAIL", SW_V_MAIL }, { "RCPT", SW_V_RCPT },
	{ "DATA", SW_V_DATA }, { "BDAT", SW_V_BDAT }, { "RSET", SW_V_RSET },
	{ "QUIT", SW_V_QUIT }, { "NOOP", SW_V_NOOP },
};

static enum sw_verb verb_of(const uint8_t *p, uint32_t n)
{
	for (size_t i = 0; i < SW_ARRAY_LEN(verbs); i++)
		if (sw_word_is(p, n, verbs[i].word))
			return verbs[i].verb;
	return SW_V_OTHER;
}

/* ---- server replies --------------------------------------------------------- */

static void greeting(struct sw_engine_ctx *x, const uint8_t *line, uint32_t n)
{
	struct sw_app *a = x->f->app;
	a->u.smtp.greeting_seen = true;
	if (n <= 4)
		return;
	const uint8_t *t = line + 4;
	uint32_t tl = n - 4;
	/* A masked banner ("220 *****...") is what ESMTP-inspecting firewalls leave. */
	uint32_t stars = 0;
	for (uint32_t i = 0; i < tl; i++)
		stars += t[i] == '*';
	if (stars >= 8 && stars * 2 >= tl) {
		struct sw_evidence ev = { 1, (uint16_t)SW_MIN(n, SW_EVIDENCE_LINE_MAX), line };
		sw_raise(x, SW_F_STARTTLS_MANGLED, 1, NULL, &ev, 1, "masked banner");
	}
	uint32_t wl = SW_MIN(sw_word_end(t, tl, 0), SW_NAME_MAX - 1);
	if (a->server_name[0] == 0 && wl > 0) {
		memcpy(a->server_name, t, wl);
		a->server_name[wl] = 0;
	}
}

/* One line of an EHLO reply: gather the capability keywords. */
static void ehlo_line(struct sw_engine_ctx *x, const uint8_t *line, uint32_t n, bool first)
{
	struct sw_app *a = x->f->app;
	struct sw_smtp *s = &a->u.smtp;
	bool mangled = false;
	if (!first && n > 4) {
		const uint8_t *kw = line + 4;
		uint32_t kl = sw_word_end(kw, n - 4, 0);
		if (sw_word_is(kw, n - 4, "STARTTLS"))
			s->reply_starttls = true;
		else if (sw_token_masks(kw, kl, "STARTTLS"))
			mangled = s->reply_mangled = true;
	}
	sw_app_ev_keep(x, 1, line, n, mangled);
}

static void reply_done(struct sw_engine_ctx *x, const uint8_t *line, uint32_t n, uint16_t code)
{
	struct sw_app *a = x->f->app;
	struct sw_smtp *s = &a->u.smtp;
	enum sw_verb v = (enum sw_verb)sw_cmdq_head(&s->q);
	bool ok = code >= 200 && code < 300;

	if (s->q.len == 0)
		sw_count_anomaly(x->e, SW_AN_SMTP_UNPAIRED_REPLY);
	switch (v) {
	case SW_V_GREETING:
		greeting(x, line, n);
		break;
	case SW_V_EHLO:
		if (ok)
			sw_detect_capabilities(x, s->reply_starttls, s->reply_mangled);
		break;
	case SW_V_STARTTLS:
		sw_cmdq_pop(&s->q);
		sw_detect_starttls_reply(x, ok, line, n);
		return;
	case SW_V_AUTH:
		if (code == 334)
			return; /* a SASL challenge: the exchange goes on */
		s->auth_exchange = false;
		break;
	case SW_V_DATA:
		if (code == 354) {
			/* The body follows; its final reply answers this same entry. */
			s->q.verb[s->q.head] = SW_V_OTHER;
			a->mode[0] = SW_M_DATA;
			s->data_match = 2; /* the body starts at a line start */
			return;
		}
		break;
	default:
		break;
	}
	sw_cmdq_pop(&s->q);
}

static bool server_line(struct sw_engine_ctx *x, const uint8_t *line, uint32_t len)
{
	struct sw_app *a = x->f->app;
	struct sw_smtp *s = &a->u.smtp;
	uint32_t n = sw_line_trim(line, len);

	/* RFC 5321 4.2: Reply-code [ ( SP / "-" ) textstring ] CRLF */
	if (n < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9' || (n > 3 && line[3] != ' ' && line[3] != '-')) {
		sw_count_anomaly(x->e, SW_AN_SMTP_BAD_REPLY);
		return true;
	}
	uint16_t code = (uint16_t)((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'));
	bool last = n == 3 || line[3] == ' ';
	bool first = !s->reply_open;

	if (first) {
		/*
		 * Capture started after the banner: the first reply answers the
		 * client's first command, not a greeting we never saw.
		 */
		if ((enum sw_verb)sw_cmdq_head(&s->q) == SW_V_GREETING && s->q.len > 1 &&
		    code != 220 && code != 421 && code != 554)
			sw_cmdq_pop(&s->q);
		s->reply_open = true;
		s->reply_code = code;
		s->reply_is_ehlo = (enum sw_verb)sw_cmdq_head(&s->q) == SW_V_EHLO;
		if (s->reply_is_ehlo) {
			sw_app_ev_clear(a);
			s->reply_starttls = false;
			s->reply_mangled = false;
		}
	} else if (code != s->reply_code) {
		sw_count_anomaly(x->e, SW_AN_SMTP_BAD_REPLY);
	}
	if (s->reply_is_ehlo)
		ehlo_line(x, line, n, first);
	if (last) {
		s->reply_open = false;
		reply_done(x, line, n, code);
	}
	return true;
}

/* ---- client commands -------------------------------------------------------- */

static uint64_t parse_u64(const uint8_t *p, uint32_t n, uint32_t i, bool *ok)
{
	uint64_t v = 0;
	uint32_t start = i;
	while (i < n && p[i] >= '0' && p[i] <= '9') {
		if (v > (UINT64_MAX - 9) / 10) {
			*ok = false;
			return 0;
		}
		v = v * 10 + (uint64_t)(p[i] - '0');
		i++;
	}
	*ok = i > start;
	return v;
}

static bool client_line(struct sw_engine_ctx *x, const uint8_t *line, uint32_t len)
{
	struct sw_app *a = x->f->app;
	struct sw_smtp *s = &a->u.smtp;
	uint32_t n = sw_line_trim(line, len);

	if (s->auth_exchange)
		return true; /* a SASL response: credentials, not a command */

	uint8_t red[64];
	uint32_t rl;
	const uint8_t *shown = sw_mail_safe_line(SW_APP_SMTP, line, n, red, sizeof(red), &rl);
	/* RFC 3207 4: STARTTLS ends a pipeline; nothing may follow before the reply. */
	if (a->starttls_pending)
		sw_mail_command_injection(x, "STARTTLS", shown, rl);

	enum sw_verb v = verb_of(line, n);
	sw_cmdq_push(x, &s->q, (uint8_t)v);
	switch (v) {
	case SW_V_STARTTLS:
		a->command_sent = SW_YES;
		a->starttls_pending = true;
		break;
	case SW_V_AUTH:
		s->auth_exchange = true;
		sw_detect_plaintext_use(x, shown, rl);
		sw_detect_cleartext_auth(x, shown, rl);
		break;
	case SW_V_MAIL:
	case SW_V_RCPT:
	case SW_V_DATA:
		s->in_transaction = true;
		sw_detect_plaintext_use(x, line, n);
		break;
	case SW_V_BDAT: {
		/* RFC 3030: "BDAT" SP chunk-size [ SP end-marker ]; the chunk follows at once. */
		bool ok;
		uint32_t i = sw_skip_sp(line, n, sw_word_end(line, n, 0));
		uint64_t size = parse_u64(line, n, i, &ok);
		sw_detect_plaintext_use(x, line, n);
		if (!ok) {
			sw_count_anomaly(x->e, SW_AN_MAIL_BAD_SYNTAX);
			break;
		}
		s->bdat_left = size;
		if (size > 0)
			a->mode[0] = SW_M_DATA;
		break;
	}
	default:
		break;
	}
	return true;
}

bool sw_smtp_line(struct sw_engine_ctx *x, int dir, const uint8_t *line, uint32_t len)
{
	return dir == 0 ? client_line(x, line, len) : server_line(x, line, len);
}

/*
 * The DATA body (RFC 5321 4.1.1.4): ends at CRLF "." CRLF; a bare LF is
 * accepted in place of CRLF, as servers do.  data_match counts what of
 * "\r\n.\r\n" was matched: 2 = at a line start, 3 = "." seen, 4 = ".\r".
 */
uint32_t sw_smtp_data(struct sw_engine_ctx *x, const uint8_t *p, uint32_t n)
{
	struct sw_app *a = x->f->app;
	struct sw_smtp *s = &a->u.smtp;
	uint32_t i = 0;

	if (s->bdat_left > 0) {
		uint32_t k = (uint32_t)SW_MIN((uint64_t)n, s->bdat_left);
		s->bdat_left -= k;
		if (s->bdat_left == 0)
			a->mode[0] = SW_M_LINE;
		return k;
	}
	while (i < n) {
		if (s->data_match < 2) {
			const uint8_t *nl = memchr(p + i, '\n', n - i);
			if (!nl)
				return n;
			i = (uint32_t)(nl - p) + 1;
			s->data_match = 2;
			continue;
		}
		uint8_t c = p[i++];
		if (s->data_match == 2)
			s->data_match = c == '.' ? 3 : (c == '\n' ? 2 : 0);
		else if (s->data_match == 3)
			s->data_match = c == '\r' ? 4 : (c == '\n' ? 5 : 0);
		else if (s->data_match == 4)
			s->data_match = c == '\n' ? 5 : 0;
		if (s->data_match == 5) {
			s->data_match = 0;
			s->in_transaction = false;
			a->mode[0] = SW_M_LINE;
			return i;
		}
	}
	return n;
}
