/*
 * test_policy.c - the policy file parser (every error with its line) and
 * matching: CIDR v4/v6, ports, names exact and suffix, client CIDR, first
 * match wins, the policy object of a finding, loading and reloading.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"

static struct sw_policy *parse(const char *text, char *err, size_t n)
{
	err[0] = 0;
	return sw_policy_parse("p.conf", text, strlen(text), err, n);
}

/* Parse must fail with exactly "p.conf:LINE: ..." containing `what`. */
static void expect_error(const char *text, unsigned line, const char *what)
{
	char err[512], want[32];
	struct sw_policy *p = parse(text, err, sizeof err);
	if (p) {
		sw_policy_free(p);
		fail_msg("accepted: %s", text);
	}
	snprintf(want, sizeof want, "p.conf:%u: ", line);
	if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, what))
		fail_msg("for %s: got '%s', want '%s...%s'", text, err, want, what);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("[198.51.100.25]:25 encrypt\nfoo.example\n", 2, "has no level");
	expect_error("# c\n\n* mandatory\n", 3, "unknown level 'mandatory'");
	expect_error("198.51.100.300 may\n", 1, "bad IPv4 address");
	expect_error("2001:db8::zz/32 may\n", 1, "bad IPv6 address");
	expect_error("198.51.100.0/33 may\n", 1, "over 32");
	expect_error("2001:db8::/129 may\n", 1, "over 128");
	expect_error("198.51.100.0/x may\n", 1, "bad prefix length");
	expect_error("198.51.100.1/24 may\n", 1, "host bits set");
	expect_error("[2001:db8::1/32]:25 may\n", 1, "host bits set");
	expect_error("[198.51.100.25]:0 may\n", 1, "bad port");
	expect_error("[198.51.100.25]:65536 may\n", 1, "bad port");
	expect_error("[198.51.100.25]:smtp may\n", 1, "bad port");
	expect_error("[198.51.100.25 may\n", 1, "without ']'");
	expect_error("198.51.100.25] may\n", 1, "without '['");
	expect_error("[198.51.100.25]x may\n", 1, "after ']'");
	expect_error("[] may\n", 1, "empty");
	expect_error("198.51.100.25:25 may\n", 1, "[MATCH]:PORT");
	expect_error("mx..example.com may\n", 1, "bad server name");
	expect_error("mx.exa mple.com may\n", 1, "unknown level 'mple.com'");
	expect_error("mx/example may\n", 1, "bad");
	expect_error(". may\n", 1, "bad domain");
	expect_error("* encrypt min_version=1.4\n", 1, "bad min_version '1.4'");
	expect_error("* encrypt mode=audit\n", 1, "bad mode 'audit'");
	expect_error("* encrypt client=192.0.2.0/99\n", 1, "over 32");
	expect_error("* encrypt client=\n", 1, "bad option");
	expect_error("* encrypt match=.example.com\n", 1, "unknown option 'match'");
	expect_error("* encrypt mode=testing mode=enforce\n", 1, "given twice");
	expect_error("* encrypt protocols\n", 1, "expected NAME=VALUE");

	/* A line over the cap, and a NUL byte. */
	char big[SW_POL_LINE_MAX + 64];
	memset(big, 'a', sizeof big);
	memcpy(big, "* may\n", 6);
	big[sizeof big - 1] = 0;
	expect_error(big, 2, "longer than");
	char err[256];
	const char nul[] = "* may\n*\0 may\n";
	assert_null(sw_policy_parse("p.conf", nul, sizeof nul - 1, err, sizeof err));
	assert_non_null(strstr(err, "p.conf:2: NUL"));
}

