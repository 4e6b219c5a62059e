/*
 * outq.h - the bounded queue between the threads that format event lines
 * and the one thread that chains, signs and writes them (alert.c).
 *
 * A byte ring of variable-size entries, preallocated once: nothing is
 * allocated per entry.  Any number of producers (they take a mutex only
 * to copy an entry in, never while formatting), one consumer.  Entries
 * come out in the order they were committed, so an entry committed after
 * another by the same thread, or after a join / lock hand-over, comes out
 * after it.
 *
 * Full ring: the producer waits (spin, yield, then 50 us sleeps) and says
 * so; nothing is ever dropped.  Empty ring: the consumer sleeps on a
 * condition variable.  A producer wakes it only when asked to (a line
 * that must reach the file now, a control request) or once a wake
 * threshold of bytes is pending, so that a run of flow lines costs one
 * wake-up, not one per line.
 */
#ifndef SW_OUTQ_H
#define SW_OUTQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sw_outq {
	_Alignas(64) _Atomic uint64_t head;  /* bytes committed (producers, under lock) */
	_Alignas(64) _Atomic uint64_t tail;  /* bytes released by the consumer */
	_Alignas(64) pthread_mutex_t plock;  /* producers: one at a time */
	uint64_t prod_head;                  /* under plock */
	uint64_t prod_tail;                  /* under plock: cached tail */
	uint32_t res_off;                    /* under plock: the reserved entry's offset */
	uint32_t res_len;
	_Alignas(64) uint64_t cons_head;     /* consumer's cached head */
	uint64_t cons_tail;                  /* consumer's own tail */
	pthread_mutex_t wlock;               /* sleeping and being woken */
	pthread_cond_t wake;                 /* consumer: entries are waiting */
	_Atomic bool sleeping;               /* consumer is (about to be) asleep on wake */
	uint8_t *buf;
	uint32_t size;                       /* a power of two */
	uint32_t wake_bytes;                 /* pending bytes that wake the consumer */
};

/* The largest payload one entry can carry. */
#define SW_OUTQ_ENTRY_MAX(q) ((q)->size / 4)

/* 0, or -1 (out of memory).  size: a power of two of at least 64 KiB. */
int sw_outq_init(struct sw_outq *q, uint32_t size);
void sw_outq_destroy(struct sw_outq *q);

/*
 * Producer: room for an entry of n payload bytes (n <= SW_OUTQ_ENTRY_MAX),
 * waiting while the ring is full; *waited is set when it had to wait.
 * Takes the producer lock: the caller fills the returned bytes and calls
 * sw_outq_commit() at once.
 */
void *sw_outq_reserve(struct sw_outq *q, uint32_t n, bool *waited);
/* Producer: publishes the reserved entry; wake: wake the consumer now. */
void sw_outq_commit(struct sw_outq *q, bool wake);

/*
 * Consumer: the oldest entry's payload and length, sleeping while the ring
 * is empty.  The bytes stay valid until sw_outq_release().
 */
const void *sw_outq_peek(struct sw_outq *q, uint32_t *n);
void sw_outq_release(struct sw_outq *q);

/*
 * Waiting for another thread (the queue's producers, the workers' rings):
 * spin a little, then yield, then sleep 50 us at a time, so that on a
 * machine with fewer cores than threads a waiter does not steal the core of
 * the thread it waits for.  round counts up from 0 while the wait lasts.
 */
void sw_wait_round(unsigned round);
void sw_cpu_relax(void);

#endif
