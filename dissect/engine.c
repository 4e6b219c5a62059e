/*
 * engine.c - the flow table and the per-packet path of dissect/.
 *
 * Invariants:
 *  - Flows live in an open-addressing table of 8-byte slots {32-bit hash,
 *    pool index + 1} (linear probing, backward-shift deletion so there are
 *    no tombstones; power-of-two size, doubled while the live flows pass
 *    half of it, up to what the cap needs; seeded symmetric hash, so both
 *    directions probe from one slot).  A lookup reads slots and visits a
 *    flow only when its hash matches.  Flows are also on one of
 *    three LRU lists ordered by last packet time: CLOSED (ended, kept a few
 *    seconds so late segments do not start a new flow), EMBRYO (no payload
 *    yet) and ACTIVE.  Idle flows are expired from the list heads by packet
 *    time; when the table is full the oldest CLOSED flow, else the oldest
 *    EMBRYO one, else the oldest ACTIVE one is evicted.  Every eviction is
 *    counted, and evicting a flow that had not ended is a cap hit.
 *  - A bare SYN (no ACK, FIN, RST or payload) of an unknown 4-tuple goes to
 *    the SYN table (syntab.h), not to the flow table: a SYN flood costs one
 *    fixed-size table and never evicts a flow that spoke.  Its first other
 *    packet (SYN-ACK, ACK, RST, payload, a SYN from the other side, a
 *    fourth SYN) promotes it into the flow table with everything the SYN
 *    taught (ISN, options, first time, packet count), so a promoted flow is
 *    the flow the table would have held.  A 4-tuple is in one table at most.
 *    The SYN table takes max_flows / 16 of the cap (a power of two, 8 to
 *    32768 entries), the flow table the rest: max_flows still bounds the
 *    connections tracked, and the stats count both tables as flows
 *    (created, active, peak; a SYN-table entry pushed out of a full set is
 *    evicted_cap and a cap hit like an EMBRYO flow; one found stale is
 *    timed_out, as the EMBRYO list's expiry would have counted it).
 *  - struct sw_flow comes from a pool grown in 64-byte aligned chunks and is
 *    named by its index (the chunk table turns it into an address); the
 *    LRU links are indexes too.  Nothing is allocated per packet: struct
 *    sw_app once per mail/TLS flow, its cold part (struct sw_app_cold) at
 *    most once more, when first needed.
 *  - struct sw_flow_info is completed from the flow and its sw_app for each
 *    finding and flow event: in the flow's cold part when it has one, else
 *    in one engine-wide view.
 *  - The reassembly consumer (deliver) never stops a stream itself: it sets
 *    stop_req, acted on after the segment is done.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "classify.h"
#include "flow.h"
#include "history.h"
#include "policy.h"
#include "syntab.h"

enum { LIST_CLOSED = 0, LIST_EMBRYO = 1, LIST_ACTIVE = 2, LIST__COUNT };

#define POOL_SHIFT 12
#define POOL_CHUNK (1u << POOL_SHIFT)
#define NIL UINT32_MAX              /* no flow: end of an LRU or free list */
/*
 * Freed cold parts kept for the next flows: a cold part is over malloc's
 * per-thread cache size, and each one from malloc's bins cost ~400
 * instructions a flow.  Held bytes, counted in the engine's memory, and
 * freed at sw_engine_flush().
 */
#define COLD_KEEP 64

_Static_assert(sizeof(struct sw_flow) == 128, "struct sw_flow is two cache lines");
_Static_assert(offsetof(struct sw_flow, app) == 64, "the per-packet fields fill the first line");
/* A mail/TLS flow that only showed a banner costs sw_app alone: keep it small. */
_Static_assert(sizeof(struct sw_app) <= 512, "struct sw_app stays within 512 bytes");

/* A table slot: idx 0 is empty, else the flow's pool index + 1. */
struct slot {
	uint32_t hash;
	uint32_t idx;
};

struct lru {
	uint32_t head, tail;
};

struct sw_engine {
	struct sw_dissect_config cfg;
	struct sw_sink sink;
	uint64_t seed;
	struct slot *slots;
	uint32_t max_slots;           /* the size the cap needs; growth stops there */
	uint32_t flow_cap;            /* flows in the flow table: max_flows less the SYN table */
	struct sw_syntab syn;         /* bare SYNs of unknown 4-tuples */
	uint64_t expire_now;          /* the time expire() last ran to */
	uint32_t mask;
	uint32_t n_flows;
	uint32_t free_list;           /* pool index, NIL when empty */
	struct sw_flow **chunks;      /* chunk table: pool index >> POOL_SHIFT */
	uint32_t n_chunks;
	uint32_t pool_size;
	struct lru lists[LIST__COUNT];
	struct sw_reasm_caps caps;
	struct sw_reasm_counters cnt;
	int64_t mem;                  /* bytes held in sw_app and buffers */
	uint64_t last_ts;
	struct sw_dissect_stats st;
	struct sw_memo *memo;
	struct sw_classifier *cls;    /* created on the first flow on an unknown port */
	struct sw_policy *policy;     /* owned by the caller; swapped between packets */
	struct sw_history *hist;      /* owned by the caller */
	struct sw_flow_info view;     /* the summary of a flow without a cold part (fill_info) */
	struct sw_app_cold *cold_free; /* cold parts kept for reuse, at most COLD_KEEP */
	uint32_t n_cold_free;
};

void sw_dissect_config_default(struct sw_dissect_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_flows = 1u << 19;
	cfg->idle_timeout_ns = 600ull * 1000000000ull;
	cfg->syn_timeout_ns = 30ull * 1000000000ull;
	cfg->closed_timeout_ns = 5ull * 1000000000ull;
	cfg->stream_buf_max = 16384;
	cfg->ooo_max_bytes = 65536;
	cfg->ooo_max_segments = 64;
	cfg->line_max = 4096;
	cfg->server_memory_max = 1u << 16;
	cfg->tls_floor = 0x0303;
	cfg->use_ndpi = true;
	cfg->flow_events = true;
	cfg->seed = 0;
}

const struct sw_dissect_config *sw_engine_config(const struct sw_engine *e) { return &e->cfg; }
struct sw_memo *sw_engine_memo(struct sw_engine *e) { return e->memo; }
const struct sw_policy *sw_engine_policy(const struct sw_engine *e) { return e->policy; }
struct sw_history *sw_engine_history(struct sw_engine *e) { return e->hist; }

struct sw_policy *sw_engine_set_policy(struct sw_engine *e, struct sw_policy *p)
{
	struct sw_policy *old = e->policy;
	e->policy = p;
	return old;
}

void sw_engine_set_history(struct sw_engine *e, struct sw_history *h) { e->hist = h; }

void sw_count_anomaly(struct sw_engine *e, enum sw_anomaly a)
{
	if ((unsigned)a < SW_AN__COUNT)
		e->st.anomalies[a]++;
}

/* ---- hashing -------------------------------------------------------------- */

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t endpoint_hash(uint64_t seed, const uint8_t ip[16], uint16_t port)
{
	return mix64(seed ^ load64(ip) ^ (load64(ip + 8) * 0x9e3779b97f4a7c15ull) ^
		     ((uint64_t)port << 48));
}