static void test_accepts(void **state)
{
	(void)state;
	char err[256];
	const char *text =
		"# match                    level    options\n"
		"[198.51.100.25]:25         encrypt  min_version=1.2\n"
		"198.51.100.0/24            may\r\n"
		"[2001:db8::/32]:587        verify   mode=testing\n"
		"mx1.bank.example           encrypt  client=192.0.2.0/24   # comment\n"
		"*.partner.example          none\n"
		"\t  \n"
		"[.Lab.Example]:143         encrypt  min_version=TLSv1.3 mode=enforce\n"
		"2001:db8:5::25             encrypt\n"
		"*                          may      min_version=1.2\n";
	struct sw_policy *p = parse(text, err, sizeof err);
	assert_non_null(p);
	assert_int_equal(sw_policy_rules(p), 8);
	assert_int_equal(p->rules[0].line, 2);
	assert_int_equal(p->rules[0].port, 25);
	assert_int_equal(p->rules[0].min_version, 0x0303);
	assert_int_equal(p->rules[2].level, SW_POL_VERIFY);
	assert_true(p->rules[2].testing);
	assert_int_equal(p->rules[2].plen, 32);
	assert_int_equal(p->rules[4].match, SW_PM_SUFFIX);
	assert_string_equal(p->rules[4].name, ".partner.example");
	assert_int_equal(p->rules[5].match, SW_PM_SUFFIX);
	assert_string_equal(p->rules[5].name, ".lab.example");
	assert_int_equal(p->rules[5].min_version, 0x0304);
	assert_int_equal(p->rules[5].line, 8);
	assert_int_equal(p->rules[6].ip_version, 6);
	assert_int_equal(p->rules[6].plen, 128);
	assert_int_equal(p->rules[7].match, SW_PM_ANY);
	sw_policy_free(p);

	/* Empty and comment-only files are valid and match nothing. */
	p = parse("# nothing\n\n", err, sizeof err);
	assert_non_null(p);
	assert_int_equal(sw_policy_rules(p), 0);
	struct sw_pol_query q = { 0 };
	assert_null(sw_policy_match(p, &q));
	sw_policy_free(p);
}

static void ip4(uint8_t out[16], const char *s)
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(AF_INET, s, out), 1);
}

static void ip6(uint8_t out[16], const char *s)
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

/* Line of the rule that matches, 0 for none. */
static unsigned match_line(const struct sw_policy *p, uint8_t ver, const char *srv, uint16_t port,
			   const char *cli, const char *name, const char *sni)
{
	uint8_t s[16], c[16];
	(ver == 4 ? ip4 : ip6)(s, srv);
	(ver == 4 ? ip4 : ip6)(c, cli);
	struct sw_pol_query q = { ver, s, port, c, { name, sni } };
	const struct sw_pol_rule *r = sw_policy_match(p, &q);
	return r ? r->line : 0;
}

static void test_match(void **state)
{
	(void)state;
	char err[256];
	struct sw_policy *p = parse(
		"[198.51.100.25]:25   encrypt\n"              /* 1 */
		"198.51.100.0/25      may\n"                  /* 2 */
		"[2001:db8::/32]:587  verify\n"               /* 3 */
		"mx.bank.example      encrypt client=192.0.2.0/24\n" /* 4 */
		".partner.example     none\n"                 /* 5 */
		"[2001:db8:5::25]:25  encrypt\n"              /* 6 */
		"198.51.100.128/26    encrypt client=[2001:db8:c::/48]\n" /* 7: v6 client never matches v4 */
		"10.0.0.0/8           none\n",                /* 8 */
		err, sizeof err);
	assert_non_null(p);
	/* CIDR v4, port, first match wins (line 1 before line 2). */
	assert_int_equal(match_line(p, 4, "198.51.100.25", 25, "192.0.2.10", NULL, NULL), 1);
	assert_int_equal(match_line(p, 4, "198.51.100.25", 587, "192.0.2.10", NULL, NULL), 2);
	assert_int_equal(match_line(p, 4, "198.51.100.127", 25, "192.0.2.10", NULL, NULL), 2);
	assert_int_equal(match_line(p, 4, "198.51.100.128", 25, "192.0.2.10", NULL, NULL), 0);
	assert_int_equal(match_line(p, 4, "10.255.1.1", 25, "192.0.2.10", NULL, NULL), 8);
	assert_int_equal(match_line(p, 4, "11.0.0.1", 25, "192.0.2.10", NULL, NULL), 0);
	/* CIDR v6 with a port; a v4 address never matches a v6 rule. */
	assert_int_equal(match_line(p, 6, "2001:db8:ffff::1", 587, "2001:db8:c::10", NULL, NULL), 3);
	assert_int_equal(match_line(p, 6, "2001:db9::1", 587, "2001:db8:c::10", NULL, NULL), 0);
	assert_int_equal(match_line(p, 6, "2001:db8:5::25", 25, "2001:db8:c::10", NULL, NULL), 6);
	assert_int_equal(match_line(p, 6, "2001:db8:5::25", 587, "2001:db8:c::10", NULL, NULL), 3);
	/* Names: exact without case and without the trailing dot; from the banner or the SNI. */
	assert_int_equal(match_line(p, 4, "203.0.113.5", 25, "192.0.2.77", "MX.Bank.Example", NULL), 4);
	assert_int_equal(match_line(p, 4, "203.0.113.5", 25, "192.0.2.77", "mx.bank.example.", NULL), 4);
	assert_int_equal(match_line(p, 4, "203.0.113.5", 25, "192.0.2.77", "", "mx.bank.example"), 4);
	assert_int_equal(match_line(p, 4, "203.0.113.5", 25, "192.0.2.77", "mx2.bank.example", NULL), 0);
	/* Client CIDR: outside it the rule does not apply. */
	assert_int_equal(match_line(p, 4, "203.0.113.5", 25, "198.18.0.1", "mx.bank.example", NULL), 0);
	/* Suffix: subdomains only. */
	assert_int_equal(match_line(p, 4, "203.0.113.5", 25, "192.0.2.1", "a.b.partner.example", NULL), 5);
	assert_int_equal(match_line(p, 4, "203.0.113.5", 25, "192.0.2.1", "partner.example", NULL), 0);
	assert_int_equal(match_line(p, 4, "203.0.113.5", 25, "192.0.2.1", "xpartner.example", NULL), 0);
	/* An unknown name skips name rules: the IP rule after them applies. */
	assert_int_equal(match_line(p, 4, "198.51.100.25", 25, "192.0.2.1", NULL, NULL), 1);
	/* A v6 client CIDR on a v4 flow. */
	assert_int_equal(match_line(p, 4, "198.51.100.130", 25, "192.0.2.1", NULL, NULL), 0);
	sw_policy_free(p);
}

