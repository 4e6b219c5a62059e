/*
 * test_capture.c - packet sources: pcap and pcapng files written here into
 * a temporary directory and read back, several files as one timeline,
 * corrupt and unsupported files, and a live capture on loopback (skipped
 * when not allowed to capture).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "sw_capture.h"

#define MAGIC_US 0xa1b2c3d4u
#define MAGIC_NS 0xa1b23c4du

#define TMPDIR_PREFIX "sw-capture"
#define TMPDIR_MAX_FILES 64
#include "tmpdir.h"

/* ---- frames ------------------------------------------------------------ */

struct frame {
	uint8_t b[256];
	uint32_t n;
};

static void put(struct frame *f, const void *p, size_t n)
{
	assert_true(f->n + n <= sizeof(f->b));
	memcpy(f->b + f->n, p, n);
	f->n += (uint32_t)n;
}

static void put16(struct frame *f, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(f, b, 2);
}

/* IPv4 + TCP (ACK|PSH) from sport to 25 carrying payload. */
static void put_ipv4_tcp(struct frame *f, uint16_t sport, const char *payload)
{
	size_t pl = strlen(payload);
	static const uint8_t addrs[8] = { 10, 0, 0, 1, 10, 0, 0, 2 };
	uint8_t ip[12] = { 0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0 };
	ip[2] = (uint8_t)((40 + pl) >> 8);
	ip[3] = (uint8_t)(40 + pl);
	put(f, ip, sizeof(ip));
	put(f, addrs, 8);
	put16(f, sport);
	put16(f, 25);
	static const uint8_t rest[16] = { 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0x10, 0, 0, 0, 0, 0 };
	put(f, rest, sizeof(rest));
	put(f, payload, pl);
}

static struct frame eth_tcp(uint16_t sport, const char *payload)
{
	struct frame f = { .n = 0 };
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	put(&f, macs, 12);
	put16(&f, 0x0800);
	put_ipv4_tcp(&f, sport, payload);
	return f;
}

static struct frame eth_arp(void)
{
	struct frame f = { .n = 0 };
	static const uint8_t macs[12] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2 };
	put(&f, macs, 12);
	put16(&f, 0x0806);
	static const uint8_t zero[46];
	put(&f, zero, sizeof(zero));
	return f;
}

/* ---- file writers ------------------------------------------------------ */

struct rec {
	uint32_t sec, frac;     /* frac: micro- or nanoseconds, as the file's magic says */
	const struct frame *f;
	uint32_t caplen;        /* 0: f->n */
	uint32_t len;           /* 0: caplen */
	uint32_t write_len;     /* 0: caplen bytes written (fewer: a truncated file) */
};

static void write_u32(FILE *fp, uint32_t v) { assert_int_equal(fwrite(&v, 4, 1, fp), 1); }
static void write_u16(FILE *fp, uint16_t v) { assert_int_equal(fwrite(&v, 2, 1, fp), 1); }

/* Header fields in the writer's byte order: host order, or swapped. */
static bool g_swap;
static void wr32(FILE *fp, uint32_t v) { write_u32(fp, g_swap ? __builtin_bswap32(v) : v); }
static void wr16(FILE *fp, uint16_t v) { write_u16(fp, g_swap ? __builtin_bswap16(v) : v); }

/* A classic pcap file, version major.minor, in the byte order g_swap says. */
static void write_pcap_fp(FILE *fp, uint32_t magic, uint16_t minor, uint32_t linktype,
			  uint32_t snaplen, const struct rec *r, size_t n)
{
	wr32(fp, magic);
	wr16(fp, 2);
	wr16(fp, minor);
	wr32(fp, 0);
	wr32(fp, 0);
	wr32(fp, snaplen);
	wr32(fp, linktype);
	for (size_t i = 0; i < n; i++) {
		uint32_t cap = r[i].caplen ? r[i].caplen : r[i].f->n;
		uint32_t wr = r[i].write_len ? r[i].write_len : cap;
		wr32(fp, r[i].sec);
		wr32(fp, r[i].frac);
		wr32(fp, cap);
		wr32(fp, r[i].len ? r[i].len : cap);
		if (wr)
			assert_int_equal(fwrite(r[i].f->b, 1, wr, fp), wr);
	}
}

static const char *write_pcap(const char *name, uint32_t magic, uint32_t linktype,
			      uint32_t snaplen, const struct rec *r, size_t n)
{
	const char *path = tmp_path(name);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	write_pcap_fp(fp, magic, 4, linktype, snaplen, r, n);
	assert_int_equal(fclose(fp), 0);
	return path;
}

/* pcapng blocks (host byte order, as the byte-order magic says). */
static void ng_shb(FILE *fp)
{
	write_u32(fp, 0x0a0d0d0a);
	write_u32(fp, 28);
	write_u32(fp, 0x1a2b3c4d);
	write_u16(fp, 1);
	write_u16(fp, 0);
	write_u32(fp, 0xffffffff);
	write_u32(fp, 0xffffffff);
	write_u32(fp, 28);
}

/* Interface description; tsresol 0: no if_tsresol option (microseconds). */
static void ng_idb(FILE *fp, uint16_t linktype, uint8_t tsresol)
{
	uint32_t len = tsresol ? 32 : 20;
	write_u32(fp, 1);
	write_u32(fp, len);
	write_u16(fp, linktype);
	write_u16(fp, 0);
	write_u32(fp, 262144);
	if (tsresol) {
		write_u16(fp, 9); /* if_tsresol */
		write_u16(fp, 1);
		uint8_t v[4] = { tsresol, 0, 0, 0 };
		assert_int_equal(fwrite(v, 1, 4, fp), 4);
		write_u32(fp, 0); /* opt_endofopt */
	}
	write_u32(fp, len);
}

