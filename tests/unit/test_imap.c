/*
 * test_imap.c - the IMAP dissector (dissect/imap.c) driven through the
 * engine with scripted TCP conversations (conv.h) on port 143.
 *
 * The protocol lines come from real captures: zeek/zeek
 * testing/btest/Traces/tls/imap-starttls.pcap (GMX, STARTTLS offered in the
 * greeting and CAPABILITY) and ntop/nDPI tests/cfgs/default/pcap/imap.pcap
 * (no STARTTLS, LOGIN in cleartext); the attack variants edit them as an
 * active attacker would.  Every scenario runs twice, whole segments and one
 * byte per segment, and must give the same findings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "conv.h"

#define GMX_GREETING                                                                            \
	"* OK [CAPABILITY IMAP4rev1 CHILDREN ENABLE ID IDLE LIST-EXTENDED LIST-STATUS LITERAL+ " \
	"MOVE NAMESPACE SASL-IR SORT SPECIAL-USE THREAD=ORDEREDSUBJECT UIDPLUS UNSELECT WITHIN "  \
	"STARTTLS AUTH=LOGIN AUTH=PLAIN] IMAP server ready H migmx013 104568 "                    \
	"IMAP-0M0Unb-1YwIOs2b5K-00uE1x\r\n"
#define GMX_CAPS                                                                                   \
	"* CAPABILITY IMAP4rev1 CHILDREN ENABLE ID IDLE LIST-EXTENDED LIST-STATUS LITERAL+ MOVE "  \
	"NAMESPACE SASL-IR SORT SPECIAL-USE THREAD=ORDEREDSUBJECT UIDPLUS UNSELECT WITHIN STARTTLS " \
	"AUTH=LOGIN AUTH=PLAIN\r\n. OK CAPABILITY completed\r\n"
#define CH { 0, (const char *)conv_client_hello, sizeof(conv_client_hello) }

static const struct conv_step gmx_starttls[] = {
	CONV_S(GMX_GREETING),
	CONV_C(". CAPABILITY\r\n"),
	CONV_S(GMX_CAPS),
	CONV_C(". STARTTLS\r\n"),
	CONV_S(". OK Begin TLS negotiation now\r\n"),
	CH,
};

/* ntop imap.pcap: no STARTTLS anywhere, LOGIN in cleartext. */
static const struct conv_step ntop_login[] = {
	CONV_S("* OK IMAP4Rev1 Server Version 4.9.04.012\r\n"),
	CONV_C("C00000 CAPABILITY\r\n"),
	CONV_S("* CAPABILITY IMAP4rev1 IDLE AUTH=LOGIN AUTH=PLAIN AUTH=CRAM-MD5\r\n"),
	CONV_S("C00000 OK CAPABILITY completed\r\n"),
	CONV_C("C00001 LOGIN samir pfres\r\n"),
	CONV_S("C00001 OK LOGIN completed\r\n"),
	CONV_C("C00002 LIST \"\" \"*\"\r\n"),
	CONV_S("* LIST () \"/\" INBOX\r\n"),
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

#define SESSION(e, cport, steps, seg) conv_session(e, cport, 143, steps, SW_ARRAY_LEN(steps), seg)

/* ---- benign ------------------------------------------------------------------------ */

static void sc_benign(struct sw_engine *e, size_t seg) { SESSION(e, 40001, gmx_starttls, seg); }

static void test_starttls_benign(void **state)
{
	run(sc_benign);
	assert_int_equal(whole.n_findings, 0);
	assert_int_equal(whole.n_flows, 1);
	const struct sw_flow_info *fi = &whole.flows[0];
	assert_int_equal(fi->app_proto, SW_APP_IMAP);
	assert_int_equal(fi->starttls.offered, SW_YES);
	assert_int_equal(fi->starttls.command_sent, SW_YES);
	assert_int_equal(fi->starttls.upgraded, SW_YES);
	assert_string_equal(fi->starttls.reply, ". OK Begin TLS negotiation now");
	assert_true(fi->tls_seen);
	assert_int_equal(fi->tls.client_max_version, 0x0303);
	assert_string_equal(fi->classified_as, "");
}

/* ---- stripped ------------------------------------------------------------------------ */

static void sc_stripped(struct sw_engine *e, size_t seg)
{
	SESSION(e, 40001, gmx_starttls, seg);
	SESSION(e, 40002, ntop_login, seg);
}

static void test_stripped_after_offer(void **state)
{
	run(sc_stripped);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_STRIPPED, 1), 1);
	const struct conv_finding *f = conv_find(&whole, SW_F_STARTTLS_STRIPPED);
	assert_non_null(f);
	assert_true(strncmp(f->ev[0], "* CAPABILITY IMAP4rev1 IDLE", 27) == 0);
	/* The server offered STARTTLS to this run's clients: LOGIN is severity 1. */
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, 1), 1);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_NOT_USED, -1), 0);
	assert_false(conv_evidence_has(&whole, "pfres"));
	assert_false(conv_evidence_has(&whole, "samir"));
	assert_int_equal(whole.flows[1].starttls.offered, SW_NO);
}

