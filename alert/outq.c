/*
 * outq.c - the bounded multi-producer / single-consumer byte ring between
 * the formatting threads and the output thread (outq.h).
 *
 * head and tail are byte counts that only grow.  Producers take plock for
 * the time of one reserve + copy + commit; the committed head is a release
 * store, the consumer's released tail is a release store, and each side
 * reads the other's counter with acquire loads.  An entry never straddles
 * the end of the buffer: when it does not fit before the end, a skip entry
 * fills the rest and the entry starts over at offset 0.
 *
 * Sleeping: the consumer sets `sleeping` and checks head again (both
 * seq_cst) under wlock before it waits; a producer stores head, then reads
 * `sleeping` (seq_cst) and signals under wlock.  One of the two sees the
 * other's store, so no wake-up is lost.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outq.h"

#define ALIGN 8u
#define KIND_DATA 1u
#define KIND_SKIP 2u

struct hdr {
	uint32_t len;  /* whole entry, header included, ALIGN-aligned */
	uint32_t kind;
};

int sw_outq_init(struct sw_outq *q, uint32_t size)
{
	memset(q, 0, sizeof *q);
	q->buf = aligned_alloc(64, size);
	if (!q->buf)
		return -1;
	q->size = size;
	q->wake_bytes = size / 8;
	pthread_mutex_init(&q->plock, NULL);
	pthread_mutex_init(&q->wlock, NULL);
	pthread_cond_init(&q->wake, NULL);
	return 0;
}

void sw_outq_destroy(struct sw_outq *q)
{
	if (!q->buf)
		return;
	pthread_mutex_destroy(&q->plock);
	pthread_mutex_destroy(&q->wlock);
	pthread_cond_destroy(&q->wake);
	free(q->buf);
	q->buf = NULL;
}

void sw_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

void sw_wait_round(unsigned round)
{
	if (round < 16) {
		sw_cpu_relax();
	} else if (round < 64) {
		sched_yield();
	} else {
		struct timespec ts = { 0, 50000 };
		nanosleep(&ts, NULL);
	}
}

static void wake_consumer(struct sw_outq *q)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load(&q->sleeping))
		return;
	pthread_mutex_lock(&q->wlock);
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->wlock);
}

/* plock held: wait until n more bytes are free. */
static void room_for(struct sw_outq *q, uint32_t n, bool *waited)
{
	unsigned round = 0;
	while (q->prod_head + n - q->prod_tail > q->size) {
		q->prod_tail = atomic_load_explicit(&q->tail, memory_order_acquire);
		if (q->prod_head + n - q->prod_tail <= q->size)
			break;
		if (round == 0) {
			*waited = true;
			/* What is committed must be drained: the consumer may sleep below its threshold. */
			wake_consumer(q);
		}
		sw_wait_round(round++);
	}
}

void *sw_outq_reserve(struct sw_outq *q, uint32_t n, bool *waited)
{
	uint32_t len = ((uint32_t)sizeof(struct hdr) + n + ALIGN - 1) & ~(ALIGN - 1);
	*waited = false;
	pthread_mutex_lock(&q->plock);
	uint32_t off = (uint32_t)(q->prod_head & (q->size - 1));
	if (q->size - off < len) {
		uint32_t skip = q->size - off;
		room_for(q, skip, waited);
		struct hdr *s = (struct hdr *)(q->buf + off);
		s->len = skip;
		s->kind = KIND_SKIP;
		q->prod_head += skip;
		off = 0;
	}
	room_for(q, len, waited);
	struct hdr *h = (struct hdr *)(q->buf + off);
	h->len = len;
	h->kind = KIND_DATA;
	q->res_off = off;
	q->res_len = len;
	return h + 1;
}

void sw_outq_commit(struct sw_outq *q, bool wake)
{
	q->prod_head += q->res_len;
	uint64_t head = q->prod_head;
	atomic_store_explicit(&q->head, head, memory_order_release);
	uint64_t pending = head - q->prod_tail; /* an over-estimate: prod_tail is cached */
	if (pending >= q->wake_bytes) {
		q->prod_tail = atomic_load_explicit(&q->tail, memory_order_acquire);
		wake = wake || head - q->prod_tail >= q->wake_bytes;
	}
	pthread_mutex_unlock(&q->plock);
	if (wake)
		wake_consumer(q);
}

const void *sw_outq_peek(struct sw_outq *q, uint32_t *n)
{
	unsigned round = 0;
	for (;;) {
		if (q->cons_tail == q->cons_head)
			q->cons_head = atomic_load_explicit(&q->head, memory_order_acquire);
		if (q->cons_tail != q->cons_head) {
			struct hdr *h = (struct hdr *)(q->buf + (q->cons_tail & (q->size - 1)));
			if (h->kind == KIND_SKIP) {
				q->cons_tail += h->len;
				atomic_store_explicit(&q->tail, q->cons_tail, memory_order_release);
				continue;
			}
			*n = h->len - (uint32_t)sizeof *h;
			return h + 1;
		}
		if (round++ < 8) {
			/* A few pauses, no more: on a busy machine the spinning
			 * consumer would take the core its producer needs. */
			sw_cpu_relax();
			continue;
		}
		round = 0;
		pthread_mutex_lock(&q->wlock);
		atomic_store(&q->sleeping, true);
		atomic_thread_fence(memory_order_seq_cst);
		while (atomic_load(&q->head) == q->cons_tail)
			pthread_cond_wait(&q->wake, &q->wlock);
		atomic_store(&q->sleeping, false);
		pthread_mutex_unlock(&q->wlock);
	}
}

void sw_outq_release(struct sw_outq *q)
{
	struct hdr *h = (struct hdr *)(q->buf + (q->cons_tail & (q->size - 1)));
	q->cons_tail += h->len;
	atomic_store_explicit(&q->tail, q->cons_tail, memory_order_release);
}
