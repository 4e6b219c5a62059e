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

const struct sw_flow_info *sw_flow_snapshot(struct sw_flow *f);
void sw_engine_emit(struct sw_engine *e, const struct sw_finding *fd);

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

/*
 * Comparable rank of a version: SSL 2.0 lowest, TLS 1.3 drafts and
 * experimental 1.3 code points (0x7fxx, 0x7exx, 0xfbxx) count as TLS 1.3.
 * 0 = unknown, never compared.
 */
static uint16_t rank(uint16_t v)
{
	if (v == 0x0002)
		return 0x0200;
	if (v >= 0x0300 && v <= 0x0304)
		return v;
	if ((v >> 8) == 0x7f || (v >> 8) == 0x7e || (v >> 8) == 0xfb)
		return 0x0304;
	return 0;
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

	struct sw_finding fd;
	memset(&fd, 0, sizeof(fd));
	fd.kind = kind;
	fd.severity = severity;
	fd.ts_ns = x->ts_ns;
	fd.flow = sw_flow_snapshot(f);
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
}

/* ---- mail ------------------------------------------------------------------- */

void sw_detect_capabilities(struct sw_engine_ctx *x, bool has_starttls, bool mangled)
{
	struct sw_flow *f = x->f;
	struct sw_app *a = f->app;
	struct sw_memo *m = sw_engine_memo(x->e);
	a->info.starttls.offered = has_starttls ? SW_YES : SW_NO;

	struct memo_entry *srv = memo_get(m, server_key(f), true, x->ts_ns);
	if (mangled)
		sw_raise(x, SW_F_STARTTLS_MANGLED, 1, &a->ev, NULL, 0,
			 "a capability token looks like a masked STARTTLS");
	if (!has_starttls && !mangled && srv->offered > 0)
		sw_raise(x, SW_F_STARTTLS_STRIPPED, 1, &a->ev, NULL, 0,
			 "this server offered STARTTLS earlier in this run");
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
	memcpy(a->info.starttls.reply, line, n);
	a->info.starttls.reply[n] = 0;
	a->info.starttls.reply_len = (uint16_t)n;
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
	sw_raise(x, SW_F_STARTTLS_REFUSED, srv->starttls_ok > 0 ? 1 : 2, NULL, &ev, 1,
		 srv->starttls_ok > 0 ? "this server accepted STARTTLS earlier in this run" : NULL);
}

void sw_detect_plaintext_use(struct sw_engine_ctx *x, const uint8_t *line, uint32_t len)
{
	struct sw_flow *f = x->f;
	struct sw_app *a = f->app;
	a->mail_cleartext = true;
	if (a->info.starttls.offered != SW_YES || a->info.starttls.command_sent == SW_YES)
		return;
	struct memo_entry *pair = memo_get(sw_engine_memo(x->e), pair_key(f), false, 0);
	bool used_before = pair && pair->starttls_ok > 0;
	struct sw_evidence ev = { 0, (uint16_t)SW_MIN(len, SW_EVIDENCE_LINE_MAX), line };
	sw_raise(x, SW_F_STARTTLS_NOT_USED, used_before ? 1 : 3, NULL, &ev, 1,
		 used_before ? "this client used STARTTLS with this server earlier in this run" : NULL);
}

