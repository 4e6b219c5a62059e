/*
 * test_lookahead.c - frames held across reads: the classic pcap reader's
 * hold mark (frames stay intact across buffer refills and move with
 * pf->shift; a record that does not fit beside them is refused without
 * being consumed) and the source's lookahead (the same packets, errors,
 * file numbers and counters with and without it, across big frames,
 * non-TCP frames, a libpcap file, an unreadable file and truncated files).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sw_capture.h"
#include "pcapfile.h"

#define MAGIC_US 0xa1b2c3d4u
#define SNAPLEN 262144u
#define ETH_IP_TCP 54u

#define TMPDIR_PREFIX "sw-lookahead"
#define TMPDIR_MAX_FILES 16
#include "tmpdir.h"

/* ---- frames: every byte follows from the frame's id ---------------------- */

static uint8_t pattern(uint32_t id, uint32_t i)
{
	return (uint8_t)(id * 131u + i * 7u + (i >> 8));
}

/*
 * Frame id of n bytes: Ethernet, IPv4, TCP from port 1000 + id % 1000 with
 * sequence number id and a patterned payload (at most what an IPv4 length
 * holds; the rest is link padding, patterned too), or an ARP frame.
 */
static void make_frame(uint8_t *b, uint32_t n, uint32_t id, bool tcp)
{
	assert_true(n >= 60);
	for (uint32_t i = 0; i < n; i++)
		b[i] = pattern(id, i);
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	memcpy(b, macs, 12);
	b[12] = 0x08;
	b[13] = tcp ? 0x00 : 0x06;
	if (!tcp)
		return;
	uint32_t tot = SW_MIN(n - 14, 65535u);
	uint8_t *ip = b + 14;
	static const uint8_t iph[20] = { 0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2 };
	memcpy(ip, iph, 20);
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	uint8_t *th = ip + 20;
	uint16_t sport = (uint16_t)(1000 + id % 1000);
	th[0] = (uint8_t)(sport >> 8);
	th[1] = (uint8_t)sport;
	th[2] = 0;
	th[3] = 25;
	th[4] = (uint8_t)(id >> 24);
	th[5] = (uint8_t)(id >> 16);
	th[6] = (uint8_t)(id >> 8);
	th[7] = (uint8_t)id;
	memset(th + 8, 0, 12);
	th[12] = 0x50;
	th[13] = 0x18;
	th[14] = 0x10;
}

/* The frame make_frame() wrote is intact at p. */
static void check_frame(const uint8_t *p, uint32_t n, uint32_t id, bool tcp)
{
	static uint8_t want[SNAPLEN];
	make_frame(want, n, id, tcp);
	assert_memory_equal(p, want, n);
}

struct rec {
	uint32_t len;     /* frame bytes */
	uint32_t id;
	bool tcp;
	uint32_t cut;     /* 0: whole; else write only this many bytes of the record (header included) */
};

/* A classic pcap (version 2.minor, microseconds, Ethernet) of the records. */
static const char *write_file(const char *name, uint16_t minor, const struct rec *r, size_t n)
{
	static uint8_t b[16 + SNAPLEN];
	const char *path = tmp_path(name);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	uint32_t fh[6] = { MAGIC_US, 2u | ((uint32_t)minor << 16), 0, 0, SNAPLEN, 1 };
	assert_int_equal(fwrite(fh, sizeof(fh), 1, fp), 1);
	for (size_t i = 0; i < n; i++) {
		uint32_t h[4] = { 1000 + r[i].id, r[i].id % 1000000u, r[i].len, r[i].len };
		memcpy(b, h, 16);
		make_frame(b + 16, r[i].len, r[i].id, r[i].tcp);
		size_t w = r[i].cut ? r[i].cut : 16u + r[i].len;
		assert_int_equal(fwrite(b, 1, w, fp), w);
	}
	assert_int_equal(fclose(fp), 0);
	return path;
}

/*
 * Sizes that cross the 1 MiB buffer often, at odd places; five in a row
 * from the first fill more than the buffer.
 */
