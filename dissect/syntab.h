/*
 * syntab.h - the table of bare SYNs (private to dissect/).
 *
 * A connection attempt that has shown nothing but its opening SYN (no ACK,
 * no payload, no FIN/RST) is kept here, not in the flow table: one 64-byte
 * entry with what that SYN taught (4-tuple, ISN, the SYN's option summary,
 * times, file, how many times it was sent).  The engine moves it into the
 * flow table (promotes it) on its first other packet, so a SYN flood fills
 * this table only and never evicts a flow that spoke.
 *
 * Invariants:
 *  - Fixed size, allocated once: SW_SYN_WAYS-way sets; a set's tags and
 *    ages share one cache line, apart from the entries, so a miss reads one
 *    line and a new entry writes one more.
 *  - A tag is the flow hash with bit 0 set (0 marks a free way); a tag
 *    match is confirmed on the whole 4-tuple.
 *  - Ages come from a clock ticked on every claim and touch; a full set
 *    gives up its least recently touched entry, and says so to the caller,
 *    who counts it.
 *  - Nothing here allocates after sw_syntab_init().
 */
#ifndef SW_SYNTAB_H
#define SW_SYNTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sw_capture.h"

#define SW_SYN_WAYS 8

/* One bare SYN: what the flow takes over when it is promoted. */
struct sw_syn {
	uint64_t first_ts, last_ts;
	uint8_t cli[16], srv[16];    /* cli: the SYN's sender */
	uint16_t cport, sport;
	uint32_t isn;                /* sequence number of the latest SYN */
	uint32_t file_no;
	uint8_t ip_version;
	uint8_t syn_opts;            /* sw_path_syn_set() of the latest SYN */
	uint8_t pkts;                /* SYNs seen, 1..3 */
};

struct sw_syn_set {
	uint32_t tag[SW_SYN_WAYS];   /* flow hash | 1; 0 = free way */
	uint32_t age[SW_SYN_WAYS];   /* table clock at the last claim or touch */
};

struct sw_syntab {
	struct sw_syn_set *sets;
	struct sw_syn *ent;          /* entry of (set, way): ent[set * SW_SYN_WAYS + way] */
	uint32_t set_mask;
	uint32_t clock;
	uint32_t n;                  /* entries in use */
	uint32_t cap;                /* entries in all */
};

/*
 * Allocate a table of `entries` entries (a power of two, at least
 * SW_SYN_WAYS).  Returns false on allocation failure (the table is then
 * empty and sw_syntab_destroy() is still safe).
 */
bool sw_syntab_init(struct sw_syntab *t, uint32_t entries);
void sw_syntab_destroy(struct sw_syntab *t);
/* Bytes the table holds. */
size_t sw_syntab_bytes(const struct sw_syntab *t);

/*
 * The entry of p's 4-tuple (h = its symmetric flow hash), NULL if none;
 * *dir is 0 when p was sent by the SYN's sender.
 */
struct sw_syn *sw_syntab_find(struct sw_syntab *t, uint32_t h, const struct sw_packet *p, int *dir);

/*
 * An entry for a new 4-tuple of hash h: a free way of its set, else the
 * set's least recently touched entry, whose old contents stay readable
 * until the caller fills it (*evicted tells which).  The caller must
 * overwrite every field.
 */
struct sw_syn *sw_syntab_claim(struct sw_syntab *t, uint32_t h, bool *evicted);

/*
 * Prefetch hints for the engine's pipeline (nothing changes): the set line
 * of hash h; then, with that line in cache, the entry a find or a claim for
 * h would use (a matching tag, a free way or the oldest way), for writing.
 */
void sw_syntab_prefetch_set(const struct sw_syntab *t, uint32_t h);
void sw_syntab_prefetch_entry(const struct sw_syntab *t, uint32_t h);

/* The entry was used again: it becomes the youngest of its set. */
void sw_syntab_touch(struct sw_syntab *t, const struct sw_syn *s);

/* Free the entry. */
void sw_syntab_remove(struct sw_syntab *t, const struct sw_syn *s);

/* Entry i (0 .. cap-1) if in use, else NULL: for sweeps. */
struct sw_syn *sw_syntab_at(struct sw_syntab *t, uint32_t i);

#endif