/* Symmetric: the sum of the two endpoint hashes does not depend on direction. */
static inline uint32_t flow_hash(const struct sw_engine *e, const struct sw_packet *p)
{
	uint64_t h = endpoint_hash(e->seed, p->src, p->sport) + endpoint_hash(e->seed, p->dst, p->dport);
	return (uint32_t)mix64(h ^ p->ip_version);
}

/* ---- pool ----------------------------------------------------------------- */

static inline struct sw_flow *flow_at(const struct sw_engine *e, uint32_t i)
{
	return &e->chunks[i >> POOL_SHIFT][i & (POOL_CHUNK - 1)];
}

static void mem_add(struct sw_engine *e, int64_t n)
{
	e->mem += n;
	if (e->mem > 0 && (uint64_t)e->mem > e->st.mem_peak)
		e->st.mem_peak = (uint64_t)e->mem;
}

/* A cleared flow from the pool; its index in *idx.  NULL when the cap or memory is out. */
static struct sw_flow *flow_alloc(struct sw_engine *e, uint32_t *idx)
{
	if (e->free_list == NIL) {
		if (e->pool_size >= e->flow_cap)
			return NULL;
		uint32_t n = SW_MIN(POOL_CHUNK, e->flow_cap - e->pool_size);
		size_t sz = (size_t)n * sizeof(struct sw_flow);
		struct sw_flow *c = aligned_alloc(64, sz);
		if (!c)
			return NULL;
		mem_add(e, (int64_t)sz);
		uint32_t base = e->pool_size;
		e->chunks[base >> POOL_SHIFT] = c;
		e->n_chunks++;
		for (uint32_t i = n; i-- > 0;) {
			c[i].lnext = e->free_list;
			e->free_list = base + i;
		}
		e->pool_size += n;
	}
	uint32_t i = e->free_list;
	struct sw_flow *f = flow_at(e, i);
	e->free_list = f->lnext;
	memset(f, 0, sizeof(*f));
	*idx = i;
	return f;
}

/* ---- LRU lists ------------------------------------------------------------ */

static void lru_unlink(struct sw_engine *e, struct sw_flow *f, uint32_t i)
{
	struct lru *l = &e->lists[f->list];
	(void)i;
	if (f->lprev != NIL)
		flow_at(e, f->lprev)->lnext = f->lnext;
	else
		l->head = f->lnext;
	if (f->lnext != NIL)
		flow_at(e, f->lnext)->lprev = f->lprev;
	else
		l->tail = f->lprev;
	f->lprev = f->lnext = NIL;
}

static void lru_append(struct sw_engine *e, struct sw_flow *f, uint32_t i, uint8_t list)
{
	struct lru *l = &e->lists[list];
	f->list = list & 3;
	f->lnext = NIL;
	f->lprev = l->tail;
	if (l->tail != NIL)
		flow_at(e, l->tail)->lnext = i;
	else
		l->head = i;
	l->tail = i;
}

static inline void lru_touch(struct sw_engine *e, struct sw_flow *f, uint32_t i, uint8_t list)
{
	if (f->list == list && e->lists[list].tail == i)
		return;
	lru_unlink(e, f, i);
	lru_append(e, f, i, list);
}

/* ---- table ---------------------------------------------------------------- */

static inline bool same_ip(const uint8_t *a, const uint8_t *b) { return memcmp(a, b, 16) == 0; }

/* The hash of a flow, from its own endpoints: equal to flow_hash() of its packets. */
static inline uint32_t flow_rehash(const struct sw_engine *e, const struct sw_flow *f)
{
	uint64_t h = endpoint_hash(e->seed, f->cli, f->cport) + endpoint_hash(e->seed, f->srv, f->sport);
	return (uint32_t)mix64(h ^ f->ip_version);
}

/* Find the flow of p; *dir is 0 when p goes client->server, *idx its pool index. */
static struct sw_flow *lookup(struct sw_engine *e, uint32_t h, const struct sw_packet *p, int *dir,
			      uint32_t *idx)
{
	for (uint32_t s = h & e->mask;; s = (s + 1) & e->mask) {
		struct slot sl = e->slots[s];
		if (sl.idx == 0)
			return NULL;
		if (sl.hash != h)
			continue;
		struct sw_flow *f = flow_at(e, sl.idx - 1);
		if (f->ip_version != p->ip_version)
			continue;
		if (f->cport == p->sport && f->sport == p->dport &&
		    same_ip(f->cli, p->src) && same_ip(f->srv, p->dst)) {
			*dir = 0;
			*idx = sl.idx - 1;
			return f;
		}
		if (f->cport == p->dport && f->sport == p->sport &&
		    same_ip(f->cli, p->dst) && same_ip(f->srv, p->src)) {
			*dir = 1;
			*idx = sl.idx - 1;
			return f;
		}
	}
}

/* ---- prefetch (sw_dissect.h): hints for packets read ahead ---------------- */

#define PREFETCH_PROBES 4 /* slots scanned for a match; a longer run is left cold */

uint32_t sw_engine_flow_hash(const struct sw_engine *e, const struct sw_packet *p)
{
	return flow_hash(e, p);
}

/*
 * The first flow whose slot hash is h, or NULL.  Reads only the current
 * slot array under the current mask and pool indexes below pool_size, so a
 * table changed since the hash was taken gives at worst a useless address.
 */
static inline const struct sw_flow *prefetch_match(const struct sw_engine *e, uint32_t h)
{
	uint32_t m = e->mask;
	uint32_t s = h & m;

	for (int n = 0; n < PREFETCH_PROBES; n++, s = (s + 1) & m) {
		struct slot sl = e->slots[s];
		if (sl.idx == 0)
			return NULL;
		if (sl.hash == h && sl.idx - 1 < e->pool_size)
			return flow_at(e, sl.idx - 1);
	}
	return NULL;
}

void sw_engine_prefetch(const struct sw_engine *e, const uint32_t *hash, unsigned n)
{
	const struct sw_flow *f;

	if (n == 0)
		return;
	__builtin_prefetch(&e->slots[hash[n - 1] & e->mask]);
	if (n < 2)
		return;
	/* Its slot was prefetched by the call before: both of the flow's
	 * lines, or, for no flow, the SYN entry a bare SYN would write (under a
	 * flood, an old entry to evict: a miss on every SYN; the sets, 256 KiB,
	 * stay in L2). */
	if ((f = prefetch_match(e, hash[n - 2])) != NULL) {
		__builtin_prefetch(f);
		__builtin_prefetch((const char *)f + 64);
	} else {
		sw_syntab_prefetch_entry(&e->syn, hash[n - 2]);
	}
}

/* Put pool index i with hash h in the first free slot of its probe sequence. */
static void slot_insert(struct slot *slots, uint32_t mask, uint32_t h, uint32_t i)
{
	uint32_t s = h & mask;
	while (slots[s].idx != 0)
		s = (s + 1) & mask;
	slots[s].hash = h;
	slots[s].idx = i + 1;
}

/*
 * Empty slot s and shift back the entries after it that probed past it
 * (Knuth 6.4, algorithm R), so no probe sequence is left broken.
 */
