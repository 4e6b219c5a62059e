/*
 * classify.c - the flow classifier for ports we do not know (classify.h).
 *
 * Invariants:
 *  - The nDPI detection module is created on the first packet that needs
 *    it (so a run that never needs it pays nothing), once per classifier,
 *    i.e. once per engine; a header/library API mismatch disables nDPI.
 *  - An undecided flow holds at most one nDPI flow struct (~2.8 KB of nDPI
 *    heap), fed at most SW_CLS_MAX_CALLS payload packets, freed the moment
 *    nDPI decides or the budget is spent; and a replay log bounded by
 *    SW_CLS_LOG_PKTS packets and SW_CLS_LOG_BYTES bytes.
 *  - At most SW_CLS_MAX_PENDING flows are undecided at once; beyond that a
 *    new flow on an unknown port is not classified.
 */
#include <stdlib.h>
#include <string.h>

#include <ndpi_api.h>

#include "classify.h"
#include "flow.h"

/* ---- cheap checks of the first bytes --------------------------------------- */

static bool starts_with(const uint8_t *p, uint32_t n, const char *s)
{
	size_t k = strlen(s);
	return n >= k && memcmp(p, s, k) == 0;
}

/* Does the first line of p mention "SMTP" (any case, so also "ESMTP")? */
static bool first_line_says_smtp(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i + 4 <= n && p[i] != '\n'; i++)
		if ((p[i] | 0x20) == 's' && (p[i + 1] | 0x20) == 'm' && (p[i + 2] | 0x20) == 't' &&
		    (p[i + 3] | 0x20) == 'p')
			return true;
	return false;
}

/* POP3 commands a client sends first after the greeting (RFC 1939 4, RFC 2449, RFC 2595, RFC 5034). */
static bool pop3_first_command(const uint8_t *p, uint32_t n)
{
	static const char *const words[] = { "CAPA", "USER", "APOP", "AUTH", "STLS", "QUIT", "STAT", "UIDL" };
	for (size_t i = 0; i < SW_ARRAY_LEN(words); i++)
		if (sw_word_is(p, n, words[i]))
			return true;
	return false;
}

/* Are p[0..n) (n short, no line end yet) the start of something the checks below know? */
static bool could_become(int dir, const uint8_t *p, uint32_t n)
{
	static const char *const client[] = { "EHLO ", "HELO ", "\x16\x03\x03" };
	static const char *const server[] = { "220 ", "220-", "* OK ", "* PREAUTH ", "+OK " };
	const char *const *pat = dir == 0 ? client : server;
	size_t np = dir == 0 ? SW_ARRAY_LEN(client) : SW_ARRAY_LEN(server);
	for (size_t i = 0; i < np; i++) {
		size_t k = strlen(pat[i]);
		if (n >= k)
			continue;
		uint32_t j = 0;
		while (j < n && (p[j] == (uint8_t)pat[i][j] ||
				 (p[j] >= 'a' && p[j] <= 'z' && p[j] - 32 == (uint8_t)pat[i][j])))
			j++;
		if (j == n)
			return true;
	}
	return false;
}

/* "GET /", "POST /"...: a method, SP, and an origin or absolute form. */
static bool http_request(const uint8_t *p, uint32_t n)
{
	static const char *const methods[] = { "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH" };
	for (size_t i = 0; i < SW_ARRAY_LEN(methods); i++) {
		size_t k = strlen(methods[i]);
		if (n > k + 1 && memcmp(p, methods[i], k) == 0 && p[k] == ' ' && (p[k + 1] == '/' || p[k + 1] == 'h'))
			return true;
	}
	return false;
}

enum sw_app_proto sw_classify_first_bytes(int dir, const uint8_t *p, uint32_t n,
					  enum sw_cls_strength *strength)
{
	*strength = SW_CLS_STRONG;
	if (dir == 0) {
		if (n >= 3 && sw_tls_looks_like_record(p, n))
			return SW_APP_TLS;
		if (sw_word_is(p, n, "EHLO") || sw_word_is(p, n, "HELO"))
			return SW_APP_SMTP;
		/* RFC 9112 3: an HTTP request line is neither mail nor TLS: no nDPI needed. */
		if (http_request(p, n))
			return SW_APP_UNKNOWN;
	} else {
		/* RFC 5321 4.2: "220" SP / "-"; FTP greets with 220 too, so only "SMTP" in the text decides. */
		if (starts_with(p, n, "220 ") || starts_with(p, n, "220-")) {
			if (!first_line_says_smtp(p, n))
				*strength = SW_CLS_HINT; /* or the rest of the line may still say it */
			return SW_APP_SMTP;
		}
		/* RFC 3501 7.1: the greeting is an untagged OK, PREAUTH (or BYE). */
		if (sw_word_is(p, n, "* OK") || sw_word_is(p, n, "* PREAUTH"))
			return SW_APP_IMAP;
		/* RFC 1939 4: "+OK" greeting; weak alone (other protocols answer +OK). */
		if (sw_word_is(p, n, "+OK")) {
			*strength = SW_CLS_HINT;
			return SW_APP_POP3;
		}
	}
	/* Too few bytes to tell yet: a hint of nothing in particular. */
	*strength = n > 0 && n < 10 && !memchr(p, '\n', n) && could_become(dir, p, n) ? SW_CLS_HINT :
									      SW_CLS_NONE;
	return SW_APP_UNKNOWN;
}

