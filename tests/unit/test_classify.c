/*
 * test_classify.c - finding mail and TLS on ports we do not know
 * (dissect/classify.c and its call site in dissect/engine.c).
 *
 * The cheap first-bytes checks are tested as a table; the rest drives the
 * engine with conv.h conversations: SMTP on 2526 and TLS on 8443 (the bench
 * seeds' odd ports), IMAP on 1143 whose greeting does not identify itself
 * in its first segment (nDPI decides later; the replayed early bytes must
 * reach the IMAP dissector), POP3 on 1110, HTTP on 8080 (given up), and a
 * flow that never decides.  classifier_calls must stay within
 * SW_CLS_MAX_CALLS per flow, and undecided flows must give back all their
 * memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "classify.h"
#include "conv.h"

#define CH { 0, (const char *)conv_client_hello, sizeof(conv_client_hello) }

static struct conv_sink sink;

/* ---- first bytes ------------------------------------------------------------------ */

static void test_first_bytes(void **state)
{
	static const struct {
		int dir;
		const char *bytes;
		enum sw_app_proto proto;
		enum sw_cls_strength st;
	} rows[] = {
		{ 1, "220 mx.bench.example ESMTP BenchSMTP ready\r\n", SW_APP_SMTP, SW_CLS_STRONG },
		{ 1, "220-mail.example.net Microsoft esmtp MAIL Service\r\n", SW_APP_SMTP, SW_CLS_STRONG },
		{ 1, "220 (vsFTPd 3.0.3)\r\n", SW_APP_SMTP, SW_CLS_HINT },
		{ 1, "220 mx.example.net\r\n250 SMTP later lines do not count\r\n", SW_APP_SMTP, SW_CLS_HINT },
		{ 0, "ehlo mta.sender.bench.example\r\n", SW_APP_SMTP, SW_CLS_STRONG },
		{ 0, "HELO x\r\n", SW_APP_SMTP, SW_CLS_STRONG },
		{ 1, "* OK IMAP4Rev1 Server Version 4.9.04.012\r\n", SW_APP_IMAP, SW_CLS_STRONG },
		{ 1, "* PREAUTH IMAP4rev1 server logged in as fred\r\n", SW_APP_IMAP, SW_CLS_STRONG },
		{ 1, "* OKAY\r\n", SW_APP_UNKNOWN, SW_CLS_NONE },
		{ 1, "+OK lavad\r\n", SW_APP_POP3, SW_CLS_HINT },
		{ 1, "+OKAY\r\n", SW_APP_UNKNOWN, SW_CLS_NONE },
		{ 0, "+OK lavad\r\n", SW_APP_UNKNOWN, SW_CLS_NONE },
		/* An HTTP request is decided at once: neither mail nor TLS, no nDPI. */
		{ 0, "GET / HTTP/1.1\r\n", SW_APP_UNKNOWN, SW_CLS_STRONG },
		{ 0, "POST http://x/ HTTP/1.1\r\n", SW_APP_UNKNOWN, SW_CLS_STRONG },
		{ 0, "GETX / HTTP/1.1\r\n", SW_APP_UNKNOWN, SW_CLS_NONE },
		{ 1, "HTTP/1.1 200 OK\r\n", SW_APP_UNKNOWN, SW_CLS_NONE },
		{ 0, "", SW_APP_UNKNOWN, SW_CLS_NONE },
		/* Too short to tell: tiny first segments of what may be a greeting. */
		{ 1, "22", SW_APP_UNKNOWN, SW_CLS_HINT },
		{ 1, "* O", SW_APP_UNKNOWN, SW_CLS_HINT },
		{ 0, "eh", SW_APP_UNKNOWN, SW_CLS_HINT },
		{ 0, "\x16\x03", SW_APP_UNKNOWN, SW_CLS_HINT },
		{ 0, "GE", SW_APP_UNKNOWN, SW_CLS_NONE },
		{ 1, "2\r\n", SW_APP_UNKNOWN, SW_CLS_NONE },
	};
	for (size_t i = 0; i < SW_ARRAY_LEN(rows); i++) {
		enum sw_cls_strength st;
		enum sw_app_proto p = sw_classify_first_bytes(rows[i].dir, (const uint8_t *)rows[i].bytes,
							      (uint32_t)strlen(rows[i].bytes), &st);
		assert_int_equal(p, rows[i].proto);
		assert_int_equal(st, rows[i].st);
	}
	enum sw_cls_strength st;
	assert_int_equal(sw_classify_first_bytes(0, conv_client_hello, sizeof(conv_client_hello), &st),
			 SW_APP_TLS);
	assert_int_equal(st, SW_CLS_STRONG);
	assert_int_equal(sw_classify_first_bytes(1, conv_client_hello, sizeof(conv_client_hello), &st),
			 SW_APP_UNKNOWN);
}

