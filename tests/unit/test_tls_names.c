/*
 * test_tls_names.c - version, cipher-suite, SSL 2.0 cipher-kind and alert
 * names, and the weak-cipher classification.  Expected names are as tshark
 * 4.0 and the IANA registry spell them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tls.h"

static void test_version_names(void **state)
{
	char buf[24];

	assert_string_equal(sw_tls_version_name(0x0002, buf), "SSL 2.0");
	assert_string_equal(sw_tls_version_name(0x0300, buf), "SSL 3.0");
	assert_string_equal(sw_tls_version_name(0x0301, buf), "TLS 1.0");
	assert_string_equal(sw_tls_version_name(0x0302, buf), "TLS 1.1");
	assert_string_equal(sw_tls_version_name(0x0303, buf), "TLS 1.2");
	assert_string_equal(sw_tls_version_name(0x0304, buf), "TLS 1.3");
	assert_string_equal(sw_tls_version_name(0x7f0e, buf), "TLS 1.3 draft 14");
	assert_string_equal(sw_tls_version_name(0x7f12, buf), "TLS 1.3 draft 18");
	assert_string_equal(sw_tls_version_name(0x7f1c, buf), "TLS 1.3 draft 28");
	assert_string_equal(sw_tls_version_name(0xfb1a, buf), "0xfb1a");
	assert_string_equal(sw_tls_version_name(0x0a0a, buf), "0x0a0a");
	assert_string_equal(sw_tls_version_name(0x0000, buf), "0x0000");
	assert_string_equal(sw_tls_version_name(0x0305, buf), "0x0305");
}

static void test_cipher_names(void **state)
{
	static const struct {
		uint16_t v;
		const char *name;
		bool weak;
	} v[] = {
		{ 0x0000, "TLS_NULL_WITH_NULL_NULL", true },
		{ 0x0001, "TLS_RSA_WITH_NULL_MD5", true },
		{ 0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", true },
		{ 0x0004, "TLS_RSA_WITH_RC4_128_MD5", true },
		{ 0x0005, "TLS_RSA_WITH_RC4_128_SHA", true },
		{ 0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", true },
		{ 0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA", true },
		{ 0x0009, "TLS_RSA_WITH_DES_CBC_SHA", true },
		{ 0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", true },
		{ 0x0018, "TLS_DH_anon_WITH_RC4_128_MD5", true },
		{ 0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", false },
		{ 0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", true },
		{ 0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", false },
		{ 0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", false },
		{ 0x1301, "TLS_AES_128_GCM_SHA256", false },
		{ 0x1302, "TLS_AES_256_GCM_SHA384", false },
		{ 0x1303, "TLS_CHACHA20_POLY1305_SHA256", false },
		{ 0x5600, "TLS_FALLBACK_SCSV", false },
		{ 0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", true },
		{ 0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", true },
		{ 0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", false },
		{ 0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", false },
		{ 0xc0b4, "TLS_SHA256_SHA256", true },
		{ 0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", false },
		{ 0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", false },
	};
	char buf[8];

	for (size_t i = 0; i < SW_ARRAY_LEN(v); i++) {
		assert_string_equal(sw_tls_cipher_name(v[i].v, buf), v[i].name);
		assert_int_equal(sw_tls_cipher_weak(v[i].v), v[i].weak);
	}
	/* 0xc0ff, the example in DESIGN.md, is TLS_ECJPAKE_WITH_AES_128_CCM_8 (EC J-PAKE, IANA-registered). */
	assert_string_equal(sw_tls_cipher_name(0xc0ff, buf), "TLS_ECJPAKE_WITH_AES_128_CCM_8");
	assert_string_equal(sw_tls_cipher_name(0xc1ff, buf), "0xc1ff");
	assert_false(sw_tls_cipher_weak(0xc1ff));
	assert_string_equal(sw_tls_cipher_name(0x1306, buf), "0x1306");
	assert_string_equal(sw_tls_cipher_name(0x0a0a, buf), "0x0a0a"); /* GREASE */
	assert_string_equal(sw_tls_cipher_name(0xffff, buf), "0xffff");
}

