/*
 * reasm.h - TCP reassembly of one direction of one flow (private to dissect/).
 *
 * Invariants:
 *  - Stream offsets are 64-bit and count from the first byte after the SYN
 *    (or, without a SYN, from the first byte seen).  32-bit sequence
 *    numbers are turned into offsets once, here, relative to the last
 *    delivered offset, so wrap-around is handled in one place.
 *  - Bytes are delivered to the consumer exactly once, in order.  The
 *    consumer says how many it took; the rest stay in `held` (bounded by
 *    caps->buf_max) and are offered again, in front of new bytes, next time.
 *    A consumer that takes nothing while `held` is full is a cap hit: the
 *    direction is abandoned (reasm stops, counted).
 *  - Segments ahead of the next expected byte wait in a small sorted list
 *    (bounded by caps->ooo_max_bytes / ooo_max_segments).  When the list is
 *    full, or the flow ends with a hole, the hole is a gap: the consumer's
 *    gap callback is told how many bytes were lost and delivery resumes
 *    after them.
 *  - Overlaps: the first copy wins.  Overlapping bytes that differ from the
 *    copy still held (out-of-order list, `held`, or the last
 *    SW_REASM_HISTORY bytes delivered) are counted as a conflict.  Older
 *    bytes are dropped as retransmissions without comparison.
 *  - skip: the consumer may ask for the next N bytes to be discarded unseen
 *    (a TLS record body, a BDAT chunk); they are never copied.
 *  - Once the consumer says it is done (sw_reasm_stop), every later segment
 *    costs a compare and nothing else, and all memory is released.
 *
 * Nothing here allocates per in-order packet: `held`, the out-of-order list
 * and the history window are allocated on first need and freed by
 * sw_reasm_free/sw_reasm_stop.
 *
 * What the consumer sees (every offset accounted for exactly once):
 *  - deliver() and gap() offsets continue from the consumer's own position:
 *    the first byte it has not consumed, plus what it asked to skip.
 *  - At a gap, bytes still in `held` cannot be completed: they are dropped
 *    and reported inside the gap (off = first unconsumed byte, lost = held
 *    bytes + hole).  Lost bytes count against a pending skip first; gap()
 *    is called only for what is left.  The counters (gaps, gap_bytes,
 *    SW_AN_TCP_GAP) count the hole in the stream only.
 *  - deliver() and gap() may call sw_reasm_skip() and sw_reasm_stop().
 *  - A cap hit (held full, allocation failure) stops the direction and sets
 *    `abandoned`; the caller sees it after sw_reasm_segment returns.
 */
#ifndef SW_REASM_H
#define SW_REASM_H

#include "sw_dissect.h"

#define SW_REASM_HISTORY 256

struct sw_reasm_caps {
	uint32_t buf_max;          /* bytes kept in `held` */
	uint32_t ooo_max_bytes;
	uint32_t ooo_max_segments;
};

/*
 * The consumer.  deliver() gets contiguous in-order bytes starting at stream
 * offset `off` and returns how many it consumed (0..n).  gap() reports that
 * `lost` bytes starting at `off` will never be delivered.
 */
struct sw_reasm_consumer {
	void *ctx;
	int dir; /* passed back unchanged: 0 client->server, 1 server->client */
	uint32_t (*deliver)(void *ctx, int dir, const uint8_t *p, uint32_t n, uint64_t off);
	void (*gap)(void *ctx, int dir, uint64_t off, uint64_t lost);
};

struct sw_reasm_seg;

struct sw_reasm {
	uint32_t isn;            /* sequence number of stream offset 0 */
	uint32_t next_seq;       /* sequence number of the next byte expected */
	uint64_t next_off;       /* stream offset of the next byte expected */
	uint64_t skip;           /* bytes still to discard unseen */
	uint8_t *held;           /* undelivered-to-completion bytes, from offset held_off */
	uint32_t held_len, held_cap;
	uint64_t held_off;
	struct sw_reasm_seg *ooo; /* out-of-order segments, sorted by offset */
	uint32_t ooo_bytes, ooo_count;
	uint8_t *hist;           /* ring of the last SW_REASM_HISTORY delivered bytes */
	uint32_t hist_len;       /* valid bytes in hist (<= SW_REASM_HISTORY) */
	bool started;            /* isn is known */
	bool stopped;            /* consumer done, or abandoned */
	bool fin;                /* FIN seen at next_seq */
	bool abandoned;          /* stopped by a cap, not by the consumer */
	bool fin_seen;           /* a FIN was seen: fin_off is valid */
	uint64_t fin_off;        /* stream offset of the FIN (one past the last byte) */
};

/* Per-flow-table counters the reassembler adds to. */
struct sw_reasm_counters {
	uint64_t *anomalies;     /* indexed by enum sw_anomaly */
	uint64_t *gaps, *gap_bytes, *ooo_segments, *retransmissions, *caps_hit;
	int64_t *mem_bytes;      /* + on allocation, - on free */
};

void sw_reasm_init(struct sw_reasm *r);
/*
 * The SYN (or first segment without one) fixes the ISN: offset 0 = isn, so
 * pass the SYN's seq + 1, or the first segment's seq.  Later calls are
 * ignored.
 */
void sw_reasm_start(struct sw_reasm *r, uint32_t isn);
/*
 * Add one segment.  Delivers whatever becomes contiguous.  Segments before
 * sw_reasm_start are ignored (the caller starts the stream first).
 */
void sw_reasm_segment(struct sw_reasm *r, const struct sw_reasm_caps *caps,
		      const struct sw_reasm_counters *cnt,
		      const struct sw_reasm_consumer *c,
		      uint32_t seq, const uint8_t *p, uint32_t n, bool fin);
/* Ask that the next `n` bytes not yet delivered be discarded unseen. */
void sw_reasm_skip(struct sw_reasm *r, uint64_t n);
/*
 * End of the flow: any bytes waiting beyond a hole are delivered after a
 * gap() for the hole; bytes left in `held` are offered one last time.
 */
void sw_reasm_finish(struct sw_reasm *r, const struct sw_reasm_caps *caps,
		     const struct sw_reasm_counters *cnt, const struct sw_reasm_consumer *c);
/* The consumer needs nothing more: free everything, ignore later segments. */
void sw_reasm_stop(struct sw_reasm *r, const struct sw_reasm_counters *cnt);
void sw_reasm_free(struct sw_reasm *r, const struct sw_reasm_counters *cnt);

#endif
