/*
 * workers.h - file mode over several cores (`--workers N`, N >= 2).
 *
 * The reading thread (main) decodes packets with sw_source_next() and hands
 * each one to worker shard % N through a bounded single-producer /
 * single-consumer byte ring; each worker thread owns one struct sw_engine
 * and formats its own lines, which all go to the writer's one output
 * thread, so the run still writes one hash chain into one file (see
 * workers.c for why).
 *
 * Sharding is by the server endpoint, not by the 5-tuple: the detector's
 * in-run memory ("this server offered STARTTLS earlier", "this client used
 * it with this server before") lives in each engine, so every session of a
 * server must reach the same engine.
 */
#ifndef SW_WORKERS_H
#define SW_WORKERS_H

#include "sw_alert.h"

#define SW_WORKERS_MAX 64

struct sw_workers;

/*
 * Start n worker threads (2..SW_WORKERS_MAX), one engine each built from
 * dc, with policies[i] installed in engine i (ownership moves; entries may
 * be NULL).  files[] are the input paths in order (pcap_filename of each
 * event is files[file_no] of the flow's worker).  NULL + err on failure
 * (nothing is left running; the policies are freed).
 */
struct sw_workers *sw_workers_start(unsigned n, const struct sw_dissect_config *dc,
				    struct sw_alert *out, struct sw_policy **policies,
				    const char *const *files, size_t n_files,
				    char *err, size_t errlen);

/* The server endpoint's shard: equal for both directions of a connection
 * and for every connection to one server (address, port). */
uint32_t sw_workers_shard(const struct sw_packet *pkt);

/* Reader thread: copy pkt into its worker's ring (waits while the ring is full). */
void sw_workers_packet(struct sw_workers *w, const struct sw_packet *pkt);

/* Reader thread: hand worker i a new policy (ownership moves), applied between packets. */
void sw_workers_set_policy(struct sw_workers *w, unsigned i, struct sw_policy *p);

/* Reader thread: SIGHUP (waits until the output thread has moved files). */
int sw_workers_reopen(struct sw_workers *w, char *err, size_t errlen);

/*
 * End of input: each worker drains its ring, flushes its engine (open
 * flows out as flow events) and ends; returns when all have joined.
 * last_file is the file_no of the last packet read (names the flush events).
 */
void sw_workers_finish(struct sw_workers *w, uint32_t last_file);

/* After finish: the workers' counters summed (peaks are summed too: an upper bound). */
void sw_workers_stats(const struct sw_workers *w, struct sw_dissect_stats *sum);

/* After finish: raise sensor_degraded through engine 0. */
void sw_workers_raise_sensor(struct sw_workers *w, uint64_t ts_ns, const char *detail);

/* Joins if still running, frees the engines (and their policies). */
void sw_workers_free(struct sw_workers *w);

#endif