/* ---- through the engine ----------------------------------------------------------- */

struct outcome {
	struct sw_dissect_stats st;
	uint64_t mem_start;   /* engine memory before the session */
};

static void play(bool use_ndpi, uint16_t sport, const struct conv_step *steps, size_t n,
		 struct outcome *o)
{
	struct sw_engine *e = conv_engine(&sink, use_ndpi);
	assert_non_null(e);
	/* A handshake-only flow first, so that the flow pool is in place before measuring. */
	conv_session(e, 45001, 9, NULL, 0, 0);
	sw_engine_stats(e, &o->st);
	o->mem_start = o->st.mem_bytes;
	conv_session(e, 45000, sport, steps, n, 0);
	sw_engine_flush(e);
	sw_engine_stats(e, &o->st);
	sw_engine_free(e);
}

/* bench seed smtp-tls12 (port 2526), up to the ClientHello. */
static const struct conv_step smtp_2526[] = {
	CONV_S("220 mx.bench.example ESMTP BenchSMTP ready\r\n"),
	CONV_C("ehlo mta.sender.bench.example\r\n"),
	CONV_S("250-mx.bench.example Hello\r\n"),
	CONV_S("250-PIPELINING\r\n250-SIZE 52428800\r\n250-ETRN\r\n250-ENHANCEDSTATUSCODES\r\n"
	       "250-STARTTLS\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"),
	CONV_C("STARTTLS\r\n"),
	CONV_S("220 2.0.0 Ready to start TLS\r\n"),
	CH,
};

static void test_smtp_on_2526(void **state)
{
	struct outcome o;
	play(true, 2526, smtp_2526, SW_ARRAY_LEN(smtp_2526), &o);
	assert_int_equal(sink.n_flows, 1);
	const struct sw_flow_info *fi = &sink.flows[0];
	assert_int_equal(fi->app_proto, SW_APP_SMTP);
	assert_int_equal(fi->server_port, 2526);
	assert_int_equal(fi->starttls.offered, SW_YES);
	assert_int_equal(fi->starttls.upgraded, SW_YES);
	assert_int_equal(sink.n_findings, 0);
	/* The banner decided: nDPI was never asked. */
	assert_int_equal(o.st.classifier_calls, 0);
	assert_string_equal(fi->classified_as, "");
}

/* A banner that does not say SMTP is only a hint: EHLO confirms it, after one nDPI call. */
static void test_smtp_hint_confirmed(void **state)
{
	static const struct conv_step st[] = {
		CONV_S("220 mx.bench.example\r\n"),
		CONV_C("ehlo mta.sender.bench.example\r\n"),
		CONV_S("250-mx.bench.example Hello\r\n250 CHUNKING\r\n"),
		CONV_C("MAIL FROM:<a@b.example>\r\n"),
	};
	struct outcome o;
	play(true, 2527, st, SW_ARRAY_LEN(st), &o);
	assert_int_equal(sink.n_flows, 1);
	assert_int_equal(sink.flows[0].app_proto, SW_APP_SMTP);
	/* The replayed banner and EHLO reply reached the dissector. */
	assert_int_equal(sink.flows[0].starttls.offered, SW_NO);
	assert_string_equal(sink.flows[0].server_name, "mx.bench.example");
	assert_in_range(o.st.classifier_calls, 1, 1);
	assert_int_equal(o.st.flows_mail, 1);
}

static void test_tls_on_8443(void **state)
{
	static const struct conv_step st[] = { CH };
	struct outcome o;
	play(true, 8443, st, SW_ARRAY_LEN(st), &o);
	assert_int_equal(sink.n_flows, 1);
	assert_int_equal(sink.flows[0].app_proto, SW_APP_TLS);
	assert_int_equal(sink.flows[0].tls.client_max_version, 0x0303);
	assert_int_equal(o.st.classifier_calls, 0);
	assert_int_equal(o.st.flows_tls, 1);
}