static void slot_delete(struct sw_engine *e, uint32_t s)
{
	uint32_t m = e->mask;
	for (uint32_t j = (s + 1) & m; e->slots[j].idx != 0; j = (j + 1) & m) {
		uint32_t home = e->slots[j].hash & m;
		/* Move j back to s unless its home lies cyclically in (s, j]. */
		bool stays = s <= j ? (s < home && home <= j) : (s < home || home <= j);
		if (!stays) {
			e->slots[s] = e->slots[j];
			s = j;
		}
	}
	e->slots[s].idx = 0;
	e->slots[s].hash = 0;
}

static void table_remove(struct sw_engine *e, struct sw_flow *f, uint32_t i)
{
	uint32_t h = flow_rehash(e, f);
	for (uint32_t s = h & e->mask;; s = (s + 1) & e->mask) {
		if (e->slots[s].idx == 0)
			break; /* not in the table: cannot happen */
		if (e->slots[s].idx == i + 1) {
			slot_delete(e, s);
			break;
		}
	}
	lru_unlink(e, f, i);
	e->n_flows--;
	e->st.flows_active = (uint64_t)e->n_flows + e->syn.n;
	f->lnext = e->free_list;
	e->free_list = i;
}

/* Ports whose server side we know: they fix the client when no SYN was seen. */
static bool server_port(uint16_t port)
{
	switch (port) {
	case 25: case 465: case 587: case 2525:
	case 110: case 995: case 143: case 993:
	case 443:
		return true;
	default:
		return false;
	}
}

static struct sw_flow *flow_create(struct sw_engine *e, uint32_t h, const struct sw_packet *p, int *dir,
				   uint32_t *idx);
static void flow_end(struct sw_engine *e, struct sw_flow *f, uint64_t ts, int why);

enum { END_FIN, END_RST, END_TIMEOUT, END_EVICTED, END_FLUSH };

static bool evict_one(struct sw_engine *e, uint64_t ts)
{
	uint32_t i = NIL;
	for (int l = 0; l < LIST__COUNT && i == NIL; l++)
		i = e->lists[l].head;
	if (i == NIL)
		return false;
	struct sw_flow *f = flow_at(e, i);
	e->st.flows_evicted_cap++;
	/* A flow that had not ended may have been a session about to speak. */
	if (!f->closed)
		e->st.caps_hit++;
	flow_end(e, f, ts, END_EVICTED);
	table_remove(e, f, i);
	return true;
}

/*
 * Double the slot array (live flows above half of it): once per doubling
 * of the live flows, never per packet; the slots carry their hashes, so no
 * flow is read.  On allocation failure the table stays as it is and
 * flow_create() refuses flows once it is full.
 */
static void grow_slots(struct sw_engine *e)
{
	uint32_t nb = (e->mask + 1) * 2;
	struct slot *b = calloc(nb, sizeof(*b));
	if (!b)
		return;
	for (uint32_t s = 0; s <= e->mask; s++)
		if (e->slots[s].idx != 0)
			slot_insert(b, nb - 1, e->slots[s].hash, e->slots[s].idx - 1);
	mem_add(e, -(int64_t)((e->mask + 1) * sizeof(*b)));
	free(e->slots);
	e->slots = b;
	e->mask = nb - 1;
	mem_add(e, (int64_t)(nb * sizeof(*b)));
}

/* Flows tracked in both tables: the stats' active and peak. */
static void count_active(struct sw_engine *e)
{
	e->st.flows_active = (uint64_t)e->n_flows + e->syn.n;
	if (e->st.flows_active > e->st.flows_peak)
		e->st.flows_peak = e->st.flows_active;
}

/*
 * A cleared flow in the table under hash h, on the EMBRYO list (the caller
 * fills its endpoints before the next lookup); evicts one when the table is
 * full.  NULL when no flow can be had.
 */
static struct sw_flow *flow_new(struct sw_engine *e, uint32_t h, uint64_t ts, uint32_t *idx)
{
	if (e->n_flows >= e->flow_cap && !evict_one(e, ts))
		return NULL;
	if (e->n_flows >= e->mask / 2 + 1 && e->mask + 1 < e->max_slots)
		grow_slots(e);
	if (e->n_flows >= e->mask)
		return NULL; /* the slot array could not grow: keep one slot empty */
	uint32_t i;
	struct sw_flow *f = flow_alloc(e, &i);
	if (!f)
		return NULL;
	f->lprev = f->lnext = NIL;
	slot_insert(e->slots, e->mask, h, i);
	lru_append(e, f, i, LIST_EMBRYO);
	*idx = i;
	e->n_flows++;
	return f;
}

static struct sw_flow *flow_create(struct sw_engine *e, uint32_t h, const struct sw_packet *p, int *dir,
				   uint32_t *idx)
{
	struct sw_flow *f = flow_new(e, h, p->ts_ns, idx);
	if (!f)
		return NULL;
	/* Client = SYN sender; SYN-ACK sender is the server; else a known server port. */
	bool src_is_client;
	if ((p->tcp_flags & (SW_TH_SYN | SW_TH_ACK)) == SW_TH_SYN)
		src_is_client = true;
	else if ((p->tcp_flags & (SW_TH_SYN | SW_TH_ACK)) == (SW_TH_SYN | SW_TH_ACK))
		src_is_client = false;
	else if (server_port(p->dport) && !server_port(p->sport))
		src_is_client = true;
	else if (server_port(p->sport) && !server_port(p->dport))
		src_is_client = false;
	else
		src_is_client = p->sport >= p->dport; /* ephemeral ports are high: provisional */
	f->client_known = (p->tcp_flags & SW_TH_SYN) || server_port(p->dport) || server_port(p->sport);
	f->ip_version = p->ip_version;
	if (src_is_client) {
		memcpy(f->cli, p->src, 16);
		memcpy(f->srv, p->dst, 16);
		f->cport = p->sport;
		f->sport = p->dport;
		*dir = 0;
	} else {
		memcpy(f->cli, p->dst, 16);
		memcpy(f->srv, p->src, 16);
		f->cport = p->dport;
		f->sport = p->sport;
		*dir = 1;
	}
	f->first_ts = f->last_ts = p->ts_ns;
	f->file_no = p->file_no;
	e->st.flows_created++;
	count_active(e);
	return f;
}

/* ---- the SYN table ---------------------------------------------------------- */

/* A connection's opening SYN and nothing else (RFC 9293 3.5). */
static inline bool bare_syn(const struct sw_packet *p)
{
	return (p->tcp_flags & (SW_TH_SYN | SW_TH_ACK | SW_TH_FIN | SW_TH_RST)) == SW_TH_SYN &&
	       p->payload_len == 0;
}

/*
 * Would expire() have ended this SYN-only flow (EMBRYO list) by now, the
 * time of the packet at hand?  Packet time, as expire() reads it: when
 * files of a run go back in time, nothing ends early.
 */
static inline bool syn_stale(const struct sw_engine *e, const struct sw_syn *s, uint64_t now)
{
	return s->last_ts + e->cfg.syn_timeout_ns < now;
}