/* ---- the classifier ----------------------------------------------------------- */

struct sw_classifier {
	bool use_ndpi;
	bool ndpi_failed;            /* init failed or API mismatch: never try again */
	struct ndpi_detection_module_struct *nd;
	uint32_t pending;
};

struct log_entry {
	uint64_t ts_ns;
	uint32_t seq, off, len;
	uint8_t dir;
	bool fin;
};

struct sw_cls_flow {
	struct ndpi_flow_struct *nf;  /* NULL until nDPI is asked, and after it is done */
	enum sw_app_proto hint;
	uint8_t pkts, calls;
	/* The first SW_CLS_HEAD stream bytes of each direction, placed by sequence number. */
	uint32_t head_base[2];        /* sequence number of stream byte 0 */
	uint8_t base_known;           /* bit d: head_base[d] is set */
	uint64_t head_have[2];        /* bit i: head byte i is filled */
	uint8_t head_len[2];          /* contiguous bytes from byte 0 */
	bool head_done[2];            /* ... complete: a line end seen, or SW_CLS_HEAD bytes */
	uint8_t head[2][SW_CLS_HEAD];
	bool ndpi_done;
	bool lost[2];
	bool log_closed;              /* a packet did not fit: nothing later is logged either */
	uint8_t n_log;
	struct log_entry log[SW_CLS_LOG_PKTS];
	uint8_t *bytes;               /* log payload, grown by doubling up to SW_CLS_LOG_BYTES */
	uint32_t used, cap;
};

struct sw_classifier *sw_classifier_new(bool use_ndpi)
{
	struct sw_classifier *c = calloc(1, sizeof(*c));
	if (c)
		c->use_ndpi = use_ndpi;
	return c;
}

void sw_classifier_free(struct sw_classifier *c)
{
	if (!c)
		return;
	if (c->nd)
		ndpi_exit_detection_module(c->nd);
	free(c);
}

uint32_t sw_classifier_pending(const struct sw_classifier *c) { return c ? c->pending : 0; }

size_t sw_cls_flow_mem(void)
{
	return sizeof(struct sw_cls_flow) + SW_CLS_LOG_BYTES + SW_CLS_NDPI_FLOW_MEM;
}

/* platform-facts 2.2: bitmask and finalize are both required. */
static bool ndpi_ready(struct sw_classifier *c)
{
	if (c->nd)
		return true;
	if (c->ndpi_failed)
		return false;
	if (ndpi_get_api_version() != NDPI_API_VERSION) {
		c->ndpi_failed = true;
		return false;
	}
	c->nd = ndpi_init_detection_module(ndpi_no_prefs);
	if (!c->nd) {
		c->ndpi_failed = true;
		return false;
	}
	NDPI_PROTOCOL_BITMASK all;
	NDPI_BITMASK_SET_ALL(all);
	ndpi_set_protocol_detection_bitmask2(c->nd, &all);
	ndpi_finalize_initialization(c->nd);
	return true;
}

struct sw_cls_flow *sw_cls_flow_new(struct sw_classifier *c, enum sw_app_proto hint,
				    const uint32_t first_seq[2], uint8_t known)
{
	if (c->pending >= SW_CLS_MAX_PENDING)
		return NULL;
	struct sw_cls_flow *cf = calloc(1, sizeof(*cf));
	if (!cf)
		return NULL;
	cf->hint = hint;
	cf->head_base[0] = first_seq[0];
	cf->head_base[1] = first_seq[1];
	cf->base_known = known & 3;
	c->pending++;
	return cf;
}

static void drop_ndpi(struct sw_cls_flow *cf)
{
	if (cf->nf) {
		ndpi_free_flow(cf->nf);
		cf->nf = NULL;
	}
	cf->ndpi_done = true;
}

void sw_cls_flow_free(struct sw_classifier *c, struct sw_cls_flow *cf)
{
	if (!cf)
		return;
	drop_ndpi(cf);
	free(cf->bytes);
	free(cf);
	if (c && c->pending)
		c->pending--;
}

