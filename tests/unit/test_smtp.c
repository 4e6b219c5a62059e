/*
 * test_smtp.c - the SMTP dissector (dissect/smtp.c) and the mail findings
 * of dissect/detect.c, driven through the engine with scripted TCP
 * conversations (conv.h) on port 25.
 *
 * The lines are those of postfix 3.7 and swaks as captured in the bench
 * seeds (mx.bench.example); the attack variants edit them as a man in the
 * middle would.  Every scenario runs with whole segments and with one byte
 * per segment, and both must give the same findings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "conv.h"
#include "flow.h"

#define BANNER "220 mx.bench.example ESMTP Postfix (Debian/GNU)\r\n"
#define EHLO "EHLO client.example\r\n"
#define CAPS_HEAD "250-mx.bench.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
#define CAPS_TAIL "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"
#define CAPS_TLS CAPS_HEAD "250-STARTTLS\r\n" CAPS_TAIL
#define CAPS_NOTLS CAPS_HEAD CAPS_TAIL
#define CAPS_XXXX CAPS_HEAD "250-XXXXXXXA\r\n" CAPS_TAIL
#define CH { 0, (const char *)conv_client_hello, sizeof(conv_client_hello) }

static const struct conv_step clean[] = {
	CONV_S(BANNER), CONV_C(EHLO), CONV_S(CAPS_TLS), CONV_C("STARTTLS\r\n"),
	CONV_S("220 2.0.0 Ready to start TLS\r\n"), CH,
};

static const struct conv_step stripped_auth[] = {
	CONV_S(BANNER), CONV_C(EHLO), CONV_S(CAPS_NOTLS),
	CONV_C("AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n"), CONV_S("235 2.7.0 Authentication successful\r\n"),
	CONV_C("MAIL FROM:<alice@client.example>\r\n"), CONV_S("250 2.1.0 Ok\r\n"),
	CONV_C("QUIT\r\n"), CONV_S("221 2.0.0 Bye\r\n"),
};

static const struct conv_step mangled[] = {
	CONV_S(BANNER), CONV_C(EHLO), CONV_S(CAPS_XXXX),
	CONV_C("MAIL FROM:<a@client.example>\r\n"), CONV_S("250 2.1.0 Ok\r\n"),
};

static const struct conv_step refused[] = {
	CONV_S(BANNER), CONV_C(EHLO), CONV_S(CAPS_TLS), CONV_C("STARTTLS\r\n"),
	CONV_S("454 4.7.0 TLS not available due to local problem\r\n"),
	CONV_C("MAIL FROM:<a@client.example>\r\n"), CONV_S("250 2.1.0 Ok\r\n"),
};

static const struct conv_step not_upgraded[] = {
	CONV_S(BANNER), CONV_C(EHLO), CONV_S(CAPS_TLS), CONV_C("STARTTLS\r\n"),
	CONV_S("220 2.0.0 Ready to start TLS\r\n"),
	CONV_C("MAIL FROM:<a@client.example>\r\n"), CONV_S("250 2.1.0 Ok\r\n"),
};

static const struct conv_step command_injection[] = {
	CONV_S(BANNER), CONV_C(EHLO), CONV_S(CAPS_TLS), CONV_C("STARTTLS\r\nRSET\r\n"),
	CONV_S("220 2.0.0 Ready to start TLS\r\n"), CH,
};

static const struct conv_step response_injection[] = {
	CONV_S(BANNER), CONV_C(EHLO), CONV_S(CAPS_TLS), CONV_C("STARTTLS\r\n"),
	CONV_S("220 2.0.0 Ready to start TLS\r\n250 injected by the middle\r\n"), CH,
};

/* A pipelined transaction whose body holds command-like lines and a split terminator. */
static const struct conv_step body[] = {
	CONV_S(BANNER), CONV_C(EHLO), CONV_S(CAPS_TLS),
	CONV_C("MAIL FROM:<a@client.example>\r\nRCPT TO:<b@mx.bench.example>\r\nDATA\r\n"),
	CONV_S("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"),
	CONV_C("Subject: x\r\n\r\nSTARTTLS\r\nAUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n.\r"),
	CONV_C("\n"),
	CONV_S("250 2.0.0 Ok: queued as 4F1\r\n"),
	CONV_C("QUIT\r\n"), CONV_S("221 2.0.0 Bye\r\n"),
};