static void sc_no_history(struct sw_engine *e, size_t seg) { SESSION(e, 40002, ntop_login, seg); }

/*
 * Dovecot sends the post-login capability list (without STARTTLS) before its
 * OK to LOGIN (pcaps/attack-imap-stripped.server.pcap): not a stripping.
 */
static const struct conv_step dovecot_login[] = {
	CONV_S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
	       "AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready.\r\n"),
	CONV_C("HBJA2 LOGIN alice \"lab-secret\"\r\n"),
	CONV_S("* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY "
	       "THREAD=REFERENCES MULTIAPPEND\r\nHBJA2 OK Logged in\r\n"),
};

static void sc_post_login_caps(struct sw_engine *e, size_t seg)
{
	SESSION(e, 40001, gmx_starttls, seg);
	SESSION(e, 40003, dovecot_login, seg);
}

static void test_post_login_capabilities(void **state)
{
	run(sc_post_login_caps);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_STRIPPED, -1), 0);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_NOT_USED, 1), 1);
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, 1), 1);
	assert_false(conv_evidence_has(&whole, "lab-secret"));
	assert_int_equal(whole.flows[1].starttls.offered, SW_YES);
}

static void test_never_offered_is_not_stripped(void **state)
{
	run(sc_no_history);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_STRIPPED, -1), 0);
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, 3), 1);
	assert_int_equal(whole.n_findings, 1);
	const struct conv_finding *f = conv_find(&whole, SW_F_CLEARTEXT_AUTH);
	assert_string_equal(f->ev[0], "C00001 LOGIN <redacted>");
}

/* ---- mangled ------------------------------------------------------------------------- */

static void sc_mangled(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S("* OK [CAPABILITY IMAP4rev1 CHILDREN ENABLE ID IDLE LIST-EXTENDED LIST-STATUS "
		       "LITERAL+ MOVE NAMESPACE SASL-IR SORT SPECIAL-USE THREAD=ORDEREDSUBJECT UIDPLUS "
		       "UNSELECT WITHIN XXXXXXXA AUTH=LOGIN AUTH=PLAIN] IMAP server ready\r\n"),
		CONV_C(". CAPABILITY\r\n"),
		CONV_S("* CAPABILITY IMAP4rev1 CHILDREN XXXXXXXA AUTH=LOGIN AUTH=PLAIN\r\n"
		       ". OK CAPABILITY completed\r\n"),
	};
	SESSION(e, 40003, st, seg);
}

static void test_masked_token(void **state)
{
	run(sc_mangled);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_MANGLED, 1), 1);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_STRIPPED, -1), 0);
	assert_true(conv_evidence_has(&whole, "XXXXXXXA"));
}

/* ---- refused ------------------------------------------------------------------------- */

static void sc_refused(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S(GMX_GREETING),
		CONV_C("a1 STARTTLS\r\n"),
		CONV_S("a1 NO [UNAVAILABLE] STARTTLS not available\r\n"),
		CONV_C("a2 LOGOUT\r\n"),
	};
	SESSION(e, 40004, st, seg);
}

static void test_refused(void **state)
{
	run(sc_refused);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_REFUSED, 2), 1);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_COMMAND_INJECTION, -1), 0);
	const struct conv_finding *f = conv_find(&whole, SW_F_STARTTLS_REFUSED);
	assert_string_equal(f->ev[0], "a1 NO [UNAVAILABLE] STARTTLS not available");
	assert_string_equal(whole.flows[0].starttls.reply, "a1 NO [UNAVAILABLE] STARTTLS not available");
	assert_int_equal(whole.flows[0].starttls.upgraded, SW_UNSEEN);
}

/* ---- LOGIN in cleartext while STARTTLS is offered ------------------------------------ */

