/*
 * workers.h - several cores (`--workers N`, N >= 2).
 *
 * Files: the reading thread (main) decodes packets with sw_source_next()
 * and hands each one to worker shard % N through a bounded single-producer
 * / single-consumer byte ring; each worker thread owns one struct sw_engine.
 * Live: each worker reads its own socket of a PACKET_FANOUT group, split
 * by the same server endpoint in the kernel (capture/fanout.c).
 * Each worker formats its own lines, which all go to the writer's one
 * output thread, so the run still writes one hash chain into one file (see
 * workers.c for why).  The main thread writes through the writer's own
 * producer (stats, ticks, sensor_degraded).
 *
 * Sharding is by the server endpoint, not by the 5-tuple: the detector's
 * in-run memory ("this server offered STARTTLS earlier", "this client used
 * it with this server before") lives in each engine, so every session of a
 * server must reach the same engine.
 */
#ifndef SW_WORKERS_H
#define SW_WORKERS_H

#include <stdio.h>

#include "sw_alert.h"

struct sw_history;

#define SW_WORKERS_MAX 64

struct sw_workers;

struct sw_workers_cfg {
	unsigned n;                         /* 2..SW_WORKERS_MAX */
	const struct sw_dissect_config *dc; /* one engine each is built from it */
	struct sw_alert *out;
	struct sw_policy **policies;        /* n entries, NULL allowed; ownership moves */
	struct sw_history *hist;            /* shared by every engine; NULL: none */
	/* file mode: */
	const char *const *files;           /* pcap_filename of events: files[file_no] */
	size_t n_files;
	/* live mode (srcs != NULL): */
	struct sw_source **srcs;            /* n members of one fanout group, still the caller's */
	uint64_t max_packets;               /* stop after this many packets in all; 0: no limit */
};

/*
 * Start the worker threads, one engine each.  File mode: they take packets
 * from sw_workers_packet().  Live mode: worker i reads srcs[i] itself.
 * Worker threads block every signal (the main thread answers them).  NULL
 * + err on failure (nothing is left running; the policies are freed).
 */
struct sw_workers *sw_workers_start(const struct sw_workers_cfg *cfg, char *err, size_t errlen);

/* The server endpoint's shard: equal for both directions of a connection
 * and for every connection to one server (address, port). */
uint32_t sw_workers_shard(const struct sw_packet *pkt);

/* Reader thread: copy pkt into its worker's ring (waits while the ring is full). */
void sw_workers_packet(struct sw_workers *w, const struct sw_packet *pkt);

/* Reader thread: hand worker i a new policy (ownership moves), applied between packets. */
void sw_workers_set_policy(struct sw_workers *w, unsigned i, struct sw_policy *p);

/* Main thread: SIGHUP (waits until the output thread has moved files). */
int sw_workers_reopen(struct sw_workers *w, char *err, size_t errlen);

/* Live: some worker still reads; some worker's socket failed; the newest packet (or idle clock) time. */
bool sw_workers_running(struct sw_workers *w);
bool sw_workers_failed(struct sw_workers *w);
uint64_t sw_workers_last_ts(struct sw_workers *w);

/*
 * End of input: each worker drains its ring, flushes its engine (open
 * flows out as flow events) and ends; returns when all have joined.
 * last_file is the file_no of the last packet read (names the flush events).
 */
void sw_workers_finish(struct sw_workers *w, uint32_t last_file);

/*
 * The workers' counters summed (peaks are summed too: an upper bound):
 * after finish, from the engines; live while they run, from snapshots each
 * worker takes on request (this call asks and waits up to ~250 ms).  cs,
 * when not NULL, gets the live sockets' counters the same way (files: zero,
 * the reader's source has them).
 */
void sw_workers_stats(struct sw_workers *w, struct sw_dissect_stats *ds, struct sw_capture_stats *cs);

/* After finish: one line per worker on f, its packets and flows (how even the split was). */
void sw_workers_report(struct sw_workers *w, FILE *f);

/* Main thread: one sensor_degraded event, counted in sw_workers_stats(). */
void sw_workers_raise_sensor(struct sw_workers *w, uint64_t ts_ns, const char *detail);

/* Joins if still running, frees the engines (and their policies). */
void sw_workers_free(struct sw_workers *w);

#endif
