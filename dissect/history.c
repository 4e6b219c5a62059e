/*
 * history.c - per-server memory across runs (history.h), kept in SQLite.
 *
 * Why SQLite (Debian libsqlite3-dev) and not LMDB: its WAL journal makes
 * every flush one atomic transaction that survives kill -9 (and, with
 * synchronous=NORMAL, a crash of the process at any instruction) without
 * corrupting the file; it needs no map size fixed in advance; and an admin
 * can read the store with the sqlite3 shell.  Our write rate (one batch
 * every 30 s) is far below what either can do, so SQLite's per-write cost
 * does not matter.
 *
 * Layout: every row lives in memory in a fixed pool (max_rows) indexed by a
 * chained hash; SQLite holds the same rows and is read once at open (the
 * newest max_rows) and written by sw_history_flush() only: the rows changed
 * since the last flush and the deletions of rows dropped from memory, in one
 * transaction (cost O(rows changed), never a scan of the pool except for
 * aging, at most once an hour of packet time).  When the pool is full the least recently
 * seen tenth is dropped.  Values read from the file are checked like
 * packets: a row that does not parse is skipped and counted.
 *
 * Threads: with --workers every engine shares one store.  Each public call
 * holds the store's mutex; they run a few times per flow, never per packet,
 * so the lock costs nothing measurable.  A worker flushing (one SQLite
 * transaction, every 30 s of packet time) makes the others wait that long.
 */
#define _GNU_SOURCE /* qsort_r */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "history.h"
#include "tls.h"

enum { K_SERVER = 1, K_NAME = 2, K_CLIENT = 3 };

struct hkey {
	uint8_t kind, ipver;
	uint16_t port;
	uint8_t srv[16], cli[16];
	char name[SW_NAME_MAX]; /* lower case, NUL-padded */
};

struct fpslot {
	struct sw_path_fp fp;
	uint32_t count;
};

/*
 * Server and name rows use every field; client rows use sessions (sessions
 * in which STARTTLS was offered to the client) and the win window (1: the
 * client used STARTTLS) with `hits` its total.
 */
struct hrec {
	struct hkey k;
	int32_t next;            /* hash chain or free list, -1 ends */
	bool used, dirty;
	int64_t first_seen, last_seen; /* seconds, packet time */
	uint32_t sessions;       /* flows seen */
	uint32_t cap_sessions;   /* ... with a capability list */
	uint32_t hits;           /* ... that offered STARTTLS (client rows: used it) */
	uint32_t stripped;       /* starttls_stripped raised */
	uint32_t win;            /* bit 0 newest: offered (client rows: used) */
	uint8_t win_n;
	uint8_t versions;        /* bit per version rank, see vbit() */
	uint16_t max_version;
	uint32_t tls_sessions;
	uint32_t hi_win;         /* bit 0 newest: the TLS session selected max_version */
	uint8_t hi_n;
	uint8_t n_ciphers;
	uint16_t ciphers[SW_HIST_CIPHERS];
	struct fpslot fps[SW_HIST_FPS];
	char name[SW_NAME_MAX];  /* server rows: the last name seen */
};

struct sw_history {
	pthread_mutex_t lock;     /* engines of --workers share one store */
	struct sw_history_opts o;
	char path[4200];
	sqlite3 *db;
	struct hrec *recs;
	uint32_t cap, n;
	int32_t free_head;
	int32_t *buckets;
	uint32_t mask;
	uint32_t dirty;
	int32_t *dirty_list;     /* rows to write at the next flush (may repeat) */
	uint32_t n_dirty_list;
	bool dirty_overflow;     /* the list overflowed: scan every row */
	struct hkey *gone;       /* rows dropped from memory, to delete from the file */
	uint32_t n_gone, gone_cap; /* a trim's worth (an eighth of the pool) */
	bool gone_overflow;      /* too many: delete by age instead */
	int64_t next_age;        /* packet time (s) of the next aging scan */
	bool clock_started;
	uint64_t last_flush_ns;
	int64_t newest;          /* highest last_seen, seconds */
	uint64_t bad_rows;       /* rows in the file that did not parse */
};

#define DIRTY_FLUSH 4096          /* flush early when this many rows wait */
#define NS 1000000000ull

void sw_history_opts_default(struct sw_history_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->threshold = 3;
	o->max_rows = 65536;
	o->max_age_ns = 90ull * 86400ull * NS;
	o->flush_interval_ns = 30ull * NS;
}

uint32_t sw_history_threshold(const struct sw_history *h) { return h->o.threshold; }
uint32_t sw_history_rows(const struct sw_history *h) { return h ? h->n : 0; }

/* ---- versions ------------------------------------------------------------------ */

/* Bit of a version in the versions set: SSL 2.0, SSL 3.0, TLS 1.0 ... 1.3. */
static uint8_t vbit(uint16_t v)
{
	uint16_t r = sw_tls_version_rank(v);
	if (r == 0x0200)
		return 1;
	if (r >= 0x0300 && r <= 0x0304)
		return (uint8_t)(2u << (r - 0x0300));
	return 0;
}

static const char *const vbit_name[] = { "SSL2", "SSL3", "1.0", "1.1", "1.2", "1.3" };

/* ---- fingerprints ------------------------------------------------------------- */

uint64_t sw_path_opts_pack(const uint8_t *kinds, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n && i < 12; i++) {
		unsigned code = kinds[i] <= 13 ? kinds[i] + 1u : 15u;
		v |= (uint64_t)code << (4 * i);
	}
	return v;
}

uint8_t sw_path_syn_set(const uint8_t *kinds, unsigned n)
{
	uint8_t s = 0;
	for (unsigned i = 0; i < n && i < SW_TCP_MAX_OPTS; i++) {
		switch (kinds[i]) {
		case 2: s |= 1; break;
		case 3: s |= 2; break;
		case 4: s |= 4; break;
		case 8: s |= 8; break;
		default: break;
		}
	}
	return s;
}