static void ng_epb(FILE *fp, uint32_t ifid, uint64_t ts, const struct frame *f)
{
	uint32_t pad = (4 - f->n % 4) % 4;
	uint32_t len = 32 + f->n + pad;
	static const uint8_t zero[4];
	write_u32(fp, 6);
	write_u32(fp, len);
	write_u32(fp, ifid);
	write_u32(fp, (uint32_t)(ts >> 32));
	write_u32(fp, (uint32_t)ts);
	write_u32(fp, f->n);
	write_u32(fp, f->n);
	assert_int_equal(fwrite(f->b, 1, f->n, fp), f->n);
	if (pad)
		assert_int_equal(fwrite(zero, 1, pad, fp), pad);
	write_u32(fp, len);
}

/* ---- helpers ----------------------------------------------------------- */

static struct sw_source *open_ok(const char *const *paths, size_t n)
{
	char err[256] = "";
	struct sw_source *src = sw_source_open_files(paths, n, err, sizeof(err));
	if (!src)
		fail_msg("open failed: %s", err);
	return src;
}

/* Read the next packet, expecting a TCP one from sport. */
static void expect_packet(struct sw_source *src, uint16_t sport, uint64_t index, uint32_t file_no,
			  uint64_t ts_ns)
{
	struct sw_packet p;
	int rc = sw_source_next(src, &p);
	if (rc != 1)
		fail_msg("sw_source_next: %d: %s", rc, sw_source_error(src));
	assert_int_equal(p.sport, sport);
	assert_int_equal(p.index, index);
	assert_int_equal(p.file_no, file_no);
	assert_int_equal(p.ts_ns, ts_ns);
}

/* ---- tests ------------------------------------------------------------- */

static void test_pcap_micro(void **state)
{
	struct frame a = eth_tcp(1001, "220 mx ESMTP\r\n"), arp = eth_arp(), b = eth_tcp(1002, "");
	struct rec r[] = {
		{ 1700000000, 123456, &a, 0, 0, 0 },
		{ 1700000000, 200000, &arp, 0, 0, 0 },
		{ 1700000001, 999999, &b, 0, 0, 0 },
	};
	const char *path = write_pcap("micro.pcap", MAGIC_US, DLT_EN10MB, 65535, r, 3);
	struct sw_source *src = open_ok(&path, 1);
	struct sw_packet p;
	struct sw_capture_stats st;

	assert_false(sw_source_is_live(src));
	assert_int_equal(sw_source_fd(src), -1);
	assert_int_equal(sw_source_next(src, &p), 1);
	assert_int_equal(p.ts_ns, 1700000000123456000ull);
	assert_int_equal(p.index, 1);
	assert_int_equal(p.payload_len, 14);
	assert_memory_equal(p.payload, "220 mx ESMTP\r\n", 14);
	assert_string_equal(sw_source_filename(src), path);
	expect_packet(src, 1002, 3, 0, 1700000001999999000ull);
	assert_int_equal(sw_source_next(src, &p), 0);
	assert_int_equal(sw_source_next(src, &p), 0);

	sw_source_stats(src, &st);
	assert_int_equal(st.frames, 3);
	assert_int_equal(st.bytes, a.n + arp.n + b.n);
	assert_int_equal(st.tcp, 2);
	assert_int_equal(st.by_result[SW_DECODE_TCP], 2);
	assert_int_equal(st.by_result[SW_DECODE_NOT_IP], 1);
	assert_int_equal(st.kernel_received, 0);
	sw_source_close(src);
}

static void test_pcap_nano(void **state)
{
	struct frame a = eth_tcp(2001, "x");
	struct rec r[] = {
		{ 1700000000, 123456789, &a, 0, 0, 0 },
		{ 1700000000, 123456790, &a, 0, 0, 0 },
	};
	const char *path = write_pcap("nano.pcap", MAGIC_NS, DLT_EN10MB, 65535, r, 2);
	struct sw_source *src = open_ok(&path, 1);

	expect_packet(src, 2001, 1, 0, 1700000000123456789ull);
	expect_packet(src, 2001, 2, 0, 1700000000123456790ull);
	sw_source_close(src);
}

/* A pcapng file named .pcap: the header decides, in both time resolutions. */
static void test_pcapng(void **state)
{
	struct frame a = eth_tcp(3001, "a"), arp = eth_arp();
	const char *path = tmp_path("really-ng.pcap");
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	ng_shb(fp);
	ng_idb(fp, DLT_EN10MB, 0);  /* microseconds */
	ng_idb(fp, DLT_EN10MB, 9);  /* nanoseconds */
	ng_epb(fp, 0, 1700000000123456ull, &a);
	ng_epb(fp, 1, 1700000000987654321ull, &arp);
	ng_epb(fp, 1, 1700000000987654322ull, &a);
	assert_int_equal(fclose(fp), 0);

	struct sw_source *src = open_ok(&path, 1);
	struct sw_packet p;
	expect_packet(src, 3001, 1, 0, 1700000000123456000ull);
	expect_packet(src, 3001, 3, 0, 1700000000987654322ull);
	assert_int_equal(sw_source_next(src, &p), 0);
	sw_source_close(src);
}

