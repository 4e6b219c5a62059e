/*
 * test_pop3.c - the POP3 dissector (dissect/pop3.c) driven through the
 * engine with scripted TCP conversations (conv.h) on port 110.
 *
 * The protocol lines come from real captures: ntop/nDPI
 * tests/cfgs/default/pcap/pop3.pcap (GMX: CAPA listing STLS, AUTH PLAIN
 * with a continuation, USER/PASS, LIST/UIDL/RETR), pop3_stls.pcap (lavabit:
 * CAPA, STLS accepted), zeek/zeek pop3-starttls.pcap (Cyrus greeting) and
 * OISF/suricata-verify tests/pop3-auth-01 (no greeting captured, AUTH
 * XOAUTH2).  Every scenario runs whole and one byte per segment, and both
 * must give the same findings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "conv.h"

#define GMX_GREETING "+OK POP server ready H mimap15 0LfD5x-1VsVU4327M-00pHSn\r\n"
#define GMX_CAPA                                                                            \
	"+OK Capability list follows\r\nTOP\r\nUSER\r\nUIDL\r\nSTLS\r\nSASL PLAIN\r\n" \
	"IMPLEMENTATION trinity\r\n.\r\n"
#define LAVABIT_CAPA                                                                       \
	"+OK Capabilities follow.\r\nTOP\r\nUSER\r\nUIDL\r\nSTLS\r\nPIPELINING\r\n"        \
	"EXPIRE NEVER\r\nLOGIN-DELAY 0\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"              \
	"IMPLEMENTATION lavad 4.3.0\r\n.\r\n"
#define CH { 0, (const char *)conv_client_hello, sizeof(conv_client_hello) }

static const struct conv_step lavabit_stls[] = {
	CONV_S("+OK lavad\r\n"),
	CONV_C("AUTH\r\n"),
	CONV_S("-ERR Unrecognized command.\r\n"),
	CONV_C("CAPA\r\n"),
	CONV_S(LAVABIT_CAPA),
	CONV_C("STLS\r\n"),
	CONV_S("+OK Ready to start TLS negotiation.\r\n"),
	CH,
};

static struct conv_sink whole, bytewise;

/* Run sc with whole segments and byte by byte: both must give the same findings and flows. */
static void run(conv_scenario sc)
{
	uint64_t calls;
	assert_true(conv_run_both(sc, &whole, &bytewise, &calls));
	assert_int_equal(calls, 0);
	assert_true(conv_same_findings(&whole, &bytewise));
	assert_true(conv_same_flows(&whole, &bytewise));
}

#define SESSION(e, cport, steps, seg) conv_session(e, cport, 110, steps, SW_ARRAY_LEN(steps), seg)

static void sc_benign(struct sw_engine *e, size_t seg) { SESSION(e, 50001, lavabit_stls, seg); }

static void test_stls_benign(void **state)
{
	run(sc_benign);
	assert_int_equal(whole.n_findings, 0);
	assert_int_equal(whole.n_flows, 1);
	const struct sw_flow_info *fi = &whole.flows[0];
	assert_int_equal(fi->app_proto, SW_APP_POP3);
	assert_int_equal(fi->starttls.offered, SW_YES);
	assert_int_equal(fi->starttls.command_sent, SW_YES);
	assert_int_equal(fi->starttls.upgraded, SW_YES);
	assert_string_equal(fi->starttls.reply, "+OK Ready to start TLS negotiation.");
	assert_int_equal(fi->tls.client_max_version, 0x0303);
}

/* A second session to the same server whose CAPA lacks STLS. */
static void sc_stripped(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S(GMX_GREETING),
		CONV_C("CAPA\r\n"),
		CONV_S("+OK Capability list follows\r\nTOP\r\nUSER\r\nUIDL\r\nSASL PLAIN\r\n"
		       "IMPLEMENTATION trinity\r\n.\r\n"),
		CONV_C("USER digitalinvestigator@networksims.com\r\n"),
		CONV_S("+OK password required\r\n"),
		CONV_C("PASS napier123\r\n"),
		CONV_S("+OK mailbox has 3 messages (19191 octets)\r\n"),
	};
	SESSION(e, 50001, lavabit_stls, seg);
	SESSION(e, 50002, st, seg);
}