/* Record a bare SYN of a 4-tuple no table knows; counts what it pushes out. */
static void syn_record(struct sw_engine *e, uint32_t h, const struct sw_packet *p)
{
	bool evicted;
	struct sw_syn *s = sw_syntab_claim(&e->syn, h, &evicted);
	if (evicted) {
		if (syn_stale(e, s, p->ts_ns)) {
			e->st.flows_timed_out++;
		} else {
			/* Like an EMBRYO flow: it may have been a session about to speak. */
			e->st.flows_evicted_cap++;
			e->st.caps_hit++;
		}
	}
	s->ip_version = p->ip_version;
	memcpy(s->cli, p->src, 16);
	memcpy(s->srv, p->dst, 16);
	s->cport = p->sport;
	s->sport = p->dport;
	s->isn = p->seq;
	s->syn_opts = sw_path_syn_set(p->opt_kinds, SW_MIN(p->n_opts, (uint8_t)SW_TCP_MAX_OPTS));
	s->first_ts = s->last_ts = p->ts_ns;
	s->file_no = p->file_no;
	s->pkts = 1;
	e->st.flows_created++;
	count_active(e);
}

/* The client sent its SYN again: what the flow table would have updated. */
static void syn_repeat(struct sw_engine *e, struct sw_syn *s, const struct sw_packet *p)
{
	s->last_ts = p->ts_ns;
	s->pkts++;
	s->isn = p->seq;
	s->syn_opts = sw_path_syn_set(p->opt_kinds, SW_MIN(p->n_opts, (uint8_t)SW_TCP_MAX_OPTS));
	sw_syntab_touch(&e->syn, s);
}

/* Move a SYN-table entry into the flow table, as the flow its SYNs made. */
static struct sw_flow *syn_promote(struct sw_engine *e, uint32_t h, struct sw_syn *s, uint64_t ts,
				   uint32_t *idx)
{
	struct sw_flow *f = flow_new(e, h, ts, idx);
	if (!f)
		return NULL;
	f->ip_version = s->ip_version & 15;
	f->client_known = true;
	memcpy(f->cli, s->cli, 16);
	memcpy(f->srv, s->srv, 16);
	f->cport = s->cport;
	f->sport = s->sport;
	f->first_ts = s->first_ts;
	f->last_ts = s->last_ts;
	f->file_no = s->file_no;
	f->pkts[0] = s->pkts;
	f->isn[0] = s->isn;
	f->isn_known = 1;
	f->syn_opts = s->syn_opts;
	sw_syntab_remove(&e->syn, s);
	count_active(e);
	return f;
}

/*
 * End every SYN-only flow (flush, live-mode expiry): each the EMBRYO list
 * would have expired by now is counted as timed out; with all == false
 * the others stay.
 */
static void syn_sweep(struct sw_engine *e, bool all)
{
	for (uint32_t i = 0; i < e->syn.cap && e->syn.n > 0; i++) {
		struct sw_syn *s = sw_syntab_at(&e->syn, i);
		if (!s)
			continue;
		bool stale = syn_stale(e, s, e->expire_now);
		if (stale)
			e->st.flows_timed_out++;
		if (stale || all)
			sw_syntab_remove(&e->syn, s);
	}
	e->st.flows_active = (uint64_t)e->n_flows + e->syn.n;
}

/* Swap the client and server sides of a flow whose orientation was a guess. */
static void flow_swap(struct sw_flow *f)
{
	uint8_t t[16];
	memcpy(t, f->cli, 16);
	memcpy(f->cli, f->srv, 16);
	memcpy(f->srv, t, 16);
	uint16_t tp = f->cport;
	f->cport = f->sport;
	f->sport = tp;
	uint32_t tp32 = f->pkts[0];
	f->pkts[0] = f->pkts[1];
	f->pkts[1] = tp32;
	uint64_t tv = f->bytes[0];
	f->bytes[0] = f->bytes[1];
	f->bytes[1] = tv;
	uint32_t ti = f->isn[0];
	f->isn[0] = f->isn[1];
	f->isn[1] = ti;
	f->isn_known = (uint8_t)(((f->isn_known & 1) << 1) | ((f->isn_known >> 1) & 1)) & 3;
	f->fin = (uint8_t)(((f->fin & 1) << 1) | ((f->fin >> 1) & 1)) & 3;
}

/* ---- memory accounting ---------------------------------------------------- */

static void sync_mem(struct sw_engine *e)
{
	if (e->mem > 0 && (uint64_t)e->mem > e->st.mem_peak)
		e->st.mem_peak = (uint64_t)e->mem;
}

/* ---- the reassembly consumer ---------------------------------------------- */

static void tls_cb(void *ctx, const struct sw_tls_event *ev);

struct tls_cb_ctx {
	struct sw_engine_ctx *x;
	int dir;
};

/* Feed TLS bytes of direction dir; returns bytes consumed. */
static uint32_t feed_tls(struct sw_engine_ctx *x, int dir, const uint8_t *p, uint32_t n)
{
	struct sw_app *a = x->f->app;
	struct tls_cb_ctx c = { x, dir };
	size_t k = sw_tls_dir_feed(&a->tls[dir], p, n, tls_cb, &c);
	if (sw_tls_dir_finished(&a->tls[dir])) {
		a->mode[dir] = SW_M_DONE;
		return n;
	}
	return (uint32_t)k;
}

static void tls_cb(void *ctx, const struct sw_tls_event *ev)
{
	struct tls_cb_ctx *c = ctx;
	sw_detect_tls_event(c->x, c->dir, ev);
}

static bool mail_line(struct sw_engine_ctx *x, int dir, const uint8_t *line, uint32_t len)
{
	switch (x->f->app->proto) {
	case SW_APP_SMTP:
		return sw_smtp_line(x, dir, line, len);
	case SW_APP_IMAP:
		return sw_imap_line(x, dir, line, len);
	case SW_APP_POP3:
		return sw_pop3_line(x, dir, line, len);
	default:
		return true;
	}
}

/*
 * After a STARTTLS success, bytes of a direction either start TLS or are
 * plaintext: in the server direction before the client's TLS, that is
 * response injection; in the client direction, the upgrade did not happen.
 * Returns bytes consumed (0: need more to decide).
 */
static uint32_t await_tls(struct sw_engine_ctx *x, int dir, const uint8_t *p, uint32_t n)
{
	struct sw_app *a = x->f->app;
	if (n < 3)
		return 0;
	if (sw_tls_looks_like_record(p, n)) {
		a->mode[dir] = SW_M_TLS;
		if (dir == 0) {
			a->client_tls_started = true;
			a->upgraded = SW_YES;
			a->tls_seen = true;
		}
		return 0; /* the caller loops and feeds in TLS mode */
	}
	const uint8_t *nl = memchr(p, '\n', n);
	uint32_t len = nl ? (uint32_t)(nl - p) + 1 : n;
	if (!nl && n < x->e->cfg.line_max)
		return 0;
	uint8_t red[64];
	uint32_t shown_len = len;
	const uint8_t *shown = dir == 0 ? sw_mail_safe_line((enum sw_app_proto)a->proto, p, len, red, sizeof(red), &shown_len) : p;
	struct sw_evidence ev = { (uint8_t)dir, (uint16_t)SW_MIN(shown_len, SW_EVIDENCE_LINE_MAX), shown };
	if (dir == 1) {
		if (!a->client_tls_started)
			sw_raise(x, SW_F_STARTTLS_RESPONSE_INJECTION, 1, NULL, &ev, 1,
				 "plaintext from the server after the STARTTLS success reply");
		/* The server goes on in plaintext; keep reading its lines. */
		a->mode[1] = SW_M_LINE;
		return 0;
	}
	/* The client goes on in plaintext: the upgrade did not happen. */
	if (a->upgraded == SW_UNSEEN)
		a->upgraded = SW_NO;
	sw_raise(x, SW_F_STARTTLS_NOT_UPGRADED, 1, NULL, &ev, 1,
		 "the client continued in plaintext after the STARTTLS success reply");
	a->mode[0] = SW_M_LINE;
	if (a->mode[1] == SW_M_AWAIT_TLS)
		a->mode[1] = SW_M_LINE;
	a->starttls_accepted = false;
	return 0;
}