static const char *write_ng_file(const char *name, uint16_t sport0)
{
	struct frame a = eth_tcp(sport0, "a"), b = eth_tcp((uint16_t)(sport0 + 1), "b");
	const char *path = tmp_path(name);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	ng_shb(fp);
	ng_idb(fp, DLT_EN10MB, 9);
	ng_epb(fp, 0, 2000000000000000000ull, &a);
	ng_epb(fp, 0, 2000000000000000001ull, &b);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static void test_two_files_one_timeline(void **state)
{
	struct frame a = eth_tcp(4001, "a"), b = eth_tcp(4002, "b");
	struct rec r[] = { { 10, 1, &a, 0, 0, 0 }, { 10, 2, &b, 0, 0, 0 } };
	char *paths[2];
	paths[0] = strdup(write_pcap("first.pcap", MAGIC_NS, DLT_EN10MB, 65535, r, 2));
	paths[1] = strdup(write_ng_file("second.pcapng", 5001));
	struct sw_source *src = open_ok((const char *const *)paths, 2);
	/* The source keeps its own copy of the names. */
	char second[128];
	snprintf(second, sizeof(second), "%s", paths[1]);
	free(paths[0]);
	free(paths[1]);
	struct sw_packet p;

	expect_packet(src, 4001, 1, 0, 10000000001ull);
	expect_packet(src, 4002, 2, 0, 10000000002ull);
	expect_packet(src, 5001, 1, 1, 2000000000000000000ull);
	assert_string_equal(sw_source_filename(src), second);
	expect_packet(src, 5002, 2, 1, 2000000000000000001ull);
	assert_int_equal(sw_source_next(src, &p), 0);

	struct sw_capture_stats st;
	sw_source_stats(src, &st);
	assert_int_equal(st.frames, 4);
	assert_int_equal(st.tcp, 4);
	sw_source_close(src);
}

static void test_truncated_file(void **state)
{
	struct frame a = eth_tcp(6001, "hello");
	struct rec r[] = {
		{ 1, 0, &a, 0, 0, 0 },
		{ 2, 0, &a, 0, 0, 0 },
		{ 3, 0, &a, 0, 0, 20 }, /* the file ends 20 bytes into packet 3 */
	};
	const char *paths[2];
	paths[0] = write_pcap("cut.pcap", MAGIC_US, DLT_EN10MB, 65535, r, 3);
	paths[1] = write_ng_file("after-cut.pcapng", 7001);
	struct sw_source *src = open_ok(paths, 2);
	struct sw_packet p;
	char want[200];

	expect_packet(src, 6001, 1, 0, 1000000000ull);
	expect_packet(src, 6001, 2, 0, 2000000000ull);
	assert_int_equal(sw_source_next(src, &p), -1);
	const char *e = sw_source_error(src);
	snprintf(want, sizeof(want), "stripwatch: %s: packet 3: ", paths[0]);
	assert_true(strncmp(e, want, strlen(want)) == 0);
	assert_non_null(strstr(e, "truncated"));
	assert_null(strchr(e, '\n'));
	/* The caller goes on with the next file. */
	expect_packet(src, 7001, 1, 1, 2000000000000000000ull);
	expect_packet(src, 7002, 2, 1, 2000000000000000001ull);
	assert_int_equal(sw_source_next(src, &p), 0);
	sw_source_close(src);

	/* A file cut inside a record header. */
	r[2].write_len = 0;
	const char *path = write_pcap("cut-hdr.pcap", MAGIC_US, DLT_EN10MB, 65535, r, 2);
	FILE *fp = fopen(path, "ab");
	assert_non_null(fp);
	write_u32(fp, 3);
	assert_int_equal(fclose(fp), 0);
	src = open_ok(&path, 1);
	expect_packet(src, 6001, 1, 0, 1000000000ull);
	expect_packet(src, 6001, 2, 0, 2000000000ull);
	assert_int_equal(sw_source_next(src, &p), -1);
	snprintf(want, sizeof(want), "stripwatch: %s: packet 3: ", path);
	assert_true(strncmp(sw_source_error(src), want, strlen(want)) == 0);
	assert_int_equal(sw_source_next(src, &p), 0);
	sw_source_close(src);
}

static void test_unsupported_link_type(void **state)
{
	struct frame a = eth_tcp(8001, "a");
	struct rec r[] = { { 1, 0, &a, 0, 0, 0 } };
	const char *wifi = write_pcap("wifi.pcap", MAGIC_US, DLT_IEEE802_11, 65535, r, 1);
	const char *eth = write_pcap("eth.pcap", MAGIC_US, DLT_EN10MB, 65535, r, 1);
	char err[256] = "", want[200];
	struct sw_packet p;

	/* As the first file: the open fails. */
	assert_null(sw_source_open_files(&wifi, 1, err, sizeof(err)));
	snprintf(want, sizeof(want), "stripwatch: %s: unsupported link type IEEE802_11 (105)", wifi);
	assert_string_equal(err, want);

	/* Reached later: -1 with the same line, then the next file. */
	const char *paths[3] = { eth, wifi, eth };
	struct sw_source *src = open_ok(paths, 3);
	expect_packet(src, 8001, 1, 0, 1000000000ull);
	assert_int_equal(sw_source_next(src, &p), -1);
	assert_string_equal(sw_source_error(src), want);
	expect_packet(src, 8001, 1, 2, 1000000000ull);
	assert_int_equal(sw_source_next(src, &p), 0);
	sw_source_close(src);
}

static void test_pcapng_mixed_link_types(void **state)
{
	struct frame a = eth_tcp(9001, "a");
	struct frame sll2 = { .n = 0 };
	static const uint8_t sll2_hdr[20] = { 0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6 };
	put(&sll2, sll2_hdr, sizeof(sll2_hdr));
	put_ipv4_tcp(&sll2, 9002, "b");

	const char *path = tmp_path("mixed.pcapng");
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	ng_shb(fp);
	ng_idb(fp, DLT_EN10MB, 0);
	ng_epb(fp, 0, 1000000, &a);
	ng_idb(fp, DLT_LINUX_SLL2, 0);
	ng_epb(fp, 1, 2000000, &sll2);
	assert_int_equal(fclose(fp), 0);

	struct sw_source *src = open_ok(&path, 1);
	struct sw_packet p;
	char want[200];
	expect_packet(src, 9001, 1, 0, 1000000000ull);
	assert_int_equal(sw_source_next(src, &p), -1);
	snprintf(want, sizeof(want), "stripwatch: %s: packet 2: ", path);
	const char *e = sw_source_error(src);
	assert_true(strncmp(e, want, strlen(want)) == 0);
	assert_non_null(strstr(e, "276"));
	assert_null(strchr(e, '\n'));
	assert_int_equal(sw_source_next(src, &p), 0);
	sw_source_close(src);
}

static void test_odd_frames(void **state)
{
	struct frame a = eth_tcp(10001, "0123456789abcdef0123456789abcdef");
	struct frame empty = { .n = 0 };
	struct rec r[] = {
		{ 1, 0, &empty, 0, 0, 0 },     /* zero-length frame */
		{ 2, 0, &a, 0, 0, 0 },         /* caplen 86 > the file's snaplen 64 */
		{ 3, 0, &a, 60, 1500, 0 },     /* cut by the snaplen, as usual */
		{ 4, 0, &a, 0, 0, 0 },
	};
	const char *path = write_pcap("odd.pcap", MAGIC_US, DLT_EN10MB, 64, r, 4);
	struct sw_source *src = open_ok(&path, 1);
	struct sw_packet p;
	struct sw_capture_stats st;
	int rc, n_tcp = 0, n_err = 0;

	while ((rc = sw_source_next(src, &p)) != 0) {
		if (rc < 0) {
			n_err++;
			continue;
		}
		n_tcp++;
		assert_int_equal(p.sport, 10001);
		assert_true(p.payload_len <= p.payload_wire_len);
		assert_int_equal(p.payload_wire_len, 32);
	}
	sw_source_stats(src, &st);
	assert_int_equal(n_err, 0);
	assert_int_equal(st.frames, 4);
	assert_int_equal(st.by_result[SW_DECODE_TRUNCATED], 1);
	assert_int_equal(st.tcp, 3);
	assert_int_equal(n_tcp, 3);
	sw_source_close(src);

	/* A capture length no snaplen allows is a corrupt record: -1 naming it. */
	struct rec huge[] = {
		{ 1, 0, &a, 0, 0, 0 },
		{ 2, 0, &a, 300000, 300000, a.n },
	};
	path = write_pcap("huge.pcap", MAGIC_US, DLT_EN10MB, 65535, huge, 2);
	src = open_ok(&path, 1);
	char want[200];
	snprintf(want, sizeof(want), "stripwatch: %s: packet 2: ", path);
	assert_int_equal(sw_source_next(src, &p), 1);
	assert_int_equal(sw_source_next(src, &p), -1);
	assert_true(strncmp(sw_source_error(src), want, strlen(want)) == 0);
	assert_non_null(strstr(sw_source_error(src), "300000"));
	assert_int_equal(sw_source_next(src, &p), 0);
	sw_source_close(src);
}

static void test_open_errors(void **state)
{
	char err[256] = "", want[200];
	const char *missing = tmp_path("missing.pcap");
	struct sw_packet p;

	assert_null(sw_source_open_files(&missing, 1, err, sizeof(err)));
	snprintf(want, sizeof(want), "stripwatch: %s: %s", missing, strerror(ENOENT));
	assert_string_equal(err, want);

	assert_null(sw_source_open_files(NULL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "no capture files"));

	/* Not a capture file at all. */
	const char *text = tmp_path("notes.pcap");
	FILE *fp = fopen(text, "w");
	assert_non_null(fp);
	fputs("this is not a capture file, just text\n", fp);
	assert_int_equal(fclose(fp), 0);
	assert_null(sw_source_open_files(&text, 1, err, sizeof(err)));
	snprintf(want, sizeof(want), "stripwatch: %s: ", text);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	assert_true(strlen(err) > strlen(want));

	/* A missing later file is reported when reached. */
	const char *paths[3] = { write_ng_file("ok.pcapng", 11001), missing, text };
	struct sw_source *src = open_ok(paths, 3);
	expect_packet(src, 11001, 1, 0, 2000000000000000000ull);
	expect_packet(src, 11002, 2, 0, 2000000000000000001ull);
	assert_int_equal(sw_source_next(src, &p), -1);
	assert_non_null(strstr(sw_source_error(src), missing));
	assert_int_equal(sw_source_next(src, &p), -1);
	assert_non_null(strstr(sw_source_error(src), text));
	assert_int_equal(sw_source_next(src, &p), 0);
	sw_source_close(src);
}

static void test_break_file_mode(void **state)
{
	const char *path = write_ng_file("brk.pcapng", 12001);
	struct sw_source *src = open_ok(&path, 1);
	struct sw_packet p;

	expect_packet(src, 12001, 1, 0, 2000000000000000000ull);
	sw_source_break(src);
	assert_int_equal(sw_source_next(src, &p), 0);
	/* The caller may go on after a break. */
	expect_packet(src, 12002, 2, 0, 2000000000000000001ull);
	assert_int_equal(sw_source_next(src, &p), 0);
	sw_source_close(src);
}

/* ---- the classic pcap reader ------------------------------------------- */

/* What libpcap itself makes of a file: every frame before its first error. */
struct lp_result {
	bool open_failed;
	uint64_t frames, bytes;
	uint64_t ts[16];
	char err[PCAP_ERRBUF_SIZE];
};

static void libpcap_read(const char *path, struct lp_result *res)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	struct pcap_pkthdr *h;
	const u_char *d;
	int rc;

	memset(res, 0, sizeof(*res));
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (!p) {
		res->open_failed = true;
		snprintf(res->err, sizeof(res->err), "%s", perr);
		return;
	}
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		assert_true(res->frames < SW_ARRAY_LEN(res->ts));
		res->ts[res->frames++] = (uint64_t)h->ts.tv_sec * 1000000000u +
					 (uint64_t)h->ts.tv_usec;
		res->bytes += h->caplen;
	}
	if (rc != PCAP_ERROR_BREAK)
		snprintf(res->err, sizeof(res->err), "%s", pcap_geterr(p));
	pcap_close(p);
}

