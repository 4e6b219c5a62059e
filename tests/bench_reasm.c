/*
 * bench_reasm.c - nanoseconds per in-order segment through the TCP
 * reassembler (dissect/reasm.c).  Not a test and not built by CMake:
 *
 *   gcc -std=gnu11 -O2 -Iinclude -Idissect tests/bench_reasm.c dissect/reasm.c \
 *       -o /tmp/bench_reasm && /tmp/bench_reasm
 *
 * Cases: a consumer that takes everything (the hot path: zero copy, one
 * history update per segment), one that takes whole lines (bytes after the
 * last newline go through `held`), and a stopped direction.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reasm.h"

static uint64_t sink_bytes;

static uint32_t take_all(void *ctx, int dir, const uint8_t *p, uint32_t n, uint64_t off)
{
	sink_bytes += n;
	return n;
}

static uint32_t take_lines(void *ctx, int dir, const uint8_t *p, uint32_t n, uint64_t off)
{
	const uint8_t *nl = memchr(p, '\n', n);
	uint32_t k = nl ? (uint32_t)(nl - p) + 1 : 0;
	sink_bytes += k;
	return k;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void run(const char *name, uint32_t (*deliver)(void *, int, const uint8_t *, uint32_t, uint64_t),
		uint32_t seglen, unsigned iters, bool stop_first)
{
	uint8_t *buf = malloc(seglen);
	for (uint32_t i = 0; i < seglen; i++)
		buf[i] = (i % 80 == 79) ? '\n' : (uint8_t)('a' + i % 26);
	uint64_t an[SW_AN__COUNT] = { 0 };
	uint64_t gaps = 0, gap_bytes = 0, ooo = 0, retrans = 0, caps_hit = 0;
	int64_t mem = 0;
	struct sw_reasm_counters cnt = { an, &gaps, &gap_bytes, &ooo, &retrans, &caps_hit, &mem };
	struct sw_reasm_caps caps = { 65536, 65536, 64 };
	struct sw_reasm_consumer c = { NULL, 0, deliver, NULL };
	struct sw_reasm r;

	sw_reasm_init(&r);
	sw_reasm_start(&r, 12345);
	if (stop_first)
		sw_reasm_stop(&r, &cnt);
	uint32_t seq = 12345;
	double t0 = now_ns();
	for (unsigned i = 0; i < iters; i++) {
		sw_reasm_segment(&r, &caps, &cnt, &c, seq, buf, seglen, false);
		seq += seglen;
	}
	double t1 = now_ns();
	sw_reasm_free(&r, &cnt);
	printf("%-12s seg %5u B: %7.1f ns/segment  %6.2f GB/s  (caps_hit %llu, mem after free %lld)\n",
	       name, seglen, (t1 - t0) / iters, (double)seglen * iters / (t1 - t0),
	       (unsigned long long)caps_hit, (long long)mem);
	free(buf);
}

int main(void)
{
	const unsigned iters = 2000000;
	run("take-all", take_all, 1460, iters, false);
	run("take-all", take_all, 100, iters, false);
	run("take-lines", take_lines, 1460, iters, false);
	run("stopped", take_all, 1460, iters, true);
	printf("(%llu bytes consumed)\n", (unsigned long long)sink_bytes);
	return 0;
}