static const struct conv_step bdat[] = {
	CONV_S(BANNER), CONV_C(EHLO), CONV_S(CAPS_NOTLS),
	CONV_C("MAIL FROM:<a@client.example>\r\n"), CONV_S("250 2.1.0 Ok\r\n"),
	CONV_C("RCPT TO:<b@mx.bench.example>\r\n"), CONV_S("250 2.1.5 Ok\r\n"),
	CONV_C("BDAT 26 LAST\r\nSTARTTLS\r\nAUTH LOGIN x\r\n\r\n"),
	CONV_S("250 2.0.0 Ok: 26 octets\r\n"),
	CONV_C("QUIT\r\n"), CONV_S("221 2.0.0 Bye\r\n"),
};

/* AUTH LOGIN: the base64 user name and password answer 334 challenges. */
static const struct conv_step auth_login[] = {
	CONV_S(BANNER), CONV_C(EHLO), CONV_S(CAPS_NOTLS),
	CONV_C("AUTH LOGIN\r\n"), CONV_S("334 VXNlcm5hbWU6\r\n"),
	CONV_C("YWxpY2U=\r\n"), CONV_S("334 UGFzc3dvcmQ6\r\n"),
	CONV_C("c3RhcnR0bHM=\r\n"), CONV_S("235 2.7.0 Authentication successful\r\n"),
	CONV_C("QUIT\r\n"), CONV_S("221 2.0.0 Bye\r\n"),
};

/* The capture began after the banner; the client pipelines, in mixed case. */
static const struct conv_step no_banner[] = {
	CONV_C("EHLO x\r\nrset\r\nstaRttLs\r\n"),
	CONV_S("250-mx\r\n250 STARTTLS\r\n250 2.0.0 Ok\r\n220 2.0.0 Ready to start TLS\r\n"), CH,
};

static const struct conv_step masked_banner[] = {
	CONV_S("220 ******************************\r\n"), CONV_C(EHLO),
	CONV_S("250-mx.bench.example\r\n250 8BITMIME\r\n"),
};

static struct conv_sink whole, bytewise;

/* Run sc with whole segments and byte by byte: both must give the same findings and flows. */
static void run(conv_scenario sc)
{
	uint64_t calls;
	assert_true(conv_run_both(sc, &whole, &bytewise, &calls));
	assert_true(conv_same_findings(&whole, &bytewise));
	assert_true(conv_same_flows(&whole, &bytewise));
}

#define SESSION(e, cport, steps, seg) conv_session(e, cport, 25, steps, SW_ARRAY_LEN(steps), seg)

static void sc_clean(struct sw_engine *e, size_t seg) { SESSION(e, 40001, clean, seg); }

static void test_clean_starttls(void **state)
{
	run(sc_clean);
	assert_int_equal(whole.n_findings, 0);
	assert_int_equal(whole.n_flows, 1);
	const struct sw_flow_info *fi = &whole.flows[0];
	assert_int_equal(fi->app_proto, SW_APP_SMTP);
	assert_int_equal(fi->starttls.offered, SW_YES);
	assert_int_equal(fi->starttls.command_sent, SW_YES);
	assert_int_equal(fi->starttls.upgraded, SW_YES);
	assert_string_equal(fi->starttls.reply, "220 2.0.0 Ready to start TLS");
	assert_string_equal(fi->server_name, "mx.bench.example");
	assert_int_equal(fi->tls.client_max_version, 0x0303);
}

static void sc_stripped(struct sw_engine *e, size_t seg)
{
	SESSION(e, 40001, clean, seg);
	SESSION(e, 40002, stripped_auth, seg);
}

static void test_stripped_after_clean(void **state)
{
	run(sc_stripped);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_STRIPPED, 1), 1);
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, 1), 1);
	/* Not offered in this session, so not "offered and not used". */
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_NOT_USED, -1), 0);
	const struct conv_finding *f = conv_find(&whole, SW_F_STARTTLS_STRIPPED);
	assert_string_equal(f->ev[0], "250-mx.bench.example");
	/* The credentials never reach the evidence. */
	assert_string_equal(conv_find(&whole, SW_F_CLEARTEXT_AUTH)->ev[0], "AUTH PLAIN <redacted>");
	assert_false(conv_evidence_has(&whole, "AGFsaWNl"));
	assert_int_equal(whole.flows[1].starttls.offered, SW_NO);
	/* The second session reuses the first one's cold part: nothing of it may show. */
	assert_string_equal(whole.flows[1].starttls.reply, "");
	assert_int_equal(whole.flows[1].tls.client_max_version, 0);
	assert_string_equal(whole.flows[0].starttls.reply, "220 2.0.0 Ready to start TLS");
}

static void sc_stripped_alone(struct sw_engine *e, size_t seg) { SESSION(e, 40002, stripped_auth, seg); }

static void test_no_history_no_stripped(void **state)
{
	/* Without an earlier session, a list without STARTTLS is a server that never offered it. */
	run(sc_stripped_alone);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_STRIPPED, -1), 0);
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, 3), 1);
}