/*
 * The source gives the frames, times, captured bytes and error line that
 * libpcap gives for the same file.  Returns the number of frames.
 */
static uint64_t expect_same_as_libpcap(const char *path)
{
	struct lp_result lp;
	char err[512] = "", want[700];
	struct sw_packet p;
	struct sw_capture_stats st;
	int rc;

	libpcap_read(path, &lp);
	struct sw_source *src = sw_source_open_files(&path, 1, err, sizeof(err));
	if (lp.open_failed) {
		assert_null(src);
		snprintf(want, sizeof(want), "stripwatch: %s: %s", path, lp.err);
		assert_string_equal(err, want);
		return 0;
	}
	if (!src)
		fail_msg("open failed: %s", err);
	while ((rc = sw_source_next(src, &p)) == 1) {
		assert_true(p.index >= 1 && p.index <= lp.frames);
		assert_int_equal(p.ts_ns, lp.ts[p.index - 1]);
	}
	if (*lp.err) {
		assert_int_equal(rc, -1);
		snprintf(want, sizeof(want), "stripwatch: %s: packet %llu: %s", path,
			 (unsigned long long)lp.frames + 1, lp.err);
		assert_string_equal(sw_source_error(src), want);
		assert_int_equal(sw_source_next(src, &p), 0);
	} else {
		assert_int_equal(rc, 0);
	}
	sw_source_stats(src, &st);
	assert_int_equal(st.frames, lp.frames);
	assert_int_equal(st.bytes, lp.bytes);
	sw_source_close(src);
	return lp.frames;
}