static uint32_t deliver(void *ctx, int dir, const uint8_t *p, uint32_t n, uint64_t off)
{
	struct sw_engine_ctx *x = ctx;
	struct sw_app *a = x->f->app;
	uint32_t used = 0;
	(void)off;

	while (used < n) {
		const uint8_t *q = p + used;
		uint32_t left = n - used;
		uint8_t mode = a->mode[dir];

		if (mode == SW_M_LINE && a->resync[dir]) {
			const uint8_t *nl = memchr(q, '\n', left);
			if (!nl)
				return n;
			a->resync[dir] = 0;
			used += (uint32_t)(nl - q) + 1;
			continue;
		}
		switch (mode) {
		case SW_M_LINE: {
			/* A client that sends TLS without waiting for the reply to STARTTLS. */
			if (dir == 0 && a->starttls_pending && left >= 3 && sw_tls_looks_like_record(q, left)) {
				a->mode[0] = SW_M_AWAIT_TLS;
				continue;
			}
			const uint8_t *nl = memchr(q, '\n', SW_MIN(left, x->e->cfg.line_max));
			uint32_t len;
			if (nl) {
				len = (uint32_t)(nl - q) + 1;
			} else if (left >= x->e->cfg.line_max) {
				/* An over-long line: parse its head, drop the rest. */
				sw_count_anomaly(x->e, SW_AN_LINE_TOO_LONG);
				len = x->e->cfg.line_max;
				if (!mail_line(x, dir, q, len))
					return used;
				used += len;
				a->resync[dir] = 1;
				continue;
			} else {
				return used; /* need the rest of the line */
			}
			if (!mail_line(x, dir, q, len))
				return used;
			used += len;
			break;
		}
		case SW_M_DATA:
			used += sw_smtp_data(x, q, left);
			break;
		case SW_M_AWAIT_TLS: {
			uint32_t k = await_tls(x, dir, q, left);
			if (k == 0 && a->mode[dir] == SW_M_AWAIT_TLS)
				return used; /* need more bytes to decide */
			used += k;
			break;
		}
		case SW_M_TLS: {
			uint32_t k = feed_tls(x, dir, q, left);
			if (k == 0 && a->mode[dir] == SW_M_TLS)
				return n;
			used += k;
			break;
		}
		case SW_M_DONE:
		default:
			a->stop_req[dir] = true;
			return n;
		}
	}
	return used;
}

static void gap(void *ctx, int dir, uint64_t off, uint64_t lost)
{
	struct sw_engine_ctx *x = ctx;
	struct sw_app *a = x->f->app;
	(void)off;
	(void)lost;
	a->state_gaps |= (uint8_t)(1u << dir);
	switch (a->mode[dir]) {
	case SW_M_LINE:
		a->resync[dir] = 1;
		/* Replies can no longer be paired with commands. */
		if (a->proto == SW_APP_SMTP) {
			a->u.smtp.q.len = 0;
			a->u.smtp.reply_open = false;
			a->u.smtp.auth_exchange = false;
		} else if (a->proto == SW_APP_IMAP) {
			/* A literal's count is lost with its bytes; tags still pair. */
			a->u.imap.literal_left[dir] = 0;
			a->u.imap.cont[dir] = false;
			if (dir == 0)
				a->u.imap.auth_exchange = false;
		} else if (a->proto == SW_APP_POP3) {
			a->u.pop3.q.len = 0;
			a->u.pop3.multiline = false;
			a->u.pop3.capa_open = false;
			a->u.pop3.auth_exchange = false;
		}
		break;
	case SW_M_DATA:
		break; /* keep scanning for the terminator */
	default:
		a->mode[dir] = SW_M_DONE;
		break;
	}
}

/* ---- per-flow application state ------------------------------------------- */

static enum sw_app_proto proto_by_port(uint16_t port)
{
	switch (port) {
	case 25: case 587: case 2525:
		return SW_APP_SMTP;
	case 143:
		return SW_APP_IMAP;
	case 110:
		return SW_APP_POP3;
	case 465: case 993: case 995: case 443:
		return SW_APP_TLS;
	default:
		return SW_APP_UNKNOWN;
	}
}

/*
 * Decide from the first payload what the flow carries: a ClientHello from
 * the client, else the server port, else the first bytes (classify.c).
 * *strength says whether the answer is final or a hint to confirm.
 */
static enum sw_app_proto classify(const struct sw_flow *f, int dir, const uint8_t *p, uint32_t n,
				  enum sw_cls_strength *strength)
{
	*strength = SW_CLS_STRONG;
	if (dir == 0 && n >= 3 && sw_tls_looks_like_record(p, n))
		return SW_APP_TLS;
	enum sw_app_proto by_port = proto_by_port(f->sport);
	if (by_port != SW_APP_UNKNOWN)
		return by_port;
	return sw_classify_first_bytes(dir, p, n, strength);
}

static void app_init_mode(struct sw_app *a)
{
	switch (a->proto) {
	case SW_APP_TLS:
		a->mode[0] = a->mode[1] = SW_M_TLS;
		a->tls_seen = true;
		break;
	case SW_APP_SMTP:
		a->mode[0] = a->mode[1] = SW_M_LINE;
		a->u.smtp.q.verb[0] = SW_V_GREETING;
		a->u.smtp.q.len = 1;
		break;
	case SW_APP_IMAP:
		a->mode[0] = a->mode[1] = SW_M_LINE;
		break;
	case SW_APP_POP3:
		a->mode[0] = a->mode[1] = SW_M_LINE;
		a->u.pop3.q.verb[0] = SW_V_GREETING;
		a->u.pop3.q.len = 1;
		break;
	default:
		a->mode[0] = a->mode[1] = SW_M_DONE;
		break;
	}
}

static struct sw_app *app_new(struct sw_engine *e, struct sw_flow *f, enum sw_app_proto proto)
{
	struct sw_app *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	mem_add(e, (int64_t)sizeof(*a));
	a->proto = (uint8_t)proto;
	sw_reasm_init(&a->rs[0]);
	sw_reasm_init(&a->rs[1]);
	sw_tls_dir_init(&a->tls[0]);
	sw_tls_dir_init(&a->tls[1]);
	app_init_mode(a);
	for (int d = 0; d < 2; d++)
		if (f->isn_known & (1u << d))
			sw_reasm_start(&a->rs[d], f->isn[d] + 1);
	if (proto == SW_APP_TLS)
		e->st.flows_tls++;
	else if (proto != SW_APP_UNKNOWN)
		e->st.flows_mail++; /* an undecided flow is counted when decided */
	return a;
}