static bool log_close(struct sw_cls_flow *cf)
{
	cf->log_closed = true;
	return false;
}

/* Copy the packet into the log; false when it does not fit (and nothing later will be logged). */
static bool log_add(struct sw_cls_flow *cf, int dir, const struct sw_packet *p)
{
	uint32_t n = p->payload_len;
	if (cf->log_closed || n > SW_CLS_LOG_BYTES - cf->used)
		return log_close(cf);
	if (cf->used + n > cf->cap) {
		uint32_t cap = cf->cap ? cf->cap : 1024;
		while (cap < cf->used + n)
			cap *= 2;
		cap = SW_MIN(cap, (uint32_t)SW_CLS_LOG_BYTES);
		uint8_t *b = realloc(cf->bytes, cap);
		if (!b)
			return log_close(cf);
		cf->bytes = b;
		cf->cap = cap;
	}
	struct log_entry *le = cf->n_log ? &cf->log[cf->n_log - 1] : NULL;
	if (le && le->dir == dir && !le->fin && le->seq + le->len == p->seq && le->off + le->len == cf->used) {
		/* The next bytes of the same direction in order: one entry (tiny segments cost no slots). */
		le->ts_ns = p->ts_ns;
		le->len += n;
		le->fin = (p->tcp_flags & SW_TH_FIN) != 0;
		if (n)
			memcpy(cf->bytes + cf->used, p->payload, n);
		cf->used += n;
		return true;
	}
	if (cf->n_log >= SW_CLS_LOG_PKTS)
		return log_close(cf);
	le = &cf->log[cf->n_log++];
	le->ts_ns = p->ts_ns;
	le->seq = p->seq;
	le->off = cf->used;
	le->len = n;
	le->dir = (uint8_t)dir;
	le->fin = (p->tcp_flags & SW_TH_FIN) != 0;
	if (n)
		memcpy(cf->bytes + cf->used, p->payload, n);
	cf->used += n;
	return true;
}

void sw_cls_flow_replay(const struct sw_cls_flow *cf, sw_cls_replay_fn fn, void *ctx)
{
	static const uint8_t none[1];
	for (uint8_t i = 0; i < cf->n_log; i++) {
		const struct log_entry *le = &cf->log[i];
		fn(ctx, le->dir, le->seq, le->len ? cf->bytes + le->off : none, le->len, le->fin, le->ts_ns);
	}
}

/*
 * nDPI's protocol -> the dissector to run.  A flow reaches nDPI only when
 * its client did not open with TLS, so SMTPS/IMAPS/POPS here are nDPI's
 * labels for a plaintext session that sent STARTTLS (platform-facts 2.9).
 */
static enum sw_app_proto from_ndpi(ndpi_protocol r)
{
	uint16_t ids[2] = { r.master_protocol, r.app_protocol };
	for (int i = 0; i < 2; i++) {
		switch (ids[i]) {
		case NDPI_PROTOCOL_MAIL_SMTP:
		case NDPI_PROTOCOL_MAIL_SMTPS:
			return SW_APP_SMTP;
		case NDPI_PROTOCOL_MAIL_IMAP:
		case NDPI_PROTOCOL_MAIL_IMAPS:
			return SW_APP_IMAP;
		case NDPI_PROTOCOL_MAIL_POP:
		case NDPI_PROTOCOL_MAIL_POPS:
			return SW_APP_POP3;
		case NDPI_PROTOCOL_TLS:
			return SW_APP_TLS;
		default:
			break;
		}
	}
	return SW_APP_UNKNOWN;
}

static enum sw_cls_result decide(struct sw_cls_flow *cf, struct sw_cls_verdict *v, enum sw_app_proto proto)
{
	drop_ndpi(cf);
	if (proto == SW_APP_UNKNOWN)
		return SW_CLS_GIVE_UP;
	v->proto = proto;
	return SW_CLS_DECIDED;
}