static void test_classic_byte_orders(void **state)
{
	struct frame a = eth_tcp(13001, "EHLO x\r\n"), b = eth_tcp(13002, "");
	/* Seconds past 2038: unsigned in the file format, and libpcap's own
	 * reader would sign-extend them; so these times also show that our
	 * reader took the file. */
	struct rec r[] = {
		{ 1700000000, 999999, &a, 0, 0, 0 },
		{ 0x80000001u, 5, &b, 0, 0, 0 },
		{ 0xffffffffu, 999999, &a, 0, 0, 0 },
	};
	static const char *names[4] = { "us-host.pcap", "us-swapped.pcap", "ns-host.pcap",
					"ns-swapped.pcap" };
	for (int v = 0; v < 4; v++) {
		bool nano = v >= 2;
		uint64_t mul = nano ? 1 : 1000;
		r[0].frac = nano ? 999999999u : 999999u;
		g_swap = v & 1;
		const char *path = write_pcap(names[v], nano ? MAGIC_NS : MAGIC_US, DLT_EN10MB,
					      262144, r, 3);
		g_swap = false;
		struct sw_source *src = open_ok(&path, 1);
		struct sw_packet p;
		expect_packet(src, 13001, 1, 0, 1700000000ull * 1000000000u + r[0].frac * mul);
		expect_packet(src, 13002, 2, 0, 0x80000001ull * 1000000000u + 5 * mul);
		expect_packet(src, 13001, 3, 0, 0xffffffffull * 1000000000u + 999999 * mul);
		assert_int_equal(sw_source_next(src, &p), 0);
		sw_source_close(src);
	}
}

/* LINKTYPE_RAW (101) is DLT_RAW (12 here); LINKTYPE_IPV4 228 is DLT_IPV4. */
static void test_classic_link_types(void **state)
{
	struct frame ip = { .n = 0 };
	put_ipv4_tcp(&ip, 14001, "x");
	struct rec r[] = { { 1, 0, &ip, 0, 0, 0 } };
	const uint32_t types[] = { 101, 228 };
	const char *names[] = { "raw101.pcap", "ipv4.pcap" };

	for (size_t i = 0; i < SW_ARRAY_LEN(types); i++) {
		g_swap = i == 1;
		const char *path = write_pcap(names[i], MAGIC_US, types[i], 65535, r, 1);
		g_swap = false;
		struct sw_source *src = open_ok(&path, 1);
		expect_packet(src, 14001, 1, 0, 1000000000ull);
		sw_source_close(src);
		assert_int_equal(expect_same_as_libpcap(path), 1);
	}
}