static void sc_mangled(struct sw_engine *e, size_t seg) { SESSION(e, 40003, mangled, seg); }

static void test_mangled(void **state)
{
	run(sc_mangled);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_MANGLED, 1), 1);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_STRIPPED, -1), 0);
	assert_true(conv_evidence_has(&whole, "250-XXXXXXXA"));
	assert_int_equal(whole.flows[0].starttls.offered, SW_NO);
}

static void sc_refused(struct sw_engine *e, size_t seg) { SESSION(e, 40004, refused, seg); }

static void test_refused(void **state)
{
	run(sc_refused);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_REFUSED, 2), 1);
	assert_string_equal(conv_find(&whole, SW_F_STARTTLS_REFUSED)->ev[0],
			    "454 4.7.0 TLS not available due to local problem");
	assert_string_equal(whole.flows[0].starttls.reply, "454 4.7.0 TLS not available due to local problem");
	assert_int_equal(whole.flows[0].starttls.upgraded, SW_UNSEEN);
}

static void sc_refused_after_clean(struct sw_engine *e, size_t seg)
{
	SESSION(e, 40001, clean, seg);
	SESSION(e, 40004, refused, seg);
}

static void test_refused_after_accepted(void **state)
{
	/* The same server accepted STARTTLS before: severity 1. */
	run(sc_refused_after_clean);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_REFUSED, 1), 1);
}

static void sc_not_upgraded(struct sw_engine *e, size_t seg) { SESSION(e, 40005, not_upgraded, seg); }

static void test_not_upgraded(void **state)
{
	run(sc_not_upgraded);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_NOT_UPGRADED, 1), 1);
	assert_string_equal(conv_find(&whole, SW_F_STARTTLS_NOT_UPGRADED)->ev[0], "MAIL FROM:<a@client.example>");
	assert_int_equal(whole.flows[0].starttls.upgraded, SW_NO);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_RESPONSE_INJECTION, -1), 0);
}

static void sc_cmd_inj(struct sw_engine *e, size_t seg) { SESSION(e, 40006, command_injection, seg); }

static void test_command_injection(void **state)
{
	run(sc_cmd_inj);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_COMMAND_INJECTION, 1), 1);
	assert_true(conv_evidence_has(&whole, "RSET"));
	assert_int_equal(whole.flows[0].starttls.upgraded, SW_YES);
}

static void sc_resp_inj(struct sw_engine *e, size_t seg) { SESSION(e, 40007, response_injection, seg); }

static void test_response_injection(void **state)
{
	run(sc_resp_inj);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_RESPONSE_INJECTION, 1), 1);
	assert_true(conv_evidence_has(&whole, "250 injected by the middle"));
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_NOT_UPGRADED, -1), 0);
}

static void sc_body(struct sw_engine *e, size_t seg) { SESSION(e, 40008, body, seg); }

static void test_data_body_skipped(void **state)
{
	run(sc_body);
	/* Offered, not used: severity 3; the body's STARTTLS and AUTH lines are not commands. */
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_NOT_USED, 3), 1);
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, -1), 0);
	assert_int_equal(whole.flows[0].starttls.command_sent, SW_UNSEEN);
	assert_int_equal(whole.n_findings, 1);
}

static void sc_bdat(struct sw_engine *e, size_t seg) { SESSION(e, 40009, bdat, seg); }

static void test_bdat_chunk_skipped(void **state)
{
	run(sc_bdat);
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, -1), 0);
	assert_int_equal(whole.flows[0].starttls.command_sent, SW_UNSEEN);
	assert_int_equal(whole.n_findings, 0);
}

static void sc_auth_login(struct sw_engine *e, size_t seg) { SESSION(e, 40010, auth_login, seg); }

static void test_auth_login_continuations(void **state)
{
	run(sc_auth_login);
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, 3), 1);
	assert_string_equal(conv_find(&whole, SW_F_CLEARTEXT_AUTH)->ev[0], "AUTH LOGIN");
	/* The password decodes to "starttls": a SASL response is never a command. */
	assert_int_equal(whole.flows[0].starttls.command_sent, SW_UNSEEN);
	assert_false(conv_evidence_has(&whole, "YWxpY2U="));
}

static void sc_no_banner(struct sw_engine *e, size_t seg) { SESSION(e, 40011, no_banner, seg); }

