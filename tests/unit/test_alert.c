/*
 * test_alert.c - the alert stage's line making: Community ID vectors,
 * SHA-1, timestamps, JSON escaping and UTF-8 forcing, member order and
 * content of alert, flow and stats lines, bounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <sys/stat.h>

#include <sodium.h>

#include "alert_fakes.h"
#include "alert_test_util.h"
#include "b64.h"
#include "chain.h"
#include "json.h"
#include "sha1.h"
#include "sw_alert.h"

/* ---- Community ID (conventions.md 1.4, corelight baseline vectors) -------- */

struct cid_vec {
	uint8_t proto;
	const char *sa, *da;
	uint16_t sp, dp;
	const char *seed0, *seed1;
};

static void check_cid(const struct cid_vec *v)
{
	uint8_t s[16] = { 0 }, d[16] = { 0 };
	int af = strchr(v->sa, ':') ? AF_INET6 : AF_INET;
	uint8_t ipv = af == AF_INET6 ? 6 : 4;
	assert_int_equal(inet_pton(af, v->sa, s), 1);
	assert_int_equal(inet_pton(af, v->da, d), 1);
	char out[SW_COMMUNITY_ID_LEN];
	const char *want[2] = { v->seed0, v->seed1 };
	for (uint16_t seed = 0; seed < 2; seed++) {
		if (!want[seed])
			continue;
		sw_community_id(seed, ipv, v->proto, s, v->sp, d, v->dp, out);
		assert_string_equal(out, want[seed]);
		/* Both directions give the same id. */
		sw_community_id(seed, ipv, v->proto, d, v->dp, s, v->sp, out);
		assert_string_equal(out, want[seed]);
	}
}