static const uint32_t g_sizes[] = { SNAPLEN, SNAPLEN - 1, 250001, 240007, 70001, 60, 9000,
				    1514, 333, 131072, 65549, 200003 };

static size_t make_recs(struct rec *r, size_t n, uint32_t id0)
{
	for (size_t i = 0; i < n; i++) {
		r[i].len = g_sizes[(i + id0) % SW_ARRAY_LEN(g_sizes)];
		r[i].id = id0 + (uint32_t)i;
		r[i].tcp = (i % 5) != 3;
		r[i].cut = 0;
	}
	return n;
}

/* ---- the reader's hold mark ---------------------------------------------- */

struct held {
	const uint8_t *data;
	uint32_t len, id;
};

/*
 * Read the file keeping the last `keep` frames, checking them after every
 * call.  Returns the frames read; *full counts SW_PCAPFILE_FULL answers,
 * *moves the refills that moved held frames.
 */
static size_t read_holding(const char *path, const struct rec *r, size_t n, size_t keep,
			   size_t *full, size_t *moves)
{
	struct sw_pcapfile pf;
	memset(&pf, 0, sizeof(pf));
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(sw_pcapfile_probe(&pf, fd), 1);

	struct held h[8];
	size_t nh = 0, got = 0;
	*full = *moves = 0;
	for (;;) {
		pf.hold = nh ? (size_t)(h[0].data - pf.buf) : SW_PCAPFILE_NO_HOLD;
		struct sw_pcapfile_frame fr;
		size_t pos_before = pf.pos;
		int rc = sw_pcapfile_next(&pf, &fr);
		if (pf.shift) {
			if (nh)
				(*moves)++;
			for (size_t i = 0; i < nh; i++)
				h[i].data -= pf.shift;
			pf.shift = 0;
		}
		for (size_t i = 0; i < nh; i++)
			check_frame(h[i].data, h[i].len, h[i].id, r[h[i].id - r[0].id].tcp);
		if (rc == SW_PCAPFILE_FULL) {
			/* Refused, not consumed: only ever with something held. */
			assert_true(nh > 0);
			assert_true(pf.pos <= pos_before);
			(*full)++;
			memmove(h, h + 1, --nh * sizeof(h[0]));
			continue;
		}
		if (rc == 0)
			break;
		assert_int_equal(rc, 1);
		assert_true(got < n);
		assert_int_equal(fr.caplen, r[got].len);
		assert_int_equal(fr.ts_ns, (1000ull + r[got].id) * 1000000000ull + (r[got].id % 1000000u) * 1000ull);
		check_frame(fr.data, fr.caplen, r[got].id, r[got].tcp);
		if (keep && nh == keep)
			memmove(h, h + 1, --nh * sizeof(h[0]));
		if (keep)
			h[nh++] = (struct held){ fr.data, fr.caplen, r[got].id };
		got++;
	}
	close(fd);
	sw_pcapfile_free(&pf);
	return got;
}

static void test_hold_across_refills(void **state)
{
	static struct rec r[60];
	size_t n = make_recs(r, SW_ARRAY_LEN(r), 1);
	const char *path = write_file("hold.pcap", 4, r, n);
	size_t full, moves;

	/* Nothing held: every frame read, never refused. */
	assert_int_equal(read_holding(path, r, n, 0, &full, &moves), n);
	assert_int_equal(full, 0);
	/* Two held (the run loop's depth): they fit beside any record. */
	assert_int_equal(read_holding(path, r, n, 2, &full, &moves), n);
	assert_int_equal(full, 0);
	assert_true(moves >= 5);
	/* Four held: big neighbours leave no room now and then. */
	assert_int_equal(read_holding(path, r, n, 4, &full, &moves), n);
	assert_true(full > 0);
	assert_true(moves >= 5);
}