void sw_path_fp_make(struct sw_path_fp *fp, uint8_t ttl, uint16_t win, uint16_t mss,
		     uint8_t wscale, uint64_t opts, uint8_t cli_opts)
{
	memset(fp, 0, sizeof(*fp));
	/* p0f: the initial TTL is the next of 32, 64, 128, 255 at or above the one seen. */
	fp->ttl0 = ttl <= 32 ? 32 : ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255;
	fp->hops = (uint8_t)(fp->ttl0 - ttl);
	fp->win = win;
	fp->mss = mss;
	fp->wscale = wscale;
	fp->opts = opts;
	fp->cli_opts = cli_opts;
}

static const char *opt_name(unsigned code, char buf[12])
{
	switch (code) {
	case 1: return "eol";
	case 2: return "nop";
	case 3: return "mss";
	case 4: return "ws";
	case 5: return "sok";
	case 6: return "sack";
	case 9: return "ts";
	default:
		if (code == 15)
			return "?";
		snprintf(buf, 12, "?%u", (code - 1) & 15u);
		return buf;
	}
}

void sw_path_fp_text(const struct sw_path_fp *fp, char *buf, size_t n)
{
	char opts[96] = "";
	size_t o = 0;
	for (unsigned i = 0; i < 12; i++) {
		unsigned code = (unsigned)(fp->opts >> (4 * i)) & 15u;
		if (!code)
			break;
		char tmp[12];
		int k = snprintf(opts + o, sizeof opts - o, "%s%s", o ? "," : "", opt_name(code, tmp));
		if (k < 0 || (size_t)k >= sizeof opts - o)
			break;
		o += (size_t)k;
	}
	char ws[8];
	if (fp->wscale == 0xff)
		snprintf(ws, sizeof ws, "-");
	else
		snprintf(ws, sizeof ws, "%u", fp->wscale);
	snprintf(buf, n, "hops=%u ttl=%u/%u win=%u mss=%u ws=%s opts=%s", fp->hops,
		 (unsigned)(fp->ttl0 - fp->hops), fp->ttl0, fp->win, fp->mss, ws, o ? opts : "-");
}

/* Same TCP stack and the same client option set (hops are compared apart). */
static bool fp_same_stack(const struct sw_path_fp *a, const struct sw_path_fp *b)
{
	return a->ttl0 == b->ttl0 && a->win == b->win && a->mss == b->mss && a->wscale == b->wscale &&
	       a->opts == b->opts && a->cli_opts == b->cli_opts;
}

/* ---- the in-memory table ------------------------------------------------------ */

static uint64_t key_hash(const struct hkey *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < sizeof(*k); i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return h;
}

static struct hrec *find(struct sw_history *h, const struct hkey *k)
{
	uint32_t b = (uint32_t)key_hash(k) & h->mask;
	for (int32_t i = h->buckets[b]; i >= 0; i = h->recs[i].next)
		if (memcmp(&h->recs[i].k, k, sizeof(*k)) == 0)
			return &h->recs[i];
	return NULL;
}

static void unlink_rec(struct sw_history *h, int32_t idx)
{
	uint32_t b = (uint32_t)key_hash(&h->recs[idx].k) & h->mask;
	int32_t *pp = &h->buckets[b];
	if (h->n_gone < h->gone_cap)
		h->gone[h->n_gone++] = h->recs[idx].k;
	else
		h->gone_overflow = true;
	while (*pp >= 0 && *pp != idx)
		pp = &h->recs[*pp].next;
	if (*pp == idx)
		*pp = h->recs[idx].next;
	if (h->recs[idx].dirty)
		h->dirty--;
	memset(&h->recs[idx], 0, sizeof(h->recs[idx]));
	h->recs[idx].next = h->free_head;
	h->free_head = idx;
	h->n--;
}

static int cmp_age(const void *a, const void *b, void *ctx)
{
	const struct hrec *r = ctx;
	int64_t x = r[*(const int32_t *)a].last_seen, y = r[*(const int32_t *)b].last_seen;
	return x < y ? -1 : x > y;
}

/* Drop the least recently seen rows until at most `keep` remain. */
static void trim(struct sw_history *h, uint32_t keep)
{
	if (h->n <= keep)
		return;
	int32_t *idx = malloc((size_t)h->n * sizeof(*idx));
	if (!idx)
		return;
	uint32_t m = 0;
	for (uint32_t i = 0; i < h->cap; i++)
		if (h->recs[i].used)
			idx[m++] = (int32_t)i;
	qsort_r(idx, m, sizeof(*idx), cmp_age, h->recs);
	for (uint32_t i = 0; i < m && h->n > keep; i++)
		unlink_rec(h, idx[i]);
	free(idx);
}

static struct hrec *get(struct sw_history *h, const struct hkey *k, int64_t now)
{
	struct hrec *r = find(h, k);
	if (r)
		return r;
	if (h->free_head < 0)
		trim(h, h->o.max_rows - h->o.max_rows / 10);
	if (h->free_head < 0)
		return NULL;
	int32_t idx = h->free_head;
	r = &h->recs[idx];
	h->free_head = r->next;
	memset(r, 0, sizeof(*r));
	r->k = *k;
	r->used = true;
	r->first_seen = r->last_seen = now;
	uint32_t b = (uint32_t)key_hash(k) & h->mask;
	r->next = h->buckets[b];
	h->buckets[b] = idx;
	h->n++;
	return r;
}

static void touch(struct sw_history *h, struct hrec *r, int64_t now)
{
	if (now > r->last_seen)
		r->last_seen = now;
	if (now > h->newest)
		h->newest = now;
	if (!r->dirty) {
		r->dirty = true;
		h->dirty++;
		if (h->n_dirty_list < h->cap)
			h->dirty_list[h->n_dirty_list++] = (int32_t)(r - h->recs);
		else
			h->dirty_overflow = true;
	}
}