/*
 * The whole table: every value gets an IANA-style name or its own hex; the
 * binary search finds a few hundred names; every weak suite is named and
 * its name shows why.
 */
static void test_cipher_table(void **state)
{
	char buf[8], hex[8];
	unsigned named = 0, weak = 0;

	for (uint32_t v = 0; v <= 0xffff; v++) {
		const char *n = sw_tls_cipher_name((uint16_t)v, buf);
		snprintf(hex, sizeof hex, "0x%04x", (unsigned)v);
		if (strcmp(n, hex) == 0) {
			assert_false(sw_tls_cipher_weak((uint16_t)v));
			continue;
		}
		assert_memory_equal(n, "TLS_", 4);
		named++;
		if (sw_tls_cipher_weak((uint16_t)v)) {
			weak++;
			assert_true(strstr(n, "NULL") || strstr(n, "anon") || strstr(n, "EXPORT") ||
				    strstr(n, "RC4") || strstr(n, "DES") || strstr(n, "RC2") ||
				    strstr(n, "IDEA") || strstr(n, "MD5") || strstr(n, "TLS_SHA"));
		} else {
			assert_null(strstr(n, "RC4"));
			assert_null(strstr(n, "DES"));
			assert_null(strstr(n, "_anon_"));
			assert_null(strstr(n, "EXPORT"));
		}
	}
	assert_true(named >= 350);
	assert_true(weak >= 100 && weak < named);
}

static void test_ssl2_names(void **state)
{
	char buf[12];

	assert_string_equal(sw_ssl2_cipher_name(0x010080, buf), "SSL2_RC4_128_WITH_MD5");
	assert_string_equal(sw_ssl2_cipher_name(0x020080, buf), "SSL2_RC4_128_EXPORT40_WITH_MD5");
	assert_string_equal(sw_ssl2_cipher_name(0x030080, buf), "SSL2_RC2_128_CBC_WITH_MD5");
	assert_string_equal(sw_ssl2_cipher_name(0x040080, buf), "SSL2_RC2_128_CBC_EXPORT40_WITH_MD5");
	assert_string_equal(sw_ssl2_cipher_name(0x050080, buf), "SSL2_IDEA_128_CBC_WITH_MD5");
	assert_string_equal(sw_ssl2_cipher_name(0x060040, buf), "SSL2_DES_64_CBC_WITH_MD5");
	assert_string_equal(sw_ssl2_cipher_name(0x0700c0, buf), "SSL2_DES_192_EDE3_CBC_WITH_MD5");
	assert_string_equal(sw_ssl2_cipher_name(0x123456, buf), "0x123456");
	assert_string_equal(sw_ssl2_cipher_name(0x000005, buf), "0x000005");
	assert_true(sw_ssl2_cipher_weak(0x0700c0));
	assert_true(sw_ssl2_cipher_weak(0x123456));
}

static void test_alert_names(void **state)
{
	assert_string_equal(sw_tls_alert_name(0), "close_notify");
	assert_string_equal(sw_tls_alert_name(10), "unexpected_message");
	assert_string_equal(sw_tls_alert_name(40), "handshake_failure");
	assert_string_equal(sw_tls_alert_name(70), "protocol_version");
	assert_string_equal(sw_tls_alert_name(71), "insufficient_security");
	assert_string_equal(sw_tls_alert_name(86), "inappropriate_fallback");
	assert_string_equal(sw_tls_alert_name(112), "unrecognized_name");
	assert_string_equal(sw_tls_alert_name(120), "no_application_protocol");
	assert_null(sw_tls_alert_name(1));
	assert_null(sw_tls_alert_name(87));
	assert_null(sw_tls_alert_name(255));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_names),
		cmocka_unit_test(test_cipher_names),
		cmocka_unit_test(test_cipher_table),
		cmocka_unit_test(test_ssl2_names),
		cmocka_unit_test(test_alert_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