static void test_first_match_by_name_then_ip(void **state)
{
	(void)state;
	char err[256];
	struct sw_policy *p = parse("mx.lab.example encrypt mode=testing\n"
				    "198.51.100.25 none\n"
				    "* may min_version=1.3\n",
				    err, sizeof err);
	assert_non_null(p);
	/* Before the banner the IP rule applies; once the name is known, the name rule. */
	assert_int_equal(match_line(p, 4, "198.51.100.25", 25, "192.0.2.10", NULL, NULL), 2);
	assert_int_equal(match_line(p, 4, "198.51.100.25", 25, "192.0.2.10", "mx.lab.example", NULL), 1);
	assert_int_equal(match_line(p, 4, "198.51.100.99", 25, "192.0.2.10", NULL, NULL), 3);

	uint8_t s[16], c[16];
	ip4(s, "198.51.100.25");
	ip4(c, "192.0.2.10");
	struct sw_pol_query q = { 4, s, 25, c, { "mx.lab.example", NULL } };
	const struct sw_pol_rule *r = sw_policy_match(p, &q);
	struct sw_policy_ref ref;
	sw_policy_ref_fill(r, &ref);
	assert_string_equal(ref.rule, "mx.lab.example");
	assert_int_equal(ref.line, 1);
	assert_string_equal(ref.level, "encrypt");
	assert_string_equal(ref.mode, "testing");
	assert_true(sw_pol_requires_tls(r));
	assert_int_equal(sw_pol_severity(r), 3);
	sw_policy_ref_fill(NULL, &ref);
	assert_null(ref.rule);
	sw_policy_free(p);
}

static void test_load_and_reload(void **state)
{
	(void)state;
	char path[] = "/tmp/test_policy.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char good[] = "[198.51.100.25]:25 encrypt\n* may\n";
	assert_int_equal(write(fd, good, sizeof good - 1), (ssize_t)(sizeof good - 1));
	close(fd);
	char err[512];
	struct sw_policy *p = sw_policy_load(path, err, sizeof err);
	assert_non_null(p);
	assert_int_equal(sw_policy_rules(p), 2);

	/* A broken file: NULL with the file name and line; the caller keeps p. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("* may\n[198.51.100.25]:25 encrpyt\n", f);
	fclose(f);
	struct sw_policy *q = sw_policy_load(path, err, sizeof err);
	assert_null(q);
	char want[128];
	snprintf(want, sizeof want, "%s:2: unknown level 'encrpyt'", path);
	assert_non_null(strstr(err, want));
	assert_int_equal(sw_policy_rules(p), 2);
	sw_policy_free(p);

	unlink(path);
	assert_null(sw_policy_load(path, err, sizeof err));
	assert_non_null(strstr(err, "No such file"));
	assert_null(sw_policy_load("/tmp", err, sizeof err));
	assert_non_null(strstr(err, "not a regular file"));
}

/* Every prefix of a valid file parses or fails cleanly, never crashes. */
static void test_prefixes(void **state)
{
	(void)state;
	const char *text = "[2001:db8::/32]:587 verify mode=testing client=192.0.2.0/24 min_version=1.3\n"
			   ".example.org encrypt\n";
	char err[256];
	for (size_t n = 0; n <= strlen(text); n++) {
		struct sw_policy *p = sw_policy_parse("p", text, n, err, sizeof err);
		sw_policy_free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_first_match_by_name_then_ip),
		cmocka_unit_test(test_load_and_reload),
		cmocka_unit_test(test_prefixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
