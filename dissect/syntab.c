/*
 * syntab.c - the table of bare SYNs: fixed-size, set-associative, evicts
 * the least recently touched entry of a full set (contract in syntab.h).
 */
#include <stdlib.h>
#include <string.h>

#include "syntab.h"

_Static_assert(sizeof(struct sw_syn) == 64, "a bare SYN is one cache line");
_Static_assert(sizeof(struct sw_syn_set) == 64, "a set's tags and ages are one cache line");

bool sw_syntab_init(struct sw_syntab *t, uint32_t entries)
{
	memset(t, 0, sizeof(*t));
	if (entries < SW_SYN_WAYS || (entries & (entries - 1)) != 0)
		return false;
	uint32_t nsets = entries / SW_SYN_WAYS;
	/* Tags zeroed: every way free.  Entries are written before they are read. */
	void *sets = NULL, *ent = NULL;
	if (posix_memalign(&sets, 64, (size_t)nsets * sizeof(struct sw_syn_set)) != 0)
		return false;
	if (posix_memalign(&ent, 64, (size_t)entries * sizeof(struct sw_syn)) != 0) {
		free(sets);
		return false;
	}
	memset(sets, 0, (size_t)nsets * sizeof(struct sw_syn_set));
	t->sets = sets;
	t->ent = ent;
	t->set_mask = nsets - 1;
	t->cap = entries;
	return true;
}

void sw_syntab_destroy(struct sw_syntab *t)
{
	free(t->sets);
	free(t->ent);
	memset(t, 0, sizeof(*t));
}

size_t sw_syntab_bytes(const struct sw_syntab *t)
{
	return (size_t)t->cap * sizeof(struct sw_syn) +
	       (size_t)(t->cap / SW_SYN_WAYS) * sizeof(struct sw_syn_set);
}

static inline uint32_t set_of(const struct sw_syntab *t, uint32_t h)
{
	/* The flow table probes from the low bits; sets come from the high ones. */
	return (h >> 16 | h << 16) & t->set_mask;
}

struct sw_syn *sw_syntab_find(struct sw_syntab *t, uint32_t h, const struct sw_packet *p, int *dir)
{
	if (t->n == 0)
		return NULL;
	uint32_t si = set_of(t, h);
	const struct sw_syn_set *st = &t->sets[si];
	uint32_t tag = h | 1u;
	for (uint32_t w = 0; w < SW_SYN_WAYS; w++) {
		if (st->tag[w] != tag)
			continue;
		struct sw_syn *s = &t->ent[si * SW_SYN_WAYS + w];
		if (s->ip_version != p->ip_version)
			continue;
		if (s->cport == p->sport && s->sport == p->dport &&
		    memcmp(s->cli, p->src, 16) == 0 && memcmp(s->srv, p->dst, 16) == 0) {
			*dir = 0;
			return s;
		}
		if (s->cport == p->dport && s->sport == p->sport &&
		    memcmp(s->cli, p->dst, 16) == 0 && memcmp(s->srv, p->src, 16) == 0) {
			*dir = 1;
			return s;
		}
	}
	return NULL;
}

struct sw_syn *sw_syntab_claim(struct sw_syntab *t, uint32_t h, bool *evicted)
{
	uint32_t si = set_of(t, h);
	struct sw_syn_set *st = &t->sets[si];
	uint32_t way = 0, oldest = 0;
	*evicted = true;
	for (uint32_t w = 0; w < SW_SYN_WAYS; w++) {
		if (st->tag[w] == 0) {
			way = w;
			*evicted = false;
			break;
		}
		/* Unsigned distance from the clock: right across wrap-around. */
		uint32_t d = t->clock - st->age[w];
		if (d >= oldest) {
			oldest = d;
			way = w;
		}
	}
	if (!*evicted)
		t->n++;
	st->tag[way] = h | 1u;
	st->age[way] = ++t->clock;
	return &t->ent[si * SW_SYN_WAYS + way];
}

void sw_syntab_prefetch_set(const struct sw_syntab *t, uint32_t h)
{
	if (t->sets)
		__builtin_prefetch(&t->sets[set_of(t, h)]);
}

void sw_syntab_prefetch_entry(const struct sw_syntab *t, uint32_t h)
{
	if (!t->sets)
		return;
	uint32_t si = set_of(t, h);
	const struct sw_syn_set *st = &t->sets[si];
	uint32_t tag = h | 1u, way = 0, oldest = 0;
	/* The way sw_syntab_find() or sw_syntab_claim() would take. */
	for (uint32_t w = 0; w < SW_SYN_WAYS; w++) {
		if (st->tag[w] == tag || st->tag[w] == 0) {
			way = w;
			break;
		}
		uint32_t d = t->clock - st->age[w];
		if (d >= oldest) {
			oldest = d;
			way = w;
		}
	}
	__builtin_prefetch(&t->ent[si * SW_SYN_WAYS + way], 1);
}

void sw_syntab_touch(struct sw_syntab *t, const struct sw_syn *s)
{
	uint32_t i = (uint32_t)(s - t->ent);
	t->sets[i / SW_SYN_WAYS].age[i % SW_SYN_WAYS] = ++t->clock;
}

void sw_syntab_remove(struct sw_syntab *t, const struct sw_syn *s)
{
	uint32_t i = (uint32_t)(s - t->ent);
	struct sw_syn_set *st = &t->sets[i / SW_SYN_WAYS];
	if (st->tag[i % SW_SYN_WAYS] == 0)
		return;
	st->tag[i % SW_SYN_WAYS] = 0;
	t->n--;
}

struct sw_syn *sw_syntab_at(struct sw_syntab *t, uint32_t i)
{
	if (i >= t->cap || t->sets[i / SW_SYN_WAYS].tag[i % SW_SYN_WAYS] == 0)
		return NULL;
	return &t->ent[i];
}