static void test_community_id_vectors(void **state)
{
	static const struct cid_vec v[] = {
		{ 6, "128.232.110.120", "66.35.250.204", 34855, 80,
		  "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc=" },
		{ 17, "192.168.1.52", "8.8.8.8", 54585, 53,
		  "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=" },
		{ 6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
		  "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=" },
		{ 132, "192.168.170.8", "192.168.170.56", 7, 7,
		  "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=" },
		/* Same address: the ports decide the order. */
		{ 6, "127.0.0.1", "127.0.0.1", 80, 256, "1:q4egOj1T+i+CHF9Sl1KBSQbd6jo=", NULL },
		/* No ports for protocols without them (RSVP). */
		{ 46, "10.1.12.1", "10.1.12.2", 0, 0,
		  "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI=" },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		check_cid(&v[i]);
}

static void hex20(const uint8_t d[20], char out[41])
{
	for (int i = 0; i < 20; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_sha1_known_answers(void **state)
{
	uint8_t d[20];
	char h[41];
	sw_sha1("", 0, d);
	hex20(d, h);
	assert_string_equal(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	sw_sha1("abc", 3, d);
	hex20(d, h);
	assert_string_equal(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56 bytes: two blocks */
	sw_sha1(two, strlen(two), d);
	hex20(d, h);
	assert_string_equal(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	/* Streaming in odd pieces gives the same digest. */
	struct sw_sha1 s;
	sw_sha1_init(&s);
	for (size_t i = 0; i < strlen(two); i += 7)
		sw_sha1_update(&s, two + i, SW_MIN((size_t)7, strlen(two) - i));
	uint8_t d2[20];
	sw_sha1_final(&s, d2);
	assert_memory_equal(d, d2, 20);
}

/*
 * The one-block path (up to 55 bytes) and the streaming path meet at
 * 55/56 and 64 bytes; answers from Python's hashlib over bytes (7i+3) mod 256.
 */
static void test_sha1_block_edges(void **state)
{
	static const struct { size_t n; const char *hex; } v[] = {
		{ 55, "ddf57317ef34bfee3b6df83d359098930eb278bc" },
		{ 56, "a0d492bb0fc889d0eca3bc137066ab6f4f74f369" },
		{ 63, "c55856749bef509bdfe6bfebfc7bf4e793e82132" },
		{ 64, "bede92be29c3874e1b54ddc77988d606fc857a8e" },
		{ 65, "b05a80522b053d6dc7e0a517d0e70212c7dad11f" },
		{ 119, "504e27376a6e0f0dba8295b85cb25dc4dfa17d23" },
		{ 120, "82134b02fb3f702491be9bed581eeab59334acb2" },
	};
	uint8_t in[128], d[20], d2[20];
	char h[41];
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)(i * 7 + 3);
	for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
		sw_sha1(in, v[k].n, d);
		hex20(d, h);
		assert_string_equal(h, v[k].hex);
	}
	/* Every length up to 128: one shot and one byte at a time agree. */
	for (size_t n = 0; n <= sizeof in; n++) {
		struct sw_sha1 s;
		sw_sha1(in, n, d);
		sw_sha1_init(&s);
		for (size_t i = 0; i < n; i++)
			sw_sha1_update(&s, in + i, 1);
		sw_sha1_final(&s, d2);
		assert_memory_equal(d, d2, 20);
	}
}

/* Our base64 writes exactly what libsodium's original variant writes. */
static void test_b64_matches_sodium(void **state)
{
	uint8_t in[100];
	char ours[SW_B64_LEN(sizeof in) + 1], theirs[SW_B64_LEN(sizeof in) + 1];
	for (int round = 0; round < 20; round++) {
		randombytes_buf(in, sizeof in);
		for (size_t n = 0; n <= sizeof in; n++) {
			memset(ours, 'x', sizeof ours);
			assert_ptr_equal(sw_b64_encode(ours, in, n), ours);
			sodium_bin2base64(theirs, sizeof theirs, in, n, sodium_base64_VARIANT_ORIGINAL);
			assert_string_equal(ours, theirs);
			assert_int_equal(strlen(ours), SW_B64_LEN(n));
		}
	}
}

/* ---- time -------------------------------------------------------------------- */

static void test_format_time(void **state)
{
	char t[32];
	sw_format_time(0, t);
	assert_string_equal(t, "1970-01-01T00:00:00.000000Z");
	assert_int_equal(strlen(t), 27);
	/* Nanoseconds round down, never up into the next second. */
	sw_format_time(1764227883999999999ull, t);
	assert_string_equal(t, "2025-11-27T07:18:03.999999Z");
	sw_format_time(1764227883123456789ull, t);
	assert_string_equal(t, "2025-11-27T07:18:03.123456Z");
	sw_format_time(999, t);
	assert_string_equal(t, "1970-01-01T00:00:00.000000Z");
	/* 2^31 seconds: the 32-bit time_t limit. */
	sw_format_time(2147483648ull * 1000000000ull, t);
	assert_string_equal(t, "2038-01-19T03:14:08.000000Z");
	/* Leap days: 2000 is a leap year, 2100 is not. */
	sw_format_time(951782400ull * 1000000000ull, t);
	assert_string_equal(t, "2000-02-29T00:00:00.000000Z");
	sw_format_time(4107542400ull * 1000000000ull, t);
	assert_string_equal(t, "2100-03-01T00:00:00.000000Z");
	sw_format_time(UINT64_MAX, t);
	assert_string_equal(t, "2554-07-21T23:34:33.709551Z");
}

/* ---- JSON escaping ----------------------------------------------------------- */

static char *esc(const void *s, size_t n)
{
	static char out[2048];
	size_t w = sw_json_escape(out, sizeof out - 1, s, n);
	assert_true(w != (size_t)-1);
	out[w] = '\0';
	return out;
}

static bool string_ok(const char *body)
{
	char buf[4096];
	int n = snprintf(buf, sizeof buf, "{\"k\":\"%s\"}", body);
	return json_valid(buf, (size_t)n);
}

static void test_escape_every_byte(void **state)
{
	for (int c = 0; c < 256; c++) {
		uint8_t b = (uint8_t)c;
		char *o = esc(&b, 1);
		assert_true(string_ok(o));
		char want[8];
		switch (c) {
		case '"': strcpy(want, "\\\""); break;
		case '\\': strcpy(want, "\\\\"); break;
		case '\b': strcpy(want, "\\b"); break;
		case '\f': strcpy(want, "\\f"); break;
		case '\n': strcpy(want, "\\n"); break;
		case '\r': strcpy(want, "\\r"); break;
		case '\t': strcpy(want, "\\t"); break;
		default:
			if (c < 0x20 || c >= 0x7f)
				snprintf(want, sizeof want, "\\u00%02x", c); /* controls and lone high bytes */
			else
				snprintf(want, sizeof want, "%c", c);
		}
		assert_string_equal(o, want);
	}
}

static void test_escape_utf8(void **state)
{
	/* Valid sequences pass unchanged. */
	assert_string_equal(esc("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x94\x92", 15),
			    "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x94\x92");
	assert_string_equal(esc("\xc2\x80\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf", 11),
			    "\xc2\x80\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf");
	/* Overlong forms. */
	assert_string_equal(esc("\xc0\xaf", 2), "\\u00c0\\u00af");
	assert_string_equal(esc("\xc1\xbf", 2), "\\u00c1\\u00bf");
	assert_string_equal(esc("\xe0\x80\xaf", 3), "\\u00e0\\u0080\\u00af");
	assert_string_equal(esc("\xf0\x80\x80\xaf", 4), "\\u00f0\\u0080\\u0080\\u00af");
	/* UTF-16 surrogates encoded in UTF-8 (CESU). */
	assert_string_equal(esc("\xed\xa0\x80", 3), "\\u00ed\\u00a0\\u0080");
	assert_string_equal(esc("\xed\xbf\xbf", 3), "\\u00ed\\u00bf\\u00bf");
	/* Above U+10FFFF and bytes that never start anything. */
	assert_string_equal(esc("\xf4\x90\x80\x80", 4), "\\u00f4\\u0090\\u0080\\u0080");
	assert_string_equal(esc("\xf5\xff\xfe", 3), "\\u00f5\\u00ff\\u00fe");
	/* Truncated multi-byte sequences at the end and in the middle. */
	assert_string_equal(esc("ab\xe2\x82", 4), "ab\\u00e2\\u0082");
	assert_string_equal(esc("\xf0\x9f\x94", 3), "\\u00f0\\u009f\\u0094");
	assert_string_equal(esc("\xe2\x82x", 3), "\\u00e2\\u0082x");
	assert_string_equal(esc("\xc3", 1), "\\u00c3");
	/* A valid character after an invalid byte is kept. */
	assert_string_equal(esc("\xff\xc3\xa9", 3), "\\u00ff\xc3\xa9");
	/* NUL and DEL. */
	assert_string_equal(esc("a\0b\x7f", 4), "a\\u0000b\\u007f");
}

static void test_escape_random_is_valid(void **state)
{
	/* Any byte soup gives a valid JSON string of valid UTF-8. */
	uint8_t in[300];
	for (int round = 0; round < 3000; round++) {
		size_t n = (size_t)randombytes_uniform(sizeof in);
		randombytes_buf(in, n);
		if (round % 3 == 0) /* bias towards UTF-8 lead/continuation bytes */
			for (size_t i = 0; i < n; i++)
				in[i] |= 0x80;
		char *o = esc(in, n);
		assert_true(string_ok(o));
	}
}

static void test_escape_bounds(void **state)
{
	char out[6];
	/* The worst case (6 bytes) does not fit in 5. */
	assert_true(sw_json_escape(out, 5, (const uint8_t *)"\x01", 1) == (size_t)-1);
	assert_int_equal(sw_json_escape(out, 6, (const uint8_t *)"\x01", 1), 6);
	assert_true(sw_json_escape(out, 3, (const uint8_t *)"\xe2\x82\xac", 3) != (size_t)-1);
	assert_true(sw_json_escape(out, 2, (const uint8_t *)"\xe2\x82\xac", 3) == (size_t)-1);

	/* A member that does not fit is dropped whole and counted. */
	char buf[64];
	struct jb j;
	jb_init(&j, buf, sizeof buf, 16);
	jb_raw(&j, "{", 1);
	jb_m_str(&j, "a", "short");
	jb_m_str(&j, "b", "this one is far too long for the forty-eight bytes");
	jb_m_u64(&j, "c", 7);
	jb_close(&j, '}');
	assert_int_equal(j.cut, 1);
	assert_true(json_valid(buf, j.len));
	assert_memory_equal(buf, "{\"a\":\"short\",\"c\":7}", j.len);
}

/* ---- whole lines --------------------------------------------------------------- */

struct fixture {
	char dir[64];
	char out[128];
	struct sw_alert_opts o;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	tmpdir_make(fx->dir);
	snprintf(fx->out, sizeof fx->out, "%s/eve.json", fx->dir);
	sw_alert_opts_default(&fx->o);
	fx->o.host = "sensor-1";
	fx->o.out_path = fx->out;
	fx->o.no_sign = true;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	tmpdir_remove(fx->dir);
	free(fx);
	return 0;
}

static void make_flow(struct sw_flow_info *fi)
{
	memset(fi, 0, sizeof *fi);
	fi->ip_version = 4;
	inet_pton(AF_INET, "192.0.2.10", fi->client_ip);
	inet_pton(AF_INET, "198.51.100.25", fi->server_ip);
	fi->client_port = 40000;
	fi->server_port = 25;
	fi->app_proto = SW_APP_SMTP;
	fi->tls_seen = true;
	fi->first_ts_ns = 1764227880000000000ull;
	fi->last_ts_ns = 1764227883123456789ull;
	fi->pkts[0] = 12;
	fi->pkts[1] = 14;
	fi->bytes[0] = 1200;
	fi->bytes[1] = 3400;
	strcpy(fi->server_name, "mx.example.org");
	fi->starttls.offered = SW_NO;
	fi->starttls.command_sent = SW_YES;
	fi->starttls.upgraded = SW_UNSEEN;
	memcpy(fi->starttls.reply, "454 4.7.0 TLS not available\r\n", 29);
	fi->starttls.reply_len = 29;
	fi->tls.client_max_version = 0x0304;
	fi->tls.version = 0x0301;
	fi->tls.cipher = 0x0005;
	fi->tls.fallback_scsv = true;
	fi->tls.n_alerts = 1;
	fi->tls.alerts[0].level = 2;
	fi->tls.alerts[0].desc = 86;
	fi->tls.alerts[0].from_server = 1;
	memcpy(fi->tls.sni, "mx.example.org\"\n", 16);
	fi->tls.sni_len = 16;
	strcpy(fi->tls.ja3, "0123456789abcdef0123456789abcdef");
	fi->end_fin = true;
}

/* Lines of a file, as pointers into a NUL-separated copy. */
static size_t split_lines(char *buf, char **lines, size_t max)
{
	size_t n = 0;
	for (char *p = buf; *p && n < max;) {
		char *nl = strchr(p, '\n');
		assert_non_null(nl);
		*nl = '\0';
		lines[n++] = p;
		p = nl + 1;
	}
	return n;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Each key appears, and in this order. */
static void assert_order(const char *line, const char *const *keys)
{
	const char *at = line;
	for (size_t i = 0; keys[i]; i++) {
		char k[64];
		snprintf(k, sizeof k, "\"%s\":", keys[i]);
		const char *p = strstr(at, k);
		if (!p)
			fail_msg("member %s missing or out of order in %s", keys[i], line);
		at = p + strlen(k);
	}
}

static void test_alert_line(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	struct sw_alert *a = sw_alert_open(&fx->o, err, sizeof err);
	assert_non_null(a);
	sw_alert_set_pcap_filename(a, "day1.pcapng");

	struct sw_flow_info fi;
	make_flow(&fi);
	uint8_t evil[300];
	for (size_t i = 0; i < sizeof evil; i++)
		evil[i] = (uint8_t)(i * 37);
	struct sw_finding f = { 0 };
	f.kind = SW_F_STARTTLS_REFUSED;
	f.severity = 1;
	f.ts_ns = fi.last_ts_ns;
	f.flow = &fi;
	f.n_evidence = 3;
	f.evidence[0] = (struct sw_evidence){ 1, 20, (const uint8_t *)"250-XXXXXXXA\r\n" };
	f.evidence[0].len = 14;
	f.evidence[1] = (struct sw_evidence){ 0, 10, (const uint8_t *)"STARTTLS\r\n" };
	f.evidence[2] = (struct sw_evidence){ 1, (uint16_t)sizeof evil, evil };
	f.detail = "offered in 4 of 4 earlier sessions";
	f.policy.rule = "mx.example.org";
	f.policy.line = 12;
	f.policy.level = "encrypt";
	f.policy.mode = "enforce";
	f.policy.min_version = 0x0303;
	sw_alert_finding(a, &f);
	sw_alert_close(a, fi.last_ts_ns);

	char *buf = slurp(fx->out, NULL);
	char *lines[8];
	size_t n = split_lines(buf, lines, 8);
	assert_int_equal(n, 3); /* start, alert, stop */
	for (size_t i = 0; i < n; i++)
		assert_true(json_valid(lines[i], strlen(lines[i])));
	const char *l = lines[1];
	static const char *const order[] = {
		"timestamp", "event_type", "host", "src_ip", "src_port", "dest_ip", "dest_port", "proto",
		"app_proto", "community_id", "pcap_filename", "finding", "alert", "action", "gid",
		"signature_id", "rev", "signature", "category", "severity", "starttls", "offered",
		"command_sent", "reply", "tls", "version", "client_max_version", "cipher", "sni", "ja3",
		"fallback_scsv", "downgrade_sentinel", "policy", "rule", "line", "level", "mode",
		"min_version", "detail", "evidence", "seq", "session", "prev", "kid", NULL
	};
	assert_order(l, order);
	assert_true(starts_with(l, "{\"timestamp\":\"2025-11-27T07:18:03.123456Z\",\"event_type\":\"alert\","
			       "\"host\":\"sensor-1\",\"src_ip\":\"192.0.2.10\",\"src_port\":40000,"
			       "\"dest_ip\":\"198.51.100.25\",\"dest_port\":25,\"proto\":\"TCP\","
			       "\"app_proto\":\"smtp\",\"community_id\":\"1:"));
	char want[256];
	snprintf(want, sizeof want, "\"finding\":\"%s\"", sw_finding_name(SW_F_STARTTLS_REFUSED));
	assert_non_null(strstr(l, want));
	snprintf(want, sizeof want, "\"signature_id\":%u,\"rev\":1,", sw_finding_sid(SW_F_STARTTLS_REFUSED));
	assert_non_null(strstr(l, want));
	assert_non_null(strstr(l, "\"severity\":1}"));
	assert_non_null(strstr(l, "\"starttls\":{\"offered\":false,\"command_sent\":true,"
				  "\"reply\":\"454 4.7.0 TLS not available\"}"));
	assert_null(strstr(l, "\"upgraded\""));    /* SW_UNSEEN: absent */
	assert_null(strstr(l, "\"ja3s\""));        /* empty: absent */
	assert_null(strstr(l, "\"hello_retry\"")); /* flow lines only */
	assert_non_null(strstr(l, "\"sni\":\"mx.example.org\\\"\\n\""));
	assert_non_null(strstr(l, "\"evidence\":[{\"dir\":\"to_client\",\"line\":\"250-XXXXXXXA\"},"
				  "{\"dir\":\"to_server\",\"line\":\"STARTTLS\"},{\"dir\":\"to_client\",\"line\":\""));
	/* The 300-byte line is cut to SW_EVIDENCE_LINE_MAX input bytes. */
	const char *ev = strstr(l, "{\"dir\":\"to_client\",\"line\":\"\\u0000");
	assert_non_null(ev);
	char expect[2048];
	size_t w = sw_json_escape(expect, sizeof expect, evil, SW_EVIDENCE_LINE_MAX);
	expect[w] = '\0';
	assert_memory_equal(ev + 27, expect, w);
	assert_memory_equal(ev + 27 + w, "\"}]", 3);
	/* Unsigned (no_sign): no sig member; the kid is all zero. */
	assert_null(strstr(l, "\"sig\""));
	assert_non_null(strstr(l, "\"kid\":\"0000000000000000\"}"));
	free(buf);
}

static void test_sensor_finding_has_no_tuple(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	struct sw_alert *a = sw_alert_open(&fx->o, err, sizeof err);
	assert_non_null(a);
	struct sw_finding f = { 0 };
	f.kind = SW_F_SENSOR_DEGRADED;
	f.severity = 2;
	f.ts_ns = 5000000000ull;
	f.detail = "kernel dropped 12 packets";
	sw_alert_finding(a, &f);
	sw_alert_close(a, 0);
	char *buf = slurp(fx->out, NULL);
	char *lines[8];
	assert_int_equal(split_lines(buf, lines, 8), 3);
	assert_true(json_valid(lines[1], strlen(lines[1])));
	assert_null(strstr(lines[1], "src_ip"));
	assert_null(strstr(lines[1], "community_id"));
	assert_null(strstr(lines[1], "\"tls\""));
	assert_non_null(strstr(lines[1], "\"detail\":\"kernel dropped 12 packets\""));
	/* Close at an earlier time keeps the stop record at the latest time seen. */
	assert_true(starts_with(lines[2], "{\"timestamp\":\"1970-01-01T00:00:05.000000Z\",\"event_type\":\"chain\""));
	free(buf);
}

static void test_flow_and_stats_lines(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	struct sw_alert *a = sw_alert_open(&fx->o, err, sizeof err);
	assert_non_null(a);
	struct sw_flow_info fi;
	make_flow(&fi);
	sw_alert_flow(a, &fi);
	fi.app_proto = SW_APP_UNKNOWN;
	fi.tls_seen = false;
	fi.tls.version = 0;
	fi.tls.client_max_version = 0;
	fi.end_fin = false;
	fi.end_rst = true;
	sw_alert_flow(a, &fi);

	struct sw_capture_stats cs = { 0 };
	struct sw_dissect_stats ds = { 0 };
	cs.frames = 100;
	cs.tcp = 90;
	cs.by_result[SW_DECODE_TCP] = 90;
	cs.by_result[SW_DECODE_NOT_TCP] = 10;
	ds.findings = 3;
	ds.findings_by_kind[SW_F_TLS_WEAK_CIPHER] = 3;
	ds.anomalies[SW_AN_TCP_GAP] = 2;
	ds.classifier_calls = 17;
	sw_alert_stats(a, fi.last_ts_ns, &cs, &ds);
	sw_alert_close(a, fi.last_ts_ns);

	char *buf = slurp(fx->out, NULL);
	char *lines[8];
	assert_int_equal(split_lines(buf, lines, 8), 5);
	for (int i = 0; i < 5; i++)
		assert_true(json_valid(lines[i], strlen(lines[i])));
	static const char *const order[] = {
		"timestamp", "event_type", "host", "src_ip", "src_port", "dest_ip", "dest_port", "proto",
		"app_proto", "community_id", "flow", "pkts_toserver", "pkts_toclient", "bytes_toserver",
		"bytes_toclient", "start", "end", "state", "server_name", "starttls", "tls", "version",
		"client_max_version", "cipher", "sni", "ja3", "fallback_scsv", "downgrade_sentinel",
		"hello_retry", "alerts", "seq", "session", "prev", "kid", NULL
	};
	assert_order(lines[1], order);
	assert_non_null(strstr(lines[1], "\"flow\":{\"pkts_toserver\":12,\"pkts_toclient\":14,"
					 "\"bytes_toserver\":1200,\"bytes_toclient\":3400,"
					 "\"start\":\"2025-11-27T07:18:00.000000Z\","
					 "\"end\":\"2025-11-27T07:18:03.123456Z\",\"state\":\"closed\"}"));
	assert_non_null(strstr(lines[1], "\"alerts\":[\"from_server:fatal:inappropriate_fallback\"]"));
	/* Unknown app proto: no app_proto, no starttls, no tls. */
	assert_null(strstr(lines[2], "app_proto"));
	assert_null(strstr(lines[2], "\"starttls\""));
	assert_null(strstr(lines[2], "\"tls\""));
	assert_non_null(strstr(lines[2], "\"state\":\"reset\""));
	/* Stats. */
	const char *s = lines[3];
	assert_non_null(strstr(s, "\"event_type\":\"stats\""));
	char want[256];
	snprintf(want, sizeof want, "\"capture\":{\"frames\":100,\"bytes\":0,\"tcp\":90,\"%s\":0,\"%s\":10,",
		 sw_decode_result_name(SW_DECODE_NOT_IP), sw_decode_result_name(SW_DECODE_NOT_TCP));
	assert_non_null(strstr(s, want));
	snprintf(want, sizeof want, "\"findings\":{\"total\":3,\"%s\":3}", sw_finding_name(SW_F_TLS_WEAK_CIPHER));
	assert_non_null(strstr(s, want));
	snprintf(want, sizeof want, "\"anomalies\":{\"%s\":2}", sw_anomaly_name(SW_AN_TCP_GAP));
	assert_non_null(strstr(s, want));
	assert_non_null(strstr(s, "\"classifier_calls\":17,\"output\":{\"lines\":3,"));
	free(buf);
}

static void test_hostile_strings_stay_bounded(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	struct sw_alert *a = sw_alert_open(&fx->o, err, sizeof err);
	assert_non_null(a);
	/* Strings far past every bound, made of bytes that escape to 6 each. */
	size_t big = 100000;
	char *junk = malloc(big + 1);
	for (size_t i = 0; i < big; i++)
		junk[i] = (char)(0x01 + i % 0x1f);
	junk[big] = '\0';
	sw_alert_set_pcap_filename(a, junk);
	struct sw_flow_info fi;
	make_flow(&fi);
	memset(fi.server_name, 0x1b, sizeof fi.server_name); /* not NUL-terminated */
	memset(fi.tls.sni, 0xff, sizeof fi.tls.sni);
	fi.tls.sni_len = 255;
	memset(fi.starttls.reply, '"', sizeof fi.starttls.reply);
	fi.starttls.reply_len = 60000; /* lies */
	uint8_t ev[4000];
	memset(ev, 0x05, sizeof ev);
	struct sw_finding f = { 0 };
	f.kind = SW_F_STARTTLS_MANGLED;
	f.severity = 9; /* out of range: clamped */
	f.ts_ns = fi.last_ts_ns;
	f.flow = &fi;
	f.n_evidence = 200; /* lies */
	for (int i = 0; i < SW_EVIDENCE_MAX; i++)
		f.evidence[i] = (struct sw_evidence){ (uint8_t)(i & 1), (uint16_t)sizeof ev, ev };
	f.detail = junk;
	f.policy.rule = junk;
	f.policy.level = junk;
	sw_alert_finding(a, &f);
	sw_alert_flow(a, &fi);
	sw_alert_close(a, 0);
	free(junk);

	size_t len;
	char *buf = slurp(fx->out, &len);
	char *lines[8];
	size_t nl = split_lines(buf, lines, 8);
	assert_int_equal(nl, 4);
	for (int i = 0; i < 4; i++) {
		assert_true(strlen(lines[i]) < SW_LINE_MAX);
		assert_true(json_valid(lines[i], strlen(lines[i])));
	}
	assert_non_null(strstr(lines[1], "\"severity\":3}"));
	/* Everything up to the chain members is still there. */
	assert_non_null(strstr(lines[1], ",\"seq\":1,\"session\":\""));
	free(buf);
}

static void test_open_errors(void **state)
{
	struct fixture *fx = *state;
	char err[256] = "";
	char path[160];
	snprintf(path, sizeof path, "%s/no/such/dir/eve.json", fx->dir);
	fx->o.out_path = path;
	assert_null(sw_alert_open(&fx->o, err, sizeof err));
	assert_non_null(strstr(err, "no/such/dir"));
	/* Appending to a file whose last line is not ours: refused, file untouched. */
	snprintf(path, sizeof path, "%s/other.log", fx->dir);
	assert_int_equal(spit(path, "hello world\n", 12), 0);
	fx->o.out_path = path;
	fx->o.append = true;
	assert_null(sw_alert_open(&fx->o, err, sizeof err));
	assert_non_null(strstr(err, "not a stripwatch line"));
	size_t len;
	char *b = slurp(path, &len);
	assert_int_equal(len, 12);
	free(b);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_community_id_vectors),
		cmocka_unit_test(test_sha1_known_answers),
		cmocka_unit_test(test_sha1_block_edges),
		cmocka_unit_test(test_b64_matches_sodium),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_escape_every_byte),
		cmocka_unit_test(test_escape_utf8),
		cmocka_unit_test(test_escape_random_is_valid),
		cmocka_unit_test(test_escape_bounds),
		cmocka_unit_test_setup_teardown(test_alert_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sensor_finding_has_no_tuple, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_and_stats_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_strings_stay_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
