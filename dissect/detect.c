/*
 * detect.c - the detector: turns what the dissectors saw into findings
 * (DESIGN.md, "Findings"), with the severities there, at most once per
 * flow, and keeps the per-server memory of the run that tells a stripped
 * capability list from a server that never offered STARTTLS.
 *
 * The memory is a fixed-size open-addressing table keyed by a 64-bit hash
 * of (server IP, port) or (client IP, server IP, port): bounded, O(1), no
 * allocation after start.  A full probe window overwrites its oldest entry.
 */
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "history.h"
#include "policy.h"


/* ---- per-server memory ---------------------------------------------------- */

#define MEMO_PROBE 8

struct memo_entry {
	uint64_t key;          /* 0: empty */
	uint64_t last_ts;
	uint32_t sessions;     /* capability lists seen */
	uint32_t offered;      /* ... that offered STARTTLS */
	uint32_t starttls_ok;  /* STARTTLS accepted */
	uint16_t max_rank;     /* highest TLS version selected (rank) */
};

struct sw_memo {
	struct memo_entry *t;
	uint32_t mask;
};

struct sw_memo *sw_memo_new(uint32_t max_entries)
{
	struct sw_memo *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	uint32_t n = 64;
	while (n < max_entries && n < (1u << 24))
		n <<= 1;
	m->t = calloc(n, sizeof(*m->t));
	if (!m->t) {
		free(m);
		return NULL;
	}
	m->mask = n - 1;
	return m;
}

void sw_memo_free(struct sw_memo *m)
{
	if (!m)
		return;
	free(m->t);
	free(m);
}

static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
	/* FNV-1a, then a final mix: keys are few bytes, off the per-packet path. */
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return h | 1; /* never 0, the empty mark */
}

static uint64_t server_key(const struct sw_flow *f)
{
	uint64_t h = hash_bytes(0xcbf29ce484222325ull, f->srv, 16);
	uint8_t port[2] = { (uint8_t)(f->sport >> 8), (uint8_t)f->sport };
	return hash_bytes(h, port, 2);
}

static uint64_t pair_key(const struct sw_flow *f)
{
	uint64_t h = hash_bytes(0x84222325cbf29ce4ull, f->cli, 16);
	h = hash_bytes(h, f->srv, 16);
	uint8_t port[2] = { (uint8_t)(f->sport >> 8), (uint8_t)f->sport };
	return hash_bytes(h, port, 2);
}