/*
 * A ClientHello whose first segment is 2 bytes says nothing yet: the flow
 * waits (one packet to nDPI), the next segment completes the cheap check,
 * and the replayed first segment makes the ClientHello whole again.
 */
static const struct conv_step tls_split[] = {
	{ 0, (const char *)conv_client_hello, 2 },
	{ 0, (const char *)conv_client_hello + 2, sizeof(conv_client_hello) - 2 },
	CONV_S("\x15\x03\x03\x00\x02\x02\x28"), /* a plaintext handshake_failure alert */
};

static void test_tls_split_on_8443(void **state)
{
	for (int nd = 0; nd < 2; nd++) {
		struct outcome o;
		play(nd == 1, 8443, tls_split, SW_ARRAY_LEN(tls_split), &o);
		assert_int_equal(sink.n_flows, 1);
		const struct sw_flow_info *fi = &sink.flows[0];
		assert_int_equal(fi->app_proto, SW_APP_TLS);
		assert_int_equal(fi->tls.client_max_version, 0x0303);
		assert_int_equal(fi->tls.n_alerts, 1);
		assert_int_equal(fi->state_gaps, 0);
		assert_int_equal(o.st.classifier_calls, nd == 1 ? 1 : 0);
		assert_int_equal(o.st.mem_bytes, o.mem_start);
	}
}

/* SMTP on 2526 one byte per segment: the cheap checks add the bytes up. */
static void test_smtp_bytewise_on_2526(void **state)
{
	struct conv_sink *s = &sink;
	struct sw_engine *e = conv_engine(s, true);
	assert_non_null(e);
	conv_session(e, 45002, 2526, smtp_2526, SW_ARRAY_LEN(smtp_2526), 1);
	sw_engine_flush(e);
	struct sw_dissect_stats st;
	sw_engine_stats(e, &st);
	sw_engine_free(e);
	assert_int_equal(sink.n_flows, 1);
	assert_int_equal(sink.flows[0].app_proto, SW_APP_SMTP);
	assert_int_equal(sink.flows[0].starttls.offered, SW_YES);
	assert_int_equal(sink.flows[0].starttls.upgraded, SW_YES);
	assert_int_equal(sink.flows[0].state_gaps, 0);
	assert_in_range(st.classifier_calls, 1, SW_CLS_MAX_CALLS);
}

/*
 * IMAP on 1143 captured without its greeting: neither side's first bytes
 * say IMAP cheaply ("C00000 CAPABILITY", "* CAPABILITY ..."), nDPI names
 * it a few packets later, and the IMAP dissector must still see the
 * capability list (replayed) to call the LOGIN what it is.  Lines from
 * ntop imap.pcap, with STARTTLS in the list as zeek imap-starttls.pcap has it.
 */
static void test_imap_on_1143_replayed(void **state)
{
	static const struct conv_step st[] = {
		CONV_C("C00000 CAPABILITY\r\n"),
		CONV_S("* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR STARTTLS AUTH=LOGIN AUTH=PLAIN\r\n"),
		CONV_S("C00000 OK CAPABILITY completed\r\n"),
		CONV_C("C00001 LOGIN samir pfres\r\n"),
		CONV_S("C00001 OK LOGIN completed\r\n"),
		CONV_C("C00002 LIST \"\" \"*\"\r\n"),
		CONV_S("* LIST () \"/\" INBOX\r\nC00002 OK LIST Completed\r\n"),
		CONV_C("C00003 LOGOUT\r\n"),
		CONV_S("* BYE\r\nC00003 OK LOGOUT completed\r\n"),
	};
	struct outcome o;
	play(true, 1143, st, SW_ARRAY_LEN(st), &o);
	assert_int_equal(sink.n_flows, 1);
	const struct sw_flow_info *fi = &sink.flows[0];
	assert_int_equal(fi->app_proto, SW_APP_IMAP);
	assert_string_equal(fi->classified_as, "IMAP");
	assert_int_equal(fi->starttls.offered, SW_YES);
	assert_int_equal(conv_count(&sink, SW_F_STARTTLS_NOT_USED, 3), 1);
	assert_int_equal(conv_count(&sink, SW_F_CLEARTEXT_AUTH, 1), 1);
	assert_int_equal(fi->state_gaps, 0);
	assert_in_range(o.st.classifier_calls, 1, SW_CLS_MAX_CALLS);
}