/* Three held frames of the largest size: the fourth does not fit beside them. */
static void test_record_larger_than_free_space(void **state)
{
	struct rec r[5];
	for (uint32_t i = 0; i < 5; i++)
		r[i] = (struct rec){ SNAPLEN, 100 + i, true, 0 };
	const char *path = write_file("big.pcap", 4, r, 5);
	struct sw_pcapfile pf;
	memset(&pf, 0, sizeof(pf));
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(sw_pcapfile_probe(&pf, fd), 1);

	struct sw_pcapfile_frame fr[5];
	for (int i = 0; i < 3; i++) {
		pf.hold = i ? (size_t)(fr[0].data - pf.buf) : SW_PCAPFILE_NO_HOLD;
		assert_int_equal(sw_pcapfile_next(&pf, &fr[i]), 1);
		for (int j = 0; j < i; j++)
			fr[j].data -= pf.shift;
		pf.shift = 0;
	}
	/* 3 x (16 + 262144) held and 16 + 262144 wanted: more than 1 MiB. */
	pf.hold = (size_t)(fr[0].data - pf.buf);
	size_t pos = pf.pos;
	assert_int_equal(sw_pcapfile_next(&pf, &fr[3]), SW_PCAPFILE_FULL);
	for (int j = 0; j < 3; j++)
		fr[j].data -= pf.shift;
	pf.shift = 0;
	assert_true(pf.pos <= pos);
	for (int j = 0; j < 3; j++)
		check_frame(fr[j].data, SNAPLEN, 100 + (uint32_t)j, true);
	/* Let the oldest go: the refused record comes now, the other two intact. */
	pf.hold = (size_t)(fr[1].data - pf.buf);
	assert_int_equal(sw_pcapfile_next(&pf, &fr[3]), 1);
	for (int j = 1; j < 3; j++) {
		fr[j].data -= pf.shift;
		check_frame(fr[j].data, SNAPLEN, 100 + (uint32_t)j, true);
	}
	check_frame(fr[3].data, SNAPLEN, 103, true);
	close(fd);
	sw_pcapfile_free(&pf);
}

/* ---- the source's lookahead ---------------------------------------------- */

struct step {
	int rc;
	uint64_t index, ts_ns;
	uint32_t file_no, seq, l3_len, payload_len;
	char err[256];
	char file[128];
};

/* The packet is the frame its sequence number names, intact. */
static void check_packet(const struct sw_packet *p, const struct rec *const *all)
{
	const struct rec *r = all[p->seq];
	assert_non_null(r);
	static uint8_t want[SNAPLEN];
	make_frame(want, r->len, r->id, true);
	assert_int_equal(p->l3_len, SW_MIN(r->len - 14, 65535u));
	assert_memory_equal(p->l3, want + 14, p->l3_len);
	assert_memory_equal(p->payload, want + ETH_IP_TCP, p->payload_len);
}

/* Every step of reading paths with lookahead depth; the counters in *st. */
static size_t run_source(const char *const *paths, size_t n_paths, unsigned depth,
			 const struct rec *const *all, struct step *out, size_t max,
			 struct sw_capture_stats *st)
{
	char err[256] = "";
	struct sw_source *src = sw_source_open_files(paths, n_paths, err, sizeof(err));
	if (!src)
		fail_msg("open: %s", err);
	sw_source_set_lookahead(src, depth);
	uint32_t peeked[SW_SOURCE_MAX_LOOKAHEAD + 8];
	size_t n_peeked = 0, n = 0, ends = 0;

	while (ends < 2) {
		struct sw_packet p;
		struct step *s = &out[n++];
		assert_true(n <= max);
		memset(s, 0, sizeof(*s));
		s->rc = sw_source_next(src, &p);
		if (s->rc == 0) {
			ends++; /* and once more: still the end */
			continue;
		}
		if (s->rc < 0) {
			snprintf(s->err, sizeof(s->err), "%s", sw_source_error(src));
			n_peeked = 0; /* nothing was shown past an error */
			continue;
		}
		assert_int_equal(s->rc, 1);
		check_packet(&p, all);
		/* What was shown ahead comes in that order. */
		if (n_peeked) {
			assert_int_equal(p.seq, peeked[0]);
			memmove(peeked, peeked + 1, --n_peeked * sizeof(peeked[0]));
		}
		s->index = p.index;
		s->ts_ns = p.ts_ns;
		s->file_no = p.file_no;
		s->seq = p.seq;
		s->l3_len = p.l3_len;
		s->payload_len = p.payload_len;
		snprintf(s->file, sizeof(s->file), "%s", sw_source_filename(src));
		assert_string_equal(s->file, paths[p.file_no]);
		/* The packets read ahead: intact, and at most depth of them. */
		const struct sw_packet *q;
		unsigned i = 0;
		for (; (q = sw_source_peek(src, i)) != NULL; i++) {
			check_packet(q, all);
			if (i >= n_peeked)
				peeked[n_peeked++] = q->seq;
			else
				assert_int_equal(q->seq, peeked[i]);
		}
		assert_true(i <= depth);
	}
	sw_source_stats(src, st);
	sw_source_close(src);
	return n;
}