static void app_release_buffers(struct sw_engine *e, struct sw_app *a)
{
	for (int d = 0; d < 2; d++) {
		sw_reasm_free(&a->rs[d], &e->cnt);
		sw_tls_dir_free(&a->tls[d]);
	}
}

/* A flow's cold part is done with: kept for reuse, or freed. */
static void cold_put(struct sw_engine *e, struct sw_app_cold *c)
{
	if (e->n_cold_free < COLD_KEEP) {
		c->next_free = e->cold_free;
		e->cold_free = c;
		e->n_cold_free++;
		return;
	}
	free(c);
	mem_add(e, -(int64_t)sizeof(*c));
}

/* Free the cold parts kept for reuse. */
static void cold_drain(struct sw_engine *e)
{
	while (e->cold_free) {
		struct sw_app_cold *c = e->cold_free;
		e->cold_free = c->next_free;
		free(c);
		mem_add(e, -(int64_t)sizeof(*c));
	}
	e->n_cold_free = 0;
}

static void app_free(struct sw_engine *e, struct sw_flow *f)
{
	if (!f->app)
		return;
	if (f->app->cls) {
		sw_cls_flow_free(e->cls, f->app->cls);
		mem_add(e, -(int64_t)sw_cls_flow_mem());
	}
	app_release_buffers(e, f->app);
	if (f->app->cold)
		cold_put(e, f->app->cold);
	free(f->app);
	mem_add(e, -(int64_t)sizeof(struct sw_app));
	f->app = NULL;
}

struct sw_app_cold *sw_app_cold_new(struct sw_engine_ctx *x)
{
	struct sw_engine *e = x->e;
	struct sw_app *a = x->f->app;
	struct sw_app_cold *c = e->cold_free;
	if (c) {
		e->cold_free = c->next_free;
		e->n_cold_free--;
		c->ev.n = 0; /* lines past n are never read */
		memset(&c->info, 0, sizeof(c->info));
	} else {
		c = calloc(1, sizeof(*c));
		if (!c) {
			e->st.caps_hit++;
			return NULL;
		}
		mem_add(e, (int64_t)sizeof(*c));
	}
	a->cold = c;
	return c;
}

/*
 * The flow's summary (flow f has an sw_app): completed in place in its cold
 * part, or, without one, assembled in e->view with the cold fields empty.
 */
static struct sw_flow_info *fill_info(struct sw_engine *e, struct sw_flow *f)
{
	const struct sw_app *a = f->app;
	struct sw_flow_info *i = a->cold ? &a->cold->info : &e->view;
	if (!a->cold)
		memset(i, 0, sizeof(*i));
	i->ip_version = f->ip_version;
	memcpy(i->client_ip, f->cli, 16);
	memcpy(i->server_ip, f->srv, 16);
	i->client_port = f->cport;
	i->server_port = f->sport;
	i->first_ts_ns = f->first_ts;
	i->last_ts_ns = f->last_ts;
	i->pkts[0] = f->pkts[0];
	i->pkts[1] = f->pkts[1];
	i->bytes[0] = f->bytes[0];
	i->bytes[1] = f->bytes[1];
	i->file_no = f->file_no;
	i->app_proto = (enum sw_app_proto)a->proto;
	i->tls_seen = a->tls_seen;
	i->state_gaps = a->state_gaps;
	i->starttls.offered = (enum sw_tri)a->offered;
	i->starttls.command_sent = (enum sw_tri)a->command_sent;
	i->starttls.upgraded = (enum sw_tri)a->upgraded;
	memcpy(i->server_name, a->server_name, sizeof(i->server_name));
	return i;
}

/* The snapshot findings point at: assembled at each call. */
const struct sw_flow_info *sw_flow_snapshot(struct sw_engine *e, struct sw_flow *f)
{
	return fill_info(e, f);
}

static void finish_streams(struct sw_engine *e, struct sw_flow *f, uint64_t ts)
{
	struct sw_app *a = f->app;
	struct sw_engine_ctx x = { e, f, ts };
	for (int d = 0; d < 2; d++) {
		if (!a->rs[d].started || a->rs[d].stopped)
			continue;
		struct sw_reasm_consumer c = { &x, d, deliver, gap };
		sw_reasm_finish(&a->rs[d], &e->caps, &e->cnt, &c);
	}
}

static void flow_end(struct sw_engine *e, struct sw_flow *f, uint64_t ts, int why)
{
	if (f->closed)
		return;
	f->closed = true;
	if (!f->app)
		return;
	finish_streams(e, f, ts);
	if (e->hist) {
		struct sw_engine_ctx x = { e, f, ts };
		sw_detect_flow_end(&x);
	}
	struct sw_flow_info *i = fill_info(e, f);
	i->end_fin = why == END_FIN;
	i->end_rst = why == END_RST;
	i->end_timeout = why == END_TIMEOUT;
	i->end_evicted = why == END_EVICTED;
	if (e->cfg.flow_events && e->sink.flow && i->app_proto != SW_APP_UNKNOWN)
		e->sink.flow(e->sink.ctx, i);
	app_free(e, f);
}

static void expire(struct sw_engine *e, uint64_t now)
{
	e->expire_now = now;
	for (int l = 0; l < LIST__COUNT; l++) {
		uint64_t to = l == LIST_CLOSED ? e->cfg.closed_timeout_ns :
			      l == LIST_EMBRYO ? e->cfg.syn_timeout_ns : e->cfg.idle_timeout_ns;
		uint32_t i;
		while ((i = e->lists[l].head) != NIL) {
			struct sw_flow *f = flow_at(e, i);
			if (f->last_ts + to >= now)
				break;
			if (!f->closed)
				e->st.flows_timed_out++;
			flow_end(e, f, f->last_ts, END_TIMEOUT);
			table_remove(e, f, i);
		}
	}
}

void sw_engine_expire(struct sw_engine *e, uint64_t now_ns)
{
	expire(e, now_ns);
	syn_sweep(e, false);
}

/* ---- the per-packet path --------------------------------------------------- */

static void after_segment(struct sw_engine *e, struct sw_flow *f)
{
	struct sw_app *a = f->app;
	for (int d = 0; d < 2; d++) {
		if (a->mode[d] == SW_M_DONE)
			a->stop_req[d] = true;
		if (a->stop_req[d] && !a->rs[d].stopped) {
			sw_reasm_stop(&a->rs[d], &e->cnt);
			sw_tls_dir_free(&a->tls[d]);
		}
		/* Kept in the flow itself: later packets need not touch sw_app. */
		if (a->rs[d].stopped)
			f->finished |= (uint8_t)(1u << d);
	}
}

/* One segment into the reassembly of direction dir; the dissectors run from deliver(). */
static void feed(struct sw_engine *e, struct sw_flow *f, int dir, uint32_t seq, const uint8_t *data,
		 uint32_t n, bool fin, uint64_t ts)
{
	struct sw_app *a = f->app;
	struct sw_reasm *r = &a->rs[dir];
	if (r->stopped)
		return;
	if (!r->started)
		sw_reasm_start(r, seq);
	struct sw_engine_ctx x = { e, f, ts };
	struct sw_reasm_consumer c = { &x, dir, deliver, gap };
	sw_reasm_segment(r, &e->caps, &e->cnt, &c, seq, data, n, fin);
	after_segment(e, f);
}