static void sc_login_offered(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S(GMX_GREETING),
		CONV_C("C00001 LOGIN samir pfres\r\n"),
		CONV_S("C00001 OK [CAPABILITY IMAP4rev1 IDLE] LOGIN completed\r\n"),
		/* Authenticated: lists without STARTTLS are normal now. */
		CONV_C("C00002 CAPABILITY\r\n"),
		CONV_S("* CAPABILITY IMAP4rev1 IDLE\r\nC00002 OK done\r\n"),
	};
	SESSION(e, 40005, st, seg);
}

static void test_login_cleartext_offered(void **state)
{
	run(sc_login_offered);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_NOT_USED, 3), 1);
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, 1), 1);
	assert_int_equal(whole.n_findings, 2);
	assert_string_equal(conv_find(&whole, SW_F_CLEARTEXT_AUTH)->ev[0], "C00001 LOGIN <redacted>");
	assert_false(conv_evidence_has(&whole, "pfres"));
	assert_int_equal(whole.flows[0].starttls.offered, SW_YES);
}

/* ---- PREAUTH ----------------------------------------------------------------------- */

static void sc_preauth_advertised(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S("* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] IMAP4rev1 server logged in as fred\r\n"),
		CONV_C("a1 SELECT INBOX\r\n"),
		CONV_S("* 18 EXISTS\r\na1 OK [READ-WRITE] SELECT completed\r\n"),
	};
	SESSION(e, 40006, st, seg);
}

static void test_preauth_advertising_starttls(void **state)
{
	run(sc_preauth_advertised);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_STRIPPED, 1), 1);
	assert_true(conv_evidence_has(&whole, "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS"));
}

static void sc_preauth_history(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S("* PREAUTH IMAP4rev1 server logged in as fred\r\n"),
		CONV_C("a1 SELECT INBOX\r\n"),
	};
	SESSION(e, 40001, gmx_starttls, seg);
	SESSION(e, 40007, st, seg);
}

static void test_preauth_after_offer(void **state)
{
	run(sc_preauth_history);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_STRIPPED, 1), 1);
	assert_string_equal(conv_find(&whole, SW_F_STARTTLS_STRIPPED)->ev[0],
			    "* PREAUTH IMAP4rev1 server logged in as fred");
}

static void sc_preauth_alone(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S("* PREAUTH IMAP4rev1 server logged in as fred\r\n"),
		CONV_C("a1 SELECT INBOX\r\n"),
	};
	SESSION(e, 40008, st, seg);
}

static void test_preauth_without_starttls_anywhere(void **state)
{
	run(sc_preauth_alone);
	assert_int_equal(whole.n_findings, 0);
}

/* ---- literals ------------------------------------------------------------------------ */

static void sc_literal(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S(GMX_GREETING),
		CONV_C("a1 LOGIN {5}\r\n"),
		CONV_S("+ Ready for literal data\r\n"),
		CONV_C("samir {13}\r\n"),
		CONV_S("+ Ready for literal data\r\n"),
		/* The password is a literal that looks like a command: it must not be one. */
		CONV_C("b1 STARTTLS\r\n\r\n"),
		CONV_S("a1 OK LOGIN completed\r\n"),
	};
	SESSION(e, 40009, st, seg);
}

static void test_login_with_literals(void **state)
{
	run(sc_literal);
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, 1), 1);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_NOT_USED, 3), 1);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_COMMAND_INJECTION, -1), 0);
	assert_string_equal(conv_find(&whole, SW_F_CLEARTEXT_AUTH)->ev[0], "a1 LOGIN <redacted>");
	assert_int_equal(whole.flows[0].starttls.command_sent, SW_UNSEEN);
	assert_false(conv_evidence_has(&whole, "samir"));
}

static void sc_literal_plus(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S(GMX_GREETING),
		/* RFC 7888 non-synchronizing literals, sent at once; a literal holding CRLF. */
		CONV_C("a2 LOGIN {5+}\r\nsa\r\nr {5+}\r\npfres\r\n"),
		CONV_C("a3 STARTTLS\r\n"),
		CONV_S("a2 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"),
		CONV_S("a3 OK Begin TLS negotiation now\r\n"),
		CH,
	};
	SESSION(e, 40010, st, seg);
}

static void test_nonsync_literals(void **state)
{
	run(sc_literal_plus);
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, 1), 1);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_NOT_USED, 3), 1);
	assert_int_equal(whole.n_findings, 2);
	assert_int_equal(whole.flows[0].starttls.command_sent, SW_YES);
	assert_int_equal(whole.flows[0].starttls.upgraded, SW_YES);
	assert_string_equal(whole.flows[0].starttls.reply, "a3 OK Begin TLS negotiation now");
}