static void test_source_lookahead_same_steps(void **state)
{
	static struct rec a[40], c[30], e[6];
	struct rec b[4];
	static const struct rec *all[400];

	/* a: mixed, cut inside the data of its last record. */
	make_recs(a, SW_ARRAY_LEN(a), 10);
	a[39].cut = 16 + a[39].len / 2;
	/* b: version 2.3, so libpcap reads it: its frames are not held. */
	make_recs(b, SW_ARRAY_LEN(b), 60);
	/* c: whole. */
	make_recs(c, SW_ARRAY_LEN(c), 70);
	/* e: cut inside the header of its last record. */
	make_recs(e, SW_ARRAY_LEN(e), 110);
	e[5].cut = 9;
	const struct rec *groups[] = { a, b, c, e };
	const size_t sizes[] = { SW_ARRAY_LEN(a), SW_ARRAY_LEN(b), SW_ARRAY_LEN(c), SW_ARRAY_LEN(e) };
	for (size_t g = 0; g < 4; g++)
		for (size_t i = 0; i < sizes[g]; i++)
			if (groups[g][i].tcp)
				all[groups[g][i].id] = &groups[g][i];

	const char *paths[6];
	paths[0] = write_file("a.pcap", 4, a, SW_ARRAY_LEN(a));
	paths[1] = write_file("b.pcap", 3, b, SW_ARRAY_LEN(b));
	paths[2] = tmp_path("missing.pcap");
	paths[3] = write_file("c.pcap", 4, c, SW_ARRAY_LEN(c));
	paths[4] = write_file("e.pcap", 4, e, SW_ARRAY_LEN(e));
	paths[5] = paths[3]; /* the same file again, after a cut one */

	static struct step s0[200], s1[200];
	struct sw_capture_stats st0, st1;
	size_t n0 = run_source(paths, 6, 0, all, s0, SW_ARRAY_LEN(s0), &st0);
	/* The reference run saw every kind of step. */
	size_t errors = 0, packets = 0;
	for (size_t i = 0; i < n0; i++) {
		errors += s0[i].rc < 0;
		packets += s0[i].rc == 1;
	}
	assert_int_equal(errors, 3);
	assert_true(packets > 60);
	for (unsigned depth = 1; depth <= SW_SOURCE_MAX_LOOKAHEAD + 1; depth++) {
		size_t n1 = run_source(paths, 6, depth, all, s1, SW_ARRAY_LEN(s1), &st1);
		assert_int_equal(n1, n0);
		for (size_t i = 0; i < n0; i++) {
			assert_int_equal(s1[i].rc, s0[i].rc);
			assert_int_equal(s1[i].index, s0[i].index);
			assert_int_equal(s1[i].ts_ns, s0[i].ts_ns);
			assert_int_equal(s1[i].file_no, s0[i].file_no);
			assert_int_equal(s1[i].seq, s0[i].seq);
			assert_int_equal(s1[i].l3_len, s0[i].l3_len);
			assert_int_equal(s1[i].payload_len, s0[i].payload_len);
			assert_string_equal(s1[i].err, s0[i].err);
			assert_string_equal(s1[i].file, s0[i].file);
		}
		assert_memory_equal(&st1, &st0, sizeof(st0));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_across_refills),
		cmocka_unit_test(test_record_larger_than_free_space),
		cmocka_unit_test(test_source_lookahead_same_steps),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