/* The flow's first payload: pick its dissector, or start classifying it. */
static bool app_start(struct sw_engine *e, struct sw_flow *f, uint32_t fi, int dir, const struct sw_packet *p)
{
	enum sw_cls_strength st;
	enum sw_app_proto proto = classify(f, dir, p->payload, p->payload_len, &st);
	if (st == SW_CLS_STRONG && proto == SW_APP_UNKNOWN) {
		f->ignored = true; /* decided: neither mail nor TLS */
		return false;
	}
	if (st == SW_CLS_STRONG) {
		f->app = app_new(e, f, proto);
	} else if (st == SW_CLS_HINT || e->cfg.use_ndpi) {
		if (!e->cls)
			e->cls = sw_classifier_new(e->cfg.use_ndpi);
		if (e->cls && sw_classifier_pending(e->cls) >= SW_CLS_MAX_PENDING)
			e->st.caps_hit++;
		uint32_t first_seq[2] = { f->isn[0] + 1, f->isn[1] + 1 };
		struct sw_cls_flow *cf = e->cls ? sw_cls_flow_new(e->cls, proto, first_seq, f->isn_known) : NULL;
		if (cf)
			f->app = app_new(e, f, SW_APP_UNKNOWN);
		if (f->app) {
			f->app->cls = cf;
			mem_add(e, (int64_t)sw_cls_flow_mem());
		} else {
			sw_cls_flow_free(e->cls, cf);
		}
	}
	if (!f->app) {
		f->ignored = true;
		return false;
	}
	lru_touch(e, f, fi, LIST_ACTIVE);
	return true;
}

struct replay_ctx {
	struct sw_engine *e;
	struct sw_flow *f;
};

static void replay_one(void *ctx, int dir, uint32_t seq, const uint8_t *p, uint32_t n, bool fin,
		       uint64_t ts)
{
	struct replay_ctx *rc = ctx;
	feed(rc->e, rc->f, dir, seq, p, n, fin, ts);
}

/*
 * Offer a packet of an undecided flow to the classifier.  When it decides,
 * the dissector starts on the logged packets, replayed in arrival order; a
 * direction whose bytes did not all fit in the log restarts at its next
 * segment after a gap.  Returns true when the caller must still feed this
 * packet (it is not in the log).
 */
static bool app_pending(struct sw_engine *e, struct sw_flow *f, int dir, const struct sw_packet *p)
{
	struct sw_app *a = f->app;
	struct sw_cls_verdict v;
	enum sw_cls_result r = sw_cls_flow_packet(e->cls, a->cls, dir, p, &v);
	e->st.classifier_calls += v.ndpi_calls;
	if (r == SW_CLS_PENDING)
		return false;
	if (r == SW_CLS_GIVE_UP) {
		app_free(e, f);
		f->ignored = true;
		return false;
	}
	a->proto = (uint8_t)v.proto;
	struct sw_engine_ctx cx = { e, f, p->ts_ns };
	struct sw_app_cold *cold = v.name[0] ? sw_app_cold(&cx) : NULL;
	if (cold)
		memcpy(cold->info.classified_as, v.name, sizeof(cold->info.classified_as));
	app_init_mode(a);
	if (v.proto == SW_APP_TLS)
		e->st.flows_tls++;
	else
		e->st.flows_mail++;
	struct replay_ctx rc = { e, f };
	sw_cls_flow_replay(a->cls, replay_one, &rc);
	sw_cls_flow_free(e->cls, a->cls);
	a->cls = NULL;
	mem_add(e, -(int64_t)sw_cls_flow_mem());
	for (int d = 0; d < 2; d++) {
		if (!v.lost[d] || a->rs[d].stopped)
			continue;
		struct sw_engine_ctx x = { e, f, p->ts_ns };
		e->st.caps_hit++;
		gap(&x, d, 0, 0);
		sw_reasm_free(&a->rs[d], &e->cnt);
		sw_reasm_init(&a->rs[d]); /* starts again at the next segment */
	}
	return !v.logged;
}

static void payload(struct sw_engine *e, struct sw_flow *f, uint32_t fi, int dir, const struct sw_packet *p)
{
	if (f->ignored || (f->finished & (1u << dir)))
		return;
	if (!f->app) {
		if (!f->client_known && dir == 1 && p->payload_len >= 3 &&
		    sw_tls_looks_like_record(p->payload, p->payload_len)) {
			/* The side that sent the ClientHello is the client. */
			flow_swap(f);
			dir = 0;
		}
		f->client_known = true;
		if (!app_start(e, f, fi, dir, p))
			return;
	}
	if (f->app->cls && !app_pending(e, f, dir, p))
		return;
	feed(e, f, dir, p->seq, p->payload, p->payload_len, (p->tcp_flags & SW_TH_FIN) != 0, p->ts_ns);
}

void sw_engine_packet_hashed(struct sw_engine *e, const struct sw_packet *p, uint32_t h)
{
	e->st.packets++;
	e->st.payload_bytes += p->payload_len;
	if (p->ts_ns > e->last_ts)
		e->last_ts = p->ts_ns;
	expire(e, p->ts_ns);

	int dir = 0;
	uint32_t fi = NIL;
	struct sw_flow *f = lookup(e, h, p, &dir, &fi);
	uint8_t fl = p->tcp_flags;

	if (f && f->closed) {
		/* A new SYN on a closed 4-tuple starts a new connection. */
		if ((fl & (SW_TH_SYN | SW_TH_ACK)) == SW_TH_SYN) {
			table_remove(e, f, fi);
			f = NULL;
		} else {
			f->last_ts = p->ts_ns;
			return;
		}
	}
	if (!f) {
		struct sw_syn *s = sw_syntab_find(&e->syn, h, p, &dir);
		if (s && syn_stale(e, s, p->ts_ns)) {
			e->st.flows_timed_out++;
			sw_syntab_remove(&e->syn, s);
			e->st.flows_active = (uint64_t)e->n_flows + e->syn.n;
			s = NULL;
		}
		if (s) {
			/* Up to three SYNs stay on the EMBRYO side (see lru_touch below). */
			if (dir == 0 && bare_syn(p) && s->pkts < 3) {
				syn_repeat(e, s, p);
				return;
			}
			f = syn_promote(e, h, s, p->ts_ns, &fi);
			if (!f)
				return;
		}
	}
	if (!f) {
		if (!(fl & SW_TH_SYN) && p->payload_len == 0)
			return; /* bare ACK / RST / FIN of a flow we never saw: nothing to learn */
		if (fl & SW_TH_RST)
			return;
		if (bare_syn(p)) {
			syn_record(e, h, p);
			return;
		}
		f = flow_create(e, h, p, &dir, &fi);
		if (!f)
			return;
	}

	f->last_ts = p->ts_ns;
	if (f->pkts[dir] != UINT32_MAX)
		f->pkts[dir]++;
	f->bytes[dir] += p->payload_len;
	if ((fl & (SW_TH_SYN | SW_TH_FIN)) == (SW_TH_SYN | SW_TH_FIN))
		sw_count_anomaly(e, SW_AN_TCP_BAD_FLAGS);

	if (fl & SW_TH_SYN) {
		f->isn[dir] = p->seq;
		f->isn_known |= (uint8_t)(1u << dir);
		if (dir == 0) {
			f->syn_opts = sw_path_syn_set(p->opt_kinds, SW_MIN(p->n_opts, (uint8_t)SW_TCP_MAX_OPTS));
		} else {
			f->synack_seen = true;
			f->sa_ttl = p->ttl;
			f->sa_window = p->window;
			f->sa_mss = p->mss;
			f->sa_wscale = p->wscale;
			f->sa_nopts = p->n_opts;
			f->sa_opts = sw_path_opts_pack(p->opt_kinds, SW_MIN(p->n_opts, (uint8_t)SW_TCP_MAX_OPTS));
		}
	}
	if (p->payload_len > 0 || (f->app && (fl & SW_TH_FIN)))
		payload(e, f, fi, dir, p);
	/* payload() may swap the flow's sides; recompute the direction. */
	if (f->cport != p->sport || !same_ip(f->cli, p->src))
		dir = 1;
	else
		dir = 0;

	lru_touch(e, f, fi, f->app || (uint64_t)f->pkts[0] + f->pkts[1] > 3 ? LIST_ACTIVE : LIST_EMBRYO);

	if (fl & SW_TH_RST) {
		flow_end(e, f, p->ts_ns, END_RST);
		lru_touch(e, f, fi, LIST_CLOSED);
	} else if (fl & SW_TH_FIN) {
		f->fin |= (uint8_t)(1u << dir);
		if (f->fin == 3) {
			flow_end(e, f, p->ts_ns, END_FIN);
			lru_touch(e, f, fi, LIST_CLOSED);
		}
	}
	sync_mem(e);
}