/*
 * A file cut at every byte: the records before the cut come out, then -1
 * naming the file and the first incomplete record in libpcap's words (or a
 * clean end at a record boundary, or a failed open inside the file header).
 * In both byte orders and both magics; the last variant's snaplen is below
 * its frames, so cuts fall inside records longer than the snaplen too.
 */
static void test_classic_truncated_everywhere(void **state)
{
	struct frame a = eth_tcp(15001, "0123456789abcdef0123456789abcdef"), z = { .n = 0 };
	struct rec r[] = {
		{ 1, 1, &a, 0, 0, 0 },
		{ 2, 2, &z, 0, 0, 0 },     /* a zero-length record */
		{ 3, 3, &a, 0, 0, 0 },
	};
	struct { uint32_t magic; bool swap; uint32_t snaplen; } var[] = {
		{ MAGIC_US, false, 65535 }, { MAGIC_US, true, 65535 },
		{ MAGIC_NS, false, 65535 }, { MAGIC_NS, true, 64 },
	};
	static uint8_t whole[1024];
	const char *cut = tmp_path("cut-every.pcap");

	for (size_t v = 0; v < SW_ARRAY_LEN(var); v++) {
		FILE *fp = fmemopen(whole, sizeof(whole), "wb");
		assert_non_null(fp);
		g_swap = var[v].swap;
		write_pcap_fp(fp, var[v].magic, 4, DLT_EN10MB, var[v].snaplen, r, 3);
		g_swap = false;
		long size = ftell(fp);
		assert_int_equal(fclose(fp), 0);
		size_t bound[4] = { 24, 24 + 16 + a.n, 24 + 32 + a.n, 24 + 48 + 2 * (size_t)a.n };
		assert_int_equal(bound[3], (size_t)size);

		for (size_t len = 0; len <= (size_t)size; len++) {
			fp = fopen(cut, "wb");
			assert_non_null(fp);
			assert_int_equal(fwrite(whole, 1, len, fp), len);
			assert_int_equal(fclose(fp), 0);
			uint64_t frames = expect_same_as_libpcap(cut);
			if (len < 24)
				continue; /* the open failed, as checked against libpcap */
			size_t k = 0;
			while (k < 3 && bound[k + 1] <= len)
				k++;
			assert_int_equal(frames, k);
			if (len == bound[k])
				continue; /* a clean end */
			/* Explicitly: one line naming the file, the record and the cut. */
			struct sw_source *src = open_ok(&cut, 1);
			struct sw_packet p;
			char want[200];
			int rc;
			while ((rc = sw_source_next(src, &p)) == 1)
				;
			assert_int_equal(rc, -1);
			snprintf(want, sizeof(want), "stripwatch: %s: packet %zu: truncated dump file; "
				 "tried to read ", cut, k + 1);
			const char *e = sw_source_error(src);
			assert_true(strncmp(e, want, strlen(want)) == 0);
			assert_non_null(strstr(e, len - bound[k] < 16 ? "header bytes" : "captured bytes"));
			assert_null(strchr(e, '\n'));
			sw_source_close(src);
		}
	}
}

/* Capture lengths against the snaplen: cut to it, or libpcap's error. */
static void test_classic_caplen_checks(void **state)
{
	struct frame a = eth_tcp(16001, "0123456789abcdef0123456789abcdef"), z = { .n = 0 };
	struct rec cut_to_snaplen[] = {
		{ 1, 0, &a, 0, 0, 0 },           /* 86 > snaplen 60: 60 delivered */
		{ 2, 0, &z, 0, 0, 0 },
		{ 3, 0, &a, 0, 0, 0 },
		{ 4, 0, &z, 0, 0, 0 },           /* zero-length record last */
	};
	const char *path = write_pcap("snap60.pcap", MAGIC_NS, DLT_EN10MB, 60, cut_to_snaplen, 4);
	assert_int_equal(expect_same_as_libpcap(path), 4);
	struct sw_source *src = open_ok(&path, 1);
	struct sw_packet p;
	struct sw_capture_stats st;
	assert_int_equal(sw_source_next(src, &p), 1);
	assert_int_equal(p.payload_len, 60 - 54);
	assert_int_equal(p.payload_wire_len, 32);
	assert_int_equal(sw_source_next(src, &p), 1);
	assert_int_equal(p.index, 3);
	assert_int_equal(sw_source_next(src, &p), 0);
	sw_source_stats(src, &st);
	assert_int_equal(st.bytes, 120);
	assert_int_equal(st.by_result[SW_DECODE_TRUNCATED], 2);
	sw_source_close(src);

	/* snaplen 0 means 262144; above it no snaplen can be true. */
	struct rec over[] = { { 1, 0, &a, 0, 0, 0 }, { 2, 0, &a, 262145, 262145, a.n } };
	path = write_pcap("snap0.pcap", MAGIC_US, DLT_EN10MB, 0, over, 2);
	assert_int_equal(expect_same_as_libpcap(path), 1);
	src = open_ok(&path, 1);
	assert_int_equal(sw_source_next(src, &p), 1);
	assert_int_equal(sw_source_next(src, &p), -1);
	assert_non_null(strstr(sw_source_error(src), "packet 2: invalid packet capture length "
				"262145, bigger than snaplen of 262144"));
	sw_source_close(src);

	/* A huge snaplen in the header: the 262144 maximum still holds. */
	struct rec huge[] = { { 1, 0, &a, 0, 0, 0 }, { 2, 0, &a, 300000, 300000, a.n } };
	path = write_pcap("snapbig.pcap", MAGIC_US, DLT_EN10MB, 0x7fffffff, huge, 2);
	assert_int_equal(expect_same_as_libpcap(path), 1);
	path = write_pcap("snapneg.pcap", MAGIC_US, DLT_EN10MB, 0x80000000u, huge, 2);
	assert_int_equal(expect_same_as_libpcap(path), 1);

	/* A capture length larger than what is left of the file. */
	struct rec past_end[] = { { 1, 0, &a, 0, 0, 0 }, { 2, 0, &a, 200000, 200000, a.n } };
	path = write_pcap("pastend.pcap", MAGIC_US, DLT_EN10MB, 262144, past_end, 2);
	assert_int_equal(expect_same_as_libpcap(path), 1);
}