static void test_pipelined_without_banner(void **state)
{
	run(sc_no_banner);
	assert_int_equal(whole.n_findings, 0);
	assert_int_equal(whole.flows[0].starttls.offered, SW_YES);
	assert_int_equal(whole.flows[0].starttls.command_sent, SW_YES);
	assert_string_equal(whole.flows[0].starttls.reply, "220 2.0.0 Ready to start TLS");
	assert_int_equal(whole.flows[0].starttls.upgraded, SW_YES);
}

static void sc_masked_banner(struct sw_engine *e, size_t seg) { SESSION(e, 40012, masked_banner, seg); }

static void test_masked_banner(void **state)
{
	run(sc_masked_banner);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_MANGLED, 1), 1);
	assert_true(conv_evidence_has(&whole, "220 ****"));
}

static uint64_t mem_now(struct sw_engine *e)
{
	struct sw_dissect_stats st;
	sw_engine_stats(e, &st);
	return st.mem_bytes;
}

/*
 * A session that showed only its banner (the adversarial capture's never
 * closed "tiny" flows) costs struct sw_app and the server direction's
 * reassembly history, nothing more; its summary still carries the banner's
 * name.  The EHLO reply's evidence brings the cold part (and the client's
 * history), and the accounting returns to the flow's own cost at the end.
 */
static void test_banner_only_flow_is_small(void **state)
{
	struct conv_sink *s = &whole;
	struct sw_engine *e = conv_engine(s, false);
	assert_non_null(e);
	struct conv c;
	conv_open(&c, e, 40021, 25, 0);
	uint64_t m0 = mem_now(e);
	conv_send(&c, 1, BANNER, sizeof(BANNER) - 1);
	uint64_t m1 = mem_now(e);
	assert_int_equal(m1 - m0, sizeof(struct sw_app) + SW_REASM_HISTORY);
	conv_send(&c, 0, EHLO, sizeof(EHLO) - 1);
	conv_send(&c, 1, CAPS_TLS, sizeof(CAPS_TLS) - 1);
	uint64_t m2 = mem_now(e);
	assert_int_equal(m2 - m1, sizeof(struct sw_app_cold) + SW_REASM_HISTORY);
	/* A second flow that stops after its banner: reported without a cold part. */
	struct conv d;
	conv_open(&d, e, 40022, 25, 0);
	conv_send(&d, 1, BANNER, sizeof(BANNER) - 1);
	sw_engine_flush(e);
	assert_int_equal(mem_now(e), m0);
	assert_int_equal(s->n_flows, 2);
	for (int i = 0; i < 2; i++) {
		const struct sw_flow_info *fi = &s->flows[i];
		bool full = fi->client_port == 40021;
		assert_int_equal(fi->app_proto, SW_APP_SMTP);
		assert_string_equal(fi->server_name, "mx.bench.example");
		assert_int_equal(fi->starttls.offered, full ? SW_YES : SW_UNSEEN);
		assert_int_equal(fi->pkts[1], full ? 3 : 2); /* SYN-ACK, banner[, capabilities] */
		assert_string_equal(fi->starttls.reply, "");
		assert_string_equal(fi->classified_as, "");
		assert_int_equal(fi->tls.client_max_version, 0);
	}
	sw_engine_free(e);
}

static void test_token_masks(void **state)
{
	static const struct { const char *tok; bool masks; } t[] = {
		{ "XXXXXXXA", true }, { "xxxxxxxx", true }, { "********", true }, { "STARTTLX", true },
		{ "STARTLS", true }, { "STARTTTLS", true }, { "STARTTLS", false }, { "starttls", false },
		{ "CHUNKING", false }, { "8BITMIME", false }, { "SMTPUTF8", false }, { "PIPELINING", false },
		{ "XXXA", false }, { "", false },
	};
	for (size_t i = 0; i < SW_ARRAY_LEN(t); i++)
		assert_int_equal(sw_token_masks((const uint8_t *)t[i].tok, (uint32_t)strlen(t[i].tok), "STARTTLS"),
				 t[i].masks);
	assert_true(sw_token_masks((const uint8_t *)"XXXA", 4, "STLS"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_starttls),
		cmocka_unit_test(test_stripped_after_clean),
		cmocka_unit_test(test_no_history_no_stripped),
		cmocka_unit_test(test_mangled),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_refused_after_accepted),
		cmocka_unit_test(test_not_upgraded),
		cmocka_unit_test(test_command_injection),
		cmocka_unit_test(test_response_injection),
		cmocka_unit_test(test_data_body_skipped),
		cmocka_unit_test(test_bdat_chunk_skipped),
		cmocka_unit_test(test_auth_login_continuations),
		cmocka_unit_test(test_pipelined_without_banner),
		cmocka_unit_test(test_masked_banner),
		cmocka_unit_test(test_banner_only_flow_is_small),
		cmocka_unit_test(test_token_masks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
