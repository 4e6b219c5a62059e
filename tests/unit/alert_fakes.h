/*
 * alert_fakes.h - stand-ins for the value-name functions that dissect/ and
 * capture/ implement, so the alert tests link before (and after) those
 * exist.  Weak: when the real definitions are linked in, they win, so
 * tests compare against what these functions return, never against fixed
 * names.  Test-only; nothing in alert/ uses this.
 */
#ifndef ALERT_FAKES_H
#define ALERT_FAKES_H

#include <stdio.h>

#include "sw_dissect.h"

#define SW_WEAK __attribute__((weak))

SW_WEAK const char *sw_finding_name(enum sw_finding_kind k)
{
	static const char *n[SW_F__COUNT] = {
		"starttls_stripped", "starttls_mangled", "starttls_refused", "starttls_not_upgraded",
		"starttls_command_injection", "starttls_response_injection", "starttls_not_used",
		"cleartext_auth", "tls_weak_version", "tls_weak_client", "tls_version_downgrade",
		"tls_downgrade_sentinel", "tls_fallback_scsv", "tls_inappropriate_fallback",
		"tls_weak_cipher", "path_changed", "sensor_degraded",
	};
	return (unsigned)k < SW_F__COUNT ? n[k] : NULL;
}
SW_WEAK const char *sw_finding_signature(enum sw_finding_kind k) { return "STARTTLS was \"stripped\"\tfrom the capability list"; }
SW_WEAK const char *sw_finding_category(enum sw_finding_kind k) { return "Mail encryption downgrade"; }
SW_WEAK uint32_t sw_finding_sid(enum sw_finding_kind k) { return 9100001u + (uint32_t)k; }
SW_WEAK const char *sw_tls_version_name(uint16_t v, char buf[24])
{
	if (v == 0x0002)
		return "SSL 2.0";
	if (v == 0x0300)
		return "SSL 3.0";
	if (v >= 0x0301 && v <= 0x0304) {
		snprintf(buf, 24, "TLS 1.%u", (unsigned)(v - 0x0301));
		return buf;
	}
	snprintf(buf, 24, "0x%04x", v);
	return buf;
}
SW_WEAK const char *sw_tls_cipher_name(uint16_t suite, char buf[8])
{
	if (suite == 0x0005)
		return "TLS_RSA_WITH_RC4_128_SHA";
	snprintf(buf, 8, "0x%04x", suite);
	return buf;
}
SW_WEAK const char *sw_ssl2_cipher_name(uint32_t kind, char buf[12])
{
	snprintf(buf, 12, "0x%06x", kind & 0xffffffu);
	return buf;
}
SW_WEAK const char *sw_app_proto_name(enum sw_app_proto p)
{
	static const char *n[SW_APP__COUNT] = { NULL, "smtp", "imap", "pop3", "tls" };
	return (unsigned)p < SW_APP__COUNT ? n[p] : NULL;
}
SW_WEAK const char *sw_anomaly_name(enum sw_anomaly a)
{
	static const char *n[SW_AN__COUNT] = {
		"tcp_overlap_conflict", "tcp_gap", "tcp_ooo_cap", "tcp_buffer_cap", "tcp_bad_flags",
		"line_too_long", "smtp_bad_reply", "smtp_unpaired_reply", "mail_bad_syntax",
		"tls_bad_record", "tls_bad_hello", "tls_trailing_bytes", "evidence_cut",
	};
	return (unsigned)a < SW_AN__COUNT ? n[a] : NULL;
}
SW_WEAK const char *sw_tls_alert_name(uint8_t desc) { return desc == 86 ? "inappropriate_fallback" : NULL; }
SW_WEAK const char *sw_decode_result_name(enum sw_decode_result r)
{
	static const char *n[SW_DECODE__COUNT] = { "tcp", "not_ip", "not_tcp", "fragment", "truncated", "malformed" };
	return (unsigned)r < SW_DECODE__COUNT ? n[r] : NULL;
}

#endif