/* POP3 on 1110: "+OK" alone is a hint; the client's CAPA confirms it (lavabit lines). */
static void test_pop3_on_1110(void **state)
{
	static const struct conv_step st[] = {
		CONV_S("+OK lavad\r\n"),
		CONV_C("CAPA\r\n"),
		CONV_S("+OK Capabilities follow.\r\nTOP\r\nUSER\r\nUIDL\r\nSTLS\r\n.\r\n"),
		CONV_C("STLS\r\n"),
		CONV_S("+OK Ready to start TLS negotiation.\r\n"),
		CH,
	};
	for (int nd = 0; nd < 2; nd++) {
		struct outcome o;
		play(nd == 1, 1110, st, SW_ARRAY_LEN(st), &o);
		assert_int_equal(sink.n_flows, 1);
		assert_int_equal(sink.flows[0].app_proto, SW_APP_POP3);
		assert_int_equal(sink.flows[0].starttls.offered, SW_YES);
		assert_int_equal(sink.flows[0].starttls.upgraded, SW_YES);
		assert_int_equal(sink.n_findings, 0);
		assert_int_equal(o.st.classifier_calls, nd == 1 ? 1 : 0);
	}
}

/* A "+OK" that nothing confirms is not POP3. */
static void test_plus_ok_alone_is_not_pop3(void **state)
{
	static const struct conv_step st[] = {
		CONV_S("+OK\r\n"),
		CONV_C("PING\r\n"),
		CONV_S("+PONG\r\n"),
	};
	struct outcome o;
	play(false, 6380, st, SW_ARRAY_LEN(st), &o);
	assert_int_equal(sink.n_flows, 0);
	assert_int_equal(o.st.mem_bytes, o.mem_start);
}

static void test_http_given_up(void **state)
{
	static const struct conv_step st[] = {
		CONV_C("GET /index.html HTTP/1.1\r\nHost: www.bench.example\r\nUser-Agent: curl/7.88.1\r\n"
		       "Accept: */*\r\n\r\n"),
		CONV_S("HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.2\r\nContent-Length: 5\r\n\r\nhello"),
	};
	struct outcome o;
	play(true, 8080, st, SW_ARRAY_LEN(st), &o);
	assert_int_equal(sink.n_flows, 0);
	/* The request line decides: nDPI is never started for plain HTTP. */
	assert_int_equal(o.st.classifier_calls, 0);
	assert_int_equal(o.st.flows_mail + o.st.flows_tls, 0);
	assert_int_equal(o.st.mem_bytes, o.mem_start);
}

/* Twenty lines of something unknown: at most SW_CLS_MAX_CALLS packets reach nDPI. */
static void test_undecided_is_bounded(void **state)
{
	struct conv_step st[20];
	for (int i = 0; i < 20; i++) {
		st[i].dir = i & 1;
		st[i].data = i & 1 ? "0123456789 pong\n" : "ping 0123456789\n";
		st[i].len = 16;
	}
	struct outcome o;
	play(true, 4000, st, SW_ARRAY_LEN(st), &o);
	assert_int_equal(sink.n_flows, 0);
	assert_in_range(o.st.classifier_calls, 1, SW_CLS_MAX_CALLS);
	assert_int_equal(o.st.mem_bytes, o.mem_start);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_bytes),
		cmocka_unit_test(test_smtp_on_2526),
		cmocka_unit_test(test_smtp_hint_confirmed),
		cmocka_unit_test(test_tls_on_8443),
		cmocka_unit_test(test_tls_split_on_8443),
		cmocka_unit_test(test_smtp_bytewise_on_2526),
		cmocka_unit_test(test_imap_on_1143_replayed),
		cmocka_unit_test(test_pop3_on_1110),
		cmocka_unit_test(test_plus_ok_alone_is_not_pop3),
		cmocka_unit_test(test_http_given_up),
		cmocka_unit_test(test_undecided_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
