/*
 * workers.c - `--workers N` in file mode: one reading thread, N dissecting
 * threads, one output.
 *
 * Hand-off.  One ring per worker, a byte ring with variable-size entries:
 * an entry is a header (its length, the struct sw_packet with its pointers
 * cleared) followed by the packet's L3 bytes (and the payload bytes if the
 * payload does not lie inside them, which the decoder never does but the
 * contract does not promise).  The source reuses its frame buffer, so the
 * bytes are copied; nothing is allocated per packet.  head and tail are byte
 * counts that only grow; the producer alone writes head, the consumer alone
 * writes tail (release stores, acquire loads), and each side keeps a cached
 * copy of the other's counter so that a packet costs no shared cache line
 * unless the ring looks full or empty.  A side that has to wait spins a
 * little, then yields, then sleeps 50 us at a time: on a machine with fewer
 * cores than threads a spinning waiter would steal the core of the thread
 * it waits for.
 *
 * Sharding.  Packets go to the worker of their server endpoint: the
 * endpoint with the lower port (servers listen on low ports; ties: the
 * lower address), hashed as (address, port).  Both directions of a
 * connection and every connection to one server land on one engine, which
 * keeps the detector's in-run memory (starttls_stripped after a session that
 * offered STARTTLS, starttls_not_used for a client that used it before)
 * whole; a 5-tuple hash would spread a server's sessions over the engines
 * and lose those findings.  The price: one busy server is one worker's load.
 *
 * Output: one chain.  Each worker formats its lines with a producer of its
 * own (producer.h: its pcap_filename, address cache, line buffer) and hands
 * them to the writer's one output thread, which chains, signs and writes
 * them; the workers share only the queue's short copy-in lock.  One file
 * keeps `stripwatch verify` and every consumer unchanged; per-worker chains
 * would need N keys or N sessions and a merge for the reader.  The price is
 * the order of lines: with N > 1 it depends on thread timing and differs
 * between runs (with N = 1 it does not).  Each event keeps its own
 * packet-time timestamp, and the chain is valid whatever the order.
 *
 * Live (`-i IF --workers N`): no reading thread and no rings.  Each worker
 * owns one socket of a PACKET_FANOUT group on the interface
 * (sw_source_open_live_group), whose classic BPF program splits packets by
 * the same server endpoint in the kernel, so a packet is touched by one
 * thread only, as Suricata's and Zeek's AF_PACKET workers do.  The main
 * thread only keeps time: checkpoints by the clock, stats and
 * sensor_degraded at the interval, SIGHUP/SIGUSR2.  It never reads an
 * engine while it runs: each worker copies its counters (and its socket's
 * kernel counters) into a snapshot under its own mutex when the main thread
 * asks (a generation number read once per packet) and at least once per
 * poll timeout when idle.  The history store (--state) is shared by all
 * engines; history.c locks it per call.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outq.h"
#include "producer.h"
#include "workers.h"

#define RING_BYTES (4u << 20)            /* per worker; a power of two */
#define ENTRY_ALIGN 8u
#define ENTRY_MAX (RING_BYTES / 4)       /* frames are at most 256 KiB (libpcap's snaplen cap) */
#define KIND_PACKET 1u
#define KIND_SKIP 2u                     /* the rest of the buffer is unused: wrap */

struct entry {
	uint32_t len;                    /* whole entry, header included, ENTRY_ALIGN-aligned */
	uint32_t kind;
	uint32_t payload_off;            /* payload offset from the data start */
	uint32_t pad;
	struct sw_packet pkt;            /* l3 and payload are rebuilt by the consumer */
};

struct ring {
	_Alignas(64) _Atomic uint64_t head; /* bytes published by the producer */
	_Alignas(64) _Atomic uint64_t tail; /* bytes released by the consumer */
	_Alignas(64) uint64_t prod_head;    /* producer's own copy of head */
	uint64_t prod_tail;                 /* producer's cached tail */
	_Alignas(64) uint64_t cons_head;    /* consumer's cached head */
	uint8_t *buf;
};

struct worker {
	struct sw_workers *ws;
	struct ring ring;                   /* file mode */
	struct sw_source *src;              /* live mode: this worker's fanout socket */
	struct sw_engine *eng;
	struct sw_alert_prod *prod;         /* this worker's lines */
	pthread_t th;
	bool running;
	uint32_t cur_file;                  /* file_no of this worker's latest packet */
	uint32_t named_file;                /* file_no whose name prod carries now */
	_Atomic(struct sw_policy *) pending; /* a reloaded policy, applied between packets */
	_Atomic bool done;                  /* set by the reader after the last packet */
	/* live: the snapshot the main thread reads */
	_Alignas(64) pthread_mutex_t snap_lock;
	unsigned snap_gen;                  /* the request it answers */
	struct sw_dissect_stats snap_ds;
	struct sw_capture_stats snap_cs;
	_Atomic uint64_t last_ts;           /* newest packet time, or the clock when idle */
	_Atomic bool failed;                /* the socket failed: the worker stopped */
};