/* Files that are not plain 2.4 pcap of a supported link type stay libpcap's. */
static void test_classic_variants_to_libpcap(void **state)
{
	struct frame a = eth_tcp(17001, "a");

	/* Version 2.2 has caplen and len interchanged: libpcap swaps them back. */
	struct rec old[] = { { 1, 0, &a, 1500, a.n, a.n } };
	const char *path = tmp_path("v22.pcap");
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	write_pcap_fp(fp, MAGIC_US, 2, DLT_EN10MB, 65535, old, 1);
	assert_int_equal(fclose(fp), 0);
	struct sw_source *src = open_ok(&path, 1);
	struct sw_packet p;
	expect_packet(src, 17001, 1, 0, 1000000000ull);
	assert_int_equal(sw_source_next(src, &p), 0);
	sw_source_close(src);

	/* The modified-pcap magic: 24-byte record headers. */
	path = tmp_path("kuznetzov.pcap");
	fp = fopen(path, "wb");
	assert_non_null(fp);
	static const struct rec none[1];
	write_pcap_fp(fp, 0xa1b2cd34u, 4, DLT_EN10MB, 65535, none, 0);
	for (uint32_t i = 1; i <= 2; i++) {
		write_u32(fp, i);
		write_u32(fp, 7);
		write_u32(fp, a.n);
		write_u32(fp, a.n);
		write_u32(fp, 1);          /* ifindex */
		write_u16(fp, 0x0800);     /* protocol */
		uint8_t type_pad[2] = { 0, 0 };
		assert_int_equal(fwrite(type_pad, 1, 2, fp), 2);
		assert_int_equal(fwrite(a.b, 1, a.n, fp), a.n);
	}
	assert_int_equal(fclose(fp), 0);
	src = open_ok(&path, 1);
	expect_packet(src, 17001, 1, 0, 1000007000ull);
	expect_packet(src, 17001, 2, 0, 2000007000ull);
	assert_int_equal(sw_source_next(src, &p), 0);
	sw_source_close(src);
}

/* Classic pcap in both byte orders and pcapng, one timeline. */
static void test_classic_timeline(void **state)
{
	struct frame a = eth_tcp(18001, "a"), b = eth_tcp(18002, "b");
	struct rec r[] = { { 20, 1, &a, 0, 0, 0 }, { 20, 2, &b, 0, 0, 0 } };
	const char *paths[4];
	g_swap = true;
	paths[0] = write_pcap("tl-swapped.pcap", MAGIC_US, DLT_EN10MB, 65535, r, 2);
	g_swap = false;
	paths[1] = write_ng_file("tl-middle.pcapng", 19001);
	paths[2] = write_pcap("tl-ns.pcap", MAGIC_NS, DLT_EN10MB, 65535, r, 2);
	paths[3] = paths[0];
	struct sw_source *src = open_ok(paths, 4);
	struct sw_packet p;

	expect_packet(src, 18001, 1, 0, 20000001000ull);
	expect_packet(src, 18002, 2, 0, 20000002000ull);
	expect_packet(src, 19001, 1, 1, 2000000000000000000ull);
	expect_packet(src, 19002, 2, 1, 2000000000000000001ull);
	expect_packet(src, 18001, 1, 2, 20000000001ull);
	assert_string_equal(sw_source_filename(src), paths[2]);
	expect_packet(src, 18002, 2, 2, 20000000002ull);
	expect_packet(src, 18001, 1, 3, 20000001000ull);
	expect_packet(src, 18002, 2, 3, 20000002000ull);
	assert_string_equal(sw_source_filename(src), paths[0]);
	assert_int_equal(sw_source_next(src, &p), 0);
	struct sw_capture_stats st;
	sw_source_stats(src, &st);
	assert_int_equal(st.frames, 8);
	sw_source_close(src);
}

/* Pipe bytes of a classic pcap file into a pipe; returns its read end. */
static int pcap_in_pipe(uint16_t sport)
{
	struct frame a = eth_tcp(sport, "a");
	struct rec r[] = { { 30, 1, &a, 0, 0, 0 }, { 30, 2, &a, 0, 0, 0 } };
	static uint8_t bytes[512];
	int fds[2];

	FILE *fp = fmemopen(bytes, sizeof(bytes), "wb");
	assert_non_null(fp);
	write_pcap_fp(fp, MAGIC_NS, 4, DLT_EN10MB, 65535, r, 2);
	long n = ftell(fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], bytes, (size_t)n), n); /* fits in the pipe buffer */
	close(fds[1]);
	return fds[0];
}