/* Find key; with create, make room for it.  NULL when absent. */
static struct memo_entry *memo_get(struct sw_memo *m, uint64_t key, bool create, uint64_t ts)
{
	struct memo_entry *oldest = NULL;
	for (uint32_t i = 0; i < MEMO_PROBE; i++) {
		struct memo_entry *en = &m->t[(key + i) & m->mask];
		if (en->key == key)
			return en;
		if (en->key == 0) {
			if (!create)
				return NULL;
			oldest = en;
			break;
		}
		if (!oldest || en->last_ts < oldest->last_ts)
			oldest = en;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	oldest->key = key;
	oldest->last_ts = ts;
	return oldest;
}

/* ---- versions --------------------------------------------------------------- */

/* ---- policy and history (policy.c, history.c) ------------------------------- */

/*
 * The rule that applies to the flow now: IP rules from the first packet,
 * name rules once the banner/greeting name or the SNI is known.  Looked up
 * at each decision (a few per flow), never cached: a reload may free rules.
 */
static const struct sw_pol_rule *flow_rule(const struct sw_engine_ctx *x)
{
	const struct sw_policy *p = sw_engine_policy(x->e);
	const struct sw_flow *f = x->f;
	if (!p)
		return NULL;
	struct sw_pol_query q = { f->ip_version, f->srv, f->sport, f->cli, { NULL, NULL } };
	if (f->app) {
		q.names[0] = f->app->server_name;
		q.names[1] = f->app->cold ? f->app->cold->info.tls.sni : NULL;
	}
	return sw_policy_match(p, &q);
}

static void hist_server(const struct sw_flow *f, struct sw_hist_server *s)
{
	s->ip_version = f->ip_version;
	s->ip = f->srv;
	s->port = f->sport;
	s->name = NULL;
	if (f->app) {
		const struct sw_app *a = f->app;
		s->name = a->server_name[0] ? a->server_name : a->cold ? a->cold->info.tls.sni : "";
	}
}

/* Findings a `none` rule silences: everything about the mail protocol's use of TLS. */
static bool mail_kind(enum sw_finding_kind k)
{
	return k <= SW_F_STARTTLS_NOT_USED || k == SW_F_CLEARTEXT_AUTH;
}

/* Findings that mean STARTTLS or TLS strength was lost in this session. */
static bool loss_kind(enum sw_finding_kind k)
{
	switch (k) {
	case SW_F_STARTTLS_STRIPPED: case SW_F_STARTTLS_MANGLED: case SW_F_STARTTLS_REFUSED:
	case SW_F_TLS_WEAK_VERSION: case SW_F_TLS_VERSION_DOWNGRADE: case SW_F_TLS_DOWNGRADE_SENTINEL:
	case SW_F_TLS_WEAK_CIPHER:
		return true;
	default:
		return false;
	}
}

/* The SYN-ACK's fingerprint; false when no SYN-ACK was seen. */
static bool flow_fp(const struct sw_flow *f, struct sw_path_fp *fp)
{
	if (!f->synack_seen)
		return false;
	sw_path_fp_make(fp, f->sa_ttl, f->sa_window, f->sa_mss, f->sa_wscale, f->sa_opts,
			f->syn_opts);
	return true;
}

/* Raise path_changed when the SYN-ACK differs from the server's stable history. */
static void path_check(struct sw_engine_ctx *x, uint8_t severity)
{
	struct sw_history *h = sw_engine_history(x->e);
	struct sw_path_fp fp;
	struct sw_hist_server s;
	char detail[320];
	if (!h || (x->f->raised & (1u << SW_F_PATH_CHANGED)) || !flow_fp(x->f, &fp))
		return;
	hist_server(x->f, &s);
	if (sw_history_path_changed(h, &s, &fp, detail, sizeof detail))
		sw_raise(x, SW_F_PATH_CHANGED, severity, NULL, NULL, 0, detail);
}

/*
 * What memory says of a loss: history decides once it knows the server
 * (flap-tolerant, across runs); until then the in-run memo.  Severity 1
 * with *why set, or 0.
 */
static uint8_t remembered(enum sw_hist_verdict hv, const char *hist_why, bool memo, const char *memo_why,
			  const char **why)
{
	if (hv == SW_HV_ALERT) {
		*why = hist_why;
		return 1;
	}
	if (hv == SW_HV_UNKNOWN && memo) {
		*why = memo_why;
		return 1;
	}
	return 0;
}

/*
 * A rule that requires TLS (encrypt/verify) makes the violation at least its
 * severity (1 enforce, 3 testing) and gives the reason when the finding has
 * none stronger.
 */
static void policy_apply(const struct sw_pol_rule *r, uint8_t *sev, const char **why, const char *text)
{
	if (!sw_pol_requires_tls(r))
		return;
	uint8_t p = sw_pol_severity(r);
	if (*sev == 0 || p < *sev) {
		*sev = p;
		*why = text;
	} else if (!*why) {
		*why = text;
	}
}

void sw_detect_flow_end(struct sw_engine_ctx *x)
{
	struct sw_flow *f = x->f;
	struct sw_app *a = f->app;
	struct sw_history *h = sw_engine_history(x->e);
	if (!h || !a || a->proto == SW_APP_UNKNOWN)
		return;
	/* Nothing lost in this session: a moved path alone is severity 3. */
	path_check(x, 3);
	struct sw_hist_session ss;
	memset(&ss, 0, sizeof(ss));
	hist_server(f, &ss.srv);
	ss.client_ip = f->cli;
	ss.ts_ns = x->ts_ns;
	ss.offered = (enum sw_tri)a->offered;
	ss.client_used = a->command_sent == SW_YES;
	ss.stripped = (f->raised & (1u << SW_F_STARTTLS_STRIPPED)) != 0;
	ss.foreign_path = (f->raised & (1u << SW_F_PATH_CHANGED)) != 0;
	if (a->server_hello_seen && a->cold) {
		ss.tls_version = a->cold->info.tls.version;
		ss.tls_cipher = a->cold->info.tls.cipher;
	}
	ss.has_fp = flow_fp(f, &ss.fp);
	sw_history_observe(h, &ss);
	sw_history_maybe_flush(h, x->ts_ns);
}

/* ---- raising ---------------------------------------------------------------- */

void sw_evbuf_add(struct sw_evbuf *b, int from_server, const uint8_t *line, uint32_t len)
{
	if (b->n >= SW_EVBUF_LINES)
		return;
	len = sw_line_trim(line, len);
	uint32_t k = SW_MIN(len, SW_EVBUF_LINE);
	memcpy(b->data[b->n], line, k);
	b->len[b->n] = (uint8_t)k;
	b->from_server[b->n] = (uint8_t)from_server;
	b->n++;
}

void sw_raise(struct sw_engine_ctx *x, enum sw_finding_kind kind, uint8_t severity,
	      const struct sw_evbuf *evb, const struct sw_evidence *extra, uint8_t n_extra,
	      const char *detail)
{
	struct sw_flow *f = x->f;
	uint32_t bit = 1u << kind;
	if (f->raised & bit)
		return;
	f->raised |= bit;
	const struct sw_pol_rule *rule = flow_rule(x);
	/* `none`: a peer that legitimately runs in cleartext (Exchange IgnoreSTARTTLS). */
	if (rule && rule->level == SW_POL_NONE && mail_kind(kind))
		return;

	struct sw_finding fd;
	memset(&fd, 0, sizeof(fd));
	sw_policy_ref_fill(rule, &fd.policy);
	fd.kind = kind;
	fd.severity = severity;
	fd.ts_ns = x->ts_ns;
	fd.flow = sw_flow_snapshot(x->e, f);
	fd.detail = detail;
	if (evb) {
		for (uint8_t i = 0; i < evb->n && fd.n_evidence < SW_EVIDENCE_MAX; i++) {
			struct sw_evidence *ev = &fd.evidence[fd.n_evidence++];
			ev->from_server = evb->from_server[i];
			ev->len = evb->len[i];
			ev->bytes = evb->data[i];
		}
	}
	for (uint8_t i = 0; i < n_extra; i++) {
		if (fd.n_evidence >= SW_EVIDENCE_MAX) {
			/* Keep the newest line: it is the one that completed the evidence. */
			fd.evidence[SW_EVIDENCE_MAX - 1] = extra[n_extra - 1];
			sw_count_anomaly(x->e, SW_AN_EVIDENCE_CUT);
			break;
		}
		struct sw_evidence ev = extra[i];
		ev.len = (uint16_t)sw_line_trim(ev.bytes, ev.len);
		fd.evidence[fd.n_evidence++] = ev;
	}
	sw_engine_emit(x->e, &fd);
	/* The same session lost TLS: a moved path is now severity 1. */
	if (loss_kind(kind))
		path_check(x, 1);
}

/* ---- mail ------------------------------------------------------------------- */

void sw_detect_capabilities(struct sw_engine_ctx *x, bool has_starttls, bool mangled)
{
	struct sw_flow *f = x->f;
	struct sw_app *a = f->app;
	struct sw_memo *m = sw_engine_memo(x->e);
	a->offered = has_starttls ? SW_YES : SW_NO;

	struct memo_entry *srv = memo_get(m, server_key(f), true, x->ts_ns);
	if (mangled)
		sw_raise(x, SW_F_STARTTLS_MANGLED, 1, sw_app_ev(a), NULL, 0,
			 "a capability token looks like a masked STARTTLS");
	if (!has_starttls && !mangled) {
		struct sw_history *h = sw_engine_history(x->e);
		struct sw_hist_server s;
		char hd[160];
		const char *why = NULL;
		hist_server(f, &s);
		enum sw_hist_verdict hv = h ? sw_history_offer_verdict(h, &s, hd, sizeof hd) : SW_HV_UNKNOWN;
		uint8_t sev = remembered(hv, hd, srv->offered > 0,
					 "this server offered STARTTLS earlier in this run", &why);
		policy_apply(flow_rule(x), &sev, &why, "the policy requires STARTTLS of this server");
		if (sev)
			sw_raise(x, SW_F_STARTTLS_STRIPPED, sev, sw_app_ev(a), NULL, 0, why);
	}
	srv->sessions++;
	if (has_starttls)
		srv->offered++;
	srv->last_ts = x->ts_ns;
}

void sw_detect_starttls_reply(struct sw_engine_ctx *x, bool success, const uint8_t *line, uint32_t len)
{
	struct sw_flow *f = x->f;
	struct sw_app *a = f->app;
	struct sw_memo *m = sw_engine_memo(x->e);
	uint32_t n = sw_line_trim(line, len);
	n = SW_MIN(n, SW_REPLY_MAX - 1);
	struct sw_app_cold *c = sw_app_cold(x);
	if (c) {
		memcpy(c->info.starttls.reply, line, n);
		c->info.starttls.reply[n] = 0;
		c->info.starttls.reply_len = (uint16_t)n;
	}
	a->starttls_pending = false;

	struct memo_entry *srv = memo_get(m, server_key(f), true, x->ts_ns);
	if (success) {
		srv->starttls_ok++;
		struct memo_entry *pair = memo_get(m, pair_key(f), true, x->ts_ns);
		pair->starttls_ok++;
		pair->last_ts = x->ts_ns;
		a->starttls_accepted = true;
		sw_mail_starttls_accepted(x);
		return;
	}
	struct sw_evidence ev = { 1, (uint16_t)SW_MIN(len, SW_EVIDENCE_LINE_MAX), line };
	uint8_t sev = srv->starttls_ok > 0 ? 1 : 2;
	const char *why = srv->starttls_ok > 0 ? "this server accepted STARTTLS earlier in this run" : NULL;
	policy_apply(flow_rule(x), &sev, &why, "the policy requires STARTTLS of this server");
	sw_raise(x, SW_F_STARTTLS_REFUSED, sev, NULL, &ev, 1, why);
}

void sw_detect_plaintext_use(struct sw_engine_ctx *x, const uint8_t *line, uint32_t len)
{
	struct sw_flow *f = x->f;
	struct sw_app *a = f->app;
	a->mail_cleartext = true;
	if (a->command_sent == SW_YES)
		return;
	const struct sw_pol_rule *rule = flow_rule(x);
	/* Under encrypt/verify the client must use STARTTLS even when it was not offered. */
	if (a->offered != SW_YES && !sw_pol_requires_tls(rule))
		return;
	struct memo_entry *pair = memo_get(sw_engine_memo(x->e), pair_key(f), false, 0);
	struct sw_history *h = sw_engine_history(x->e);
	enum sw_hist_verdict hv = SW_HV_UNKNOWN;
	char hd[160];
	if (h && a->offered == SW_YES) {
		struct sw_hist_server s;
		hist_server(f, &s);
		hv = sw_history_client_verdict(h, &s, f->cli, hd, sizeof hd);
	}
	const char *why = NULL;
	uint8_t sev = 3;
	if (hv == SW_HV_ALERT) {
		sev = 1;
		why = hd;
	} else if (hv == SW_HV_UNKNOWN && a->offered == SW_YES && pair && pair->starttls_ok > 0) {
		sev = 1;
		why = "this client used STARTTLS with this server earlier in this run";
	}
	policy_apply(rule, &sev, &why, "the policy requires STARTTLS for this server");
	struct sw_evidence ev = { 0, (uint16_t)SW_MIN(len, SW_EVIDENCE_LINE_MAX), line };
	sw_raise(x, SW_F_STARTTLS_NOT_USED, sev, NULL, &ev, 1, why);
}

void sw_detect_cleartext_auth(struct sw_engine_ctx *x, const uint8_t *line, uint32_t len)
{
	struct sw_flow *f = x->f;
	struct sw_app *a = f->app;
	if (a->client_tls_started)
		return;
	struct memo_entry *srv = memo_get(sw_engine_memo(x->e), server_key(f), false, 0);
	bool offered = a->offered == SW_YES || (srv && srv->offered > 0) ||
		       (f->raised & ((1u << SW_F_STARTTLS_MANGLED) | (1u << SW_F_STARTTLS_STRIPPED)));
	uint8_t sev = offered ? 1 : 3;
	const char *why = offered ? "STARTTLS was offered to this server's clients" : NULL;
	policy_apply(flow_rule(x), &sev, &why, "the policy requires STARTTLS for this server");
	struct sw_evidence ev = { 0, (uint16_t)SW_MIN(len, SW_EVIDENCE_LINE_MAX), line };
	sw_raise(x, SW_F_CLEARTEXT_AUTH, sev, NULL, &ev, 1, why);
}

void sw_detect_preauth(struct sw_engine_ctx *x, bool advertised, const uint8_t *line, uint32_t len)
{
	struct sw_flow *f = x->f;
	struct memo_entry *srv = memo_get(sw_engine_memo(x->e), server_key(f), false, 0);
	bool before = srv && srv->offered > 0;
	if (!advertised && !before)
		return;
	struct sw_evidence ev = { 1, (uint16_t)SW_MIN(len, SW_EVIDENCE_LINE_MAX), line };
	sw_raise(x, SW_F_STARTTLS_STRIPPED, 1, NULL, &ev, 1,
		 advertised ? "PREAUTH greeting: STARTTLS advertised but no chance to use it" :
			      "PREAUTH greeting from a server that offered STARTTLS earlier in this run");
}

/* ---- TLS -------------------------------------------------------------------- */

static void client_hello(struct sw_engine_ctx *x, const struct sw_client_hello *ch)
{
	struct sw_app *a = x->f->app;
	struct sw_app_cold *c = sw_app_cold(x);
	struct sw_tls_info *t = c ? &c->info.tls : NULL;
	const struct sw_dissect_config *cfg = sw_engine_config(x->e);
	a->client_hello_seen = true;
	a->tls_seen = true;
	a->client_max_version = ch->max_version;
	if (t) {
		t->client_max_version = ch->max_version;
		t->client_legacy_version = ch->legacy_version;
		t->fallback_scsv = ch->fallback_scsv;
		t->sni_len = ch->sni_len;
		memcpy(t->sni, ch->sni, sizeof(t->sni));
		memcpy(t->ja3, ch->ja3, sizeof(t->ja3));
	}

	if (ch->fallback_scsv)
		sw_raise(x, SW_F_TLS_FALLBACK_SCSV, 2, NULL, NULL, 0,
			 "TLS_FALLBACK_SCSV (0x5600) in the ClientHello");
	uint16_t r = sw_tls_version_rank(ch->max_version);
	if (r && r < sw_tls_version_rank(cfg->tls_floor)) {
		if (t)
			t->client_offered_weak_only = true;
		sw_raise(x, SW_F_TLS_WEAK_CLIENT, 3, NULL, NULL, 0, NULL);
	}
}

static void server_hello(struct sw_engine_ctx *x, const struct sw_server_hello *sh)
{
	struct sw_flow *f = x->f;
	struct sw_app *a = f->app;
	struct sw_app_cold *c = sw_app_cold(x);
	struct sw_tls_info *t = c ? &c->info.tls : NULL;
	const struct sw_dissect_config *cfg = sw_engine_config(x->e);
	a->tls_seen = true;
	if (sh->is_hello_retry) {
		if (t)
			t->hello_retry = true;
		return;
	}
	a->server_hello_seen = true;
	if (t) {
		t->version = sh->version;
		t->cipher = sh->cipher;
		t->ssl2_cipher = sh->ssl2_cipher;
		t->downgrade_sentinel = sh->sentinel != 0;
		memcpy(t->ja3s, sh->ja3s, sizeof(t->ja3s));
	}

	uint16_t sel = sw_tls_version_rank(sh->version);
	uint16_t cli = a->client_hello_seen ? sw_tls_version_rank(a->client_max_version) : 0;

	const struct sw_pol_rule *rule = flow_rule(x);
	uint16_t floor = rule && rule->min_version ? rule->min_version : cfg->tls_floor;
	if (sel && sel < sw_tls_version_rank(floor)) {
		uint8_t sev = sel <= 0x0300 ? 1 : 2;
		const char *why = NULL;
		policy_apply(rule, &sev, &why, "below the version floor the policy requires");
		sw_raise(x, SW_F_TLS_WEAK_VERSION, sev, NULL, NULL, 0, why);
	}
	bool weak = sh->version == 0x0002 ? sw_ssl2_cipher_weak(sh->ssl2_cipher) : sw_tls_cipher_weak(sh->cipher);
	if (weak)
		sw_raise(x, SW_F_TLS_WEAK_CIPHER, 2, NULL, NULL, 0, NULL);
	/* RFC 8446 4.1.3: only an attack when the client we saw offered 1.3. */
	if (sh->sentinel && sel && sel <= 0x0303 && cli >= 0x0304)
		sw_raise(x, SW_F_TLS_DOWNGRADE_SENTINEL, 1, NULL, NULL, 0,
			 sh->sentinel == 1 ? "DOWNGRD\\x01 in the ServerHello random" :
					     "DOWNGRD\\x00 in the ServerHello random");

	struct memo_entry *srv = memo_get(sw_engine_memo(x->e), server_key(f), true, x->ts_ns);
	if (sel && cli > sel) {
		struct sw_history *h = sw_engine_history(x->e);
		struct sw_hist_server s;
		char hd[160];
		const char *why = NULL;
		hist_server(f, &s);
		enum sw_hist_verdict hv = h ? sw_history_version_verdict(h, &s, sh->version, hd, sizeof hd) :
					     SW_HV_UNKNOWN;
		uint8_t sev = remembered(hv, hd, srv->max_rank > sel,
					 "this server selected a higher version earlier in this run", &why);
		/* The client could meet the policy's min_version and the server chose less. */
		if (rule && rule->min_version && sel < sw_tls_version_rank(rule->min_version) &&
		    cli >= sw_tls_version_rank(rule->min_version))
			policy_apply(rule, &sev, &why,
				     "the client offered the policy's min_version, the server selected less");
		if (sev)
			sw_raise(x, SW_F_TLS_VERSION_DOWNGRADE, sev, NULL, NULL, 0, why);
	}
	if (sel > srv->max_rank)
		srv->max_rank = sel;
	srv->last_ts = x->ts_ns;
}

void sw_detect_tls_event(struct sw_engine_ctx *x, int dir, const struct sw_tls_event *ev)
{
	switch (ev->kind) {
	case SW_TLS_EV_CLIENT_HELLO:
		if (dir == 0 && ev->ch)
			client_hello(x, ev->ch);
		break;
	case SW_TLS_EV_SERVER_HELLO:
		if (dir == 1 && ev->sh)
			server_hello(x, ev->sh);
		break;
	case SW_TLS_EV_ALERT: {
		struct sw_app_cold *c = sw_app_cold(x);
		struct sw_tls_info *t = c ? &c->info.tls : NULL;
		if (t && t->n_alerts < SW_ALERTS_MAX) {
			t->alerts[t->n_alerts].level = ev->alert_level;
			t->alerts[t->n_alerts].desc = ev->alert_desc;
			t->alerts[t->n_alerts].from_server = (uint8_t)dir;
			t->n_alerts++;
		}
		/* RFC 7507: the server refused a fallback the client should not have made. */
		if (ev->alert_desc == 86)
			sw_raise(x, SW_F_TLS_INAPPROPRIATE_FALLBACK, 1, NULL, NULL, 0,
				 dir == 1 ? "alert sent by the server" : "alert sent by the client");
		break;
	}
	case SW_TLS_EV_MALFORMED:
		sw_count_anomaly(x->e, ev->anomaly);
		break;
	case SW_TLS_EV_NOT_TLS:
	case SW_TLS_EV_CCS:
	case SW_TLS_EV_ENCRYPTED:
	default:
		break;
	}
}