struct sw_workers {
	unsigned n;
	bool live;
	struct sw_alert *out;
	uint64_t max_packets;               /* live: stop after this many in all (0: no limit) */
	_Atomic uint64_t packets;           /* live, with max_packets: packets dissected */
	_Atomic unsigned snap_req;          /* live: snapshot generation asked for */
	uint64_t sensor_findings;           /* sensor_degraded raised by the main thread */
	uint32_t last_file;                 /* set before done: the flush events' file */
	const char *const *files;
	size_t n_files;
	struct worker w[];
};

/* ---- shard ------------------------------------------------------------------ */

uint32_t sw_workers_shard(const struct sw_packet *pkt)
{
	const uint8_t *addr;
	uint16_t port;
	if (pkt->sport < pkt->dport ||
	    (pkt->sport == pkt->dport && memcmp(pkt->src, pkt->dst, 16) <= 0)) {
		addr = pkt->src;
		port = pkt->sport;
	} else {
		addr = pkt->dst;
		port = pkt->dport;
	}
	/* Per packet: two 64-bit words and the port, one multiply-xorshift mix. */
	uint64_t a0, a1;
	memcpy(&a0, addr, 8);
	memcpy(&a1, addr + 8, 8);
	uint64_t h = (a0 ^ (a1 * 0x9e3779b97f4a7c15ull) ^ port) * 0xbf58476d1ce4e5b9ull;
	h ^= h >> 31;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 29;
	return (uint32_t)h;
}

/* ---- output: each worker its own producer ------------------------------------- */

/* Name the worker's current file in its lines if it changed. */
static void name_file(struct worker *w)
{
	if (w->cur_file == w->named_file || w->cur_file >= w->ws->n_files)
		return;
	w->named_file = w->cur_file;
	sw_alert_prod_set_pcap_filename(w->prod, w->ws->files[w->cur_file]);
}

static void worker_finding(void *ctx, const struct sw_finding *f)
{
	struct worker *w = ctx;
	name_file(w);
	sw_alert_prod_finding(w->prod, f);
}

static void worker_flow(void *ctx, const struct sw_flow_info *fi)
{
	struct worker *w = ctx;
	name_file(w);
	sw_alert_prod_flow(w->prod, fi);
}

/* The output thread moves files between two lines of any worker. */
int sw_workers_reopen(struct sw_workers *ws, char *err, size_t errlen)
{
	return sw_alert_reopen(ws->out, err, errlen);
}

/* ---- producer --------------------------------------------------------------- */

/* Wait until n contiguous-or-wrapped bytes are free; returns the write offset. */
static uint64_t ring_reserve(struct ring *r, uint32_t n)
{
	unsigned round = 0;
	while (r->prod_head + n - r->prod_tail > RING_BYTES) {
		r->prod_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (r->prod_head + n - r->prod_tail <= RING_BYTES)
			break;
		sw_wait_round(round++);
	}
	return r->prod_head;
}