void sw_engine_packet(struct sw_engine *e, const struct sw_packet *p)
{
	sw_engine_packet_hashed(e, p, flow_hash(e, p));
}

void sw_engine_flush(struct sw_engine *e)
{
	syn_sweep(e, true); /* SYN-only flows carry no summary: nothing to report */
	for (int l = 0; l < LIST__COUNT; l++) {
		uint32_t i;
		while ((i = e->lists[l].head) != NIL) {
			struct sw_flow *f = flow_at(e, i);
			flow_end(e, f, f->last_ts, END_FLUSH);
			table_remove(e, f, i);
		}
	}
	cold_drain(e); /* no flow is left to reuse them */
}

void sw_engine_stats(const struct sw_engine *e, struct sw_dissect_stats *out)
{
	*out = e->st;
	out->flows_active = (uint64_t)e->n_flows + e->syn.n;
	out->mem_bytes = e->mem > 0 ? (uint64_t)e->mem : 0;
}

void sw_finding_sensor(struct sw_finding *fd, uint64_t ts_ns, const char *detail)
{
	memset(fd, 0, sizeof(*fd));
	fd->kind = SW_F_SENSOR_DEGRADED;
	fd->severity = 2;
	fd->ts_ns = ts_ns;
	fd->detail = detail;
}

void sw_engine_raise_sensor(struct sw_engine *e, uint64_t ts_ns, const char *detail)
{
	struct sw_finding fd;
	sw_finding_sensor(&fd, ts_ns, detail);
	e->st.findings++;
	e->st.findings_by_kind[SW_F_SENSOR_DEGRADED]++;
	if (e->sink.finding)
		e->sink.finding(e->sink.ctx, &fd);
}

/* Used by detect.c to count and forward a finding. */
void sw_engine_emit(struct sw_engine *e, const struct sw_finding *fd)
{
	e->st.findings++;
	e->st.findings_by_kind[fd->kind]++;
	if (e->sink.finding)
		e->sink.finding(e->sink.ctx, fd);
}

struct sw_engine *sw_engine_new(const struct sw_dissect_config *cfg, const struct sw_sink *sink)
{
	struct sw_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->cfg = *cfg;
	if (e->cfg.max_flows < 16)
		e->cfg.max_flows = 16;
	if (e->cfg.line_max < 64)
		e->cfg.line_max = 64;
	if (sink)
		e->sink = *sink;
	e->seed = cfg->seed;
	if (e->seed == 0 && getrandom(&e->seed, sizeof(e->seed), 0) != (ssize_t)sizeof(e->seed))
		e->seed = 0x5eed5eed5eed5eedull;
	if (e->cfg.max_flows > (1u << 30))
		e->cfg.max_flows = 1u << 30;
	/* The SYN table's share of the cap: max_flows / 16, a power of two in 8 .. 32768. */
	uint32_t syn_entries = SW_SYN_WAYS;
	while (syn_entries < 32768 && syn_entries * 2 <= e->cfg.max_flows / 16)
		syn_entries <<= 1;
	e->flow_cap = e->cfg.max_flows - syn_entries; /* max_flows >= 16 */
	/* At most half full at the cap: short probe sequences. */
	e->max_slots = 2048;
	while (e->max_slots < 2 * e->flow_cap)
		e->max_slots <<= 1;
	uint32_t nb = 2048;
	e->slots = calloc(nb, sizeof(*e->slots));
	e->chunks = calloc((e->flow_cap >> POOL_SHIFT) + 1, sizeof(*e->chunks));
	e->memo = sw_memo_new(e->cfg.server_memory_max);
	bool syn_ok = sw_syntab_init(&e->syn, syn_entries);
	if (!e->slots || !e->chunks || !e->memo || !syn_ok) {
		sw_syntab_destroy(&e->syn);
		free(e->slots);
		free(e->chunks);
		sw_memo_free(e->memo);
		free(e);
		return NULL;
	}
	e->free_list = NIL;
	for (int l = 0; l < LIST__COUNT; l++)
		e->lists[l].head = e->lists[l].tail = NIL;
	e->mask = nb - 1;
	mem_add(e, (int64_t)(nb * sizeof(*e->slots)));
	mem_add(e, (int64_t)sw_syntab_bytes(&e->syn));
	e->caps.buf_max = e->cfg.stream_buf_max;
	e->caps.ooo_max_bytes = e->cfg.ooo_max_bytes;
	e->caps.ooo_max_segments = e->cfg.ooo_max_segments;
	e->cnt.anomalies = e->st.anomalies;
	e->cnt.gaps = &e->st.gaps;
	e->cnt.gap_bytes = &e->st.gap_bytes;
	e->cnt.ooo_segments = &e->st.ooo_segments;
	e->cnt.retransmissions = &e->st.retransmissions;
	e->cnt.caps_hit = &e->st.caps_hit;
	e->cnt.mem_bytes = &e->mem;
	return e;
}

void sw_engine_free(struct sw_engine *e)
{
	if (!e)
		return;
	for (int l = 0; l < LIST__COUNT; l++) {
		uint32_t i;
		while ((i = e->lists[l].head) != NIL) {
			struct sw_flow *f = flow_at(e, i);
			app_free(e, f);
			table_remove(e, f, i);
		}
	}
	cold_drain(e);
	for (uint32_t c = 0; c < e->n_chunks; c++)
		free(e->chunks[c]);
	free(e->chunks);
	free(e->slots);
	sw_syntab_destroy(&e->syn);
	sw_memo_free(e->memo);
	sw_classifier_free(e->cls);
	free(e);
}