/* Hand one packet to nDPI; SW_APP_UNKNOWN with *said false while it has not decided. */
static enum sw_app_proto ask_ndpi(struct sw_classifier *c, struct sw_cls_flow *cf,
				  const struct sw_packet *p, struct sw_cls_verdict *v, bool *said)
{
	*said = false;
	if (!cf->nf) {
		cf->nf = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
		if (!cf->nf) {
			cf->ndpi_done = true;
			return SW_APP_UNKNOWN;
		}
		memset(cf->nf, 0, SIZEOF_FLOW_STRUCT); /* not zeroed by nDPI */
	}
	uint16_t len = (uint16_t)SW_MIN(p->l3_len, 65535u);
	uint64_t ms = p->ts_ns / 1000000u;
	ndpi_protocol r = ndpi_detection_process_packet(c->nd, cf->nf, p->l3, len, ms);
	cf->calls++;
	v->ndpi_calls = 1;
	if (r.app_protocol == NDPI_PROTOCOL_UNKNOWN && r.master_protocol == NDPI_PROTOCOL_UNKNOWN &&
	    cf->calls >= SW_CLS_MAX_CALLS) {
		uint8_t guessed = 0;
		r = ndpi_detection_giveup(c->nd, cf->nf, 0, &guessed);
		cf->ndpi_done = true;
	}
	if (r.app_protocol == NDPI_PROTOCOL_UNKNOWN && r.master_protocol == NDPI_PROTOCOL_UNKNOWN)
		return SW_APP_UNKNOWN;
	*said = true;
	ndpi_protocol2name(c->nd, r, v->name, sizeof(v->name));
	v->name[sizeof(v->name) - 1] = 0;
	return from_ndpi(r);
}

/*
 * Place the packet's bytes in the head of its direction by sequence number
 * (segments may come out of order).  True when the contiguous head grew.
 */
static bool head_add(struct sw_cls_flow *cf, int dir, const struct sw_packet *p)
{
	uint8_t bit = (uint8_t)(1u << dir);
	if (!(cf->base_known & bit)) {
		cf->head_base[dir] = p->seq;
		cf->base_known |= bit;
	}
	int64_t off = (int32_t)(p->seq - cf->head_base[dir]);
	for (uint32_t i = 0; i < p->payload_len; i++) {
		int64_t at = off + i;
		if (at < 0)
			continue;
		if (at >= SW_CLS_HEAD)
			break;
		if (!(cf->head_have[dir] & (1ull << at))) {
			cf->head[dir][at] = p->payload[i];
			cf->head_have[dir] |= 1ull << at;
		}
	}
	uint64_t have = cf->head_have[dir];
	uint32_t len = ~have ? (uint32_t)__builtin_ctzll(~have) : SW_CLS_HEAD;
	if (len == cf->head_len[dir])
		return false;
	cf->head_len[dir] = (uint8_t)len;
	cf->head_done[dir] = len == SW_CLS_HEAD || memchr(cf->head[dir], '\n', len) != NULL;
	return true;
}

enum sw_cls_result sw_cls_flow_packet(struct sw_classifier *c, struct sw_cls_flow *cf, int dir,
				      const struct sw_packet *p, struct sw_cls_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->logged = log_add(cf, dir, p);
	if (!v->logged && p->payload_len > 0)
		cf->lost[dir] = true;
	v->lost[0] = cf->lost[0];
	v->lost[1] = cf->lost[1];
	if (p->payload_len == 0)
		return SW_CLS_PENDING; /* a bare FIN: nothing to look at */
	cf->pkts++;

	if (!cf->head_done[dir] && head_add(cf, dir, p)) {
		/* The cheap checks again on the first bytes so far: segments may be tiny. */
		const uint8_t *h = cf->head[dir];
		uint32_t hl = cf->head_len[dir];
		enum sw_cls_strength st;
		enum sw_app_proto proto = sw_classify_first_bytes(dir, h, hl, &st);
		if (st == SW_CLS_STRONG)
			return decide(cf, v, proto);
		if (proto != SW_APP_UNKNOWN && cf->hint == SW_APP_UNKNOWN)
			cf->hint = proto;
		/* The client's answer to a "+OK" greeting confirms POP3. */
		if (dir == 0 && cf->hint == SW_APP_POP3 && cf->head_done[0] && pop3_first_command(h, hl))
			return decide(cf, v, SW_APP_POP3);
	}

	if (c->use_ndpi && !cf->ndpi_done) {
		if (!p->l3 || p->l3_len < 20 || !ndpi_ready(c)) {
			drop_ndpi(cf); /* nothing nDPI could read */
		} else {
			bool said;
			enum sw_app_proto proto = ask_ndpi(c, cf, p, v, &said);
			if (said)
				return decide(cf, v, proto); /* an nDPI name that is not ours gives up */
			if (cf->ndpi_done)
				drop_ndpi(cf);
		}
	}
	/* With nDPI still listening, or a hint still waiting for the client, keep going. */
	bool ndpi_listening = c->use_ndpi && !cf->ndpi_done;
	bool head_open = (cf->head_have[0] && !cf->head_done[0]) || (cf->head_have[1] && !cf->head_done[1]);
	if (head_open)
		return SW_CLS_PENDING; /* at most SW_CLS_HEAD bytes per direction away */
	if (cf->pkts >= SW_CLS_MAX_PKTS || (!ndpi_listening && cf->hint == SW_APP_UNKNOWN))
		return decide(cf, v, SW_APP_UNKNOWN);
	return SW_CLS_PENDING;
}