void sw_workers_packet(struct sw_workers *ws, const struct sw_packet *pkt)
{
	struct worker *w = &ws->w[sw_workers_shard(pkt) % ws->n];
	struct ring *r = &w->ring;

	uint32_t l3_len = pkt->l3 ? pkt->l3_len : 0;
	uint32_t pay_len = pkt->payload ? pkt->payload_len : 0;
	bool inside = l3_len && pay_len && pkt->payload >= pkt->l3 &&
		      (size_t)(pkt->payload - pkt->l3) <= l3_len &&
		      pay_len <= l3_len - (size_t)(pkt->payload - pkt->l3);
	uint32_t extra = (inside || !pay_len) ? 0 : pay_len;
	/* Cannot happen with frames of at most 256 KiB; keeps an entry inside the ring. */
	if (l3_len > ENTRY_MAX / 2)
		l3_len = ENTRY_MAX / 2;
	if (extra > ENTRY_MAX / 2)
		extra = pay_len = ENTRY_MAX / 2;
	uint32_t len = (uint32_t)sizeof(struct entry) + l3_len + extra;
	len = (len + ENTRY_ALIGN - 1) & ~(ENTRY_ALIGN - 1);

	uint64_t at = r->prod_head;
	uint32_t off = (uint32_t)(at & (RING_BYTES - 1));
	if (RING_BYTES - off < len) {
		/* Not enough room before the end: a skip entry, then start over at 0. */
		uint32_t skip = RING_BYTES - off;
		ring_reserve(r, skip);
		struct entry *s = (struct entry *)(r->buf + off);
		s->len = skip;
		s->kind = KIND_SKIP;
		r->prod_head += skip;
		off = 0;
	}
	ring_reserve(r, len);
	struct entry *e = (struct entry *)(r->buf + off);
	uint8_t *data = (uint8_t *)(e + 1);
	e->len = len;
	e->kind = KIND_PACKET;
	e->pkt = *pkt;
	e->pkt.l3_len = l3_len;
	e->pkt.payload_len = pay_len;
	if (l3_len)
		memcpy(data, pkt->l3, l3_len);
	if (inside)
		e->payload_off = (uint32_t)(pkt->payload - pkt->l3);
	else {
		e->payload_off = l3_len;
		if (extra)
			memcpy(data + l3_len, pkt->payload, extra);
	}
	r->prod_head += len;
	atomic_store_explicit(&r->head, r->prod_head, memory_order_release);
}

void sw_workers_set_policy(struct sw_workers *ws, unsigned i, struct sw_policy *p)
{
	if (i >= ws->n) {
		sw_policy_free(p);
		return;
	}
	/* A policy the worker has not taken yet is replaced, and freed here. */
	sw_policy_free(atomic_exchange(&ws->w[i].pending, p));
}

/* ---- consumer --------------------------------------------------------------- */

static void take_policy(struct worker *w)
{
	if (!atomic_load_explicit(&w->pending, memory_order_relaxed))
		return;
	struct sw_policy *p = atomic_exchange(&w->pending, NULL);
	if (p)
		sw_policy_free(sw_engine_set_policy(w->eng, p));
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct ring *r = &w->ring;
	uint64_t tail = 0;
	unsigned round = 0;

	for (;;) {
		if (tail == r->cons_head) {
			r->cons_head = atomic_load_explicit(&r->head, memory_order_acquire);
			if (tail == r->cons_head) {
				if (atomic_load_explicit(&w->done, memory_order_acquire)) {
					/* done is stored after the last head: one more look. */
					r->cons_head = atomic_load_explicit(&r->head, memory_order_acquire);
					if (tail == r->cons_head)
						break;
					continue;
				}
				sw_wait_round(round++);
				continue;
			}
		}
		round = 0;
		struct entry *e = (struct entry *)(r->buf + (tail & (RING_BYTES - 1)));
		if (e->kind == KIND_PACKET) {
			struct sw_packet pkt = e->pkt;
			uint8_t *data = (uint8_t *)(e + 1);
			pkt.l3 = pkt.l3_len ? data : NULL;
			pkt.payload = data + e->payload_off;
			w->cur_file = pkt.file_no;
			take_policy(w);
			sw_engine_packet(w->eng, &pkt);
		}
		tail += e->len;
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	}
	take_policy(w);
	w->cur_file = w->ws->last_file;
	sw_engine_flush(w->eng);
	return NULL;
}

static uint64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void store_max(_Atomic uint64_t *v, uint64_t x)
{
	if (x > atomic_load_explicit(v, memory_order_relaxed))
		atomic_store_explicit(v, x, memory_order_relaxed);
}

/* Live worker: copy the counters for the main thread (its own socket's kernel counters too). */
static void snapshot(struct worker *w, unsigned gen)
{
	struct sw_dissect_stats ds;
	struct sw_capture_stats cs;
	sw_engine_stats(w->eng, &ds);
	sw_source_stats(w->src, &cs);
	pthread_mutex_lock(&w->snap_lock);
	w->snap_ds = ds;
	w->snap_cs = cs;
	w->snap_gen = gen;
	pthread_mutex_unlock(&w->snap_lock);
}

