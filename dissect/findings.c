/*
 * findings.c - the fixed table of findings and anomalies (STYLE.md 7):
 * names, sentences, categories and signature ids, separate from parsing
 * and from output.  Names are the stable contract of DESIGN.md; never
 * rename one, add new ones at the end.
 */
#include <string.h>

#include "sw_dissect.h"

struct finding_row {
	const char *name;
	const char *signature;
	const char *category;
	uint32_t sid;
};

/* sids: 9100000 + kind, in a range of our own (not Suricata's gid 1 rules). */
static const struct finding_row findings[SW_F__COUNT] = {
	[SW_F_STARTTLS_STRIPPED] = { "starttls_stripped",
		"STARTTLS missing from the capability list of a server that offers it",
		"Attempted Information Leak", 9100001 },
	[SW_F_STARTTLS_MANGLED] = { "starttls_mangled",
		"Capability list or banner masked in transit (STARTTLS overwritten)",
		"Attempted Information Leak", 9100002 },
	[SW_F_STARTTLS_REFUSED] = { "starttls_refused",
		"STARTTLS command refused",
		"Potentially Bad Traffic", 9100003 },
	[SW_F_STARTTLS_NOT_UPGRADED] = { "starttls_not_upgraded",
		"STARTTLS accepted but no TLS handshake followed; plaintext continued",
		"Attempted Information Leak", 9100004 },
	[SW_F_STARTTLS_COMMAND_INJECTION] = { "starttls_command_injection",
		"Client bytes after STARTTLS before the server's reply (command injection, CVE-2011-0411)",
		"Attempted Administrator Privilege Gain", 9100005 },
	[SW_F_STARTTLS_RESPONSE_INJECTION] = { "starttls_response_injection",
		"Server bytes after the STARTTLS success reply before the TLS handshake (response injection)",
		"Attempted Administrator Privilege Gain", 9100006 },
	[SW_F_STARTTLS_NOT_USED] = { "starttls_not_used",
		"STARTTLS offered but the client continued in plaintext",
		"Policy Violation", 9100007 },
	[SW_F_CLEARTEXT_AUTH] = { "cleartext_auth",
		"Credentials sent in plaintext",
		"Attempted Information Leak", 9100008 },
	[SW_F_TLS_WEAK_VERSION] = { "tls_weak_version",
		"TLS version selected below the floor",
		"Policy Violation", 9100009 },
	[SW_F_TLS_WEAK_CLIENT] = { "tls_weak_client",
		"Client offers no TLS version at or above the floor",
		"Policy Violation", 9100010 },
	[SW_F_TLS_VERSION_DOWNGRADE] = { "tls_version_downgrade",
		"TLS version lower than this server selected before",
		"Attempted Information Leak", 9100011 },
	[SW_F_TLS_DOWNGRADE_SENTINEL] = { "tls_downgrade_sentinel",
		"ServerHello carries the RFC 8446 downgrade sentinel although the client offered TLS 1.3",
		"Attempted Information Leak", 9100012 },
	[SW_F_TLS_FALLBACK_SCSV] = { "tls_fallback_scsv",
		"ClientHello carries TLS_FALLBACK_SCSV: a client is retrying at a lower version",
		"Potentially Bad Traffic", 9100013 },
	[SW_F_TLS_INAPPROPRIATE_FALLBACK] = { "tls_inappropriate_fallback",
		"TLS alert inappropriate_fallback: a version fallback was refused",
		"Attempted Information Leak", 9100014 },
	[SW_F_TLS_WEAK_CIPHER] = { "tls_weak_cipher",
		"Weak TLS cipher suite selected",
		"Policy Violation", 9100015 },
	[SW_F_PATH_CHANGED] = { "path_changed",
		"Server's network fingerprint differs from its history: something else may answer in its name",
		"Potentially Bad Traffic", 9100016 },
	[SW_F_SENSOR_DEGRADED] = { "sensor_degraded",
		"Sensor degraded: packets dropped or caps hit, detection may be blind",
		"Sensor Health", 9100017 },
};

const char *sw_finding_name(enum sw_finding_kind k)
{
	return (unsigned)k < SW_F__COUNT ? findings[k].name : NULL;
}

const char *sw_finding_signature(enum sw_finding_kind k)
{
	return (unsigned)k < SW_F__COUNT ? findings[k].signature : NULL;
}

const char *sw_finding_category(enum sw_finding_kind k)
{
	return (unsigned)k < SW_F__COUNT ? findings[k].category : NULL;
}

uint32_t sw_finding_sid(enum sw_finding_kind k)
{
	return (unsigned)k < SW_F__COUNT ? findings[k].sid : 0;
}

int sw_finding_from_name(const char *name)
{
	for (int k = 0; k < SW_F__COUNT; k++)
		if (strcmp(findings[k].name, name) == 0)
			return k;
	return -1;
}

static const char *const anomaly_names[SW_AN__COUNT] = {
	[SW_AN_TCP_OVERLAP_CONFLICT] = "tcp_overlap_conflict",
	[SW_AN_TCP_GAP] = "tcp_gap",
	[SW_AN_TCP_OOO_CAP] = "tcp_ooo_cap",
	[SW_AN_TCP_BUFFER_CAP] = "tcp_buffer_cap",
	[SW_AN_TCP_BAD_FLAGS] = "tcp_bad_flags",
	[SW_AN_LINE_TOO_LONG] = "line_too_long",
	[SW_AN_SMTP_BAD_REPLY] = "smtp_bad_reply",
	[SW_AN_SMTP_UNPAIRED_REPLY] = "smtp_unpaired_reply",
	[SW_AN_MAIL_BAD_SYNTAX] = "mail_bad_syntax",
	[SW_AN_TLS_BAD_RECORD] = "tls_bad_record",
	[SW_AN_TLS_BAD_HELLO] = "tls_bad_hello",
	[SW_AN_TLS_TRAILING_BYTES] = "tls_trailing_bytes",
	[SW_AN_EVIDENCE_CUT] = "evidence_cut",
};

const char *sw_anomaly_name(enum sw_anomaly a)
{
	return (unsigned)a < SW_AN__COUNT ? anomaly_names[a] : NULL;
}

static const char *const app_names[SW_APP__COUNT] = {
	[SW_APP_UNKNOWN] = NULL,
	[SW_APP_SMTP] = "smtp",
	[SW_APP_IMAP] = "imap",
	[SW_APP_POP3] = "pop3",
	[SW_APP_TLS] = "tls",
};

const char *sw_app_proto_name(enum sw_app_proto p)
{
	return (unsigned)p < SW_APP__COUNT ? app_names[p] : NULL;
}