static void test_stripped_after_offer(void **state)
{
	run(sc_stripped);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_STRIPPED, 1), 1);
	assert_string_equal(conv_find(&whole, SW_F_STARTTLS_STRIPPED)->ev[0], "+OK Capability list follows");
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, 1), 1);
	assert_string_equal(conv_find(&whole, SW_F_CLEARTEXT_AUTH)->ev[0], "PASS <redacted>");
	assert_false(conv_evidence_has(&whole, "napier"));
	assert_false(conv_evidence_has(&whole, "digitalinvestigator"));
	assert_int_equal(whole.flows[1].starttls.offered, SW_NO);
}

static void sc_mangled(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S(GMX_GREETING),
		CONV_C("CAPA\r\n"),
		CONV_S("+OK Capability list follows\r\nTOP\r\nUSER\r\nUIDL\r\nXXXX\r\nSASL PLAIN\r\n"
		       "IMPLEMENTATION trinity\r\n.\r\n"),
		CONV_C("QUIT\r\n"),
		CONV_S("+OK POP server signing off\r\n"),
	};
	SESSION(e, 50003, st, seg);
}

static void test_masked_token(void **state)
{
	run(sc_mangled);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_MANGLED, 1), 1);
	assert_int_equal(whole.n_findings, 1);
	assert_true(conv_evidence_has(&whole, "XXXX"));
}

static void sc_refused(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S(GMX_GREETING),
		CONV_C("CAPA\r\n"),
		CONV_S(GMX_CAPA),
		CONV_C("STLS\r\n"),
		CONV_S("-ERR TLS not available\r\n"),
		CONV_C("QUIT\r\n"),
	};
	SESSION(e, 50004, st, seg);
}

static void test_refused(void **state)
{
	run(sc_refused);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_REFUSED, 2), 1);
	assert_int_equal(whole.n_findings, 1);
	assert_string_equal(whole.flows[0].starttls.reply, "-ERR TLS not available");
}

/* ntop pop3.pcap stream 5: AUTH PLAIN with a continuation, STLS offered. */
static void sc_auth_plain(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S(GMX_GREETING),
		CONV_C("AUTH\r\n"),
		CONV_S("-ERR 1 argument required\r\n"),
		CONV_C("CAPA\r\n"),
		CONV_S(GMX_CAPA),
		CONV_C("AUTH PLAIN\r\n"),
		CONV_S("+ \r\n"),
		CONV_C("AGRpZ2l0YWxpbnZlc3RpZ2F0b3JAbmV0d29ya3NpbXMuY29tAG5hcGllcjEyMw==\r\n"),
		CONV_S("+OK mailbox \"digitalinvestigator@networksims.com\" has 3 messages (19191 octets) H mimap15\r\n"),
		CONV_C("STAT\r\n"),
		CONV_S("+OK 3 19191\r\n"),
	};
	SESSION(e, 50005, st, seg);
}

static void test_auth_cleartext_offered(void **state)
{
	run(sc_auth_plain);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_NOT_USED, 3), 1);
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, 1), 1);
	assert_int_equal(whole.n_findings, 2);
	assert_string_equal(conv_find(&whole, SW_F_CLEARTEXT_AUTH)->ev[0], "AUTH PLAIN");
	assert_false(conv_evidence_has(&whole, "AGRp"));
	assert_int_equal(whole.flows[0].starttls.offered, SW_YES);
}

static void sc_user_pass(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S("+OK ladymacbeth.local Cyrus POP3 v2.3.16 server ready <15125655727712503824.1400173552@ladymacbeth.local>\r\n"),
		CONV_C("CAPA\r\nUSER cicciopernacchio@mail.com\r\n"), /* pipelined (RFC 2449 6.6) */
		CONV_S(LAVABIT_CAPA),
		CONV_S("+OK password required for user \"cicciopernacchio@mail.com\"\r\n"),
		CONV_C("PASS pippozzo\r\n"),
		CONV_S("+OK mailbox \"cicciopernacchio@mail.com\" has 2 messages (17672 octets)\r\n"),
	};
	SESSION(e, 50006, st, seg);
}

static void test_user_pass_offered(void **state)
{
	run(sc_user_pass);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_NOT_USED, 3), 1);
	/* USER went out before the CAPA answer was seen: PASS is the first use after the offer. */
	assert_string_equal(conv_find(&whole, SW_F_STARTTLS_NOT_USED)->ev[0], "PASS <redacted>");
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, 1), 1);
	assert_false(conv_evidence_has(&whole, "pippozzo"));
	assert_false(conv_evidence_has(&whole, "cicciopernacchio"));
}

