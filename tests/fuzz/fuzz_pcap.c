/*
 * fuzz_pcap.c - libFuzzer harness for the whole pipeline: capture ->
 * dissect -> alert.
 *
 * The input is a capture file (pcap or pcapng, any link type).  It is
 * written to a memfd and opened by path (/proc/self/fd/N) with
 * sw_source_open_files(), so the capture stage reads it exactly as it reads
 * a file given with -r.  Then the loop of alert/main.c runs: every packet to
 * sw_engine_packet(), findings and flows to sw_alert writing unsigned lines
 * to /dev/null, a fatal file error ends the input, then flush, the
 * sensor_degraded check, a stats line and close, with the reader's
 * lookahead and the engine's prefetch at a depth the input picks.
 * Differences from main.c: small tables (max_flows 256, so eviction is
 * reachable) and no nDPI.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sw_alert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int mem_fd = -1;
static char mem_path[64];

static bool load(const uint8_t *data, size_t size)
{
	if (mem_fd < 0) {
		mem_fd = memfd_create("fuzz_pcap", MFD_CLOEXEC);
		if (mem_fd < 0)
			abort();
		snprintf(mem_path, sizeof mem_path, "/proc/self/fd/%d", mem_fd);
	}
	if (ftruncate(mem_fd, 0) != 0)
		abort();
	size_t off = 0;
	while (off < size) {
		ssize_t w = pwrite(mem_fd, data + off, size - off, (off_t)off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	load(data, size);
	const char *paths[1] = { mem_path };
	struct sw_source *src = sw_source_open_files(paths, 1, err, sizeof err);
	if (!src) {
		if (!memchr(err, '\0', sizeof err) || err[0] == '\0')
			abort(); /* the contract: a one-line message */
		return 0;
	}
	struct sw_alert_opts ao;
	sw_alert_opts_default(&ao);
	ao.out_path = "/dev/null";
	ao.no_sign = true;
	ao.host = "fuzz";
	struct sw_alert *out = sw_alert_open(&ao, err, sizeof err);
	if (!out)
		abort();
	struct sw_dissect_config dc;
	sw_dissect_config_default(&dc);
	dc.max_flows = 256;  /* small, so that eviction is reachable */
	dc.server_memory_max = 256;
	/* nDPI's set-up (milliseconds) would dominate every input; fuzz_mail
	 * covers the nDPI path (port byte with bits 6-7 set). */
	dc.use_ndpi = false;
	dc.seed = 1;
	struct sw_sink sink = { out, sw_alert_finding, sw_alert_flow };
	struct sw_engine *eng = sw_engine_new(&dc, &sink);
	if (!eng)
		abort();

	/*
	 * The reader's lookahead and the engine's prefetch, as main.c's file
	 * loop uses them: a depth of 0-4 taken from a byte of the input, every
	 * packet read ahead hashed (which reads its addresses and ports) and
	 * its payload touched, so a stale pointer after a buffer move shows.
	 */
	unsigned depth = size ? data[size / 2] % (SW_SOURCE_MAX_LOOKAHEAD + 1) : 0;
	sw_source_set_lookahead(src, depth);
	uint64_t last_ts = 0;
	uint32_t cur_file = UINT32_MAX;
	struct sw_packet pkt;
	uint8_t sink_byte = 0;
	for (;;) {
		int rc = sw_source_next(src, &pkt);
		if (rc < 0) {
			const char *e = sw_source_error(src);
			if (!e || !*e)
				abort();
			continue; /* as main.c: go on with the next file (there is none) */
		}
		if (rc == 0)
			break;
		if (pkt.file_no != cur_file) {
			cur_file = pkt.file_no;
			sw_alert_set_pcap_filename(out, sw_source_filename(src));
		}
		uint32_t ahead[SW_SOURCE_MAX_LOOKAHEAD];
		unsigned n = 0;
		for (const struct sw_packet *q; n < depth && (q = sw_source_peek(src, n)); n++) {
			ahead[n] = sw_engine_flow_hash(eng, q);
			if (q->payload_len)
				sink_byte ^= q->payload[q->payload_len - 1];
		}
		sw_engine_prefetch(eng, ahead, n);
		sw_engine_packet_hashed(eng, &pkt, sw_engine_flow_hash(eng, &pkt));
		if (pkt.ts_ns > last_ts)
			last_ts = pkt.ts_ns;
	}
	/* Keeps the reads of the payloads read ahead. */
	__asm__ volatile("" : : "r"(sink_byte));
	sw_engine_flush(eng);
	struct sw_capture_stats cs;
	struct sw_dissect_stats ds;
	sw_source_stats(src, &cs);
	sw_engine_stats(eng, &ds);
	if (ds.caps_hit)
		sw_engine_raise_sensor(eng, last_ts, "caps hit");
	sw_alert_stats(out, last_ts, &cs, &ds);
	sw_alert_close(out, last_ts);
	sw_engine_free(eng);
	sw_source_close(src);
	return 0;
}
