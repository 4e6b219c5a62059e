/*
 * policy.h - the per-peer TLS policy table (private to dissect/).
 *
 * The file speaks the words Postfix (smtp_tls_policy_maps) and Exchange
 * admins use: one rule per line, first match wins, '#' starts a comment.
 *
 *     # match                    level    options
 *     [198.51.100.25]:25         encrypt  min_version=1.2
 *     198.51.100.0/24            may
 *     [2001:db8::/32]:587        verify   mode=testing
 *     mx1.bank.example           encrypt  client=192.0.2.0/24
 *     .partner.example           none     # an IgnoreSTARTTLS connector
 *     *                          may      min_version=1.2
 *
 * match: `*`; an address or CIDR (v4 or v6), bare or in brackets; a server
 * name, exact (`mx.example.com`) or a `.domain` suffix (`.example.com`,
 * also written `*.example.com`: subdomains only); any bracketed form may be
 * followed by `:PORT`.  Names are compared without case against the names
 * a flow revealed: the SMTP banner / greeting name and the TLS SNI.
 * options: min_version=1.0|1.1|1.2|1.3, mode=enforce|testing,
 * client=ADDR[/LEN] (the client must be inside).
 *
 * A policy is immutable once loaded; reloading builds a new one and swaps
 * the pointer between packets, so nothing may keep a rule pointer across
 * packets.  Matching is a linear scan (first match wins), done a few times
 * per flow at decision points, never per packet.
 */
#ifndef SW_POLICY_H
#define SW_POLICY_H

#include "sw_dissect.h"

enum sw_pol_level { SW_POL_NONE = 0, SW_POL_MAY, SW_POL_ENCRYPT, SW_POL_VERIFY };

enum sw_pol_match { SW_PM_ANY = 0, SW_PM_ADDR, SW_PM_NAME, SW_PM_SUFFIX };

#define SW_POL_NAME_MAX 254     /* a DNS name, without the trailing dot */
#define SW_POL_LINE_MAX 1024    /* longest line accepted */
#define SW_POL_RULES_MAX 100000 /* rules per file */

struct sw_pol_rule {
	uint8_t match;           /* enum sw_pol_match */
	uint8_t ip_version;      /* SW_PM_ADDR: 4 or 6 */
	uint8_t plen;            /* SW_PM_ADDR: prefix length */
	uint8_t level;           /* enum sw_pol_level */
	uint8_t addr[16];        /* SW_PM_ADDR: network, host bits zero */
	uint16_t port;           /* 0: any port */
	bool testing;            /* mode=testing */
	bool has_client;
	uint8_t cli_version, cli_plen;
	uint8_t cli[16];
	uint16_t min_version;    /* 0: none given */
	unsigned line;
	char name[SW_POL_NAME_MAX + 2]; /* SW_PM_NAME: lower case; SW_PM_SUFFIX: ".domain" */
	char text[80];           /* the match as written (cut), for the policy object */
};

struct sw_policy {
	uint32_t n;
	struct sw_pol_rule *rules;
};

/* What a flow offers for matching; any pointer may be NULL / "" when unknown. */
struct sw_pol_query {
	uint8_t ip_version;
	const uint8_t *server_ip;  /* 16 bytes, v4 in the first 4 */
	uint16_t server_port;
	const uint8_t *client_ip;  /* 16 bytes */
	const char *names[2];      /* banner/greeting name, SNI */
};

/*
 * Parse a policy from memory; name is used in messages.  NULL on error with
 * "NAME:LINE: what is wrong" in err.
 */
struct sw_policy *sw_policy_parse(const char *name, const char *text, size_t len,
				  char *err, size_t errlen);

/* First rule that matches q, or NULL. */
const struct sw_pol_rule *sw_policy_match(const struct sw_policy *p, const struct sw_pol_query *q);

/* Fill the finding's policy object from a rule (rule may be NULL: no policy). */
void sw_policy_ref_fill(const struct sw_pol_rule *r, struct sw_policy_ref *out);

/* "none", "may", "encrypt", "verify" */
const char *sw_pol_level_name(unsigned level);

/* The engine's policy now (engine.c); NULL when none. */
const struct sw_policy *sw_engine_policy(const struct sw_engine *e);

/* Does the rule demand TLS (encrypt or verify)? */
static inline bool sw_pol_requires_tls(const struct sw_pol_rule *r)
{
	return r && (r->level == SW_POL_ENCRYPT || r->level == SW_POL_VERIFY);
}

/* Severity of a policy violation under this rule: 1 enforce, 3 testing. */
static inline uint8_t sw_pol_severity(const struct sw_pol_rule *r) { return r->testing ? 3 : 1; }

#endif