static void read_pipe_source(const char *path, uint16_t sport)
{
	struct sw_source *src = open_ok(&path, 1);
	struct sw_packet p;
	expect_packet(src, sport, 1, 0, 30000000001ull);
	expect_packet(src, sport, 2, 0, 30000000002ull);
	assert_int_equal(sw_source_next(src, &p), 0);
	sw_source_close(src);
}

/* A pipe or /dev/stdin is not a regular file: libpcap reads it. */
static void test_classic_from_pipe(void **state)
{
	char path[64];
	int rfd = pcap_in_pipe(20001);
	snprintf(path, sizeof(path), "/dev/fd/%d", rfd);
	read_pipe_source(path, 20001);
	close(rfd);

	rfd = pcap_in_pipe(20002);
	int saved = dup(STDIN_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(rfd, STDIN_FILENO), STDIN_FILENO);
	close(rfd);
	struct stat sb;
	assert_int_equal(stat("/dev/stdin", &sb), 0);
	assert_true(S_ISFIFO(sb.st_mode));
	read_pipe_source("/dev/stdin", 20002);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
}

/* ---- live -------------------------------------------------------------- */

static void test_live_errors(void **state)
{
	char err[512] = "";
	struct sw_live_opts o = { .iface = "swnosuch0" };

	assert_null(sw_source_open_live(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "swnosuch0"));
	assert_null(strchr(err, '\n'));

	o.iface = NULL;
	assert_null(sw_source_open_live(&o, err, sizeof(err)));

	o.iface = "lo";
	o.bpf = "tcp and and port";
	struct sw_source *src = sw_source_open_live(&o, err, sizeof(err));
	if (!src && strstr(err, "bad filter") == NULL)
		skip(); /* not allowed to capture here */
	assert_null(src);
	assert_non_null(strstr(err, "stripwatch: lo: bad filter \"tcp and and port\""));
}

static int listen_loopback(uint16_t *port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 4), 0);
	socklen_t al = sizeof(a);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return s;
}

static void test_live_loopback(void **state)
{
	char err[512] = "", bpf[64];
	uint16_t port;
	int ls = listen_loopback(&port);
	snprintf(bpf, sizeof(bpf), "tcp port %u", port);
	struct sw_live_opts o = { .iface = "lo", .bpf = bpf, .buffer_mb = 4, .timeout_ms = 50 };
	struct sw_source *src = sw_source_open_live(&o, err, sizeof(err));
	if (!src) {
		close(ls);
		print_message("live capture not possible here: %s\n", err);
		skip();
	}
	struct sw_packet p;
	assert_true(sw_source_is_live(src));
	assert_null(sw_source_filename(src));
	assert_true(sw_source_fd(src) >= 0);

	/* Nothing matches yet: the read times out with 0. */
	assert_int_equal(sw_source_next(src, &p), 0);

	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);

	struct timespec t0, t1;
	clock_gettime(CLOCK_REALTIME, &t0);
	uint64_t now_ns = (uint64_t)t0.tv_sec * 1000000000u + (uint64_t)t0.tv_nsec;
	bool syn = false;
	for (int i = 0; i < 100 && !syn; i++) {
		int rc = sw_source_next(src, &p);
		assert_true(rc >= 0);
		if (rc == 1 && p.tcp_flags == SW_TH_SYN) {
			syn = true;
			assert_int_equal(p.dport, port);
			assert_int_equal(p.ip_version, 4);
			assert_true(p.mss > 0);
			assert_true(p.n_opts > 0);
			/* Packet time is wall time at nanosecond scale. */
			assert_true(p.ts_ns + 5000000000ull > now_ns && p.ts_ns < now_ns + 5000000000ull);
		}
	}
	assert_true(syn);
	clock_gettime(CLOCK_REALTIME, &t1);

	struct sw_capture_stats st;
	sw_source_stats(src, &st);
	assert_true(st.tcp >= 1);
	assert_true(st.kernel_received >= 1);

	/* A break makes the next read return 0 at once. */
	sw_source_break(src);
	assert_int_equal(sw_source_next(src, &p), 0);
	close(c);
	close(ls);
	sw_source_close(src);

	/* The default mail/TLS filter compiles on a real interface. */
	struct sw_live_opts d = { .iface = "lo" };
	src = sw_source_open_live(&d, err, sizeof(err));
	if (!src)
		fail_msg("default filter: %s", err);
	sw_source_close(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pcap_micro),
		cmocka_unit_test(test_pcap_nano),
		cmocka_unit_test(test_pcapng),
		cmocka_unit_test(test_two_files_one_timeline),
		cmocka_unit_test(test_truncated_file),
		cmocka_unit_test(test_unsupported_link_type),
		cmocka_unit_test(test_pcapng_mixed_link_types),
		cmocka_unit_test(test_odd_frames),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_break_file_mode),
		cmocka_unit_test(test_classic_byte_orders),
		cmocka_unit_test(test_classic_link_types),
		cmocka_unit_test(test_classic_truncated_everywhere),
		cmocka_unit_test(test_classic_caplen_checks),
		cmocka_unit_test(test_classic_variants_to_libpcap),
		cmocka_unit_test(test_classic_timeline),
		cmocka_unit_test(test_classic_from_pipe),
		cmocka_unit_test(test_live_errors),
		cmocka_unit_test(test_live_loopback),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