void sw_detect_cleartext_auth(struct sw_engine_ctx *x, const uint8_t *line, uint32_t len)
{
	struct sw_flow *f = x->f;
	struct sw_app *a = f->app;
	if (a->client_tls_started)
		return;
	struct memo_entry *srv = memo_get(sw_engine_memo(x->e), server_key(f), false, 0);
	bool offered = a->info.starttls.offered == SW_YES || (srv && srv->offered > 0) ||
		       (f->raised & (1u << SW_F_STARTTLS_MANGLED));
	struct sw_evidence ev = { 0, (uint16_t)SW_MIN(len, SW_EVIDENCE_LINE_MAX), line };
	sw_raise(x, SW_F_CLEARTEXT_AUTH, offered ? 1 : 3, NULL, &ev, 1,
		 offered ? "STARTTLS was offered to this server's clients" : NULL);
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
	struct sw_tls_info *t = &a->info.tls;
	const struct sw_dissect_config *cfg = sw_engine_config(x->e);
	a->client_hello_seen = true;
	a->info.tls_seen = true;
	t->client_max_version = ch->max_version;
	t->client_legacy_version = ch->legacy_version;
	t->fallback_scsv = ch->fallback_scsv;
	t->sni_len = ch->sni_len;
	memcpy(t->sni, ch->sni, sizeof(t->sni));
	memcpy(t->ja3, ch->ja3, sizeof(t->ja3));

	if (ch->fallback_scsv)
		sw_raise(x, SW_F_TLS_FALLBACK_SCSV, 2, NULL, NULL, 0,
			 "TLS_FALLBACK_SCSV (0x5600) in the ClientHello");
	uint16_t r = rank(ch->max_version);
	if (r && r < rank(cfg->tls_floor)) {
		t->client_offered_weak_only = true;
		sw_raise(x, SW_F_TLS_WEAK_CLIENT, 3, NULL, NULL, 0, NULL);
	}
}

static void server_hello(struct sw_engine_ctx *x, const struct sw_server_hello *sh)
{
	struct sw_flow *f = x->f;
	struct sw_app *a = f->app;
	struct sw_tls_info *t = &a->info.tls;
	const struct sw_dissect_config *cfg = sw_engine_config(x->e);
	a->info.tls_seen = true;
	if (sh->is_hello_retry) {
		t->hello_retry = true;
		return;
	}
	a->server_hello_seen = true;
	t->version = sh->version;
	t->cipher = sh->cipher;
	t->ssl2_cipher = sh->ssl2_cipher;
	t->downgrade_sentinel = sh->sentinel != 0;
	memcpy(t->ja3s, sh->ja3s, sizeof(t->ja3s));

	uint16_t sel = rank(sh->version);
	uint16_t cli = a->client_hello_seen ? rank(t->client_max_version) : 0;

	if (sel && sel < rank(cfg->tls_floor))
		sw_raise(x, SW_F_TLS_WEAK_VERSION, sel <= 0x0300 ? 1 : 2, NULL, NULL, 0, NULL);
	bool weak = sh->version == 0x0002 ? sw_ssl2_cipher_weak(sh->ssl2_cipher) : sw_tls_cipher_weak(sh->cipher);
	if (weak)
		sw_raise(x, SW_F_TLS_WEAK_CIPHER, 2, NULL, NULL, 0, NULL);
	/* RFC 8446 4.1.3: only an attack when the client we saw offered 1.3. */
	if (sh->sentinel && sel && sel <= 0x0303 && cli >= 0x0304)
		sw_raise(x, SW_F_TLS_DOWNGRADE_SENTINEL, 1, NULL, NULL, 0,
			 sh->sentinel == 1 ? "DOWNGRD\\x01 in the ServerHello random" :
					     "DOWNGRD\\x00 in the ServerHello random");

	struct memo_entry *srv = memo_get(sw_engine_memo(x->e), server_key(f), true, x->ts_ns);
	if (sel && cli > sel && srv->max_rank > sel)
		sw_raise(x, SW_F_TLS_VERSION_DOWNGRADE, 1, NULL, NULL, 0,
			 "this server selected a higher version earlier in this run");
	if (sel > srv->max_rank)
		srv->max_rank = sel;
	srv->last_ts = x->ts_ns;
}

void sw_detect_tls_event(struct sw_engine_ctx *x, int dir, const struct sw_tls_event *ev)
{
	struct sw_app *a = x->f->app;
	struct sw_tls_info *t = &a->info.tls;
	switch (ev->kind) {
	case SW_TLS_EV_CLIENT_HELLO:
		if (dir == 0 && ev->ch)
			client_hello(x, ev->ch);
		break;
	case SW_TLS_EV_SERVER_HELLO:
		if (dir == 1 && ev->sh)
			server_hello(x, ev->sh);
		break;
	case SW_TLS_EV_ALERT:
		if (t->n_alerts < SW_ALERTS_MAX) {
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