/* ---- keys ------------------------------------------------------------------------ */

static void key_server(struct hkey *k, const struct sw_hist_server *s)
{
	memset(k, 0, sizeof(*k));
	k->kind = K_SERVER;
	k->ipver = s->ip_version;
	k->port = s->port;
	memcpy(k->srv, s->ip, 16);
}

/* false when the server has no usable name */
static bool key_name(struct hkey *k, const struct sw_hist_server *s)
{
	memset(k, 0, sizeof(*k));
	if (!s->name || !*s->name)
		return false;
	size_t l = strnlen(s->name, SW_NAME_MAX - 1);
	for (size_t i = 0; i < l; i++) {
		unsigned char c = (unsigned char)s->name[i];
		if (c <= ' ' || c >= 0x7f || c == '|')
			return false; /* not a host name: not a key */
		k->name[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	if (l > 1 && k->name[l - 1] == '.')
		k->name[l - 1] = 0;
	k->kind = K_NAME;
	k->port = s->port;
	return true;
}

static void key_client(struct hkey *k, const struct sw_hist_server *s, const uint8_t *cli)
{
	key_server(k, s);
	k->kind = K_CLIENT;
	memcpy(k->cli, cli, 16);
}

/* ---- windows ------------------------------------------------------------------- */

static uint32_t win_mask(uint8_t n) { return n >= 32 ? 0xffffffffu : (1u << n) - 1; }

static void win_push(uint32_t *w, uint8_t *n, bool bit)
{
	*w = (*w << 1) | (bit ? 1u : 0u);
	if (*n < SW_HIST_WINDOW)
		(*n)++;
}

/* At least 90% of the window, and the window holds `threshold` sessions. */
static enum sw_hist_verdict win_verdict(const struct sw_history *h, uint32_t w, uint8_t n, unsigned *hits)
{
	*hits = (unsigned)__builtin_popcount(w & win_mask(n));
	if (n < h->o.threshold || n == 0)
		return SW_HV_UNKNOWN;
	return *hits * 10 >= (unsigned)n * 9 ? SW_HV_ALERT : SW_HV_QUIET;
}

/* ---- verdicts ------------------------------------------------------------------- */

static enum sw_hist_verdict offer_verdict(struct sw_history *h, const struct sw_hist_server *s,
					  char *detail, size_t n)
{
	struct hkey k;
	unsigned hits;
	key_server(&k, s);
	struct hrec *r = find(h, &k);
	if (r) {
		enum sw_hist_verdict v = win_verdict(h, r->win, r->win_n, &hits);
		if (v != SW_HV_UNKNOWN) {
			snprintf(detail, n, "this server offered STARTTLS in %u of its last %u sessions (history)",
				 hits, r->win_n);
			return v;
		}
	}
	if (key_name(&k, s) && (r = find(h, &k))) {
		enum sw_hist_verdict v = win_verdict(h, r->win, r->win_n, &hits);
		if (v != SW_HV_UNKNOWN) {
			snprintf(detail, n, "%s offered STARTTLS in %u of its last %u sessions (history)",
				 k.name, hits, r->win_n);
			return v;
		}
	}
	return SW_HV_UNKNOWN;
}

static enum sw_hist_verdict version_of(const struct sw_history *h, const struct hrec *r, uint16_t selected,
				       const char *who, char *detail, size_t n)
{
	unsigned hits;
	enum sw_hist_verdict v = win_verdict(h, r->hi_win, r->hi_n, &hits);
	if (v == SW_HV_UNKNOWN)
		return v;
	if (sw_tls_version_rank(selected) >= sw_tls_version_rank(r->max_version))
		return SW_HV_QUIET;
	char vb[24];
	snprintf(detail, n, "%s selected %s in %u of its last %u TLS sessions (history)", who,
		 sw_tls_version_name(r->max_version, vb), hits, r->hi_n);
	return v;
}

static enum sw_hist_verdict version_verdict(struct sw_history *h, const struct sw_hist_server *s,
					    uint16_t selected, char *detail, size_t n)
{
	struct hkey k;
	key_server(&k, s);
	struct hrec *r = find(h, &k);
	enum sw_hist_verdict v = SW_HV_UNKNOWN;
	if (r)
		v = version_of(h, r, selected, "this server", detail, n);
	if (v == SW_HV_UNKNOWN && key_name(&k, s) && (r = find(h, &k)))
		v = version_of(h, r, selected, k.name, detail, n);
	return v;
}

static enum sw_hist_verdict client_verdict(struct sw_history *h, const struct sw_hist_server *s,
					   const uint8_t *client_ip, char *detail, size_t n)
{
	struct hkey k;
	unsigned hits;
	key_client(&k, s, client_ip);
	struct hrec *r = find(h, &k);
	if (!r)
		return SW_HV_UNKNOWN;
	enum sw_hist_verdict v = win_verdict(h, r->win, r->win_n, &hits);
	if (v != SW_HV_UNKNOWN)
		snprintf(detail, n, "this client used STARTTLS in %u of its last %u sessions with this "
			 "server that offered it (history)", hits, r->win_n);
	return v;
}

static bool path_changed(struct sw_history *h, const struct sw_hist_server *s,
			 const struct sw_path_fp *fp, char *detail, size_t n)
{
	struct hkey k;
	key_server(&k, s);
	struct hrec *r = find(h, &k);
	if (!r)
		return false;
	const struct fpslot *stable = NULL;
	for (int i = 0; i < SW_HIST_FPS; i++) {
		const struct fpslot *sl = &r->fps[i];
		if (sl->count < h->o.threshold || sl->fp.cli_opts != fp->cli_opts)
			continue;
		/* Farther with the same stack: another vantage or route, not an interceptor. */
		if (fp_same_stack(&sl->fp, fp) && fp->hops >= sl->fp.hops)
			return false;
		if (!stable || sl->count > stable->count)
			stable = sl;
	}
	if (!stable)
		return false;
	char now[128], was[128];
	sw_path_fp_text(fp, now, sizeof now);
	sw_path_fp_text(&stable->fp, was, sizeof was);
	snprintf(detail, n, "SYN-ACK %s; this server's usual SYN-ACK %s (in %u sessions)", now, was,
		 stable->count);
	return true;
}

/* ---- learning ------------------------------------------------------------------- */

static void learn_fp(struct hrec *r, const struct sw_path_fp *fp)
{
	struct fpslot *low = &r->fps[0];
	for (int i = 0; i < SW_HIST_FPS; i++) {
		struct fpslot *sl = &r->fps[i];
		if (sl->count && fp_same_stack(&sl->fp, fp) && fp->hops >= sl->fp.hops) {
			if (sl->count < UINT32_MAX)
				sl->count++;
			return;
		}
		if (sl->count < low->count)
			low = sl;
	}
	low->fp = *fp;
	low->count = 1;
}

static void learn_tls(struct hrec *r, uint16_t v, uint16_t cipher)
{
	r->tls_sessions++;
	r->versions |= vbit(v);
	uint16_t rk = sw_tls_version_rank(v);
	if (rk && rk > sw_tls_version_rank(r->max_version)) {
		/* A new highest version starts a new window. */
		r->max_version = v;
		r->hi_win = 1;
		r->hi_n = 1;
	} else if (rk) {
		win_push(&r->hi_win, &r->hi_n, rk == sw_tls_version_rank(r->max_version));
	}
	for (unsigned i = 0; i < r->n_ciphers; i++)
		if (r->ciphers[i] == cipher)
			return;
	if (r->n_ciphers < SW_HIST_CIPHERS)
		r->ciphers[r->n_ciphers++] = cipher;
}

static void learn_server(struct sw_history *h, struct hrec *r, const struct sw_hist_session *ss, int64_t now)
{
	r->sessions++;
	if (ss->offered != SW_UNSEEN) {
		r->cap_sessions++;
		if (ss->offered == SW_YES)
			r->hits++;
		win_push(&r->win, &r->win_n, ss->offered == SW_YES);
	}
	if (ss->stripped)
		r->stripped++;
	if (ss->tls_version)
		learn_tls(r, ss->tls_version, ss->tls_cipher);
	touch(h, r, now);
}

static void observe(struct sw_history *h, const struct sw_hist_session *ss)
{
	int64_t now = (int64_t)(ss->ts_ns / NS);
	struct hkey k;
	if (!h->clock_started) {
		h->clock_started = true;
		h->last_flush_ns = ss->ts_ns;
	}
	key_server(&k, &ss->srv);
	struct hrec *r = get(h, &k, now);
	/*
	 * A session answered from an unknown path says nothing about the
	 * server: its capability list and TLS choice may be an interceptor's.
	 * Only its fingerprint is kept, so that a path that stays becomes
	 * stable (networks do change); an interceptor's stripped sessions never
	 * lower the server's offer rate.
	 */
	if (r && ss->foreign_path) {
		if (ss->has_fp)
			learn_fp(r, &ss->fp);
		touch(h, r, now);
		return;
	}
	if (r) {
		learn_server(h, r, ss, now);
		if (ss->has_fp)
			learn_fp(r, &ss->fp);
		if (ss->srv.name && *ss->srv.name && key_name(&k, &ss->srv))
			memcpy(r->name, k.name, sizeof(r->name));
	}
	if (ss->foreign_path)
		return;
	if (key_name(&k, &ss->srv) && (r = get(h, &k, now)))
		learn_server(h, r, ss, now);
	if (ss->offered == SW_YES && ss->client_ip) {
		key_client(&k, &ss->srv, ss->client_ip);
		if ((r = get(h, &k, now))) {
			r->sessions++;
			r->cap_sessions++;
			if (ss->client_used)
				r->hits++;
			win_push(&r->win, &r->win_n, ss->client_used);
			touch(h, r, now);
		}
	}
}

static int flush_rows(struct sw_history *h, char *err, size_t errlen);

static void maybe_flush(struct sw_history *h, uint64_t now_ns)
{
	if (!h->dirty)
		return;
	/* Due when packet time moved by the interval either way (files out of order). */
	uint64_t moved = now_ns > h->last_flush_ns ? now_ns - h->last_flush_ns : h->last_flush_ns - now_ns;
	if (h->dirty < DIRTY_FLUSH && moved < h->o.flush_interval_ns)
		return;
	char err[256];
	if (flush_rows(h, err, sizeof err) != 0)
		fprintf(stderr, "stripwatch: history: %s\n", err);
	h->last_flush_ns = now_ns;
}

/* ---- rows as text ------------------------------------------------------------- */

static void addr_text(uint8_t ver, const uint8_t *ip, char *buf, size_t n)
{
	if (!inet_ntop(ver == 6 ? AF_INET6 : AF_INET, ip, buf, (socklen_t)n))
		snprintf(buf, n, "?");
}

static bool addr_parse(const char *s, uint8_t *ver, uint8_t ip[16])
{
	memset(ip, 0, 16);
	if (inet_pton(AF_INET, s, ip) == 1) {
		*ver = 4;
		return true;
	}
	if (inet_pton(AF_INET6, s, ip) == 1) {
		*ver = 6;
		return true;
	}
	return false;
}

/* "s|ADDR|PORT", "n|NAME|PORT", "c|CLIENT|SERVER|PORT" */
static void key_text(const struct hkey *k, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN], c[INET6_ADDRSTRLEN];
	addr_text(k->ipver, k->srv, a, sizeof a);
	if (k->kind == K_SERVER)
		snprintf(buf, n, "s|%s|%u", a, k->port);
	else if (k->kind == K_NAME)
		snprintf(buf, n, "n|%s|%u", k->name, k->port);
	else {
		addr_text(k->ipver, k->cli, c, sizeof c);
		snprintf(buf, n, "c|%s|%s|%u", c, a, k->port);
	}
}

static bool port_parse(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*s == 0 || *end || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool key_parse(const char *s, struct hkey *k)
{
	char buf[256];
	char *f[4];
	int nf = 0;
	memset(k, 0, sizeof(*k));
	if (!s || strlen(s) >= sizeof buf)
		return false;
	strcpy(buf, s);
	for (char *p = buf, *q; nf < 4 && p; p = q) {
		q = strchr(p, '|');
		if (q)
			*q++ = 0;
		f[nf++] = p;
		if (!q)
			break;
	}
	if (nf == 3 && strcmp(f[0], "s") == 0) {
		k->kind = K_SERVER;
		return addr_parse(f[1], &k->ipver, k->srv) && port_parse(f[2], &k->port);
	}
	if (nf == 3 && strcmp(f[0], "n") == 0) {
		size_t l = strlen(f[1]);
		if (l == 0 || l >= SW_NAME_MAX)
			return false;
		memcpy(k->name, f[1], l);
		k->kind = K_NAME;
		return port_parse(f[2], &k->port);
	}
	if (nf == 4 && strcmp(f[0], "c") == 0) {
		uint8_t v1, v2;
		k->kind = K_CLIENT;
		if (!addr_parse(f[1], &v1, k->cli) || !addr_parse(f[2], &v2, k->srv) || v1 != v2)
			return false;
		k->ipver = v1;
		return port_parse(f[3], &k->port);
	}
	return false;
}

static void fps_text(const struct hrec *r, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = 0;
	for (int i = 0; i < SW_HIST_FPS; i++) {
		const struct fpslot *s = &r->fps[i];
		if (!s->count)
			continue;
		int k = snprintf(buf + o, n - o, "%s%u/%u/%u/%u/%u/%u/%" PRIx64 ":%u", o ? ";" : "",
				 s->fp.ttl0, s->fp.hops, s->fp.win, s->fp.mss, s->fp.wscale, s->fp.cli_opts,
				 s->fp.opts, s->count);
		if (k < 0 || (size_t)k >= n - o)
			break;
		o += (size_t)k;
	}
}

static void fps_parse(struct hrec *r, const char *s)
{
	int i = 0;
	while (s && *s && i < SW_HIST_FPS) {
		unsigned t0, hops, win, mss, ws, co, cnt;
		uint64_t opts;
		int used = 0;
		if (sscanf(s, "%u/%u/%u/%u/%u/%u/%" SCNx64 ":%u%n", &t0, &hops, &win, &mss, &ws, &co,
			   &opts, &cnt, &used) != 8)
			return;
		if ((t0 == 32 || t0 == 64 || t0 == 128 || t0 == 255) && hops <= t0 && win <= 65535 &&
		    mss <= 65535 && ws <= 255 && co <= 15) {
			struct fpslot *sl = &r->fps[i++];
			sl->fp.ttl0 = (uint8_t)t0;
			sl->fp.hops = (uint8_t)hops;
			sl->fp.win = (uint16_t)win;
			sl->fp.mss = (uint16_t)mss;
			sl->fp.wscale = (uint8_t)ws;
			sl->fp.cli_opts = (uint8_t)co;
			sl->fp.opts = opts;
			sl->count = cnt;
		}
		s += used;
		if (*s != ';')
			return;
		s++;
	}
}

static void ciphers_text(const struct hrec *r, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < r->n_ciphers && o + 6 < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s%04x", i ? "," : "", r->ciphers[i]);
}

static void ciphers_parse(struct hrec *r, const char *s)
{
	while (s && *s && r->n_ciphers < SW_HIST_CIPHERS) {
		char *end;
		unsigned long v = strtoul(s, &end, 16);
		if (end == s || v > 0xffff)
			return;
		r->ciphers[r->n_ciphers++] = (uint16_t)v;
		s = *end == ',' ? end + 1 : end;
		if (*end != ',')
			return;
	}
}

/* ---- SQLite ---------------------------------------------------------------------- */

static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS peer ("
	" key TEXT PRIMARY KEY,"       /* s|ADDR|PORT, n|NAME|PORT, c|CLIENT|SERVER|PORT */
	" kind TEXT NOT NULL,"         /* server, name, client */
	" server TEXT, port INTEGER, name TEXT, client TEXT,"
	" first_seen INTEGER, last_seen INTEGER,"  /* Unix seconds, packet time */
	" sessions INTEGER, cap_sessions INTEGER, hits INTEGER, stripped INTEGER,"
	" win INTEGER, win_n INTEGER,"
	" tls_sessions INTEGER, max_version INTEGER, hi_win INTEGER, hi_n INTEGER,"
	" versions INTEGER, ciphers TEXT, fps TEXT"
	") WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS peer_last_seen ON peer(last_seen);";

#define COLS "key, kind, server, port, name, client, first_seen, last_seen, sessions, cap_sessions, " \
	     "hits, stripped, win, win_n, tls_sessions, max_version, hi_win, hi_n, versions, ciphers, fps"

static int db_err(struct sw_history *h, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s: %s", h->path, what, h->db ? sqlite3_errmsg(h->db) : "cannot open");
	return -1;
}

static int64_t col64(sqlite3_stmt *st, int i) { return sqlite3_column_int64(st, i); }

static uint32_t col32(sqlite3_stmt *st, int i)
{
	int64_t v = sqlite3_column_int64(st, i);
	return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static int load(struct sw_history *h, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h->db, "SELECT " COLS " FROM peer ORDER BY last_seen DESC LIMIT ?", -1, &st,
			       NULL) != SQLITE_OK)
		return db_err(h, err, errlen, "read");
	sqlite3_bind_int64(st, 1, h->o.max_rows);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct hkey k;
		if (!key_parse((const char *)sqlite3_column_text(st, 0), &k) || find(h, &k)) {
			h->bad_rows++;
			continue;
		}
		struct hrec *r = get(h, &k, col64(st, 7));
		if (!r)
			break;
		const char *name = (const char *)sqlite3_column_text(st, 4);
		if (name && k.kind == K_SERVER)
			snprintf(r->name, sizeof r->name, "%s", name);
		r->first_seen = col64(st, 6);
		r->last_seen = col64(st, 7);
		r->sessions = col32(st, 8);
		r->cap_sessions = col32(st, 9);
		r->hits = col32(st, 10);
		r->stripped = col32(st, 11);
		r->win = col32(st, 12);
		r->win_n = (uint8_t)SW_MIN(col32(st, 13), (uint32_t)SW_HIST_WINDOW);
		r->tls_sessions = col32(st, 14);
		r->max_version = (uint16_t)SW_MIN(col32(st, 15), 0xffffu);
		r->hi_win = col32(st, 16);
		r->hi_n = (uint8_t)SW_MIN(col32(st, 17), (uint32_t)SW_HIST_WINDOW);
		r->versions = (uint8_t)col32(st, 18);
		ciphers_parse(r, (const char *)sqlite3_column_text(st, 19));
		fps_parse(r, (const char *)sqlite3_column_text(st, 20));
		if (r->last_seen > h->newest)
			h->newest = r->last_seen;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_err(h, err, errlen, "read");
	return 0;
}

static int exec(struct sw_history *h, const char *sql, char *err, size_t errlen)
{
	if (sqlite3_exec(h->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(h, err, errlen, sql);
	return 0;
}

static int mkdir_p(const char *dir)
{
	char p[4096];
	if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = 0;
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			return -1;
		*c = '/';
	}
	if (mkdir(p, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int open_db(struct sw_history *h, const char *dir, bool rw, char *err, size_t errlen)
{
	if ((size_t)snprintf(h->path, sizeof h->path, "%s/history.db", dir) >= sizeof h->path) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if (rw && mkdir_p(dir) != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	int flags = rw ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
	if (sqlite3_open_v2(h->path, &h->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return db_err(h, err, errlen, "open");
	sqlite3_busy_timeout(h->db, 5000);
	if (rw && (exec(h, "PRAGMA journal_mode=WAL", err, errlen) != 0 ||
		   exec(h, "PRAGMA synchronous=NORMAL", err, errlen) != 0 ||
		   exec(h, SCHEMA, err, errlen) != 0))
		return -1;
	/* A file that is not a sound database is refused, never half-used. */
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h->db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK)
		return db_err(h, err, errlen, "check");
	int rc = sqlite3_step(st);
	bool ok = rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
	sqlite3_finalize(st);
	if (!ok) {
		snprintf(err, errlen, "%s: the store is damaged (quick_check failed); move it away", h->path);
		return -1;
	}
	return 0;
}

struct sw_history *sw_history_open(const struct sw_history_opts *o, char *err, size_t errlen)
{
	struct sw_history *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&h->lock, NULL);
	h->o = *o;
	if (h->o.threshold == 0)
		h->o.threshold = 1;
	if (h->o.max_rows < 16)
		h->o.max_rows = 16;
	h->cap = h->o.max_rows;
	uint32_t nb = 64;
	while (nb < h->cap && nb < (1u << 26))
		nb <<= 1;
	h->mask = nb - 1;
	h->recs = calloc(h->cap, sizeof(*h->recs));
	h->buckets = malloc((size_t)nb * sizeof(*h->buckets));
	h->dirty_list = malloc((size_t)h->cap * sizeof(*h->dirty_list));
	h->gone_cap = h->cap / 8 + 16;
	h->gone = malloc((size_t)h->gone_cap * sizeof(*h->gone));
	if (!h->recs || !h->buckets || !h->dirty_list || !h->gone) {
		snprintf(err, errlen, "out of memory");
		sw_history_close(h);
		return NULL;
	}
	for (uint32_t i = 0; i < nb; i++)
		h->buckets[i] = -1;
	for (uint32_t i = 0; i < h->cap; i++)
		h->recs[i].next = i + 1 < h->cap ? (int32_t)(i + 1) : -1;
	h->free_head = 0;
	if (!o->dir || open_db(h, o->dir, true, err, errlen) != 0 || load(h, err, errlen) != 0) {
		if (!o->dir)
			snprintf(err, errlen, "no state directory");
		sqlite3_close(h->db);
		h->db = NULL;
		free(h->recs);
		free(h->buckets);
		free(h->dirty_list);
		free(h->gone);
		pthread_mutex_destroy(&h->lock);
		free(h);
		return NULL;
	}
	/* Rows loaded are in the file already. */
	for (uint32_t i = 0; i < h->cap; i++)
		h->recs[i].dirty = false;
	h->dirty = 0;
	h->n_dirty_list = 0;
	h->dirty_overflow = false;
	h->n_gone = 0;
	h->gone_overflow = false;
	return h;
}

static int put_row(struct sw_history *h, sqlite3_stmt *st, const struct hrec *r)
{
	static const char *const kinds[] = { "", "server", "name", "client" };
	char key[256], srv[INET6_ADDRSTRLEN] = "", cli[INET6_ADDRSTRLEN] = "", ciphers[80], fps[512];
	key_text(&r->k, key, sizeof key);
	if (r->k.kind != K_NAME)
		addr_text(r->k.ipver, r->k.srv, srv, sizeof srv);
	if (r->k.kind == K_CLIENT)
		addr_text(r->k.ipver, r->k.cli, cli, sizeof cli);
	ciphers_text(r, ciphers, sizeof ciphers);
	fps_text(r, fps, sizeof fps);
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, kinds[r->k.kind], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, srv, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, r->k.port);
	sqlite3_bind_text(st, 5, r->k.kind == K_NAME ? r->k.name : r->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, cli, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 7, r->first_seen);
	sqlite3_bind_int64(st, 8, r->last_seen);
	sqlite3_bind_int64(st, 9, r->sessions);
	sqlite3_bind_int64(st, 10, r->cap_sessions);
	sqlite3_bind_int64(st, 11, r->hits);
	sqlite3_bind_int64(st, 12, r->stripped);
	sqlite3_bind_int64(st, 13, r->win);
	sqlite3_bind_int64(st, 14, r->win_n);
	sqlite3_bind_int64(st, 15, r->tls_sessions);
	sqlite3_bind_int64(st, 16, r->max_version);
	sqlite3_bind_int64(st, 17, r->hi_win);
	sqlite3_bind_int64(st, 18, r->hi_n);
	sqlite3_bind_int64(st, 19, r->versions);
	sqlite3_bind_text(st, 20, ciphers, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 21, fps, -1, SQLITE_TRANSIENT);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

/* Drop rows not seen for max_age: a scan of the pool, at most once an hour of packet time. */
static void age_out(struct sw_history *h)
{
	int64_t max_age = (int64_t)(h->o.max_age_ns / NS);
	if (h->newest < h->next_age)
		return;
	h->next_age = h->newest + 3600;
	if (h->newest <= max_age)
		return;
	for (uint32_t i = 0; i < h->cap; i++)
		if (h->recs[i].used && h->recs[i].last_seen < h->newest - max_age)
			unlink_rec(h, (int32_t)i);
}

static int write_rows(struct sw_history *h, sqlite3_stmt *st)
{
	if (h->dirty_overflow) {
		for (uint32_t i = 0; i < h->cap; i++)
			if (h->recs[i].used && h->recs[i].dirty && put_row(h, st, &h->recs[i]) != 0)
				return -1;
		return 0;
	}
	for (uint32_t i = 0; i < h->n_dirty_list; i++) {
		struct hrec *r = &h->recs[h->dirty_list[i]];
		if (r->used && r->dirty && put_row(h, st, r) != 0)
			return -1;
	}
	return 0;
}

static int delete_gone(struct sw_history *h, sqlite3_stmt *del, sqlite3_stmt *old)
{
	if (h->gone_overflow) {
		/* Every dropped row is older than every kept one. */
		int64_t oldest = INT64_MAX;
		for (uint32_t i = 0; i < h->cap; i++)
			if (h->recs[i].used && h->recs[i].last_seen < oldest)
				oldest = h->recs[i].last_seen;
		sqlite3_bind_int64(old, 1, oldest);
		return sqlite3_step(old) == SQLITE_DONE ? 0 : -1;
	}
	for (uint32_t i = 0; i < h->n_gone; i++) {
		char key[256];
		key_text(&h->gone[i], key, sizeof key);
		sqlite3_reset(del);
		sqlite3_bind_text(del, 1, key, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(del) != SQLITE_DONE)
			return -1;
	}
	return 0;
}

static int flush_rows(struct sw_history *h, char *err, size_t errlen)
{
	if (!h->db)
		return 0;
	age_out(h);
	if (!h->dirty && !h->n_gone && !h->gone_overflow)
		return 0;
	if (exec(h, "BEGIN IMMEDIATE", err, errlen) != 0)
		return -1;
	sqlite3_stmt *st = NULL, *del = NULL, *old = NULL;
	if (sqlite3_prepare_v2(h->db, "INSERT OR REPLACE INTO peer (" COLS ") VALUES "
				      "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h->db, "DELETE FROM peer WHERE key = ?", -1, &del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h->db, "DELETE FROM peer WHERE last_seen < ?", -1, &old, NULL) != SQLITE_OK ||
	    write_rows(h, st) != 0 || delete_gone(h, del, old) != 0) {
		db_err(h, err, errlen, "write");
		sqlite3_finalize(st);
		sqlite3_finalize(del);
		sqlite3_finalize(old);
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	sqlite3_finalize(st);
	sqlite3_finalize(del);
	sqlite3_finalize(old);
	if (exec(h, "COMMIT", err, errlen) != 0) {
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (h->dirty_overflow) {
		for (uint32_t i = 0; i < h->cap; i++)
			h->recs[i].dirty = false;
	} else {
		for (uint32_t i = 0; i < h->n_dirty_list; i++)
			h->recs[h->dirty_list[i]].dirty = false;
	}
	h->dirty = 0;
	h->n_dirty_list = 0;
	h->dirty_overflow = false;
	h->n_gone = 0;
	h->gone_overflow = false;
	return 0;
}

/* ---- the public calls: one engine at a time ------------------------------------ */

enum sw_hist_verdict sw_history_offer_verdict(struct sw_history *h, const struct sw_hist_server *s,
					      char *detail, size_t n)
{
	pthread_mutex_lock(&h->lock);
	enum sw_hist_verdict v = offer_verdict(h, s, detail, n);
	pthread_mutex_unlock(&h->lock);
	return v;
}

enum sw_hist_verdict sw_history_version_verdict(struct sw_history *h, const struct sw_hist_server *s,
						uint16_t selected, char *detail, size_t n)
{
	pthread_mutex_lock(&h->lock);
	enum sw_hist_verdict v = version_verdict(h, s, selected, detail, n);
	pthread_mutex_unlock(&h->lock);
	return v;
}

enum sw_hist_verdict sw_history_client_verdict(struct sw_history *h, const struct sw_hist_server *s,
					       const uint8_t *client_ip, char *detail, size_t n)
{
	pthread_mutex_lock(&h->lock);
	enum sw_hist_verdict v = client_verdict(h, s, client_ip, detail, n);
	pthread_mutex_unlock(&h->lock);
	return v;
}

bool sw_history_path_changed(struct sw_history *h, const struct sw_hist_server *s,
			     const struct sw_path_fp *fp, char *detail, size_t n)
{
	pthread_mutex_lock(&h->lock);
	bool changed = path_changed(h, s, fp, detail, n);
	pthread_mutex_unlock(&h->lock);
	return changed;
}

void sw_history_observe(struct sw_history *h, const struct sw_hist_session *ss)
{
	pthread_mutex_lock(&h->lock);
	observe(h, ss);
	pthread_mutex_unlock(&h->lock);
}

void sw_history_maybe_flush(struct sw_history *h, uint64_t now_ns)
{
	pthread_mutex_lock(&h->lock);
	maybe_flush(h, now_ns);
	pthread_mutex_unlock(&h->lock);
}

int sw_history_flush(struct sw_history *h, char *err, size_t errlen)
{
	if (!h)
		return 0;
	pthread_mutex_lock(&h->lock);
	int rc = flush_rows(h, err, errlen);
	pthread_mutex_unlock(&h->lock);
	return rc;
}

void sw_history_close(struct sw_history *h)
{
	if (!h)
		return;
	char err[512];
	if (h->dirty && flush_rows(h, err, sizeof err) != 0)
		fprintf(stderr, "stripwatch: history: %s\n", err);
	sqlite3_close(h->db);
	pthread_mutex_destroy(&h->lock);
	free(h->recs);
	free(h->buckets);
	free(h->dirty_list);
	free(h->gone);
	free(h);
}

/* ---- `stripwatch history` ------------------------------------------------------- */

static void versions_text(unsigned set, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < SW_ARRAY_LEN(vbit_name); i++)
		if (set & (1u << i)) {
			int k = snprintf(buf + o, n - o, "%s%s", o ? "," : "", vbit_name[i]);
			if (k < 0 || (size_t)k >= n - o)
				break;
			o += (size_t)k;
		}
	if (!o)
		snprintf(buf, n, "-");
}

static void when_text(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (t <= 0 || !gmtime_r(&tt, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(buf, n, "-");
}

int sw_history_print(const char *dir, FILE *out, char *err, size_t errlen)
{
	struct sw_history h0;
	memset(&h0, 0, sizeof h0);
	struct stat sb;
	char p[4200];
	snprintf(p, sizeof p, "%s/history.db", dir);
	if (stat(p, &sb) != 0) {
		snprintf(err, errlen, "%s: %s", p, strerror(errno));
		return -1;
	}
	if (open_db(&h0, dir, false, err, errlen) != 0) {
		sqlite3_close(h0.db);
		return -1;
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h0.db,
			       "SELECT kind, server, port, name, client, sessions, cap_sessions, hits, "
			       "versions, ciphers, last_seen, stripped, fps FROM peer "
			       "ORDER BY kind DESC, server, port, name, client", -1, &st, NULL) != SQLITE_OK) {
		db_err(&h0, err, errlen, "read");
		sqlite3_close(h0.db);
		return -1;
	}
	fprintf(out, "%-6s %-26s %-24s %8s %9s %-12s %-16s %s\n", "kind", "server", "name", "sessions",
		"starttls", "versions", "last seen", "ciphers");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(st, 0);
		const char *srv = (const char *)sqlite3_column_text(st, 1);
		const char *name = (const char *)sqlite3_column_text(st, 3);
		const char *cli = (const char *)sqlite3_column_text(st, 4);
		int port = sqlite3_column_int(st, 2);
		uint32_t caps = col32(st, 6), hits = col32(st, 7);
		char where[80], pct[16], vers[40], when[24], ciphers[400] = "";
		kind = kind ? kind : "?";
		if (strcmp(kind, "name") == 0)
			snprintf(where, sizeof where, "-:%d", port);
		else if (srv && strchr(srv, ':'))
			snprintf(where, sizeof where, "[%s]:%d", srv, port);
		else
			snprintf(where, sizeof where, "%s:%d", srv ? srv : "?", port);
		if (caps)
			snprintf(pct, sizeof pct, "%u%%", (unsigned)((uint64_t)hits * 100 / caps));
		else
			snprintf(pct, sizeof pct, "-");
		versions_text(col32(st, 8), vers, sizeof vers);
		when_text(col64(st, 10), when, sizeof when);
		const char *cs = (const char *)sqlite3_column_text(st, 9);
		size_t o = 0;
		for (const char *c = cs; c && *c && o + 48 < sizeof ciphers;) {
			char *end;
			unsigned long v = strtoul(c, &end, 16);
			if (end == c || v > 0xffff)
				break;
			char nb[8];
			o += (size_t)snprintf(ciphers + o, sizeof ciphers - o, "%s%s", o ? "," : "",
					      sw_tls_cipher_name((uint16_t)v, nb));
			c = *end == ',' ? end + 1 : end;
			if (*end != ',')
				break;
		}
		if (strcmp(kind, "client") == 0) {
			fprintf(out, "%-6s %-26s %-24.24s %8u %9s %-12s %-16s used STARTTLS in %u of %u\n", kind,
				where, cli ? cli : "", caps, pct, "-", when, hits, caps);
			continue;
		}
		fprintf(out, "%-6s %-26s %-24.24s %8u %9s %-12s %-16s %s", kind, where,
			name && *name ? name : "-", col32(st, 5), pct, vers, when, o ? ciphers : "-");
		if (col32(st, 11))
			fprintf(out, " (stripped %u)", col32(st, 11));
		fputc('\n', out);
	}
	sqlite3_finalize(st);
	sqlite3_close(h0.db);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: read failed", p);
		return -1;
	}
	return 0;
}