static void *worker_live_main(void *arg)
{
	struct worker *w = arg;
	struct sw_workers *ws = w->ws;
	struct sw_packet pkt;
	unsigned gen = 0;

	while (!atomic_load_explicit(&w->done, memory_order_acquire)) {
		int rc = sw_source_next(w->src, &pkt);
		if (rc < 0) {
			fprintf(stderr, "%s\n", sw_source_error(w->src));
			atomic_store(&w->failed, true);
			break;
		}
		take_policy(w);
		if (rc > 0) {
			sw_engine_packet(w->eng, &pkt);
			store_max(&w->last_ts, pkt.ts_ns);
			if (ws->max_packets &&
			    atomic_fetch_add_explicit(&ws->packets, 1, memory_order_relaxed) + 1 >= ws->max_packets)
				break;
		} else {
			/* A quiet socket: age flows by the clock. */
			store_max(&w->last_ts, clock_ns());
			sw_engine_expire(w->eng, atomic_load_explicit(&w->last_ts, memory_order_relaxed));
		}
		unsigned want = atomic_load_explicit(&ws->snap_req, memory_order_relaxed);
		if (want != gen) {
			gen = want;
			snapshot(w, gen);
		}
	}
	take_policy(w);
	sw_engine_flush(w->eng);
	atomic_store_explicit(&w->done, true, memory_order_release);
	return NULL;
}

bool sw_workers_running(struct sw_workers *ws)
{
	for (unsigned i = 0; i < ws->n; i++)
		if (!atomic_load_explicit(&ws->w[i].done, memory_order_acquire) &&
		    !atomic_load_explicit(&ws->w[i].failed, memory_order_relaxed))
			return true;
	return false;
}

bool sw_workers_failed(struct sw_workers *ws)
{
	for (unsigned i = 0; i < ws->n; i++)
		if (atomic_load_explicit(&ws->w[i].failed, memory_order_relaxed))
			return true;
	return false;
}

uint64_t sw_workers_last_ts(struct sw_workers *ws)
{
	uint64_t t = 0;
	for (unsigned i = 0; i < ws->n; i++) {
		uint64_t x = atomic_load_explicit(&ws->w[i].last_ts, memory_order_relaxed);
		if (x > t)
			t = x;
	}
	return t;
}

/* Live, running: ask every worker for a snapshot and wait (at most ~2 poll timeouts) for the answers. */
static void request_snapshots(struct sw_workers *ws)
{
	unsigned gen = atomic_fetch_add(&ws->snap_req, 1) + 1;
	for (int round = 0; round < 50; round++) {
		bool all = true;
		for (unsigned i = 0; i < ws->n; i++) {
			struct worker *w = &ws->w[i];
			if (!w->running || atomic_load(&w->done) || atomic_load(&w->failed))
				continue;
			pthread_mutex_lock(&w->snap_lock);
			bool ok = w->snap_gen == gen;
			pthread_mutex_unlock(&w->snap_lock);
			all = all && ok;
		}
		if (all)
			return;
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
	}
	/* A worker busy in one long packet answers next time; its older snapshot is used. */
}

/* ---- life cycle --------------------------------------------------------------- */

struct sw_workers *sw_workers_start(const struct sw_workers_cfg *c, char *err, size_t errlen)
{
	struct sw_workers *ws = NULL;
	unsigned n = c->n;
	if (n < 2 || n > SW_WORKERS_MAX) {
		snprintf(err, errlen, "--workers: %u is outside 2-%d", n, SW_WORKERS_MAX);
		goto fail_policies;
	}
	ws = calloc(1, sizeof(*ws) + n * sizeof(ws->w[0]));
	if (!ws) {
		snprintf(err, errlen, "out of memory");
		goto fail_policies;
	}
	ws->n = n;
	ws->live = c->srcs != NULL;
	ws->out = c->out;
	ws->files = c->files;
	ws->n_files = c->n_files;
	ws->max_packets = c->max_packets;
	/* Engines are built here, one after another: nDPI's set-up is not
	 * promised to be safe in parallel. */
	for (unsigned i = 0; i < n; i++) {
		struct worker *w = &ws->w[i];
		w->ws = ws;
		pthread_mutex_init(&w->snap_lock, NULL);
		w->named_file = UINT32_MAX;
		struct sw_sink sink = { w, worker_finding, worker_flow };
		if (ws->live)
			w->src = c->srcs[i];
		else
			w->ring.buf = aligned_alloc(64, RING_BYTES);
		w->prod = sw_alert_prod_new(c->out);
		w->eng = sw_engine_new(c->dc, &sink);
		if ((!ws->live && !w->ring.buf) || !w->prod || !w->eng) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		sw_engine_set_policy(w->eng, c->policies[i]);
		c->policies[i] = NULL;
		sw_engine_set_history(w->eng, c->hist);
	}
	/* Signals go to the main thread: workers block them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < n; i++) {
		int rc = pthread_create(&ws->w[i].th, NULL, ws->live ? worker_live_main : worker_main, &ws->w[i]);
		if (rc != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			snprintf(err, errlen, "cannot start worker %u: %s", i, strerror(rc));
			goto fail;
		}
		ws->w[i].running = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ws;
fail:
	sw_workers_free(ws);
	ws = NULL;
fail_policies:
	for (unsigned i = 0; i < n && i < SW_WORKERS_MAX; i++)
		if (c->policies[i]) {
			sw_policy_free(c->policies[i]);
			c->policies[i] = NULL;
		}
	return NULL;
}

void sw_workers_finish(struct sw_workers *ws, uint32_t last_file)
{
	ws->last_file = last_file;
	/* A live worker sees done within its socket's poll timeout (100 ms). */
	for (unsigned i = 0; i < ws->n; i++)
		atomic_store_explicit(&ws->w[i].done, true, memory_order_release);
	for (unsigned i = 0; i < ws->n; i++)
		if (ws->w[i].running) {
			pthread_join(ws->w[i].th, NULL);
			ws->w[i].running = false;
		}
	/* Later lines (stats, stop) name the last file, as with one worker. */
	if (last_file < ws->n_files)
		sw_alert_set_pcap_filename(ws->out, ws->files[last_file]);
}