static void sc_apop(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
		CONV_C("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
		CONV_S("+OK maildrop has 1 message (369 octets)\r\n"),
	};
	SESSION(e, 50007, st, seg);
}

static void test_apop(void **state)
{
	run(sc_apop);
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, 3), 1);
	assert_int_equal(whole.n_findings, 1);
	assert_string_equal(conv_find(&whole, SW_F_CLEARTEXT_AUTH)->ev[0], "APOP <redacted>");
}

/* Multi-line content is never a response: "+OK" inside LIST does not answer STLS. */
static void sc_multiline(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S(GMX_GREETING),
		CONV_C("CAPA\r\nLIST\r\nSTLS\r\n"),
		CONV_S(GMX_CAPA),
		CONV_S("+OK 2 messages\r\n1 16196\r\n+OK 1476\r\n..STLS\r\n.\r\n"),
		CONV_S("-ERR not now\r\n"),
	};
	SESSION(e, 50008, st, seg);
}

static void test_multiline_not_replies(void **state)
{
	run(sc_multiline);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_REFUSED, 2), 1);
	assert_string_equal(whole.flows[0].starttls.reply, "-ERR not now");
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_COMMAND_INJECTION, -1), 0);
}

static void sc_cmd_injection(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S(GMX_GREETING),
		CONV_C("STLS\r\nUSER mrose\r\n"),
		CONV_S("+OK Begin TLS negotiation now\r\n"),
		CH,
	};
	SESSION(e, 50009, st, seg);
}

static void test_command_injection(void **state)
{
	run(sc_cmd_injection);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_COMMAND_INJECTION, 1), 1);
	assert_true(conv_evidence_has(&whole, "USER <redacted>"));
	assert_false(conv_evidence_has(&whole, "mrose"));
}

static void sc_resp_injection(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S(GMX_GREETING),
		CONV_C("STLS\r\n"),
		CONV_S("+OK Begin TLS negotiation now\r\n+OK injected\r\n"),
		CH,
	};
	SESSION(e, 50010, st, seg);
}

static void test_response_injection(void **state)
{
	run(sc_resp_injection);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_RESPONSE_INJECTION, 1), 1);
	assert_true(conv_evidence_has(&whole, "+OK injected"));
}

static void sc_not_upgraded(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S(GMX_GREETING),
		CONV_C("STLS\r\n"),
		CONV_S("+OK Begin TLS negotiation now\r\n"),
		CONV_C("CAPA\r\n"),
	};
	SESSION(e, 50011, st, seg);
}

static void test_not_upgraded(void **state)
{
	run(sc_not_upgraded);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_NOT_UPGRADED, 1), 1);
	assert_int_equal(whole.flows[0].starttls.upgraded, SW_NO);
	assert_string_equal(conv_find(&whole, SW_F_STARTTLS_NOT_UPGRADED)->ev[0], "CAPA");
}

/* OISF pop3-auth-01: the capture has no greeting; the client speaks first. */
static void sc_no_greeting(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_C("CAPA\r\n"),
		CONV_S("+OK Capability list follows\r\nUSER\r\nRESP-CODES\r\nEXPIRE 0\r\nLOGIN-DELAY 300\r\n"
		       "TOP\r\nUIDL\r\nX-GOOGLE-RICO\r\nSASL PLAIN XOAUTH2 OAUTHBEARER\r\n.\r\n"),
		CONV_C("AUTH XOAUTH2\r\n"),
		CONV_S("+ \r\n"),
		CONV_C("dXNlcj1qb2Uuc3BlZWRib2F0AWF1dGg9QmVhcmVyIEFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUEBAQ==\r\n"),
		CONV_S("+OK Welcome.\r\n"),
	};
	SESSION(e, 50012, st, seg);
}

static void test_no_greeting(void **state)
{
	run(sc_no_greeting);
	assert_int_equal(whole.flows[0].starttls.offered, SW_NO);
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, 3), 1);
	assert_int_equal(whole.n_findings, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stls_benign),
		cmocka_unit_test(test_stripped_after_offer),
		cmocka_unit_test(test_masked_token),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_auth_cleartext_offered),
		cmocka_unit_test(test_user_pass_offered),
		cmocka_unit_test(test_apop),
		cmocka_unit_test(test_multiline_not_replies),
		cmocka_unit_test(test_command_injection),
		cmocka_unit_test(test_response_injection),
		cmocka_unit_test(test_not_upgraded),
		cmocka_unit_test(test_no_greeting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