/* ---- injections and a missing upgrade ------------------------------------------------ */

static void sc_cmd_injection(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S(GMX_GREETING),
		CONV_C(". STARTTLS\r\n. LOGIN samir pfres\r\n"),
		CONV_S(". OK Begin TLS negotiation now\r\n"),
		CH,
	};
	SESSION(e, 40011, st, seg);
}

static void test_command_injection(void **state)
{
	run(sc_cmd_injection);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_COMMAND_INJECTION, 1), 1);
	assert_true(conv_evidence_has(&whole, ". LOGIN <redacted>"));
	assert_false(conv_evidence_has(&whole, "pfres"));
}

static void sc_resp_injection(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S(GMX_GREETING),
		CONV_C(". STARTTLS\r\n"),
		CONV_S(". OK Begin TLS negotiation now\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"),
		CH,
	};
	SESSION(e, 40012, st, seg);
}

static void test_response_injection(void **state)
{
	run(sc_resp_injection);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_RESPONSE_INJECTION, 1), 1);
	assert_true(conv_evidence_has(&whole, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready"));
}

static void sc_not_upgraded(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S(GMX_GREETING),
		CONV_C(". STARTTLS\r\n"),
		CONV_S(". OK Begin TLS negotiation now\r\n"),
		CONV_C("a2 SELECT INBOX\r\n"),
	};
	SESSION(e, 40013, st, seg);
}

static void test_not_upgraded(void **state)
{
	run(sc_not_upgraded);
	assert_int_equal(conv_count(&whole, SW_F_STARTTLS_NOT_UPGRADED, 1), 1);
	assert_int_equal(whole.flows[0].starttls.upgraded, SW_NO);
}

/* ---- AUTHENTICATE -------------------------------------------------------------------- */

static void sc_authenticate(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S("* OK IMAP4Rev1 Server Version 4.9.04.012\r\n"),
		CONV_C("a1 AUTHENTICATE PLAIN\r\n"),
		CONV_S("+ \r\n"),
		/* A SASL response is not a command, even when it reads like one. */
		CONV_C("x STARTTLS\r\n"),
		CONV_S("a1 OK AUTHENTICATE completed\r\n"),
	};
	SESSION(e, 40014, st, seg);
}

static void test_authenticate(void **state)
{
	run(sc_authenticate);
	assert_int_equal(conv_count(&whole, SW_F_CLEARTEXT_AUTH, 3), 1);
	assert_int_equal(whole.n_findings, 1);
	assert_string_equal(conv_find(&whole, SW_F_CLEARTEXT_AUTH)->ev[0], "a1 AUTHENTICATE PLAIN");
	assert_int_equal(whole.flows[0].starttls.command_sent, SW_UNSEEN);
}

/* ---- server literals ------------------------------------------------------------------- */

static void sc_server_literal(struct sw_engine *e, size_t seg)
{
	static const struct conv_step st[] = {
		CONV_S("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
		CONV_C("a1 ID NIL\r\n"),
		/* The literal holds what would be a capability list without STARTTLS. */
		CONV_S("* ID (\"name\" {35}\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n)\r\na1 OK ID completed\r\n"),
		CONV_C("a2 STARTTLS\r\n"),
		CONV_S("a2 OK go\r\n"),
		CH,
	};
	SESSION(e, 40015, st, seg);
}

static void test_server_literal_passed_over(void **state)
{
	run(sc_server_literal);
	assert_int_equal(whole.n_findings, 0);
	assert_int_equal(whole.flows[0].starttls.offered, SW_YES);
	assert_int_equal(whole.flows[0].starttls.upgraded, SW_YES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starttls_benign),
		cmocka_unit_test(test_stripped_after_offer),
		cmocka_unit_test(test_never_offered_is_not_stripped),
		cmocka_unit_test(test_post_login_capabilities),
		cmocka_unit_test(test_masked_token),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_login_cleartext_offered),
		cmocka_unit_test(test_preauth_advertising_starttls),
		cmocka_unit_test(test_preauth_after_offer),
		cmocka_unit_test(test_preauth_without_starttls_anywhere),
		cmocka_unit_test(test_login_with_literals),
		cmocka_unit_test(test_nonsync_literals),
		cmocka_unit_test(test_command_injection),
		cmocka_unit_test(test_response_injection),
		cmocka_unit_test(test_not_upgraded),
		cmocka_unit_test(test_authenticate),
		cmocka_unit_test(test_server_literal_passed_over),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