/* Add b's counters to a's: both structs hold uint64_t counters only. */
static void add_counters(void *a, const void *b, size_t size)
{
	uint64_t *dst = a;
	const uint64_t *src = b;
	for (size_t k = 0; k < size / sizeof(uint64_t); k++)
		dst[k] += src[k];
}

_Static_assert(sizeof(struct sw_dissect_stats) % sizeof(uint64_t) == 0,
	       "sw_dissect_stats holds only uint64_t counters");
_Static_assert(sizeof(struct sw_capture_stats) % sizeof(uint64_t) == 0,
	       "sw_capture_stats holds only uint64_t counters");

/* True while some worker thread has not been joined: only snapshots may be read. */
static bool threads_running(const struct sw_workers *ws)
{
	for (unsigned i = 0; i < ws->n; i++)
		if (ws->w[i].running)
			return true;
	return false;
}

void sw_workers_stats(struct sw_workers *ws, struct sw_dissect_stats *ds, struct sw_capture_stats *cs)
{
	memset(ds, 0, sizeof(*ds));
	if (cs)
		memset(cs, 0, sizeof(*cs));
	bool snap = ws->live && threads_running(ws);
	if (snap)
		request_snapshots(ws);
	for (unsigned i = 0; i < ws->n; i++) {
		struct worker *w = &ws->w[i];
		struct sw_dissect_stats d;
		struct sw_capture_stats c;
		if (snap) {
			pthread_mutex_lock(&w->snap_lock);
			d = w->snap_ds;
			c = w->snap_cs;
			pthread_mutex_unlock(&w->snap_lock);
		} else {
			sw_engine_stats(w->eng, &d);
			if (cs && ws->live)
				sw_source_stats(w->src, &c);
		}
		add_counters(ds, &d, sizeof(d));
		if (cs && ws->live)
			add_counters(cs, &c, sizeof(c));
	}
	ds->findings += ws->sensor_findings;
	ds->findings_by_kind[SW_F_SENSOR_DEGRADED] += ws->sensor_findings;
}

void sw_workers_report(struct sw_workers *ws, FILE *f)
{
	for (unsigned i = 0; i < ws->n; i++) {
		struct sw_dissect_stats s;
		sw_engine_stats(ws->w[i].eng, &s);
		fprintf(f, "stripwatch: worker %u: %llu packets, %llu flows\n", i,
			(unsigned long long)s.packets, (unsigned long long)s.flows_created);
	}
}

void sw_workers_raise_sensor(struct sw_workers *ws, uint64_t ts_ns, const char *detail)
{
	struct sw_finding fd;
	sw_finding_sensor(&fd, ts_ns, detail);
	sw_alert_finding(ws->out, &fd);   /* the main thread's own producer */
	ws->sensor_findings++;
}

void sw_workers_free(struct sw_workers *ws)
{
	if (!ws)
		return;
	for (unsigned i = 0; i < ws->n; i++)
		atomic_store_explicit(&ws->w[i].done, true, memory_order_release);
	for (unsigned i = 0; i < ws->n; i++) {
		struct worker *w = &ws->w[i];
		if (w->running)
			pthread_join(w->th, NULL);
		if (w->eng) {
			sw_policy_free(sw_engine_set_policy(w->eng, NULL));
			sw_engine_free(w->eng);
		}
		sw_policy_free(atomic_exchange(&w->pending, NULL));
		sw_alert_prod_free(w->prod);
		free(w->ring.buf);
		pthread_mutex_destroy(&w->snap_lock);
	}
	free(ws);
}
